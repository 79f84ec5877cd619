/*
 * dockerfile_check.c - lint rules over the parse tree (see the header).
 *
 * Rule names follow BuildKit's where one exists, so users can look them up.
 */
#include "builder/dockerfile_check.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct checker {
    struct bld_problem *items;
    size_t n, cap;
    int failed;
};

static void report(struct checker *c, int line, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct checker *c, int line, const char *rule, const char *fmt, ...)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct bld_problem *bigger = realloc(c->items, cap * sizeof(*bigger));
        if (bigger == NULL) {
            c->failed = 1;
            return;
        }
        c->items = bigger;
        c->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->items[c->n].line = line;
    c->items[c->n].rule = strdup(rule);
    c->items[c->n].message = strdup(msg);
    c->n++;
}

static const char *const known[] = {
    "add",        "arg",         "cmd",    "copy",       "entrypoint", "env", "expose",
    "from",       "healthcheck", "label",  "maintainer", "onbuild",    "run", "shell",
    "stopsignal", "user",        "volume", "workdir",    NULL,
};

static int is_known(const char *kw)
{
    for (const char *const *k = known; *k; k++)
        if (strcmp(*k, kw) == 0)
            return 1;
    return 0;
}

/* Predefined build args that need no declaration (Docker's list). */
static int is_predefined_arg(const char *name)
{
    static const char *const predefined[] = {
        "HTTP_PROXY",  "http_proxy",     "HTTPS_PROXY",
        "https_proxy", "FTP_PROXY",      "ftp_proxy",
        "NO_PROXY",    "no_proxy",       "ALL_PROXY",
        "all_proxy",   "TARGETPLATFORM", "TARGETOS",
        "TARGETARCH",  "TARGETVARIANT",  "BUILDPLATFORM",
        "BUILDOS",     "BUILDARCH",      "BUILDVARIANT",
        NULL,
    };
    for (const char *const *p = predefined; *p; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

/* Calls fn for every $NAME / ${NAME...} referenced in text (outside single
 * quotes, not escaped). */
static void each_var(const char *text, char escape, void (*fn)(void *, const char *), void *ctx)
{
    int in_single = 0;
    for (const char *p = text; *p; p++) {
        if (*p == escape && p[1]) {
            p++;
            continue;
        }
        if (*p == '\'') {
            in_single = !in_single;
            continue;
        }
        if (in_single || *p != '$')
            continue;
        const char *s = p + 1;
        if (*s == '{')
            s++;
        if (!(isalpha((unsigned char)*s) || *s == '_'))
            continue;
        const char *e = s;
        while (isalnum((unsigned char)*e) || *e == '_')
            e++;
        char name[256];
        size_t len = (size_t)(e - s) < sizeof(name) - 1 ? (size_t)(e - s) : sizeof(name) - 1;
        memcpy(name, s, len);
        name[len] = '\0';
        fn(ctx, name);
        p = e - 1;
    }
}

struct names {
    char **items;
    size_t n;
};

static int names_has(const struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i], name) == 0)
            return 1;
    return 0;
}

static void names_add(struct names *s, const char *name, size_t len)
{
    char **bigger = realloc(s->items, (s->n + 1) * sizeof(char *));
    if (bigger == NULL)
        return;
    s->items = bigger;
    s->items[s->n] = strndup(name, len);
    if (s->items[s->n])
        s->n++;
}

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* The declared name of an ARG word ("NAME" or "NAME=default"). */
static void add_arg_names(struct names *s, const bld_node *args)
{
    for (const bld_node *a = args; a; a = a->next) {
        const char *eq = strchr(a->value, '=');
        names_add(s, a->value, eq ? (size_t)(eq - a->value) : strlen(a->value));
    }
}

struct use_ctx {
    struct checker *c;
    int line;
    const struct names *global;
    const struct names *stage; /* NULL for FROM */
    const struct names *later; /* ARGs declared later in the stage */
    const char *what;
};

