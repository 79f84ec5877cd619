/*
 * test_mounts.c - builder/mounts.c: RUN --mount spec parsing (defaults per
 * type, aliases, errors), the cache key text, cache directories per scope
 * and id, secret sources, and output masking.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/mounts.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static int parse(const char *text, const char *cwd, struct bld_mount *m, char *msg, size_t size)
{
    sw_error *err = NULL;
    int rc = bld_mount_parse(text, cwd, m, &err);
    snprintf(msg, size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    return rc;
}

static void test_parse(void)
{
    struct bld_mount m;
    char msg[512];
    CHECK_INT_EQ(parse("type=cache,target=/root/.cache", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(m.type, BLD_MOUNT_CACHE);
    CHECK_STR_EQ(m.id, "/root/.cache"); /* id defaults to the target */
    CHECK_INT_EQ(m.readonly, 0);
    CHECK_INT_EQ(m.sharing, BLD_SHARING_SHARED);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=cache,dst=go,id=x,sharing=locked,mode=0700,uid=10,gid=20", "/src", &m,
                       msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(m.target, "/src/go"); /* relative to the working directory */
    CHECK_INT_EQ(m.sharing, BLD_SHARING_LOCKED);
    CHECK_INT_EQ((int)m.mode, 0700);
    CHECK_INT_EQ((int)m.uid, 10);
    CHECK_INT_EQ((int)m.gid, 20);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("target=/in,from=build,source=/out", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(m.type, BLD_MOUNT_BIND); /* the default type */
    CHECK_INT_EQ(m.readonly, 1);
    CHECK_STR_EQ(m.from, "build");
    CHECK_STR_EQ(m.source, "/out");
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=bind,target=/in,rw", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(m.readonly, 0);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=tmpfs,target=/t,size=64m", NULL, &m, msg, sizeof(msg)), 0);
    CHECK(m.size == 64LL << 20);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=secret,id=npmrc", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_STR_EQ(m.target, "/run/secrets/npmrc");
    CHECK_INT_EQ(m.required, 0);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=secret,id=tok,env=TOK,required", NULL, &m, msg, sizeof(msg)), 0);
    CHECK(m.target == NULL); /* env only */
    CHECK_STR_EQ(m.env, "TOK");
    CHECK_INT_EQ(m.required, 1);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=secret,target=/etc/x/key", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_STR_EQ(m.id, "key");
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=cache,target=/a/../b/./c", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_STR_EQ(m.target, "/b/c");
    bld_mount_free(&m);
}

