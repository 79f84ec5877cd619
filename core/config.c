/*
 * config.c - loading and validating the service configuration.
 *
 * Both YAML and JSON go through libyaml (JSON is YAML's flow style), which
 * gives every node a source line for error messages. Plain scalars are typed
 * the YAML way (true/false, integers, null); quoted scalars stay strings.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "core/cidr.h"
#include "core/db.h"
#include "core/fs.h"
#include "core/strbuf.h"

/* ---- node → line map ---------------------------------------------------- */

struct line_entry {
    const json_t *node;
    int line;
};

struct line_map {
    struct line_entry *entries;
    size_t len, cap;
};

static void line_map_add(struct line_map *map, const json_t *node, int line)
{
    if (map->len == map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 64;
        struct line_entry *e = realloc(map->entries, cap * sizeof(*e));
        if (e == NULL)
            return; /* lines are a nicety; lose them rather than fail */
        map->entries = e;
        map->cap = cap;
    }
    map->entries[map->len].node = node;
    map->entries[map->len].line = line;
    map->len++;
}

int sw_config_line(const struct sw_config *cfg, const json_t *node)
{
    const struct line_map *map = cfg ? cfg->lines : NULL;
    if (map == NULL || node == NULL)
        return 0;
    for (size_t i = 0; i < map->len; i++)
        if (map->entries[i].node == node)
            return map->entries[i].line;
    return 0;
}

/* ---- YAML → JSON ------------------------------------------------------- */

struct yaml_reader {
    yaml_parser_t parser;
    const char *path;
    struct line_map *lines;
};

static json_t *scalar_to_json(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(v, len);
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
        return json_true();
    if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
        return json_false();
    if (len == 0 || strcmp(v, "null") == 0 || strcmp(v, "~") == 0)
        return json_null();
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno == 0 && end && *end == '\0' && (isdigit((unsigned char)v[0]) || v[0] == '-'))
        return json_integer(n);
    return json_stringn(v, len);
}

static int yaml_next(struct yaml_reader *r, yaml_event_t *ev, sw_error **err)
{
    if (!yaml_parser_parse(&r->parser, ev))
        return sw_error_set(
            err, SW_EINVAL, "%s:%zu: %s%s%s", r->path, r->parser.problem_mark.line + 1,
            r->parser.problem ? r->parser.problem : "syntax error", r->parser.context ? " " : "",
            r->parser.context ? r->parser.context : "");
    return 0;
}

/* Reads the node that starts with `ev` (already consumed). */
static int yaml_read_node(struct yaml_reader *r, yaml_event_t *ev, json_t **out, sw_error **err)
{
    int line = (int)ev->start_mark.line + 1;
    json_t *node = NULL;
    int rc = 0;
    yaml_event_t child;

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        node = scalar_to_json(ev);
        break;
    case YAML_SEQUENCE_START_EVENT:
        node = json_array();
        for (;;) {
            if ((rc = yaml_next(r, &child, err)) != 0)
                goto cleanup;
            if (child.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            json_t *item = NULL;
            rc = yaml_read_node(r, &child, &item, err);
            yaml_event_delete(&child);
            if (rc != 0)
                goto cleanup;
            json_array_append_new(node, item);
        }
        break;
    case YAML_MAPPING_START_EVENT:
        node = json_object();
        for (;;) {
            if ((rc = yaml_next(r, &child, err)) != 0)
                goto cleanup;
            if (child.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            if (child.type != YAML_SCALAR_EVENT) {
                rc = sw_error_set(err, SW_EINVAL, "%s:%zu: mapping keys must be plain strings",
                                  r->path, child.start_mark.line + 1);
                yaml_event_delete(&child);
                goto cleanup;
            }
            char *key = strdup((const char *)child.data.scalar.value);
            int key_line = (int)child.start_mark.line + 1;
            yaml_event_delete(&child);
            SW_CHECK_ALLOC(key, rc, err, cleanup);
            if ((rc = yaml_next(r, &child, err)) != 0) {
                free(key);
                goto cleanup;
            }
            json_t *value = NULL;
            rc = yaml_read_node(r, &child, &value, err);
            yaml_event_delete(&child);
            if (rc != 0) {
                free(key);
                goto cleanup;
            }
            if (json_object_get(node, key) != NULL) {
                rc = sw_error_set(err, SW_EINVAL, "%s:%d: key '%s' appears twice", r->path,
                                  key_line, key);
                json_decref(value);
                free(key);
                goto cleanup;
            }
            json_object_set_new(node, key, value);
            free(key);
        }
        break;
    case YAML_ALIAS_EVENT:
        rc = sw_error_set(err, SW_EINVAL, "%s:%d: YAML aliases are not supported", r->path, line);
        goto cleanup;
    default:
        rc = sw_error_set(err, SW_EINVAL, "%s:%d: unexpected YAML event", r->path, line);
        goto cleanup;
    }
    SW_CHECK_ALLOC(node, rc, err, cleanup);
    line_map_add(r->lines, node, line);
    *out = node;
    node = NULL;
cleanup:
    json_decref(node);
    return rc;
}

static int parse_document(const char *path, const char *text, size_t len, struct line_map *lines,
                          json_t **out, sw_error **err)
{
    struct yaml_reader r = { .path = path, .lines = lines };
    yaml_event_t ev;
    int rc = 0;
    json_t *doc = NULL;

    if (!yaml_parser_initialize(&r.parser))
        return sw_error_oom(err);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    for (;;) {
        if ((rc = yaml_next(&r, &ev, err)) != 0)
            goto cleanup;
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_START_EVENT ||
            type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (doc != NULL) {
            rc = sw_error_set(err, SW_EINVAL, "%s: more than one document", path);
            yaml_event_delete(&ev);
            goto cleanup;
        }
        rc = yaml_read_node(&r, &ev, &doc, err);
        yaml_event_delete(&ev);
        if (rc != 0)
            goto cleanup;
    }
    if (doc == NULL)
        doc = json_object();
    if (!json_is_object(doc)) {
        rc = sw_error_set(err, SW_EINVAL, "%s: the top level must be a mapping", path);
        goto cleanup;
    }
    *out = doc;
    doc = NULL;
cleanup:
    json_decref(doc);
    yaml_parser_delete(&r.parser);
    return rc;
}

/* ---- typed access with errors ------------------------------------------ */

int sw_config_error(const struct sw_config *cfg, const json_t *node, const char *key,
                    sw_error **err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = sw_config_line(cfg, node);
    const char *path = cfg && cfg->path ? cfg->path : "config";
    if (line > 0)
        return sw_error_set(err, SW_EINVAL, "%s:%d: %s: %s", path, line, key, msg);
    return sw_error_set(err, SW_EINVAL, "%s: %s: %s", path, key, msg);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "a number";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Checks that every key of `obj` is in the NULL-terminated `known` list. */
static int check_keys(const struct sw_config *cfg, json_t *obj, const char *section,
                      const char *const *known, sw_error **err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int found = 0;
        for (const char *const *k = known; *k; k++)
            if (strcmp(*k, key) == 0)
                found = 1;
        if (!found) {
            char full[256];
            snprintf(full, sizeof(full), "%s%s%s", section, *section ? "." : "", key);
            return sw_config_error(cfg, value, full, err, "unknown key");
        }
    }
    return 0;
}

static int get_section(const struct sw_config *cfg, json_t *parent, const char *key,
                       const char *full, json_t **out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return sw_config_error(cfg, v, full, err, "expected a mapping, got %s", json_kind(v));
    *out = v;
    return 0;
}

static int get_string(const struct sw_config *cfg, json_t *parent, const char *key,
                      const char *full, char **out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return sw_config_error(cfg, v, full, err, "expected a string, got %s", json_kind(v));
    char *s = strdup(json_string_value(v));
    if (s == NULL)
        return sw_error_oom(err);
    free(*out);
    *out = s;
    return 0;
}

static int get_bool(const struct sw_config *cfg, json_t *parent, const char *key, const char *full,
                    int *out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        if (json_is_string(v))
            return sw_config_error(cfg, v, full, err, "expected true or false, got \"%s\"",
                                   json_string_value(v));
        return sw_config_error(cfg, v, full, err, "expected true or false, got %s", json_kind(v));
    }
    *out = json_is_true(v);
    return 0;
}

