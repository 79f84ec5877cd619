/*
 * run_image.c - a command in an image of the store (see run_image.h).
 */
#include "builder/run_image.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/image.h"
#include "builder/layers.h"
#include "builder/sandbox.h"
#include "core/fs.h"
#include "core/strbuf.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The strings of a JSON array (non-strings skipped), NULL-terminated,
 * appended to `head` entries of an existing vector. */
static char **strv_append(char **v, size_t *n, json_t *array)
{
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item) {
        if (!json_is_string(item))
            continue;
        char **bigger = realloc(v, (*n + 2) * sizeof(char *));
        if (bigger == NULL)
            return v;
        v = bigger;
        v[(*n)++] = strdup(json_string_value(item));
        v[*n] = NULL;
    }
    return v;
}

/* The image's /etc/passwd, from the topmost layer that has one. */
static char *read_passwd(char *const *dirs, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        char *path = sw_path_join(dirs[i], "etc/passwd");
        char *text = NULL;
        size_t len = 0;
        int rc = path ? sw_read_file(path, 1 << 20, &text, &len, NULL) : -1;
        free(path);
        if (rc == 0)
            return text;
    }
    return NULL;
}

/* "uid[:gid]" or "name[:gid]" (names from the image's /etc/passwd). */
static int resolve_user(const char *spec, char *const *dirs, size_t n, uid_t *uid, gid_t *gid,
                        sw_error **err)
{
    char user[256];
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (ulen == 0 || ulen >= sizeof(user))
        return sw_error_set(err, SW_EINVAL, "bad user '%s' in the image config", spec);
    memcpy(user, spec, ulen);
    user[ulen] = '\0';
    char *end = NULL;
    long u = strtol(user, &end, 10);
    long g = -1;
    if (*end != '\0') {
        char *passwd = read_passwd(dirs, n);
        u = -1;
        for (char *line = passwd; line && *line;) {
            char *eol = strchrnul(line, '\n');
            char *f1 = strchr(line, ':');
            if (f1 && f1 < eol && (size_t)(f1 - line) == ulen && strncmp(line, user, ulen) == 0) {
                char *f2 = strchr(f1 + 1, ':');
                if (f2 && f2 < eol) {
                    u = strtol(f2 + 1, &end, 10);
                    g = *end == ':' ? strtol(end + 1, NULL, 10) : u;
                }
                break;
            }
            line = *eol ? eol + 1 : eol;
        }
        free(passwd);
        if (u < 0)
            return sw_error_set(err, SW_ENOTFOUND, "unable to find user %s in the image", user);
    }
    if (colon)
        g = strtol(colon + 1, NULL, 10);
    *uid = (uid_t)u;
    *gid = (gid_t)(g >= 0 ? g : u);
    return 0;
}

int bld_image_run(reg_store *store, const char *repo, const char *reference,
                  const struct bld_run_options *opts, int *exit_status, sw_error **err)
{
    struct bld_image img = { 0 };
    char **dirs = NULL, **argv = NULL, **env = NULL;
    char *scratch = NULL, *upper = NULL, *sandbox = NULL;
    size_t n_dirs = 0, n_argv = 0, n_env = 0;
    int rc;

    *exit_status = -1;
    if ((rc = bld_image_load(store, repo, reference, NULL, &img, err)) != 0)
        goto cleanup;
    dirs = calloc(img.n_layers + 1, sizeof(char *));
    SW_CHECK_ALLOC(dirs, rc, err, cleanup);
    for (; n_dirs < img.n_layers; n_dirs++)
        if ((rc = bld_layer_unpacked(store, &img.layers[n_dirs], &dirs[n_dirs], err)) != 0)
            goto cleanup;

    json_t *cfg = bld_image_runconfig(&img);
    if (opts->argv) {
        for (; opts->argv[n_argv]; n_argv++) {
            char **bigger = realloc(argv, (n_argv + 2) * sizeof(char *));
            SW_CHECK_ALLOC(bigger, rc, err, cleanup);
            argv = bigger;
            argv[n_argv] = strdup(opts->argv[n_argv]);
            argv[n_argv + 1] = NULL;
        }
    } else {
        argv = strv_append(argv, &n_argv, json_object_get(cfg, "Entrypoint"));
        argv = strv_append(argv, &n_argv, json_object_get(cfg, "Cmd"));
    }
    if (n_argv == 0) {
        rc = sw_error_set(err, SW_EINVAL, "no command to run in %s:%s", repo, reference);
        goto cleanup;
    }
    env = strv_append(env, &n_env, json_object_get(cfg, "Env"));
    int has_path = 0;
    for (size_t i = 0; i < n_env; i++)
        has_path |= strncmp(env[i], "PATH=", 5) == 0;
    if (!has_path) {
        json_t *path = json_pack("[s]", "PATH=" DEFAULT_PATH);
        env = strv_append(env, &n_env, path);
        json_decref(path);
    }

    uid_t uid = 0;
    gid_t gid = 0;
    const char *user = json_string_value(json_object_get(cfg, "User"));
    if (user && *user && (rc = resolve_user(user, dirs, n_dirs, &uid, &gid, err)) != 0)
        goto cleanup;
    const char *cwd = json_string_value(json_object_get(cfg, "WorkingDir"));

    if ((rc = bld_scratch_dir(store, "run-", &scratch, err)) != 0)
        goto cleanup;
    upper = sw_path_join(scratch, "upper");
    sandbox = sw_path_join(scratch, "sandbox");
    if (upper == NULL || sandbox == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(upper, 0755, err)) != 0 || (rc = sw_mkdir_p(sandbox, 0700, err)) != 0)
        goto cleanup;
    struct bld_sandbox_limits limits;
    struct bld_sandbox_userns userns;
    bld_sandbox_policy(opts->config, &limits, &userns);
    struct bld_sandbox_spec spec = {
        .runtime = opts->runtime ? opts->runtime : "runc",
        .lower_dirs = (const char *const *)dirs,
        .n_lower = n_dirs,
        .upper_dir = upper,
        .scratch_dir = sandbox,
        .argv = (const char *const *)argv,
        .env = (const char *const *)env,
        .cwd = cwd && *cwd ? cwd : "/",
        .uid = uid,
        .gid = gid,
        .hostname = "autotest",
        .timeout_s = opts->timeout_s,
        .output_fd = opts->output_fd >= 0 ? opts->output_fd : STDERR_FILENO,
        .cancel = opts->cancel,
        .limits = &limits,
        .userns = &userns,
        .output_cap = opts->output_cap,
    };
    rc = bld_sandbox_run(&spec, exit_status, err);
cleanup:
    if (rc != 0)
        sw_error_prefix(err, "running %s in %s:%s", argv && argv[0] ? argv[0] : "a command", repo,
                        reference);
    if (scratch)
        sw_rm_rf(scratch, NULL);
    free(scratch);
    free(upper);
    free(sandbox);
    sw_strv_free(argv);
    sw_strv_free(env);
    for (size_t i = 0; i < n_dirs; i++)
        free(dirs[i]);
    free(dirs);
    bld_image_release(&img);
    return rc;
}