static void check_use(void *ctx, const char *name)
{
    struct use_ctx *u = ctx;
    if (u->stage == NULL) {
        if (!names_has(u->global, name) && !is_predefined_arg(name))
            report(u->c, u->line, "UndefinedArgInFrom",
                   "FROM argument '%s' is not declared (declare it with ARG before the first "
                   "FROM)",
                   name);
        return;
    }
    if (!names_has(u->stage, name) && names_has(u->later, name))
        report(u->c, u->line, "ArgUsedBeforeDeclaration",
               "'%s' is used in %s before its ARG declaration in this stage", name, u->what);
}

static int has_flag(const bld_node *n, const char *flag, const char **value)
{
    size_t len = strlen(flag);
    for (size_t i = 0; i < n->n_flags; i++) {
        const char *f = n->flags[i];
        if (strncmp(f, "--", 2) == 0 && strncmp(f + 2, flag, len) == 0 &&
            (f[2 + len] == '=' || f[2 + len] == '\0')) {
            if (value)
                *value = f[2 + len] == '=' ? f + 3 + len : "";
            return 1;
        }
    }
    return 0;
}

/* The keyword as written: the first word of the original line. */
static void written_keyword(const bld_node *n, char out[32])
{
    const char *p = n->original ? n->original : "";
    while (isspace((unsigned char)*p))
        p++;
    size_t i = 0;
    while (p[i] && !isspace((unsigned char)p[i]) && i < 31) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
}

static int is_upper_word(const char *s)
{
    int upper = 0, lower = 0;
    for (; *s; s++) {
        upper |= isupper((unsigned char)*s);
        lower |= islower((unsigned char)*s);
    }
    return upper && !lower;
}