static int get_int(const struct sw_config *cfg, json_t *parent, const char *key, const char *full,
                   long long min, long long max, int *out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return sw_config_error(cfg, v, full, err, "expected a whole number, got %s", json_kind(v));
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return sw_config_error(cfg, v, full, err, "expected a number from %lld to %lld, got %lld",
                               min, max, n);
    *out = (int)n;
    return 0;
}

static int get_string_list(const struct sw_config *cfg, json_t *parent, const char *key,
                           const char *full, char ***out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        /* a single string is accepted as a one-element list */
        char **list = calloc(2, sizeof(char *));
        if (list == NULL || (list[0] = strdup(json_string_value(v))) == NULL) {
            free(list);
            return sw_error_oom(err);
        }
        *out = list;
        return 0;
    }
    if (!json_is_array(v))
        return sw_config_error(cfg, v, full, err, "expected a list of strings, got %s",
                               json_kind(v));
    size_t n = json_array_size(v);
    char **list = calloc(n + 1, sizeof(char *));
    if (list == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        if (!json_is_string(item)) {
            for (size_t j = 0; j < i; j++)
                free(list[j]);
            free(list);
            char where[256];
            snprintf(where, sizeof(where), "%s[%zu]", full, i);
            return sw_config_error(cfg, item, where, err, "expected a string, got %s",
                                   json_kind(item));
        }
        list[i] = strdup(json_string_value(item));
    }
    *out = list;
    return 0;
}

static int make_absolute(char **path, sw_error **err)
{
    if (*path == NULL || (*path)[0] == '/')
        return 0;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return sw_error_sys(err, SW_EIO, errno, "getcwd");
    const char *rel = *path;
    if (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    char *abs = (strcmp(rel, ".") == 0) ? strdup(cwd) : sw_path_join(cwd, rel);
    if (abs == NULL)
        return sw_error_oom(err);
    free(*path);
    *path = abs;
    return 0;
}

int64_t sw_parse_duration(const char *s)
{
    if (s == NULL || *s == '\0')
        return -1;
    int64_t total = 0;
    const char *p = s;
    int any_unit = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        char *end = NULL;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        if (errno != 0 || n < 0)
            return -1;
        p = end;
        int64_t mult;
        if (*p == 'd') {
            mult = 86400;
            p++;
        } else if (*p == 'h') {
            mult = 3600;
            p++;
        } else if (*p == 'm' && p[1] == 's') {
            return -1;
        } else if (*p == 'm') {
            mult = 60;
            p++;
        } else if (*p == 's') {
            mult = 1;
            p++;
        } else if (*p == '\0' && !any_unit) {
            mult = 1;
        } else
            return -1;
        any_unit = 1;
        if (n > INT64_MAX / mult - total)
            return -1;
        total += n * mult;
    }
    return total;
}

int64_t sw_parse_size(const char *s)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || n < 0)
        return -1;
    static const struct {
        const char *suffix;
        int64_t mult;
    } units[] = {
        { "", 1 },
        { "B", 1 },
        { "KiB", 1024LL },
        { "MiB", 1024LL * 1024 },
        { "GiB", 1024LL * 1024 * 1024 },
        { "KB", 1000LL },
        { "MB", 1000LL * 1000 },
        { "GB", 1000LL * 1000 * 1000 },
        { "k", 1024LL },
        { "K", 1024LL },
        { "M", 1024LL * 1024 },
        { "G", 1024LL * 1024 * 1024 },
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (n > INT64_MAX / units[i].mult)
                return -1;
            return n * units[i].mult;
        }
    }
    return -1;
}

int sw_config_secret(const char *spec, char **out, sw_error **err)
{
    const char *value = spec;
    if (strncmp(spec, "env:", 4) == 0) {
        value = getenv(spec + 4);
        if (value == NULL)
            return sw_error_set(err, SW_ENOTFOUND, "environment variable %s is not set", spec + 4);
    }
    *out = strdup(value);
    return *out ? 0 : sw_error_oom(err);
}

static int get_duration(const struct sw_config *cfg, json_t *parent, const char *key,
                        const char *full, int64_t *out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return 0;
    }
    int64_t d = json_is_string(v) ? sw_parse_duration(json_string_value(v)) : -1;
    if (d < 0)
        return sw_config_error(cfg, v, full, err,
                               "expected a duration such as \"30s\", \"10m\" or \"1h\"");
    *out = d;
    return 0;
}

