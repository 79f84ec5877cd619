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
#include "builder/users.h"
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
    if (user && *user &&
        (rc = bld_user_resolve(user, BLD_USER_EXEC, dirs, n_dirs, &uid, &gid, err)) != 0)
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
