/*
 * cmd_token.c - `slipway token create|list|revoke`: users' access tokens
 * (server/token.h), managed on the server's data directory. A token is
 * printed once, alone on stdout, when it is created; only its hash is
 * kept.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/store.h"
#include "core/config.h"
#include "registry/access.h"
#include "server/auth.h"
#include "server/token.h"

#define DEFAULT_EXPIRES "90d"
#define NAME_MAX_LEN 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: slipway token create --config FILE --user USER --name NAME --scope SCOPE...\n"
            "                            [--expires DURATION|never]\n"
            "       slipway token list --config FILE [--user USER] [--json]\n"
            "       slipway token revoke --config FILE --user USER --name NAME\n"
            "\n"
            "Access tokens let machines (CI, docker login, skopeo --creds) act for a\n"
            "user with less than the user's access: a token may do what its scopes\n"
            "allow and its user may do, never more. `create` prints the token once,\n"
            "alone on stdout; the server keeps only its hash.\n"
            "\n"
            "options:\n"
            "  --config FILE        the service config (registry.auth.htpasswd, data_dir)\n"
            "  --user USER          a user of the htpasswd file\n"
            "  --name NAME          the token's name, unique per user (e.g. ci)\n"
            "  --scope SCOPE        repository:NAME_GLOB:pull[,push]; repeat, or separate\n"
            "                       several by spaces (e.g. 'repository:team/*:pull,push')\n"
            "  --expires DURATION   lifetime such as 2s, 12h, 90d (default " DEFAULT_EXPIRES
            "), or never\n"
            "  --json               list: JSON instead of a table\n"
            "  -h, --help           this text\n");
}

static void print_time(const char *label, json_t *value)
{
    printf("  %-10s %s\n", label, json_is_string(value) ? json_string_value(value) : "-");
}

static int valid_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > NAME_MAX_LEN)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

int cmd_token(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },  { "user", required_argument, NULL, 'u' },
        { "name", required_argument, NULL, 'n' },    { "scope", required_argument, NULL, 's' },
        { "expires", required_argument, NULL, 'e' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *user = NULL, *name = NULL, *expires = DEFAULT_EXPIRES;
    struct reg_scopes scopes = { 0 };
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    srv_auth *auth = NULL;
    sw_error *err = NULL;
    char *secret = NULL, *scope_text = NULL;
    json_t *list = NULL;
    int status = 2, opt, as_json = 0;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1];
    if (strcmp(action, "create") != 0 && strcmp(action, "list") != 0 &&
        strcmp(action, "revoke") != 0) {
        fprintf(stderr, "slipway token: unknown action '%s' (create, list or revoke)\n\n", action);
        usage(stderr);
        return 2;
    }
    optind = 1;
    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 's':
            if (reg_scopes_parse(optarg, &scopes, &err) != 0) {
                fprintf(stderr, "slipway token: --scope: %s\n", sw_error_message(err));
                goto cleanup;
            }
            break;
        case 'e':
            expires = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto cleanup;
        default:
            usage(stderr);
            goto cleanup;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "slipway token: unexpected argument '%s'\n\n", argv[optind]);
        goto cleanup;
    }
    if (config_path == NULL) {
        fprintf(stderr, "slipway token: --config FILE is required\n");
        goto cleanup;
    }
    int is_create = strcmp(action, "create") == 0, is_list = strcmp(action, "list") == 0;
    if (!is_list && (user == NULL || name == NULL)) {
        fprintf(stderr, "slipway token %s: --user and --name are required\n", action);
        goto cleanup;
    }
    if (name && !valid_name(name)) {
        fprintf(stderr, "slipway token: --name '%s': use 1 to %d of A-Z a-z 0-9 . _ -\n", name,
                NAME_MAX_LEN);
        goto cleanup;
    }
    int64_t expires_at = 0;
    if (is_create) {
        if (scopes.n == 0) {
            fprintf(stderr, "slipway token create: give at least one --scope, e.g. "
                            "'repository:team/*:pull'\n");
            goto cleanup;
        }
        if (strcmp(expires, "never") != 0) {
            int64_t seconds = sw_parse_duration(expires);
            if (seconds <= 0) {
                fprintf(stderr,
                        "slipway token create: --expires '%s': expected a duration such as "
                        "2s, 12h, 90d, or never\n",
                        expires);
                goto cleanup;
            }
            expires_at = (int64_t)time(NULL) + seconds;
        }
    }

    status = 1;
    if (cli_open_store(config_path, NULL, &cfg, &store, &err) != 0) {
        fprintf(stderr, "slipway token: %s\n", sw_error_message(err));
        goto cleanup;
    }
    if (cfg->htpasswd == NULL) {
        fprintf(stderr,
                "slipway token: %s has no registry.auth.htpasswd: without users there "
                "is nothing a token could stand for\n",
                config_path);
        goto cleanup;
    }
    sw_db *db = NULL;
    if (reg_store_db(store, &db, &err) != 0) {
        fprintf(stderr, "slipway token: %s\n", sw_error_message(err));
        goto cleanup;
    }
    if (is_create) {
        if (srv_auth_new(cfg, &auth, &err) != 0) {
            fprintf(stderr, "slipway token: %s\n", sw_error_message(err));
            goto cleanup;
        }
        if (!srv_auth_user_exists(auth, user)) {
            fprintf(stderr, "slipway token create: no user %s in %s\n", user, cfg->htpasswd);
            goto cleanup;
        }
        if ((scope_text = reg_scopes_format(&scopes)) == NULL ||
            srv_token_create(db, user, name, scope_text, expires_at, &secret, &err) != 0) {
            fprintf(stderr, "slipway token create: %s\n",
                    err ? sw_error_message(err) : "out of memory");
            goto cleanup;
        }
        printf("%s\n", secret);
        fflush(stdout);
        fprintf(stderr, "token %s of %s created with scope %s, %s%s; it is not shown again\n", name,
                user, scope_text, expires_at ? "expires in " : "never expires",
                expires_at ? expires : "");
    } else if (is_list) {
        if (srv_token_list(db, user, &list, &err) != 0) {
            fprintf(stderr, "slipway token list: %s\n", sw_error_message(err));
            goto cleanup;
        }
        if (as_json) {
            char *text = json_dumps(list, JSON_INDENT(2));
            printf("%s\n", text ? text : "[]");
            free(text);
        } else {
            size_t i;
            json_t *t;
            json_array_foreach(list, i, t) {
                printf("%s/%s%s\n", json_string_value(json_object_get(t, "user")),
                       json_string_value(json_object_get(t, "name")),
                       json_is_true(json_object_get(t, "expired")) ? " (expired)" : "");
                printf("  %-10s %s\n", "scopes", json_string_value(json_object_get(t, "scopes")));
                print_time("created", json_object_get(t, "created_at"));
                print_time("expires", json_object_get(t, "expires_at"));
                print_time("last used", json_object_get(t, "last_used_at"));
            }
            if (json_array_size(list) == 0)
                fprintf(stderr, "no tokens%s%s\n", user ? " of " : "", user ? user : "");
        }
    } else {
        if (srv_token_revoke(db, user, name, &err) != 0) {
            fprintf(stderr, "slipway token revoke: %s\n", sw_error_message(err));
            goto cleanup;
        }
        fprintf(stderr, "token %s of %s revoked\n", name, user);
    }
    status = 0;
cleanup:
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    free(scope_text);
    json_decref(list);
    reg_scopes_clear(&scopes);
    srv_auth_free(auth);
    reg_store_close(store);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