static int get_size(const struct sw_config *cfg, json_t *parent, const char *key, const char *full,
                    int64_t *out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = json_integer_value(v);
        return 0;
    }
    int64_t d = json_is_string(v) ? sw_parse_size(json_string_value(v)) : -1;
    if (d <= 0)
        return sw_config_error(cfg, v, full, err, "expected a size such as \"4MiB\"");
    *out = d;
    return 0;
}

/* ---- sections ---------------------------------------------------------- */

static int load_server(struct sw_config *cfg, sw_error **err)
{
    static const char *const known[] = { "listen",
                                         "public_url",
                                         "data_dir",
                                         "tls",
                                         "max_connections",
                                         "max_connections_per_ip",
                                         "header_timeout",
                                         "idle_timeout",
                                         "threads",
                                         "access_log",
                                         NULL };
    json_t *server = NULL, *tls = NULL;
    int rc;
    if ((rc = get_section(cfg, cfg->root, "server", "server", &server, err)) != 0 || !server)
        return rc;
    if ((rc = check_keys(cfg, server, "server", known, err)) != 0)
        return rc;

    json_t *listen = json_object_get(server, "listen");
    if (listen && !json_is_null(listen)) {
        const char *s = json_is_string(listen) ? json_string_value(listen) : NULL;
        const char *colon = s ? strrchr(s, ':') : NULL;
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!s || !colon || !end || *end != '\0' || port < 0 || port > 65535 || colon == s)
            return sw_config_error(cfg, listen, "server.listen", err,
                                   "expected host:port such as \"127.0.0.1:8080\"");
        free(cfg->listen_host);
        const char *host = s;
        size_t host_len = (size_t)(colon - s);
        if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') {
            host++;
            host_len -= 2;
        }
        cfg->listen_host = strndup(host, host_len);
        cfg->listen_port = (int)port;
    }
    if ((rc = get_string(cfg, server, "public_url", "server.public_url", &cfg->public_url, err)) ||
        (rc = get_string(cfg, server, "data_dir", "server.data_dir", &cfg->data_dir, err)))
        return rc;
    if ((rc = get_int(cfg, server, "max_connections", "server.max_connections", 16, 1000000,
                      &cfg->max_connections, err)) ||
        (rc = get_int(cfg, server, "max_connections_per_ip", "server.max_connections_per_ip", 1,
                      1000000, &cfg->max_connections_per_ip, err)) ||
        (rc = get_duration(cfg, server, "header_timeout", "server.header_timeout",
                           &cfg->header_timeout_s, err)) ||
        (rc = get_duration(cfg, server, "idle_timeout", "server.idle_timeout", &cfg->idle_timeout_s,
                           err)) ||
        (rc =
             get_int(cfg, server, "threads", "server.threads", 0, 1024, &cfg->server_threads, err)))
        return rc;
    json_t *access_log = json_object_get(server, "access_log");
    if (access_log && !json_is_null(access_log)) {
        /* YAML's on/off read as booleans; "errors" logs only 4xx/5xx */
        if (json_is_boolean(access_log))
            cfg->access_log = json_is_true(access_log) ? SW_ACCESS_LOG_ON : SW_ACCESS_LOG_OFF;
        else if (json_is_string(access_log) && strcmp(json_string_value(access_log), "on") == 0)
            cfg->access_log = SW_ACCESS_LOG_ON;
        else if (json_is_string(access_log) && strcmp(json_string_value(access_log), "off") == 0)
            cfg->access_log = SW_ACCESS_LOG_OFF;
        else if (json_is_string(access_log) && strcmp(json_string_value(access_log), "errors") == 0)
            cfg->access_log = SW_ACCESS_LOG_ERRORS;
        else
            return sw_config_error(cfg, access_log, "server.access_log", err,
                                   "expected on, off or errors");
    }
    if (cfg->header_timeout_s < 1 || cfg->header_timeout_s > 3600)
        return sw_config_error(cfg, json_object_get(server, "header_timeout"),
                               "server.header_timeout", err, "expected 1s to 1h");
    if (cfg->idle_timeout_s < 1 || cfg->idle_timeout_s > 86400)
        return sw_config_error(cfg, json_object_get(server, "idle_timeout"), "server.idle_timeout",
                               err, "expected 1s to 24h");
    if ((rc = get_section(cfg, server, "tls", "server.tls", &tls, err)) != 0)
        return rc;
    if (tls) {
        static const char *const tls_known[] = { "cert", "key", NULL };
        if ((rc = check_keys(cfg, tls, "server.tls", tls_known, err)) ||
            (rc = get_string(cfg, tls, "cert", "server.tls.cert", &cfg->tls_cert, err)) ||
            (rc = get_string(cfg, tls, "key", "server.tls.key", &cfg->tls_key, err)))
            return rc;
        if (!cfg->tls_cert || !cfg->tls_key)
            return sw_config_error(cfg, tls, "server.tls", err, "needs both cert and key");
        if ((rc = make_absolute(&cfg->tls_cert, err)) || (rc = make_absolute(&cfg->tls_key, err)))
            return rc;
    }
    return 0;
}

static int load_rules(struct sw_config *cfg, json_t *rules, sw_error **err)
{
    if (!json_is_array(rules))
        return sw_config_error(cfg, rules, "registry.auth.rules", err,
                               "expected a list of rules, got %s", json_kind(rules));
    size_t n = json_array_size(rules);
    cfg->rules = calloc(n ? n : 1, sizeof(*cfg->rules));
    if (cfg->rules == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < n; i++) {
        static const char *const known[] = { "repo", "users", "access", NULL };
        json_t *r = json_array_get(rules, i);
        char where[64];
        snprintf(where, sizeof(where), "registry.auth.rules[%zu]", i);
        struct sw_access_rule *rule = &cfg->rules[i];
        cfg->n_rules = i + 1;
        int rc;
        if (!json_is_object(r))
            return sw_config_error(cfg, r, where, err, "expected a mapping");
        if ((rc = check_keys(cfg, r, where, known, err)))
            return rc;
        char key[96];
        snprintf(key, sizeof(key), "%s.repo", where);
        if ((rc = get_string(cfg, r, "repo", key, &rule->repo_pattern, err)))
            return rc;
        if (rule->repo_pattern == NULL)
            return sw_config_error(cfg, r, key, err,
                                   "missing (a repository pattern such as \"team/*\")");
        snprintf(key, sizeof(key), "%s.users", where);
        if ((rc = get_string_list(cfg, r, "users", key, &rule->users, err)))
            return rc;
        if (rule->users == NULL)
            return sw_config_error(cfg, r, key, err, "missing (a list of user names, or \"*\")");
        char **access = NULL;
        snprintf(key, sizeof(key), "%s.access", where);
        if ((rc = get_string_list(cfg, r, "access", key, &access, err)))
            return rc;
        if (access == NULL)
            return sw_config_error(cfg, r, key, err, "missing (a list of pull, push)");
        for (char **a = access; *a; a++) {
            if (strcmp(*a, "pull") == 0)
                rule->can_pull = 1;
            else if (strcmp(*a, "push") == 0)
                rule->can_push = 1;
            else {
                rc = sw_config_error(cfg, json_object_get(r, "access"), key, err,
                                     "expected pull or push, got \"%s\"", *a);
                sw_strv_free(access);
                return rc;
            }
        }
        sw_strv_free(access);
        for (char **u = rule->users; rule->can_push && *u; u++)
            if (strcmp(*u, "anonymous") == 0)
                return sw_config_error(cfg, json_object_get(r, "users"), key, err,
                                       "anonymous may only pull: give push to named users in "
                                       "a rule of their own");
    }
    return 0;
}

