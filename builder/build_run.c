/*
 * build_run.c - RUN (and the argv of CMD, ENTRYPOINT and HEALTHCHECK):
 * the command, its environment and network, and the step in the sandbox.
 */
#include "builder/build_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "builder/egress.h"
#include "core/fs.h"
#include "core/profile.h"

static int is_heredoc_token(const char *text, const struct heredoc *h)
{
    while (*text == ' ' || *text == '\t')
        text++;
    while (*text >= '0' && *text <= '9')
        text++;
    if (strncmp(text, "<<", 2) != 0)
        return 0;
    text += 2;
    if (*text == '-')
        text++;
    char quote = (*text == '"' || *text == '\'') ? *text++ : 0;
    size_t len = strlen(h->name);
    if (strncmp(text, h->name, len) != 0)
        return 0;
    text += len;
    if (quote && *text++ != quote)
        return 0;
    while (*text == ' ' || *text == '\t')
        text++;
    return *text == '\0';
}

/* The argv of RUN/CMD/ENTRYPOINT/HEALTHCHECK: the exec form as given, the
 * shell form through the stage's SHELL. */
json_t *bld_command_argv(struct stage *st, const struct instr *in, size_t first_arg)
{
    json_t *argv = json_array();
    if (in->is_json) {
        for (size_t i = first_arg; i < in->n_args; i++)
            json_array_append_new(argv, json_string(in->args[i]));
        return argv;
    }
    json_t *shell = json_object_get(bld_image_runconfig(&st->image), "Shell");
    if (json_is_array(shell) && json_array_size(shell) > 0) {
        json_array_extend(argv, shell);
    } else {
        json_array_append_new(argv, json_string("/bin/sh"));
        json_array_append_new(argv, json_string("-c"));
    }
    sw_strbuf cmd = SW_STRBUF_INIT;
    for (size_t i = first_arg; i < in->n_args; i++) {
        if (i > first_arg)
            sw_strbuf_putc(&cmd, ' ');
        sw_strbuf_puts(&cmd, in->args[i]);
    }
    if (in->n_heredocs == 1 && is_heredoc_token(cmd.data ? cmd.data : "", &in->heredocs[0])) {
        /* RUN <<EOF: the heredoc is the script */
        sw_strbuf_reset(&cmd);
        sw_strbuf_puts(&cmd, in->heredocs[0].content);
    } else {
        /* RUN cmd <<EOF: the shell reads the heredocs from the script */
        for (size_t i = 0; i < in->n_heredocs; i++)
            sw_strbuf_printf(&cmd, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name);
    }
    json_array_append_new(argv, json_string(cmd.data ? cmd.data : ""));
    sw_strbuf_free(&cmd);
    return argv;
}

static char **json_to_strv(json_t *array)
{
    size_t n = json_array_size(array);
    char **v = calloc(n + 1, sizeof(char *));
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = strdup(json_string_value(json_array_get(array, i)) ?: "");
    return v;
}

/* The environment of a RUN: the image's Env, plus build args that no ENV
 * overrides, plus a default PATH. */
static char **run_env(struct stage *st)
{
    json_t *env = json_deep_copy(json_object_get(bld_image_runconfig(&st->image), "Env"));
    if (!json_is_array(env)) {
        json_decref(env);
        env = json_array();
    }
    int has_path = 0;
    size_t i;
    json_t *item;
    json_array_foreach(env, i, item)
        if (strncmp(json_string_value(item) ?: "", "PATH=", 5) == 0)
            has_path = 1;
    for (i = 0; i < st->args.n; i++) {
        if (bld_image_env_get(&st->image, st->args.items[i].key) != NULL)
            continue;
        char *kv = NULL;
        if (asprintf(&kv, "%s=%s", st->args.items[i].key, st->args.items[i].value) >= 0) {
            json_array_append_new(env, json_string(kv));
            free(kv);
        }
    }
    if (!has_path)
        json_array_append_new(env, json_string("PATH=" DEFAULT_PATH));
    char **v = json_to_strv(env);
    json_decref(env);
    return v;
}