/* A lower-cased copy of s in out (truncated to its size). */
static void lower_copy(const char *s, char *out, size_t size)
{
    snprintf(out, size, "%s", s);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* Whether one '_'-separated part of key is one of words, ignoring case:
 * BuildKit's (?i)(?:_|^)(?:w1|w2...)(?:_|$). */
static int has_token(const char *key, const char *const *words)
{
    const char *p = key;
    for (;;) {
        size_t len = strcspn(p, "_");
        for (const char *const *w = words; *w; w++)
            if (strlen(*w) == len && strncasecmp(p, *w, len) == 0)
                return 1;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* BuildKit's SecretsUsedInArgOrEnv: a name with a secret-like part and no
 * allowed part. */
static void check_secret_name(struct checker *c, int line, const char *what, const char *key)
{
    static const char *const deny[] = { "apikey", "auth",     "credential", "credentials",
                                        "key",    "password", "pword",      "passwd",
                                        "secret", "token",    NULL };
    static const char *const allow[] = { "public", "file", "version", NULL };
    if (!has_token(key, deny) || has_token(key, allow))
        return;
    char *q = bld_go_quote(key, strlen(key));
    report(c, line, "SecretsUsedInArgOrEnv",
           "Do not use ARG or ENV instructions for sensitive data (%s %s)", what, q ? q : key);
    free(q);
}

/* Shell text that starts like a JSON array but is not one: "[" directly
 * followed by a word or a quote ("[ls", "['a'"), or a bracketed list with
 * commas or only quoted items ("[ 'a', 'b' ]"). A shell test such as
 * `[ "$X" = y ] && ...` or `[[ -f x ]]` is not. (Slipway's rule: BuildKit
 * has none, it just runs such text with the shell.) */
static int looks_like_json(const char *v)
{
    while (isspace((unsigned char)*v))
        v++;
    if (v[0] != '[' || v[1] == '[')
        return 0;
    if (v[1] != '\0' && !isspace((unsigned char)v[1]))
        return 1;
    size_t len = strlen(v);
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        len--;
    if (len < 2 || v[len - 1] != ']')
        return 0;
    int items = 0, quoted = 0;
    for (size_t i = 1; i < len - 1; i++) {
        if (v[i] == ',')
            return 1;
        if (!isspace((unsigned char)v[i]) && isspace((unsigned char)v[i - 1])) {
            items++;
            quoted += v[i] == '\'' || v[i] == '"';
        }
    }
    return items > 0 && items == quoted;
}

int bld_dockerfile_check(const struct bld_dockerfile *df, struct bld_problem **problems, size_t *n,
                         sw_error **err)
{
    /* WorkdirRelativePath, as BuildKit: only the first WORKDIR of a stage
     * is checked, and a stage built FROM an earlier stage that had one
     * counts as having one. */
    struct names workdir_stages = { 0 };
    char stage_name[256] = "";
    int workdir_set = 0;
    struct checker c = { 0 };
    struct names global = { 0 }, stage_args = { 0 }, stages = { 0 };
    int seen_from = 0;
    const bld_node *root = df->root;

    for (size_t i = 0; i < root->n_children; i++) {
        const bld_node *in = root->children[i];
        const char *kw = in->value;
        int line = in->start_line;
        char written[32];
        written_keyword(in, written);

        if (!is_known(kw)) {
            report(&c, line, "UnknownInstruction", "unknown instruction: %s", written);
            continue;
        }
        if (strcmp(kw, "from") == 0) {
            seen_from = 1;
            names_free(&stage_args);
            const bld_node *image = in->next;
            stage_name[0] = '\0';
            workdir_set = 0;
            if (image != NULL) {
                char base[256];
                lower_copy(image->value, base, sizeof(base));
                workdir_set = names_has(&workdir_stages, base);
                if (image->next && image->next->next && !image->next->next->next &&
                    strcasecmp(image->next->value, "as") == 0)
                    lower_copy(image->next->next->value, stage_name, sizeof(stage_name));
                if (workdir_set && stage_name[0] && !names_has(&workdir_stages, stage_name))
                    names_add(&workdir_stages, stage_name, strlen(stage_name));
            }
            if (image == NULL) {
                report(&c, line, "FromMissingImage", "FROM requires an image or stage name");
                continue;
            }
            struct use_ctx u = { &c, line, &global, NULL, NULL, "FROM" };
            each_var(image->value, df->escape, check_use, &u);
            const bld_node *as = image->next;
            if (as) {
                const bld_node *name = as->next;
                if (strcasecmp(as->value, "as") != 0 || name == NULL || name->next) {
                    report(&c, line, "FromSyntax", "expected FROM <image> [AS <name>]");
                    continue;
                }
                int kw_upper = is_upper_word(written), as_upper = is_upper_word(as->value);
                if (kw_upper != as_upper)
                    report(&c, line, "FromAsCasing", "'%s' and '%s' keywords' casing do not match",
                           as->value, written);
                char lower[256];
                snprintf(lower, sizeof(lower), "%s", name->value);
                for (char *p = lower; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                if (names_has(&stages, lower))
                    report(&c, line, "DuplicateStageName",
                           "duplicate stage name \"%s\", stage "
                           "names should be unique",
                           name->value);
                else if (strcmp(lower, "scratch") == 0 || strcmp(lower, "context") == 0)
                    report(&c, line, "ReservedStageName",
                           "'%s' is reserved and should not be "
                           "used as a stage name",
                           name->value);
                names_add(&stages, lower, strlen(lower));
            } else {
                names_add(&stages, "", 0); /* keeps stage indexes aligned */
            }
            continue;
        }
        if (!seen_from) {
            if (strcmp(kw, "arg") == 0)
                add_arg_names(&global, in->next);
            else
                report(&c, line, "NoFromInstruction",
                       "%s comes before the first FROM: a "
                       "Dockerfile must start with FROM (only ARG may come before it)",
                       written);
            continue;
        }

        /* ARGs declared later in this stage, for "used before declaration" */
        struct names later = { 0 };
        for (size_t j = i + 1; j < root->n_children; j++) {
            const bld_node *next = root->children[j];
            if (strcmp(next->value, "from") == 0)
                break;
            if (strcmp(next->value, "arg") == 0)
                add_arg_names(&later, next->next);
        }
        static const char *const expanded[] = { "add",        "copy", "env",    "expose",  "label",
                                                "stopsignal", "user", "volume", "workdir", NULL };
        for (const char *const *e = expanded; *e; e++) {
            if (strcmp(kw, *e) != 0)
                continue;
            struct use_ctx u = { &c, line, &global, &stage_args, &later, written };
            for (const bld_node *a = in->next; a; a = a->next)
                each_var(a->value, df->escape, check_use, &u);
        }
        names_free(&later);

        if (strcmp(kw, "arg") == 0) {
            add_arg_names(&stage_args, in->next);
            for (const bld_node *a = in->next; a; a = a->next) {
                char key[256];
                snprintf(key, sizeof(key), "%.*s", (int)strcspn(a->value, "="), a->value);
                check_secret_name(&c, line, "ARG", key);
            }
        }
        if (strcmp(kw, "env") == 0)
            for (const bld_node *a = in->next; a && a->next && a->next->next;
                 a = a->next->next->next) {
                names_add(&stage_args, a->value, strlen(a->value));
                check_secret_name(&c, line, "ENV", a->value);
                if (strcmp(a->next->next->value, "") == 0)
                    report(&c, line, "LegacyKeyValueFormat",
                           "\"ENV key value\" should be used "
                           "as \"ENV key=value\"");
            }
        if (strcmp(kw, "maintainer") == 0)
            report(&c, line, "MaintainerDeprecated",
                   "MAINTAINER is deprecated: use "
                   "LABEL org.opencontainers.image.authors=\"...\" instead");
        if ((strcmp(kw, "cmd") == 0 || strcmp(kw, "entrypoint") == 0 || strcmp(kw, "run") == 0 ||
             strcmp(kw, "shell") == 0) &&
            !in->is_json && in->next) {
            const char *v = in->next->value;
            while (isspace((unsigned char)*v))
                v++;
            if (looks_like_json(v))
                report(&c, line, "InvalidJSONForm",
                       "%s looks like a JSON array but is not "
                       "valid JSON (strings need double quotes, e.g. [\"ls\", \"-l\"]); it will "
                       "run as a shell command",
                       written);
            else if (strcmp(kw, "cmd") == 0 || strcmp(kw, "entrypoint") == 0)
                report(&c, line, "JSONArgsRecommended",
                       "JSON arguments recommended for %s to "
                       "prevent unintended behavior related to OS signals",
                       written);
        }
        if (strcmp(kw, "shell") == 0 && !in->is_json)
            report(&c, line, "ShellRequiresJSON",
                   "SHELL requires the arguments to be in JSON "
                   "form");
        if (strcmp(kw, "workdir") == 0 && in->next) {
            /* a path that starts with a variable is not known here */
            if (!workdir_set && in->next->value[0] != '/' && in->next->value[0] != '$') {
                char *q = bld_go_quote(in->next->value, strlen(in->next->value));
                report(&c, line, "WorkdirRelativePath",
                       "Relative workdir %s can have unexpected results if the base image "
                       "changes",
                       q ? q : in->next->value);
                free(q);
            }
            workdir_set = 1;
            if (stage_name[0] && !names_has(&workdir_stages, stage_name))
                names_add(&workdir_stages, stage_name, strlen(stage_name));
        }
        const char *from = NULL;
        if ((strcmp(kw, "copy") == 0 || strcmp(kw, "add") == 0) && has_flag(in, "from", &from) &&
            from && *from && !strpbrk(from, "/:.$") && !isdigit((unsigned char)from[0])) {
            char lower[256];
            snprintf(lower, sizeof(lower), "%s", from);
            for (char *p = lower; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (!names_has(&stages, lower))
                report(&c, line, "UndefinedStage",
                       "--from=%s names no earlier stage; it will "
                       "be pulled as an image",
                       from);
        }
    }
    if (!seen_from)
        report(&c, root->n_children ? root->children[0]->start_line : 1, "NoFromInstruction",
               "no FROM instruction: a Dockerfile needs at least one FROM");
    names_free(&global);
    names_free(&workdir_stages);
    names_free(&stage_args);
    names_free(&stages);
    if (c.failed) {
        bld_problems_free(c.items, c.n);
        return sw_error_oom(err);
    }
    *problems = c.items;
    *n = c.n;
    return 0;
}

void bld_problems_free(struct bld_problem *problems, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(problems[i].rule);
        free(problems[i].message);
    }
    free(problems);
}