/* registry.credentials: [{host, username, password}] for remote registries
 * (base images); passwords may be env:NAME. */
static int load_credentials(struct sw_config *cfg, json_t *list, sw_error **err)
{
    if (!json_is_array(list))
        return sw_config_error(cfg, list, "registry.credentials", err,
                               "expected a list of {host, username, password}, got %s",
                               json_kind(list));
    size_t n = json_array_size(list);
    cfg->credentials = calloc(n ? n : 1, sizeof(*cfg->credentials));
    if (cfg->credentials == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < n; i++) {
        static const char *const known[] = { "host", "username", "password", NULL };
        json_t *c = json_array_get(list, i);
        struct sw_registry_credential *cred = &cfg->credentials[i];
        char where[64], key[96];
        int rc;
        cfg->n_credentials = i + 1;
        snprintf(where, sizeof(where), "registry.credentials[%zu]", i);
        if (!json_is_object(c))
            return sw_config_error(cfg, c, where, err, "expected a mapping");
        if ((rc = check_keys(cfg, c, where, known, err)))
            return rc;
        char *password = NULL;
        snprintf(key, sizeof(key), "%s.host", where);
        if ((rc = get_string(cfg, c, "host", key, &cred->host, err)))
            return rc;
        snprintf(key, sizeof(key), "%s.username", where);
        if ((rc = get_string(cfg, c, "username", key, &cred->username, err)))
            return rc;
        snprintf(key, sizeof(key), "%s.password", where);
        if ((rc = get_string(cfg, c, "password", key, &password, err)))
            return rc;
        if (!cred->host || !cred->username || !password) {
            free(password);
            return sw_config_error(cfg, c, where, err, "needs host, username and password");
        }
        rc = sw_config_secret(password, &cred->password, err);
        free(password);
        if (rc != 0) {
            int line = sw_config_line(cfg, json_object_get(c, "password"));
            sw_error_prefix(err, "%s:%d: %s", cfg->path, line, key);
            return rc;
        }
    }
    return 0;
}

static int load_registry(struct sw_config *cfg, sw_error **err)
{
    static const char *const known[] = {
        "delete",         "local_hosts",       "auth",     "mirrors",     "gc",
        "pagination_max", "max_manifest_size", "insecure", "credentials", NULL
    };
    json_t *reg = NULL, *auth = NULL, *mirrors = NULL, *gc = NULL;
    int rc;
    if ((rc = get_section(cfg, cfg->root, "registry", "registry", &reg, err)) != 0 || !reg)
        return rc;
    if ((rc = check_keys(cfg, reg, "registry", known, err)) ||
        (rc = get_bool(cfg, reg, "delete", "registry.delete", &cfg->delete_enabled, err)) ||
        (rc = get_string_list(cfg, reg, "local_hosts", "registry.local_hosts", &cfg->local_hosts,
                              err)) ||
        (rc = get_string_list(cfg, reg, "insecure", "registry.insecure", &cfg->insecure_hosts,
                              err)) ||
        (rc = get_int(cfg, reg, "pagination_max", "registry.pagination_max", 1, 1000000,
                      &cfg->max_page_size, err)) ||
        (rc = get_size(cfg, reg, "max_manifest_size", "registry.max_manifest_size",
                       &cfg->max_manifest_size, err)))
        return rc;

    if ((rc = get_section(cfg, reg, "auth", "registry.auth", &auth, err)) != 0)
        return rc;
    if (auth) {
        static const char *const auth_known[] = { "htpasswd",  "anonymous_pull", "realm", "rules",
                                                  "challenge", "token_ttl",      NULL };
        if ((rc = check_keys(cfg, auth, "registry.auth", auth_known, err)) ||
            (rc = get_string(cfg, auth, "htpasswd", "registry.auth.htpasswd", &cfg->htpasswd,
                             err)) ||
            (rc = get_bool(cfg, auth, "anonymous_pull", "registry.auth.anonymous_pull",
                           &cfg->anonymous_pull, err)) ||
            (rc = get_string(cfg, auth, "realm", "registry.auth.realm", &cfg->auth_realm, err)))
            return rc;
        if (cfg->htpasswd == NULL)
            return sw_config_error(cfg, auth, "registry.auth.htpasswd", err,
                                   "missing (the path of an htpasswd file with bcrypt entries)");
        if ((rc = make_absolute(&cfg->htpasswd, err)))
            return rc;
        json_t *rules = json_object_get(auth, "rules");
        if (rules && !json_is_null(rules) && (rc = load_rules(cfg, rules, err)))
            return rc;
        char *challenge = NULL, *ttl = NULL;
        if ((rc = get_string(cfg, auth, "challenge", "registry.auth.challenge", &challenge, err)))
            return rc;
        if (challenge && strcmp(challenge, "basic") == 0)
            cfg->auth_challenge_basic = 1;
        else if (challenge && strcmp(challenge, "bearer") != 0) {
            rc = sw_config_error(cfg, json_object_get(auth, "challenge"), "registry.auth.challenge",
                                 err, "expected bearer or basic, got \"%s\"", challenge);
            free(challenge);
            return rc;
        }
        free(challenge);
        if ((rc = get_string(cfg, auth, "token_ttl", "registry.auth.token_ttl", &ttl, err)))
            return rc;
        if (ttl) {
            cfg->token_ttl_s = sw_parse_duration(ttl);
            free(ttl);
            if (cfg->token_ttl_s < 10 || cfg->token_ttl_s > 86400)
                return sw_config_error(cfg, json_object_get(auth, "token_ttl"),
                                       "registry.auth.token_ttl", err,
                                       "expected a duration from 10s to 24h");
        }
    }

    if ((rc = get_section(cfg, reg, "mirrors", "registry.mirrors", &mirrors, err)) != 0)
        return rc;
    if (mirrors) {
        size_t n = json_object_size(mirrors), i = 0;
        cfg->mirrors = calloc(n ? n : 1, sizeof(*cfg->mirrors));
        if (cfg->mirrors == NULL)
            return sw_error_oom(err);
        const char *host;
        json_t *v;
        json_object_foreach(mirrors, host, v) {
            char key[300];
            snprintf(key, sizeof(key), "registry.mirrors.%s", host);
            cfg->mirrors[i].host = strdup(host);
            cfg->n_mirrors = ++i;
            if ((rc =
                     get_string_list(cfg, mirrors, host, key, &cfg->mirrors[i - 1].endpoints, err)))
                return rc;
        }
    }

    json_t *creds = json_object_get(reg, "credentials");
    if (creds && !json_is_null(creds) && (rc = load_credentials(cfg, creds, err)) != 0)
        return rc;

    if ((rc = get_section(cfg, reg, "gc", "registry.gc", &gc, err)) != 0)
        return rc;
    if (gc) {
        static const char *const gc_known[] = { "untagged_manifests", NULL };
        char *policy = NULL;
        if ((rc = check_keys(cfg, gc, "registry.gc", gc_known, err)) ||
            (rc = get_string(cfg, gc, "untagged_manifests", "registry.gc.untagged_manifests",
                             &policy, err)))
            return rc;
        if (policy) {
            if (strcmp(policy, "delete") == 0)
                cfg->gc_delete_untagged = 1;
            else if (strcmp(policy, "keep") == 0)
                cfg->gc_delete_untagged = 0;
            else
                rc = sw_config_error(cfg, json_object_get(gc, "untagged_manifests"),
                                     "registry.gc.untagged_manifests", err,
                                     "expected delete or keep, got \"%s\"", policy);
            free(policy);
        }
    }
    return rc;
}