/* ---- the network a step gets --------------------------------------------- */

/* The configured mode: "egress", "none" or "host". */
const char *bld_configured_network(const struct build *b)
{
    if (b->opts->network)
        return b->opts->network;
    if (b->opts->network_host)
        return "host";
    if (b->opts->config && b->opts->config->network)
        return b->opts->config->network;
    return "egress";
}

/* 1 when builder.allow lists the entitlement. */
static int entitled(const struct build *b, const char *name)
{
    char **allow = b->opts->config ? b->opts->config->builder_allow : NULL;
    for (size_t i = 0; allow && allow[i]; i++)
        if (strcmp(allow[i], name) == 0)
            return 1;
    return 0;
}

/* With build secrets, step output goes through a masker. It masks each
 * value, the value without its trailing newline (a file's), and each line
 * of a multi-line value of at least 4 characters (output is masked line by
 * line, as GitHub Actions does). */
static int start_masker(struct build *b, bld_masker **out, sw_error **err)
{
    *out = NULL;
    if (b->opts->n_secrets == 0)
        return 0;
    sw_strbuf all = SW_STRBUF_INIT; /* the values, NUL-separated */
    size_t n = 0;
    for (size_t i = 0; i < b->opts->n_secrets; i++) {
        const char *v = b->opts->secrets[i].value;
        size_t len = strlen(v);
        sw_strbuf_append(&all, v, len + 1);
        n++;
        while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
            len--;
        if (len > 0 && len < strlen(v)) {
            sw_strbuf_append(&all, v, len);
            sw_strbuf_append(&all, "", 1);
            n++;
        }
        for (const char *line = v; memchr(v, '\n', len) && line < v + len;) {
            const char *nl = memchr(line, '\n', (size_t)(v + len - line));
            size_t l = nl ? (size_t)(nl - line) : (size_t)(v + len - line);
            size_t t = l;
            while (t > 0 && (line[t - 1] == '\r' || line[t - 1] == ' '))
                t--;
            if (t >= 4) {
                sw_strbuf_append(&all, line, t);
                sw_strbuf_append(&all, "", 1);
                n++;
            }
            line += l + 1;
        }
    }
    const char **values = calloc(n + 1, sizeof(char *));
    if (values == NULL || all.data == NULL) {
        free(values);
        sw_strbuf_free(&all);
        return sw_error_oom(err);
    }
    const char *p = all.data;
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
        values[i] = p;
    int fd = b->opts->progress_fd >= 0 ? b->opts->progress_fd : STDERR_FILENO;
    int rc = bld_masker_start(fd, values, n, out, err);
    free(values);
    explicit_bzero(all.data, all.len);
    sw_strbuf_free(&all);
    return rc;
}

/* The mode a RUN step gets from its --network and --security flags: a
 * Dockerfile may ask for less than the config gives, never for more. */
static int step_network(struct build *b, const struct instr *in, const char **mode, sw_error **err)
{
    const char *flag = bld_flag_value(in, "network");
    const char *security = bld_flag_value(in, "security");
    const char *configured = bld_configured_network(b);
    if (security && strcmp(security, "sandbox") != 0) {
        if (strcmp(security, "insecure") == 0)
            return bld_instr_error(b, in, err, SW_EUNSUPPORTED,
                                   "--security=insecure is not supported: Slipway has no insecure "
                                   "mode, whether or not builder.allow lists security.insecure");
        return bld_instr_error(b, in, err, SW_EINVAL, "--security=%s: expected sandbox or insecure",
                               security);
    }
    if (flag == NULL || strcmp(flag, "default") == 0) {
        *mode = configured;
    } else if (strcmp(flag, "none") == 0) {
        *mode = "none";
    } else if (strcmp(flag, "host") == 0) {
        if (strcmp(configured, "host") != 0 && !entitled(b, "network.host"))
            return bld_instr_error(b, in, err, SW_EPERM,
                                   "--network=host is not allowed: the config's builder.allow does "
                                   "not list network.host");
        *mode = "host";
    } else {
        return bld_instr_error(b, in, err, SW_EINVAL,
                               "--network=%s: expected default, none or host", flag);
    }
    return 0;
}

