/*
 * build_config.c - the instructions that change only the image config
 * (ENV, LABEL, ARG, WORKDIR, USER, CMD, ENTRYPOINT, SHELL, EXPOSE, VOLUME,
 * STOPSIGNAL, HEALTHCHECK, ONBUILD), each with its history entry.
 */
#include "builder/build_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "builder/layers.h"
#include "core/fs.h"

/* ---- instructions that change the config -------------------------------- */

/* Expands every argument of an instruction with the stage's variables. */
static int expand_args(struct build *b, struct stage *st, const struct instr *in, char ***out,
                       sw_error **err)
{
    struct kv_list vars = { 0 };
    char **v = calloc(in->n_args + 1, sizeof(char *));
    int rc = 0;
    if (v == NULL || bld_stage_vars(st, &vars) != 0) {
        free(v);
        bld_kv_free(&vars);
        return sw_error_oom(err);
    }
    for (size_t i = 0; i < in->n_args && rc == 0; i++)
        rc = bld_expand_word(b, &vars, in->args[i], &v[i], err);
    bld_kv_free(&vars);
    if (rc != 0) {
        sw_strv_free(v);
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    *out = v;
    return 0;
}

int bld_add_history(struct build *b, struct stage *st, const char *text, sw_error **err)
{
    char *created_by = bld_created_by(text);
    if (created_by == NULL)
        return sw_error_oom(err);
    int rc = bld_image_add_history(&st->image, created_by, bld_step_time(b, st), err);
    free(created_by);
    const char *parts[] = { text };
    bld_chain_key(st, "meta", parts, 1);
    return rc;
}

/* ENV and LABEL: key/value pairs, values expanded with the variables as
 * they were before this instruction (Docker's rule). */
int bld_do_pairs(struct build *b, struct stage *st, const struct instr *in, int is_env,
                 sw_error **err)
{
    char **v = NULL;
    int rc = expand_args(b, st, in, &v, err);
    if (rc != 0)
        return rc;
    if (in->n_args % 2 != 0) {
        sw_strv_free(v);
        return bld_instr_error(b, in, err, SW_EINVAL, "%s needs key=value pairs",
                               is_env ? "ENV" : "LABEL");
    }
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_puts(&text, is_env ? "ENV" : "LABEL");
    json_t *labels = NULL;
    if (!is_env) {
        json_t *cfg = bld_image_runconfig(&st->image);
        labels = json_object_get(cfg, "Labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(cfg, "Labels", labels);
        }
    }
    for (size_t i = 0; i + 1 < in->n_args && rc == 0; i += 2) {
        if (v[i][0] == '\0') {
            rc = bld_instr_error(b, in, err, SW_EINVAL, "%s names must not be empty",
                                 is_env ? "ENV" : "LABEL");
            break;
        }
        sw_strbuf_printf(&text, " %s=%s", v[i], v[i + 1]);
        if (is_env)
            rc = bld_image_env_set(&st->image, v[i], v[i + 1], err);
        else
            json_object_set_new(labels, v[i], json_string(v[i + 1]));
    }
    if (rc == 0)
        rc = bld_add_history(b, st, text.data, err);
    sw_strbuf_free(&text);
    sw_strv_free(v);
    return rc;
}

/* The value a build arg gets: --build-arg, else the default, else (for a
 * predefined platform arg) the automatic value. 1 when it has one. */
int bld_arg_value(struct build *b, const char *name, const char *default_value,
                  const struct kv_list *inherited, const char **value)
{
    const char *given = bld_kv_get(&b->build_args, name);
    if (given) {
        *value = given;
        return 1;
    }
    if (default_value) {
        *value = default_value;
        return 1;
    }
    const char *meta = inherited ? bld_kv_get(inherited, name) : NULL;
    if (meta) {
        *value = meta;
        return 1;
    }
    return 0;
}

int bld_do_arg(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    struct kv_list vars = { 0 };
    int rc = 0;
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_puts(&text, "ARG");
    for (size_t i = 0; i < in->n_args && rc == 0; i++) {
        bld_kv_free(&vars);
        if (bld_stage_vars(st, &vars) != 0) {
            rc = sw_error_oom(err);
            break;
        }
        char *name = strdup(in->args[i]);
        char *eq = name ? strchr(name, '=') : NULL;
        char *default_value = NULL;
        if (eq) {
            *eq = '\0';
            if ((rc = bld_expand_word(b, &vars, eq + 1, &default_value, err)) != 0) {
                free(name);
                break;
            }
        }
        const char *value = NULL;
        if (bld_arg_value(b, name, default_value, &b->meta_args, &value)) {
            bld_kv_set(&st->args, name, value);
            sw_strbuf_printf(&text, " %s=%s", name, value);
        } else {
            sw_strbuf_printf(&text, " %s", name);
        }
        free(default_value);
        free(name);
    }
    if (rc == 0)
        rc = bld_add_history(b, st, text.data, err);
    bld_kv_free(&vars);
    sw_strbuf_free(&text);
    return rc;
}

int bld_set_string(struct build *b, struct stage *st, const struct instr *in, const char *key,
                   const char *label, sw_error **err)
{
    char **v = NULL;
    int rc = expand_args(b, st, in, &v, err);
    if (rc != 0)
        return rc;
    if (in->n_args != 1 || v[0][0] == '\0') {
        sw_strv_free(v);
        return bld_instr_error(b, in, err, SW_EINVAL, "%s requires exactly one argument", label);
    }
    json_object_set_new(bld_image_runconfig(&st->image), key, json_string(v[0]));
    char *text = NULL;
    rc = asprintf(&text, "%s %s", label, v[0]) < 0 ? sw_error_oom(err)
                                                   : bld_add_history(b, st, text, err);
    free(text);
    sw_strv_free(v);
    return rc;
}

/* Does `path` (absolute) exist in the stage's image? Looks through the
 * layers from the top; a whiteout hides what is below. */
static int image_has_dir(struct build *b, struct stage *st, const char *path)
{
    for (size_t i = st->image.n_layers; i-- > 0;) {
        char *dir = NULL;
        if (bld_layer_unpacked(b->store, &st->image.layers[i], &dir, NULL) != 0)
            return 0;
        char *p = sw_path_join(dir, path);
        free(dir);
        struct stat s;
        int found = p && lstat(p, &s) == 0;
        free(p);
        if (found)
            return S_ISDIR(s.st_mode) || S_ISLNK(s.st_mode);
    }
    return 0;
}

int bld_do_workdir(struct build *b, struct stage *st, const struct instr *in, double started,
                   sw_error **err)
{
    char **v = NULL;
    int rc = expand_args(b, st, in, &v, err);
    if (rc != 0)
        return rc;
    if (in->n_args != 1 || v[0][0] == '\0') {
        sw_strv_free(v);
        return bld_instr_error(b, in, err, SW_EINVAL, "WORKDIR requires exactly one argument");
    }
    json_t *cfg = bld_image_runconfig(&st->image);
    char *path = NULL;
    const char *prev = json_string_value(json_object_get(cfg, "WorkingDir"));
    path = v[0][0] == '/' ? strdup(v[0]) : sw_path_join(prev && *prev ? prev : "/", v[0]);
    sw_strv_free(v);
    if (path == NULL)
        return sw_error_oom(err);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    json_object_set_new(cfg, "WorkingDir", json_string(path));

    char *text = NULL;
    if (asprintf(&text, "WORKDIR %s", path) < 0) {
        free(path);
        return sw_error_oom(err);
    }
    if (strcmp(path, "/") == 0 || image_has_dir(b, st, path)) {
        rc = bld_add_history(b, st, text, err);
        goto cleanup;
    }
    /* a missing directory is created, as its own small layer */
    const char *parts[] = { path };
    bld_chain_key(st, "workdir", parts, 1);
    char *created_by = bld_created_by(text);
    if (created_by == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (!bld_try_cache(b, st, created_by, started)) {
        struct step_area area;
        if ((rc = bld_step_area_open(b, st, 0, &area, err)) == 0) {
            char *target = sw_path_join(area.upper, path);
            rc = target ? sw_mkdir_p(target, 0755, err) : sw_error_oom(err);
            free(target);
            if (rc == 0)
                rc = bld_commit_layer(b, st, &area, created_by, err);
        }
        bld_step_area_close(&area);
    }
    free(created_by);
cleanup:
    free(text);
    free(path);
    return rc;
}

int bld_do_command(struct build *b, struct stage *st, const struct instr *in, const char *key,
                   const char *label, sw_error **err)
{
    json_t *argv = bld_command_argv(st, in, 0);
    json_t *cfg = bld_image_runconfig(&st->image);
    json_object_set_new(cfg, key, argv);
    if (strcmp(key, "Entrypoint") == 0 && !st->cmd_set)
        json_object_del(cfg, "Cmd"); /* a base image's CMD does not survive ENTRYPOINT */
    if (strcmp(key, "Cmd") == 0)
        st->cmd_set = 1;
    char *args = json_dumps(argv, JSON_COMPACT);
    char *text = NULL;
    int rc = args && asprintf(&text, "%s %s", label, args) >= 0 ? bld_add_history(b, st, text, err)
                                                                : sw_error_oom(err);
    free(args);
    free(text);
    return rc;
}

int bld_do_shell(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    if (!in->is_json || in->n_args == 0)
        return bld_instr_error(b, in, err, SW_EINVAL,
                               "SHELL requires the arguments to be in JSON "
                               "form, e.g. SHELL [\"/bin/bash\", \"-c\"]");
    json_t *shell = json_array();
    for (size_t i = 0; i < in->n_args; i++)
        json_array_append_new(shell, json_string(in->args[i]));
    json_object_set_new(bld_image_runconfig(&st->image), "Shell", shell);
    char *args = json_dumps(shell, JSON_COMPACT);
    char *text = NULL;
    int rc = args && asprintf(&text, "SHELL %s", args) >= 0 ? bld_add_history(b, st, text, err)
                                                            : sw_error_oom(err);
    free(args);
    free(text);
    return rc;
}

int bld_do_set_of(struct build *b, struct stage *st, const struct instr *in, const char *key,
                  const char *label, sw_error **err)
{
    char **v = NULL;
    int rc = 0;
    if (in->is_json) {
        v = calloc(in->n_args + 1, sizeof(char *));
        for (size_t i = 0; v && i < in->n_args; i++)
            v[i] = strdup(in->args[i]);
    } else if ((rc = expand_args(b, st, in, &v, err)) != 0) {
        return rc;
    }
    if (v == NULL)
        return sw_error_oom(err);
    json_t *cfg = bld_image_runconfig(&st->image);
    json_t *set = json_object_get(cfg, key);
    if (!json_is_object(set)) {
        set = json_object();
        json_object_set_new(cfg, key, set);
    }
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_puts(&text, label);
    for (size_t i = 0; v[i] && rc == 0; i++) {
        const char *item = v[i];
        if (*item == '\0')
            continue;
        sw_strbuf_printf(&text, " %s", item);
        if (strcmp(key, "Volumes") == 0) {
            json_object_set_new(set, item, json_object());
            continue;
        }
        /* EXPOSE 80, 80/udp, 8000-8002/tcp */
        char proto[16] = "tcp";
        const char *slash = strchr(item, '/');
        if (slash && strlen(slash + 1) < sizeof(proto))
            snprintf(proto, sizeof(proto), "%s", slash + 1);
        for (char *c = proto; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *end = NULL;
        long lo = strtol(item, &end, 10), hi = lo;
        if (end && *end == '-')
            hi = strtol(end + 1, &end, 10);
        if (end == item || (end && *end && *end != '/') || lo < 1 || hi > 65535 || hi < lo ||
            hi - lo > 1000 ||
            (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
             strcmp(proto, "sctp") != 0)) {
            rc = bld_instr_error(b, in, err, SW_EINVAL, "invalid port '%s'", item);
            break;
        }
        for (long p = lo; p <= hi; p++) {
            char port[48];
            snprintf(port, sizeof(port), "%ld/%s", p, proto);
            json_object_set_new(set, port, json_object());
        }
    }
    if (rc == 0)
        rc = bld_add_history(b, st, text.data, err);
    sw_strbuf_free(&text);
    sw_strv_free(v);
    return rc;
}

/* Go's time.ParseDuration subset Docker accepts: 30s, 1m30s, 500ms, 1h. */
static int parse_go_duration(const char *s, int64_t *ns)
{
    int64_t total = 0;
    if (*s == '\0')
        return -1;
    if (*s == '-' || *s == '+')
        s++; /* a sign only in front, as Go's ParseDuration */
    while (*s) {
        /* decimal digits and one point only: strtod would also take
         * "inf", "nan", hex and exponents ("1e30s") */
        size_t digits = strspn(s, "0123456789.");
        if (digits == 0 || memchr(s, '.', digits) != memrchr(s, '.', digits))
            return -1;
        char *end = NULL;
        double v = strtod(s, &end);
        if (end != s + digits)
            return -1;
        int64_t unit;
        if (strncmp(end, "ns", 2) == 0) {
            unit = 1;
            end += 2;
        } else if (strncmp(end, "us", 2) == 0) {
            unit = 1000;
            end += 2;
        } else if (strncmp(end, "ms", 2) == 0) {
            unit = 1000000;
            end += 2;
        } else if (*end == 's') {
            unit = 1000000000LL;
            end++;
        } else if (*end == 'm') {
            unit = 60 * 1000000000LL;
            end++;
        } else if (*end == 'h') {
            unit = 3600 * 1000000000LL;
            end++;
        } else
            return -1;
        double part = v * (double)unit;
        /* untrusted input: no double -> int64 conversion out of range */
        if (!(part >= 0 && part < 9.2e18) || total > INT64_MAX - (int64_t)part)
            return -1;
        total += (int64_t)part;
        s = end;
    }
    *ns = total;
    return 0;
}

int bld_do_healthcheck(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    json_t *hc = json_object();
    json_t *test = json_array();
    if (in->n_args >= 1 && strcasecmp(in->args[0], "NONE") == 0 && !in->is_json) {
        json_array_append_new(test, json_string("NONE"));
    } else if (in->n_args >= 2 && strcasecmp(in->args[0], "CMD") == 0) {
        json_array_append_new(test, json_string(in->is_json ? "CMD" : "CMD-SHELL"));
        sw_strbuf cmd = SW_STRBUF_INIT;
        for (size_t i = 1; i < in->n_args; i++) {
            if (in->is_json) {
                json_array_append_new(test, json_string(in->args[i]));
            } else {
                sw_strbuf_printf(&cmd, "%s%s", i > 1 ? " " : "", in->args[i]);
            }
        }
        if (!in->is_json)
            json_array_append_new(test, json_string(cmd.data ? cmd.data : ""));
        sw_strbuf_free(&cmd);
    } else {
        json_decref(hc);
        json_decref(test);
        return bld_instr_error(b, in, err, SW_EINVAL, "HEALTHCHECK needs CMD <command> or NONE");
    }
    json_object_set_new(hc, "Test", test);
    static const char *const durations[][2] = {
        { "interval", "Interval" },
        { "timeout", "Timeout" },
        { "start-period", "StartPeriod" },
        { "start-interval", "StartInterval" },
    };
    for (size_t i = 0; i < 4; i++) {
        const char *v = bld_flag_value(in, durations[i][0]);
        int64_t ns = 0;
        if (v == NULL)
            continue;
        if (parse_go_duration(v, &ns) != 0 || ns < 0) {
            json_decref(hc);
            return bld_instr_error(b, in, err, SW_EINVAL,
                                   "invalid --%s=%s: expected a duration "
                                   "such as 30s",
                                   durations[i][0], v);
        }
        json_object_set_new(hc, durations[i][1], json_integer(ns));
    }
    const char *retries = bld_flag_value(in, "retries");
    if (retries) {
        char *end = NULL;
        long r = strtol(retries, &end, 10);
        if (*retries == '\0' || *end || r < 0) {
            json_decref(hc);
            return bld_instr_error(b, in, err, SW_EINVAL, "invalid --retries=%s", retries);
        }
        json_object_set_new(hc, "Retries", json_integer(r));
    }
    json_object_set_new(bld_image_runconfig(&st->image), "Healthcheck", hc);
    char *hc_text = json_dumps(json_object_get(hc, "Test"), JSON_COMPACT);
    char *text = NULL;
    int rc = hc_text && asprintf(&text, "HEALTHCHECK %s", hc_text) >= 0
                 ? bld_add_history(b, st, text, err)
                 : sw_error_oom(err);
    free(hc_text);
    free(text);
    return rc;
}

int bld_do_onbuild(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    if (in->onbuild == NULL)
        return bld_instr_error(b, in, err, SW_EINVAL, "ONBUILD needs an instruction");
    const char *kw = in->onbuild->keyword;
    if (strcmp(kw, "onbuild") == 0 || strcmp(kw, "from") == 0 || strcmp(kw, "maintainer") == 0)
        return bld_instr_error(b, in, err, SW_EINVAL, "%s isn't allowed as an ONBUILD trigger", kw);
    json_t *cfg = bld_image_runconfig(&st->image);
    json_t *triggers = json_object_get(cfg, "OnBuild");
    if (!json_is_array(triggers)) {
        triggers = json_array();
        json_object_set_new(cfg, "OnBuild", triggers);
    }
    json_array_append_new(triggers, json_string(in->onbuild->original));
    char *text = NULL;
    int rc = asprintf(&text, "ONBUILD %s", in->onbuild->original) >= 0
                 ? bld_add_history(b, st, text, err)
                 : sw_error_oom(err);
    free(text);
    return rc;
}