/* A list of CIDRs at parent.key (each item checked). */
static int get_cidr_list(const struct sw_config *cfg, json_t *parent, const char *key,
                         const char *full, char ***out, sw_error **err)
{
    json_t *v = json_object_get(parent, key);
    if (v == NULL || json_is_null(v))
        return 0;
    char **list = NULL;
    int rc = get_string_list(cfg, parent, key, full, &list, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; list[i]; i++) {
        struct sw_cidr c;
        if (sw_cidr_parse(list[i], &c) != 0) {
            char where[256];
            snprintf(where, sizeof(where), "%s[%zu]", full, i);
            rc = sw_config_error(cfg, json_is_array(v) ? json_array_get(v, i) : v, where, err,
                                 "expected an address range such as \"10.0.0.0/8\" or "
                                 "\"fc00::/7\", got \"%s\"",
                                 list[i]);
            sw_strv_free(list);
            return rc;
        }
    }
    sw_strv_free(*out);
    *out = list;
    return 0;
}

/* builder.egress.{deny,allow}, builder.allow, builder.add_max_size */
static int load_builder_egress(struct sw_config *cfg, json_t *b, sw_error **err)
{
    static const char *const egress_known[] = { "deny", "allow", NULL };
    static const char *const entitlements[] = { "network.host", "security.insecure", NULL };
    json_t *egress = NULL;
    int rc;
    if ((rc = get_section(cfg, b, "egress", "builder.egress", &egress, err)) != 0)
        return rc;
    if (egress &&
        ((rc = check_keys(cfg, egress, "builder.egress", egress_known, err)) ||
         (rc = get_cidr_list(cfg, egress, "deny", "builder.egress.deny", &cfg->egress_deny, err)) ||
         (rc = get_cidr_list(cfg, egress, "allow", "builder.egress.allow", &cfg->egress_allow,
                             err))))
        return rc;
    char **allow = NULL;
    if ((rc = get_string_list(cfg, b, "allow", "builder.allow", &allow, err)) != 0)
        return rc;
    if (allow) {
        json_t *v = json_object_get(b, "allow");
        for (size_t i = 0; allow[i]; i++) {
            size_t k = 0;
            while (entitlements[k] && strcmp(entitlements[k], allow[i]) != 0)
                k++;
            if (entitlements[k] == NULL) {
                char where[64];
                snprintf(where, sizeof(where), "builder.allow[%zu]", i);
                rc = sw_config_error(cfg, json_is_array(v) ? json_array_get(v, i) : v, where, err,
                                     "expected network.host or security.insecure, got \"%s\"",
                                     allow[i]);
                sw_strv_free(allow);
                return rc;
            }
        }
        sw_strv_free(cfg->builder_allow);
        cfg->builder_allow = allow;
    }
    return get_size(cfg, b, "add_max_size", "builder.add_max_size", &cfg->add_max_size, err);
}

/* A limit: a size (or a number, with is_size 0), or "unlimited" (0). */
static int get_limit(const struct sw_config *cfg, json_t *parent, const char *key, int is_size,
                     int64_t *out, sw_error **err)
{
    char full[64];
    snprintf(full, sizeof(full), "builder.limits.%s", key);
    json_t *v = json_object_get(parent, key);
    if (json_is_string(v) && strcmp(json_string_value(v), "unlimited") == 0) {
        *out = 0;
        return 0;
    }
    if (is_size)
        return get_size(cfg, parent, key, full, out, err);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4194304)
        return sw_config_error(cfg, v, full, err,
                               "expected a number from 1 to 4194304, or unlimited");
    *out = json_integer_value(v);
    return 0;
}