/* 1 when a RUN among the instructions [from, end) of st runs on the
 * egress network. */
static int stage_runs_egress(struct build *b, const struct stage *st, size_t from)
{
    for (size_t i = from; i < st->end; i++) {
        const struct instr *in = &b->instrs[i];
        const char *mode = NULL;
        if (strcmp(in->keyword, "run") == 0 && step_network(b, in, &mode, NULL) == 0 &&
            strcmp(mode, "egress") == 0)
            return 1;
    }
    return 0;
}

void bld_egress_prewarm(struct build *b, struct stage *st)
{
    if (b->spare_tried || !stage_runs_egress(b, st, st->current))
        return;
    b->spare_tried = 1; /* once a build; a failure leaves each RUN to start its own */
    if (bld_scratch_dir(b->store, "net", &b->spare_dir, NULL) == 0)
        bld_egress_spare_start(b->opts->config, b->spare_dir, &b->spare);
}

int bld_do_run(struct build *b, struct stage *st, const struct instr *in, double started,
               sw_error **err)
{
    json_t *argv = bld_command_argv(st, in, 0);
    char *argv_text = json_dumps(argv, JSON_COMPACT);
    char *state = bld_config_state(st);
    char *args = bld_args_state(st);
    const char *network = NULL;
    char **argv_v = NULL, **env_v = NULL;
    struct step_area area = { 0 };
    struct bld_egress_net net = { 0 };
    bld_egress *policy = NULL;
    sw_strbuf created_by = SW_STRBUF_INIT, mount_key = SW_STRBUF_INIT;
    struct run_mounts mounts = { 0 };
    bld_masker *masker = NULL;
    int rc = 0;

    if ((rc = step_network(b, in, &network, err)) != 0)
        goto cleanup;
    /* the effective mode: the same command with another network may give
     * another result */
    const char *image_cwd =
        json_string_value(json_object_get(bld_image_runconfig(&st->image), "WorkingDir"));
    if ((rc = bld_run_mounts_parse(b, st, in, image_cwd, &mounts, err)) != 0 ||
        (rc = bld_run_mounts_key(b, st, in, &mounts, &mount_key, err)) != 0)
        goto cleanup;
    if (mounts.n == 0) {
        const char *parts[] = { argv_text, state, args, network };
        bld_chain_key(st, "run", parts, 4);
    } else {
        /* the mounts, never a secret's value */
        const char *parts[] = { argv_text, state, args, network, mount_key.data };
        bld_chain_key(st, "run", parts, 5);
    }
    sw_strbuf_puts(&created_by, "RUN ");
    for (size_t i = 0; i < json_array_size(argv); i++)
        sw_strbuf_printf(&created_by, "%s%s", i ? " " : "",
                         json_string_value(json_array_get(argv, i)));
    sw_strbuf_puts(&created_by, BLD_HISTORY_SUFFIX);
    if (bld_try_cache(b, st, created_by.data, started))
        goto cleanup;

    const char *user = json_string_value(json_object_get(bld_image_runconfig(&st->image), "User"));
    uid_t uid = 0;
    gid_t gid = 0;
    if (user && *user &&
        (rc = bld_resolve_user(b, st, user, BLD_USER_EXEC, &uid, &gid, err)) != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    const char *cwd =
        json_string_value(json_object_get(bld_image_runconfig(&st->image), "WorkingDir"));
    int network_host = strcmp(network, "host") == 0;

    if ((rc = bld_step_area_open(b, st, 0, &area, err)) != 0)
        goto cleanup;
    if (strcmp(network, "egress") == 0 &&
        !bld_egress_spare_take(b->spare, stage_runs_egress(b, st, st->current + 1), &net)) {
        char *net_scratch = sw_path_join(area.scratch, "network");
        if (net_scratch == NULL)
            rc = sw_error_oom(err);
        else if ((rc = sw_mkdir_p(net_scratch, 0700, err)) == 0 &&
                 (rc = bld_egress_new(b->opts->config, &policy, err)) == 0)
            rc = bld_egress_net_start(policy, net_scratch, &net, err);
        free(net_scratch);
        if (rc != 0) {
            sw_error_prefix(err, "%s:%d: %s: the build network", b->dockerfile, in->line,
                            in->original);
            goto cleanup;
        }
    }
    char **dirs = NULL;
    if ((rc = bld_layer_dirs(b, st, &dirs, err)) != 0)
        goto cleanup;
    char *sandbox_scratch = sw_path_join(area.scratch, "sandbox");
    sw_mkdir_p(sandbox_scratch, 0700, NULL);
    argv_v = json_to_strv(argv);
    env_v = run_env(st);
    struct bld_sandbox_limits limits;
    struct bld_sandbox_userns userns;
    bld_sandbox_policy(b->opts->config, &limits, &userns);
    if ((rc = bld_run_mounts_prepare(b, st, in, &userns, &mounts, err)) != 0 ||
        (rc = bld_secret_env(&env_v, &mounts, err)) != 0 ||
        (rc = start_masker(b, &masker, err)) != 0) {
        bld_free_dirs(dirs);
        free(sandbox_scratch);
        goto cleanup;
    }
    struct bld_sandbox_spec spec = {
        .runtime = b->opts->runtime ? b->opts->runtime : "runc",
        .lower_dirs = (const char *const *)dirs,
        .n_lower = st->image.n_layers,
        .upper_dir = area.upper,
        .scratch_dir = sandbox_scratch,
        .argv = (const char *const *)argv_v,
        .env = (const char *const *)env_v,
        .cwd = cwd && *cwd ? cwd : "/",
        .uid = uid,
        .gid = gid,
        .network_host = network_host,
        .netns_path = net.holder > 0 ? net.netns_path : NULL,
        .resolv_conf = net.holder > 0 ? "nameserver " BLD_EGRESS_DNS "\n" : NULL,
        .timeout_s = b->opts->step_timeout_s,
        .output_fd = masker                      ? bld_masker_fd(masker)
                     : b->opts->progress_fd >= 0 ? b->opts->progress_fd
                                                 : STDERR_FILENO,
        .cancel = b->opts->cancel,
        .limits = &limits,
        .userns = &userns,
        .output_cap = b->opts->output_cap,
        .extra_mounts = mounts.sb,
        .n_extra_mounts = mounts.n_sb,
    };
    int exit_status = -1;
    uint64_t profiled = sw_profile_start();
    rc = bld_sandbox_run(&spec, &exit_status, err);
    sw_profile_stop(SW_PHASE_RUN, profiled);
    bld_masker_stop(masker);
    masker = NULL;
    bld_free_dirs(dirs);
    free(sandbox_scratch);
    if (rc != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    if (exit_status != 0) {
        rc = bld_instr_error(b, in, err, SW_EINVAL, "exited with code %d", exit_status);
        goto cleanup;
    }
    bld_egress_net_release(&net); /* reaped after the commit, in cleanup */
    rc = bld_commit_layer(b, st, &area, created_by.data, err);
cleanup:
    bld_masker_stop(masker);
    bld_run_mounts_free(&mounts);
    sw_strbuf_free(&mount_key);
    bld_egress_net_stop(&net);
    bld_egress_free(policy);
    bld_step_area_close(&area);
    sw_strv_free(argv_v);
    sw_strv_free(env_v);
    sw_strbuf_free(&created_by);
    json_decref(argv);
    free(argv_text);
    free(state);
    free(args);
    return rc;
}