static void test_errors(void)
{
    struct bld_mount m;
    char msg[512];
    CHECK(parse("type=cache", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "target is required") != NULL);
    CHECK(parse("type=nfs,target=/x", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "unsupported mount type") != NULL);
    CHECK_INT_EQ(parse("type=ssh", NULL, &m, msg, sizeof(msg)), SW_EUNSUPPORTED);
    CHECK(parse("type=cache,target=/x,sharing=sometimes", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "invalid value for sharing") != NULL);
    CHECK(parse("type=tmpfs,target=/x,id=y", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "unexpected key 'id'") != NULL);
    CHECK(parse("type=cache,target=/x,mode=999", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=cache,target=/x,uid=-1", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=tmpfs,target=/x,size=lots", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=cache,target=/", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=cache,target=/..", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=secret", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=secret,id=a,env=A=B", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=bind,target=/x,ro=maybe", NULL, &m, msg, sizeof(msg)) != 0);
}

static void test_key(void)
{
    struct bld_mount a, b;
    char msg[512];
    CHECK_INT_EQ(parse("type=cache,target=/c,id=x", NULL, &a, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(parse("type=cache,target=/c,id=y", NULL, &b, msg, sizeof(msg)), 0);
    char *ka = bld_mount_key(&a), *kb = bld_mount_key(&b);
    CHECK(ka && kb && strcmp(ka, kb) != 0);
    free(ka);
    free(kb);
    bld_mount_free(&a);
    bld_mount_free(&b);
}

static void test_cache_dirs(void)
{
    char *data = scratch_dir("test_mounts");
    struct bld_mount m;
    char msg[512];
    CHECK_INT_EQ(
        parse("type=cache,target=/c,id=go,sharing=private,mode=0750", NULL, &m, msg, sizeof(msg)),
        0);
    char *d1 = NULL, *d2 = NULL, *d3 = NULL, *tmp1 = NULL, *tmp2 = NULL, *tmp3 = NULL;
    int l1 = -1, l2 = -1, l3 = -1;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_cache_mount_dir(data, "team/a as anonymous", &m, 0, 0, &d1, &l1, &tmp1, &err),
                 0);
    CHECK(d1 && strstr(d1, "/cache-mounts/") != NULL);
    CHECK(tmp1 == NULL && l1 >= 0);
    struct stat st;
    CHECK(d1 && stat(d1, &st) == 0 && (st.st_mode & 07777) == 0750);
    /* private and held: a fresh directory */
    CHECK_INT_EQ(bld_cache_mount_dir(data, "team/a as anonymous", &m, 0, 0, &d2, &l2, &tmp2, &err),
                 0);
    CHECK(d2 && d1 && strcmp(d1, d2) != 0 && tmp2 != NULL);
    /* another scope: another directory */
    CHECK_INT_EQ(bld_cache_mount_dir(data, "team/b as anonymous", &m, 0, 0, &d3, &l3, &tmp3, &err),
                 0);
    CHECK(d3 && d1 && strcmp(d1, d3) != 0 && tmp3 == NULL);
    char *p1 = d1 ? strdup(d1) : NULL, *p3 = d3 ? strdup(d3) : NULL;
    if (p1 && p3) {
        *strrchr(p1, '/') = '\0';
        *strrchr(p1, '/') = '\0';
        *strrchr(p3, '/') = '\0';
        *strrchr(p3, '/') = '\0';
        CHECK(strcmp(p1, p3) != 0); /* per scope, never shared */
    }
    free(p1);
    free(p3);
    for (int *l = (int[]){ l1, l2, l3 }, i = 0; i < 3; i++)
        if (l[i] >= 0)
            close(l[i]);
    free(d1);
    free(d2);
    free(d3);
    free(tmp1);
    free(tmp2);
    free(tmp3);
    bld_mount_free(&m);
    sw_error_clear(&err);
    sw_rm_rf(data, NULL);
    free(data);
}

static void test_secret_sources(void)
{
    char *id = NULL, *value = NULL;
    sw_error *err = NULL;
    setenv("SLIPWAY_TEST_SECRET", "v4lue", 1);
    CHECK_INT_EQ(bld_secret_from_cli("id=tok,env=SLIPWAY_TEST_SECRET", &id, &value, &err), 0);
    CHECK_STR_EQ(id, "tok");
    CHECK_STR_EQ(value, "v4lue");
    free(id);
    free(value);
    CHECK_INT_EQ(bld_secret_from_cli("id=SLIPWAY_TEST_SECRET", &id, &value, &err), 0);
    CHECK_STR_EQ(value, "v4lue");
    free(id);
    free(value);
    CHECK(bld_secret_from_cli("src=/etc/hostname", &id, &value, &err) != 0);
    sw_error_clear(&err);
    CHECK(bld_secret_from_cli("id=a,bogus=1", &id, &value, &err) != 0);
    sw_error_clear(&err);
    CHECK(bld_secret_from_cli("id=a,src=/nonexistent/file", &id, &value, &err) != 0);
    sw_error_clear(&err);
    CHECK_INT_EQ(bld_secret_from_ref("env:SLIPWAY_TEST_SECRET", &value, &err), 0);
    CHECK_STR_EQ(value, "v4lue");
    free(value);
    CHECK(bld_secret_from_ref("v4lue", &value, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "expected env:NAME or file:PATH") != NULL);
    sw_error_clear(&err);
}

static void test_masking(void)
{
    const char *values[] = { "hunter2", "hunter2-long", "" };
    char *m = bld_mask_text("pw=hunter2-long; again hunter2\n", 31, values, 3);
    CHECK_STR_EQ(m, "pw=***; again ***\n");
    free(m);
    /* through the pipe: a value split across writes is still masked */
    char *dir = scratch_dir("test_mounts_mask");
    char *path = sw_path_join(dir, "out");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    bld_masker *mk = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_masker_start(fd, values, 3, &mk, &err), 0);
    if (mk) {
        int w = bld_masker_fd(mk);
        CHECK(write(w, "a hun", 5) == 5);
        CHECK(write(w, "ter2 b\nlast hunter2", 19) == 19);
        bld_masker_stop(mk);
    }
    close(fd);
    char *text = NULL;
    CHECK_INT_EQ(sw_read_file(path, 4096, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, "a *** b\nlast ***");
    free(text);
    sw_rm_rf(dir, NULL);
    free(path);
    free(dir);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_errors);
    RUN(test_key);
    RUN(test_cache_dirs);
    RUN(test_secret_sources);
    RUN(test_masking);
    return TEST_EXIT();
}