static int load_limits(struct sw_config *cfg, json_t *builder, sw_error **err)
{
    static const char *const known[] = { "memory", "pids", "cpus", "disk", NULL };
    json_t *l = NULL;
    int rc;
    if ((rc = get_section(cfg, builder, "limits", "builder.limits", &l, err)) != 0 || !l)
        return rc;
    if ((rc = check_keys(cfg, l, "builder.limits", known, err)) ||
        (rc = get_limit(cfg, l, "memory", 1, &cfg->limit_memory, err)) ||
        (rc = get_limit(cfg, l, "pids", 0, &cfg->limit_pids, err)) ||
        (rc = get_limit(cfg, l, "disk", 1, &cfg->limit_disk, err)))
        return rc;
    if (cfg->limit_memory != 0 && cfg->limit_memory < 4 * 1024 * 1024)
        return sw_config_error(cfg, json_object_get(l, "memory"), "builder.limits.memory", err,
                               "expected at least 4MiB");
    json_t *cpus = json_object_get(l, "cpus");
    if (cpus && !json_is_null(cpus)) {
        const char *text = json_string_value(cpus);
        char *end = NULL;
        double n = text ? strtod(text, &end) : json_is_number(cpus) ? json_number_value(cpus) : -1;
        if (text && (strcmp(text, "all") == 0 || strcmp(text, "unlimited") == 0))
            cfg->limit_cpus = 0;
        else if ((text == NULL || (end != text && *end == '\0')) && n >= 0.01 && n <= 4096)
            cfg->limit_cpus = n;
        else
            return sw_config_error(cfg, cpus, "builder.limits.cpus", err,
                                   "expected a number of CPUs such as 1.5, or all");
    }
    return 0;
}

/* builder.userns: true | false | {uid, gid, size} */
static int load_userns(struct sw_config *cfg, json_t *builder, sw_error **err)
{
    static const char *const known[] = { "uid", "gid", "size", NULL };
    json_t *u = json_object_get(builder, "userns");
    if (u == NULL || json_is_null(u))
        return 0;
    if (json_is_boolean(u)) {
        cfg->userns_enabled = json_is_true(u);
        return 0;
    }
    if (!json_is_object(u))
        return sw_config_error(cfg, u, "builder.userns", err,
                               "expected true, false or a mapping {uid, gid, size}");
    int rc = check_keys(cfg, u, "builder.userns", known, err);
    static const char *const keys[] = { "uid", "gid", "size" };
    int64_t *fields[] = { &cfg->userns_uid, &cfg->userns_gid, &cfg->userns_size };
    for (int i = 0; rc == 0 && i < 3; i++) {
        json_t *v = json_object_get(u, keys[i]);
        char full[32];
        snprintf(full, sizeof(full), "builder.userns.%s", keys[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < (i == 2 ? 1 : 1000) ||
            json_integer_value(v) > 4294967294LL)
            return sw_config_error(cfg, v, full, err, "expected a number from %d to 4294967294",
                                   i == 2 ? 1 : 1000);
        *fields[i] = json_integer_value(v);
    }
    if (rc == 0 && cfg->userns_size < 65536 && json_object_get(u, "size") != NULL)
        return sw_config_error(cfg, json_object_get(u, "size"), "builder.userns.size", err,
                               "expected at least 65536 (images use ids up to 65534)");
    if (rc == 0 && (cfg->userns_uid + cfg->userns_size > 4294967295LL ||
                    cfg->userns_gid + cfg->userns_size > 4294967295LL))
        return sw_config_error(cfg, u, "builder.userns", err, "the id range ends past 4294967294");
    cfg->userns_enabled = 1;
    return rc;
}

/* builder.cache_mounts: {max_size: SIZE | unlimited} */
static int load_cache_mounts(struct sw_config *cfg, json_t *builder, sw_error **err)
{
    static const char *const known[] = { "max_size", NULL };
    json_t *c = NULL;
    int rc;
    if ((rc = get_section(cfg, builder, "cache_mounts", "builder.cache_mounts", &c, err)) != 0 ||
        !c || (rc = check_keys(cfg, c, "builder.cache_mounts", known, err)) != 0)
        return rc;
    json_t *v = json_object_get(c, "max_size");
    if (json_is_string(v) && strcmp(json_string_value(v), "unlimited") == 0) {
        cfg->cache_mounts_max_size = 0;
        return 0;
    }
    return get_size(cfg, c, "max_size", "builder.cache_mounts.max_size",
                    &cfg->cache_mounts_max_size, err);
}

static int load_builder(struct sw_config *cfg, sw_error **err)
{
    static const char *const known[] = { "runtime",      "network", "compression",
                                         "step_timeout", "egress",  "allow",
                                         "add_max_size", "limits",  "userns",
                                         "cache_mounts", NULL };
    json_t *b = NULL;
    int rc;
    if ((rc = get_section(cfg, cfg->root, "builder", "builder", &b, err)) != 0 || !b)
        return rc;
    if ((rc = check_keys(cfg, b, "builder", known, err)) || (rc = load_limits(cfg, b, err)) ||
        (rc = load_userns(cfg, b, err)) ||
        (rc = get_string(cfg, b, "runtime", "builder.runtime", &cfg->runtime, err)) ||
        (rc = get_string(cfg, b, "network", "builder.network", &cfg->network, err)) ||
        (rc = get_string(cfg, b, "compression", "builder.compression", &cfg->compression, err)) ||
        (rc = get_duration(cfg, b, "step_timeout", "builder.step_timeout", &cfg->step_timeout_s,
                           err)))
        return rc;
    if (strcmp(cfg->network, "egress") != 0 && strcmp(cfg->network, "none") != 0 &&
        strcmp(cfg->network, "host") != 0)
        return sw_config_error(cfg, json_object_get(b, "network"), "builder.network", err,
                               "expected egress, none or host, got \"%s\"", cfg->network);
    if ((rc = load_builder_egress(cfg, b, err)) != 0 || (rc = load_cache_mounts(cfg, b, err)) != 0)
        return rc;
    if (strcmp(cfg->compression, "gzip") != 0 && strcmp(cfg->compression, "zstd") != 0)
        return sw_config_error(cfg, json_object_get(b, "compression"), "builder.compression", err,
                               "expected gzip or zstd, got \"%s\"", cfg->compression);
    return 0;
}

static int load_storage(struct sw_config *cfg, sw_error **err)
{
    static const char *const known[] = { "reserve",    "driver",   "endpoint",   "region",
                                         "bucket",     "prefix",   "access_key", "secret_key",
                                         "path_style", "redirect", "part_size",  "direct_io",
                                         NULL };
    json_t *s = NULL;
    char *access_spec = NULL, *secret_spec = NULL;
    int rc;
    if ((rc = get_section(cfg, cfg->root, "storage", "storage", &s, err)) != 0 || !s)
        return rc;
    if ((rc = check_keys(cfg, s, "storage", known, err)) ||
        (rc = get_size(cfg, s, "reserve", "storage.reserve", &cfg->storage_reserve, err)) ||
        (rc = get_string(cfg, s, "driver", "storage.driver", &cfg->storage_driver, err)) ||
        (rc = get_string(cfg, s, "endpoint", "storage.endpoint", &cfg->storage_endpoint, err)) ||
        (rc = get_string(cfg, s, "region", "storage.region", &cfg->storage_region, err)) ||
        (rc = get_string(cfg, s, "bucket", "storage.bucket", &cfg->storage_bucket, err)) ||
        (rc = get_string(cfg, s, "prefix", "storage.prefix", &cfg->storage_prefix, err)) ||
        (rc = get_string(cfg, s, "access_key", "storage.access_key", &access_spec, err)) ||
        (rc = get_string(cfg, s, "secret_key", "storage.secret_key", &secret_spec, err)) ||
        (rc =
             get_bool(cfg, s, "path_style", "storage.path_style", &cfg->storage_path_style, err)) ||
        (rc = get_bool(cfg, s, "redirect", "storage.redirect", &cfg->storage_redirect, err)) ||
        (rc = get_size(cfg, s, "part_size", "storage.part_size", &cfg->storage_part_size, err)) ||
        (rc = get_bool(cfg, s, "direct_io", "storage.direct_io", &cfg->storage_direct_io, err)))
        goto cleanup;
    if (strcmp(cfg->storage_driver, "filesystem") != 0 && strcmp(cfg->storage_driver, "s3") != 0) {
        rc = sw_config_error(cfg, json_object_get(s, "driver"), "storage.driver", err,
                             "expected filesystem or s3, got \"%s\"", cfg->storage_driver);
        goto cleanup;
    }
    if (cfg->storage_part_size != 0 && (cfg->storage_part_size < 5LL * 1024 * 1024 ||
                                        cfg->storage_part_size > 5LL * 1024 * 1024 * 1024)) {
        rc = sw_config_error(cfg, json_object_get(s, "part_size"), "storage.part_size", err,
                             "expected 5MiB to 5GiB");
        goto cleanup;
    }
    if (strcmp(cfg->storage_driver, "s3") == 0) {
        static const char *const required[] = { "endpoint", "bucket", "access_key", "secret_key" };
        for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
            if (json_object_get(s, required[i]) == NULL) {
                rc = sw_config_error(cfg, s, "storage", err,
                                     "driver s3 needs storage.%s (see docs/storage.md)",
                                     required[i]);
                goto cleanup;
            }
        }
        const char *ep = cfg->storage_endpoint;
        if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
            rc = sw_config_error(cfg, json_object_get(s, "endpoint"), "storage.endpoint", err,
                                 "expected http://host[:port] or https://host[:port], got \"%s\"",
                                 ep);
            goto cleanup;
        }
        /* the error names the key and the variable, never a value */
        if ((rc = sw_config_secret(access_spec, &cfg->storage_access_key, err)) != 0 ||
            (rc = sw_config_secret(secret_spec, &cfg->storage_secret_key, err)) != 0) {
            sw_error_prefix(err, "%s: storage.%s", cfg->path,
                            cfg->storage_access_key ? "secret_key" : "access_key");
            goto cleanup;
        }
    }
