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
    /* ssh: BuildKit's defaults */
    CHECK_INT_EQ(parse("type=ssh", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(m.type, BLD_MOUNT_SSH);
    CHECK_STR_EQ(m.id, "default");
    CHECK_STR_EQ(m.target, "/run/buildkit/ssh_agent.0");
    CHECK_INT_EQ(m.required, 0);
    CHECK_INT_EQ(m.has_mode, 0);
    bld_mount_free(&m);
    CHECK_INT_EQ(parse("type=ssh,id=gh,target=agent.sock,required,mode=0660,uid=1000,gid=1001",
                       "/home/app", &m, msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(m.id, "gh");
    CHECK_STR_EQ(m.target, "/home/app/agent.sock");
    CHECK_INT_EQ(m.required, 1);
    CHECK_INT_EQ((int)m.mode, 0660);
    CHECK_INT_EQ((int)m.uid, 1000);
    CHECK_INT_EQ((int)m.gid, 1001);
    char *key = bld_mount_key(&m);
    CHECK(key && strstr(key, "type=ssh") && strstr(key, "id=gh"));
    free(key);
    bld_mount_free(&m);
    /* cache from= and source= */
    CHECK_INT_EQ(
        parse("type=cache,target=/c,from=build,source=/out/seed", NULL, &m, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(m.type, BLD_MOUNT_CACHE);
    CHECK_STR_EQ(m.from, "build");
    CHECK_STR_EQ(m.source, "/out/seed");
    CHECK_STR_EQ(m.id, "/c");
    key = bld_mount_key(&m);
    CHECK(key && strstr(key, "from=build") && strstr(key, "source=/out/seed"));
    free(key);
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
    CHECK(parse("type=ssh,source=/x", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "unexpected key 'source'") != NULL);
    CHECK(parse("type=ssh,env=X", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=ssh,required=perhaps", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=ssh,mode=0900", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=ssh,id=", NULL, &m, msg, sizeof(msg)) != 0);
    CHECK(parse("type=cache,target=/c,from=", NULL, &m, msg, sizeof(msg)) != 0);
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

static void test_check_together(void)
{
    struct bld_mount m[3];
    char msg[512];
    sw_error *err = NULL;
    CHECK_INT_EQ(parse("type=cache,target=/a,id=x", NULL, &m[0], msg, sizeof(msg)), 0);
    CHECK_INT_EQ(parse("type=cache,target=/b,id=x", NULL, &m[1], msg, sizeof(msg)), 0);
    CHECK_INT_EQ(parse("type=cache,target=/c,id=x,sharing=locked", NULL, &m[2], msg, sizeof(msg)),
                 0);
    CHECK_INT_EQ(bld_mounts_check(m, 2, &err), 0); /* shared twice: fine */
    CHECK(bld_mounts_check(m, 3, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "mounted twice") != NULL);
    sw_error_clear(&err);
    for (int i = 0; i < 3; i++)
        bld_mount_free(&m[i]);
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

/* The LRU choice: oldest first, never one in use, until under the bound. */
static void test_lru_plan(void)
{
    struct bld_cache_mount_info c[4] = {
        { .id = "a", .size = 400, .last_use = 100 },
        { .id = "b", .size = 300, .last_use = 50, .in_use = 1 },
        { .id = "c", .size = 200, .last_use = 300 },
        { .id = "d", .size = 100, .last_use = 200 },
    };
    /* 1000 bytes, bound 500: b (oldest) is in use, so a, then d go */
    CHECK_INT_EQ((int)bld_cache_mounts_plan(c, 4, 500), 2);
    CHECK(c[0].evict && !c[1].evict && !c[2].evict && c[3].evict);
    /* under the bound: nothing */
    CHECK_INT_EQ((int)bld_cache_mounts_plan(c, 4, 1000), 0);
    CHECK(!c[0].evict && !c[3].evict);
    /* no bound */
    CHECK_INT_EQ((int)bld_cache_mounts_plan(c, 4, 0), 0);
    /* everything in use: over the bound, but nothing can go */
    for (int i = 0; i < 4; i++)
        c[i].in_use = 1;
    CHECK_INT_EQ((int)bld_cache_mounts_plan(c, 4, 10), 0);
    /* equal times: by id, so the choice is stable */
    struct bld_cache_mount_info t[2] = { { .id = "y", .size = 10, .last_use = 5 },
                                         { .id = "x", .size = 10, .last_use = 5 } };
    CHECK_INT_EQ((int)bld_cache_mounts_plan(t, 2, 15), 1);
    CHECK(t[1].evict && !t[0].evict);
}

/* Eviction on disk: the older cache goes, a held one stays, gc reports. */
static void test_cache_gc(void)
{
    char *data = scratch_dir("test_mounts_gc");
    const char *ids[] = { "old", "new", "held" };
    char *dirs[3] = { 0 };
    int locks[3] = { -1, -1, -1 };
    sw_error *err = NULL;
    char msg[512];
    for (int i = 0; i < 3; i++) {
        struct bld_mount m;
        char spec[64], *tmp = NULL;
        snprintf(spec, sizeof(spec), "type=cache,target=/c,id=%s", ids[i]);
        CHECK_INT_EQ(parse(spec, NULL, &m, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(bld_cache_mount_dir(data, "team/a as anonymous", &m, 0, 0, &dirs[i], &locks[i],
                                         &tmp, &err),
                     0);
        CHECK(locks[i] >= 0); /* shared use holds the lock too */
        char file[4096], buf[1000];
        memset(buf, 'x', sizeof(buf));
        snprintf(file, sizeof(file), "%s/f", dirs[i] ? dirs[i] : "/nonexistent");
        CHECK_INT_EQ(sw_write_file_atomic(file, buf, sizeof(buf), 0644, NULL), 0);
        bld_mount_free(&m);
        free(tmp);
    }
    /* last uses: old at t=1000, new at t=2000; held is still in use */
    for (int i = 0; i < 2; i++) {
        struct timespec ts[2] = { { .tv_sec = 1000 * (i + 1) }, { .tv_sec = 1000 * (i + 1) } };
        close(locks[i]);
        char lock[4096];
        snprintf(lock, sizeof(lock), "%s/../lock", dirs[i] ? dirs[i] : "/nonexistent");
        CHECK_INT_EQ(utimensat(AT_FDCWD, lock, ts, 0), 0);
    }
    struct bld_cache_mount_info *c = NULL;
    size_t n = 0;
    /* 3000 bytes, bound 2500, dry run: reports, removes nothing */
    CHECK_INT_EQ(bld_cache_mounts_gc(data, "team/a as anonymous", 2500, 1, &c, &n, &err), 0);
    CHECK_INT_EQ((int)n, 3);
    int evicted = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_STR_EQ(c[i].scope, "team/a as anonymous");
        CHECK(c[i].size == 1000);
        if (c[i].evict) {
            CHECK_STR_EQ(c[i].id, "old");
            evicted++;
        }
        if (strcmp(c[i].id, "held") == 0)
            CHECK(c[i].in_use);
    }
    CHECK_INT_EQ(evicted, 1);
    bld_cache_mount_infos_free(c, n);
    CHECK(dirs[0] && access(dirs[0], F_OK) == 0);
    /* bound 1500 across every scope: old and new go, held stays */
    CHECK_INT_EQ(bld_cache_mounts_gc(data, NULL, 1500, 0, &c, &n, &err), 0);
    CHECK_INT_EQ((int)n, 3);
    bld_cache_mount_infos_free(c, n);
    CHECK(dirs[0] && access(dirs[0], F_OK) != 0);
    CHECK(dirs[1] && access(dirs[1], F_OK) != 0);
    CHECK(dirs[2] && access(dirs[2], F_OK) == 0);
    /* an evicted cache is not listed again; the held one is */
    CHECK_INT_EQ(bld_cache_mounts_gc(data, NULL, 1500, 0, &c, &n, &err), 0);
    CHECK_INT_EQ((int)n, 1);
    bld_cache_mount_infos_free(c, n);
    bld_cache_mount_release(locks[2]);
    for (int i = 0; i < 3; i++)
        free(dirs[i]);
    sw_error_clear(&err);
    sw_rm_rf(data, NULL);
    free(data);
}

/* from=: an empty cache is seeded, one with files is left alone. */
static void test_cache_seed(void)
{
    char *dir = scratch_dir("test_mounts_seed");
    char src[4096], cache[4096], path[4200];
    snprintf(src, sizeof(src), "%s/src", dir);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    CHECK_INT_EQ(sw_mkdir_p(src, 0755, NULL), 0);
    CHECK_INT_EQ(sw_mkdir_p(cache, 0755, NULL), 0);
    snprintf(path, sizeof(path), "%s/seed", src);
    CHECK_INT_EQ(sw_mkdir_p(path, 0755, NULL), 0);
    snprintf(path, sizeof(path), "%s/seed/a.txt", src);
    CHECK_INT_EQ(sw_write_file_atomic(path, "one", 3, 0644, NULL), 0);
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_cache_mount_seed(cache, src, "/seed", getuid(), getgid(), &err), 0);
    snprintf(path, sizeof(path), "%s/a.txt", cache);
    char *text = NULL;
    CHECK_INT_EQ(sw_read_file(path, 64, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, "one");
    free(text);
    snprintf(path, sizeof(path), "%s/seed/a.txt", src);
    CHECK_INT_EQ(sw_write_file_atomic(path, "two", 3, 0644, NULL), 0);
    CHECK_INT_EQ(bld_cache_mount_seed(cache, src, "/seed", getuid(), getgid(), &err), 0);
    snprintf(path, sizeof(path), "%s/a.txt", cache);
    CHECK_INT_EQ(sw_read_file(path, 64, &text, NULL, NULL), 0);
    CHECK_STR_EQ(text, "one"); /* not empty: not seeded again */
    free(text);
    CHECK(bld_cache_mount_seed(dir, src, "/missing", 0, 0, &err) == 0); /* dir not empty */
    char empty[4200];
    snprintf(empty, sizeof(empty), "%s/empty", dir);
    CHECK_INT_EQ(sw_mkdir_p(empty, 0755, NULL), 0);
    CHECK(bld_cache_mount_seed(empty, src, "/missing", 0, 0, &err) != 0);
    sw_error_clear(&err);
    sw_rm_rf(dir, NULL);
    free(dir);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_errors);
    RUN(test_key);
    RUN(test_check_together);
    RUN(test_cache_dirs);
    RUN(test_lru_plan);
    RUN(test_cache_gc);
    RUN(test_cache_seed);
    RUN(test_secret_sources);
    RUN(test_masking);
    return TEST_EXIT();
}