cleanup:
    free(access_spec);
    if (secret_spec) {
        memset(secret_spec, 0, strlen(secret_spec));
        free(secret_spec);
    }
    return rc;
}

static int set_defaults(struct sw_config *cfg)
{
    cfg->listen_host = strdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->max_connections = 4096;
    cfg->max_connections_per_ip = 64;
    cfg->header_timeout_s = 10;
    cfg->idle_timeout_s = 60;
    cfg->server_threads = 0;
    cfg->data_dir = strdup("./var");
    cfg->delete_enabled = 0;
    cfg->anonymous_pull = 0;
    cfg->gc_delete_untagged = 0;
    cfg->max_page_size = 10000;
    cfg->storage_reserve = 256LL * 1024 * 1024;
    cfg->storage_driver = strdup("filesystem");
    cfg->storage_region = strdup("us-east-1");
    cfg->storage_prefix = strdup("");
    cfg->storage_path_style = 1;
    cfg->storage_direct_io = 1;
    cfg->max_manifest_size = 4 * 1024 * 1024;
    cfg->runtime = strdup("runc");
    cfg->network = strdup("egress");
    static const char *const deny[] = { "10.0.0.0/8",    "172.16.0.0/12", "192.168.0.0/16",
                                        "100.64.0.0/10", "fc00::/7",      NULL };
    cfg->egress_deny = calloc(sizeof(deny) / sizeof(deny[0]), sizeof(char *));
    for (size_t i = 0; cfg->egress_deny && deny[i]; i++)
        if ((cfg->egress_deny[i] = strdup(deny[i])) == NULL)
            return -1;
    cfg->add_max_size = (int64_t)2 * 1024 * 1024 * 1024;
    cfg->cache_mounts_max_size = 2LL << 30;
    cfg->compression = strdup("gzip");
    cfg->step_timeout_s = 30 * 60;
    cfg->limit_memory = 4LL << 30;
    cfg->limit_pids = 4096;
    cfg->limit_cpus = 0;
    cfg->limit_disk = 20LL << 30;
    cfg->userns_enabled = 1;
    cfg->userns_uid = 100000;
    cfg->userns_gid = 100000;
    cfg->userns_size = 65536;
    cfg->workers = 2;
    return (cfg->listen_host && cfg->data_dir && cfg->runtime && cfg->network && cfg->compression &&
            cfg->egress_deny && cfg->storage_driver && cfg->storage_region && cfg->storage_prefix)
               ? 0
               : -1;
}

static int finish(struct sw_config *cfg, sw_error **err)
{
    int rc;
    if ((rc = make_absolute(&cfg->data_dir, err)))
        return rc;
    if (cfg->public_url == NULL) {
        const char *scheme = cfg->tls_cert ? "https" : "http";
        const char *host = strcmp(cfg->listen_host, "0.0.0.0") == 0 || cfg->listen_host[0] == '\0'
                               ? "localhost"
                               : cfg->listen_host;
        if (asprintf(&cfg->public_url, "%s://%s:%d", scheme, host, cfg->listen_port) < 0) {
            cfg->public_url = NULL;
            return sw_error_oom(err);
        }
    }
    size_t n = strlen(cfg->public_url);
    while (n > 0 && cfg->public_url[n - 1] == '/')
        cfg->public_url[--n] = '\0';
    if (cfg->auth_realm == NULL && (cfg->auth_realm = strdup("slipway")) == NULL)
        return sw_error_oom(err);
    return 0;
}

int sw_config_defaults(struct sw_config **out, sw_error **err)
{
    struct sw_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || set_defaults(cfg) != 0) {
        sw_config_free(cfg);
        return sw_error_oom(err);
    }
    cfg->root = json_object();
    int rc = finish(cfg, err);
    if (rc != 0) {
        sw_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int sw_config_check_database_url(const char *url, sw_error **err)
{
    if (!sw_db_is_url(url))
        return sw_error_set(err, SW_EINVAL,
                            "expected a URL postgres://USER@HOST:PORT/DBNAME (leave it out for "
                            "the SQLite file in server.data_dir)");
    const char *rest = strstr(url, "://") + 3;
    const char *at = strchr(rest, '@');
    const char *slash = strchr(rest, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon && strncmp(colon, ":env:", 5) != 0)
            return sw_error_set(err, SW_EINVAL,
                                "a password in the URL must be env:NAME "
                                "(postgres://USER:env:NAME@HOST/DBNAME), not the password itself");
    }
    return 0;
}

/* database: postgres://user[:env:NAME]@host[:port]/dbname[?params], and
 * database_sync: normal | full. */
static int load_database(struct sw_config *cfg, sw_error **err)
{
    sw_error *url_err = NULL;
    char *sync = NULL;
    int rc = get_string(cfg, cfg->root, "database_sync", "database_sync", &sync, err);
    if (rc == 0 && sync && strcmp(sync, "normal") != 0 && strcmp(sync, "full") != 0)
        rc = sw_config_error(cfg, json_object_get(cfg->root, "database_sync"), "database_sync", err,
                             "expected normal or full, got \"%s\"", sync);
    cfg->database_sync_full = sync && strcmp(sync, "full") == 0;
    free(sync);
    if (rc == 0)
        rc = get_string(cfg, cfg->root, "database", "database", &cfg->database, err);
    if (rc != 0 || cfg->database == NULL)
        return rc;
    if (sw_config_check_database_url(cfg->database, &url_err) != 0) {
        rc = sw_config_error(cfg, json_object_get(cfg->root, "database"), "database", err, "%s",
                             sw_error_message(url_err));
        sw_error_clear(&url_err);
    }
    return rc;
}

int sw_config_load(const char *path, struct sw_config **out, sw_error **err)
{
    static const char *const known[] = { "server", "registry", "builder",  "workers",       "repos",
                                         "runs",   "storage",  "database", "database_sync", NULL };
    char *text = NULL;
    size_t len = 0;
    int rc;
    struct sw_config *cfg = calloc(1, sizeof(*cfg));
    struct line_map *lines = calloc(1, sizeof(*lines));
    if (cfg == NULL || lines == NULL || set_defaults(cfg) != 0) {
        free(lines);
        sw_config_free(cfg);
        return sw_error_oom(err);
    }
    cfg->lines = lines;
    cfg->path = strdup(path);

    if ((rc = sw_read_file(path, 16 * 1024 * 1024, &text, &len, err)) != 0) {
        sw_error_prefix(err, "reading config");
        goto cleanup;
    }
    if ((rc = parse_document(path, text, len, lines, &cfg->root, err)) != 0)
        goto cleanup;
    if ((rc = check_keys(cfg, cfg->root, "", known, err)) || (rc = load_server(cfg, err)) ||
        (rc = load_registry(cfg, err)) || (rc = load_builder(cfg, err)) ||
        (rc = load_storage(cfg, err)) ||
        (rc = get_int(cfg, cfg->root, "workers", "workers", 0, 64, &cfg->workers, err)) ||
        (rc = load_database(cfg, err)) || (rc = finish(cfg, err)))
        goto cleanup;
    *out = cfg;
    cfg = NULL;
cleanup:
    free(text);
    sw_config_free(cfg);
    return rc;
}

json_t *sw_config_section(const struct sw_config *cfg, const char *key)
{
    return cfg && cfg->root ? json_object_get(cfg->root, key) : NULL;
}

void sw_config_free(struct sw_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->database);
    free(cfg->listen_host);
    free(cfg->public_url);
    free(cfg->data_dir);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    sw_strv_free(cfg->local_hosts);
    free(cfg->htpasswd);
    free(cfg->auth_realm);
    for (size_t i = 0; i < cfg->n_rules; i++) {
        free(cfg->rules[i].repo_pattern);
        sw_strv_free(cfg->rules[i].users);
    }
    free(cfg->rules);
    for (size_t i = 0; i < cfg->n_mirrors; i++) {
        free(cfg->mirrors[i].host);
        sw_strv_free(cfg->mirrors[i].endpoints);
    }
    free(cfg->mirrors);
    sw_strv_free(cfg->insecure_hosts);
    for (size_t i = 0; i < cfg->n_credentials; i++) {
        free(cfg->credentials[i].host);
        free(cfg->credentials[i].username);
        if (cfg->credentials[i].password) {
            explicit_bzero(cfg->credentials[i].password, strlen(cfg->credentials[i].password));
            free(cfg->credentials[i].password);
        }
    }
    free(cfg->credentials);
    free(cfg->runtime);
    free(cfg->network);
    free(cfg->compression);
    sw_strv_free(cfg->egress_deny);
    sw_strv_free(cfg->egress_allow);
    sw_strv_free(cfg->builder_allow);
    free(cfg->storage_driver);
    free(cfg->storage_endpoint);
    free(cfg->storage_region);
    free(cfg->storage_bucket);
    free(cfg->storage_prefix);
    free(cfg->storage_access_key);
    if (cfg->storage_secret_key) {
        memset(cfg->storage_secret_key, 0, strlen(cfg->storage_secret_key));
        free(cfg->storage_secret_key);
    }
    json_decref(cfg->root);
    if (cfg->lines) {
        free(((struct line_map *)cfg->lines)->entries);
        free(cfg->lines);
    }
    free(cfg);
}
