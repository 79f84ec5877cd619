/*
 * build_instr.c - the builder's instruction model: instructions from the
 * parse tree (flags checked against builder/flags.c), name=value lists,
 * word expansion with the shell lexer, and the .dockerignore glue.
 */
#include "builder/build_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dockerfile.h"
#include "builder/dockerignore.h"
#include "builder/flags.h"
#include "builder/shell_lex.h"

/* ---- name=value lists ------------------------------------------------ */

const char *bld_kv_get(const struct kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

int bld_kv_set(struct kv_list *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            char *v = strdup(value);
            if (v == NULL)
                return -1;
            free(l->items[i].value);
            l->items[i].value = v;
            return 0;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct kv *bigger = realloc(l->items, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        l->items = bigger;
        l->cap = cap;
    }
    l->items[l->n].key = strdup(key);
    l->items[l->n].value = strdup(value);
    if (!l->items[l->n].key || !l->items[l->n].value)
        return -1;
    l->n++;
    return 0;
}

void bld_kv_free(struct kv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* An error about an instruction: "Dockerfile:7: RUN make: <message>". */

int bld_instr_error(struct build *b, const struct instr *in, sw_error **err, int code,
                    const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sw_error_set(err, code, "%s:%d: %.200s: %s", b->dockerfile, in->line, in->original, msg);
}

const char *bld_flag_value(const struct instr *in, const char *name)
{
    for (size_t i = 0; i < in->n_flags; i++)
        if (strcmp(in->flags[i].name, name) == 0)
            return in->flags[i].value;
    return NULL;
}

/* ---- glue to the parser, the shell lexer and .dockerignore --------------- */

const char *bld_kv_lookup(void *ctx, const char *name)
{
    return bld_kv_get(ctx, name);
}

int bld_expand_word(struct build *b, const struct kv_list *vars, const char *word, char **out,
                    sw_error **err)
{
    return bld_shell_expand_word(word, b->escape, bld_kv_lookup, (void *)vars, out, err);
}

void bld_free_instr(struct instr *in)
{
    if (in == NULL)
        return;
    free(in->keyword);
    free(in->original);
    for (size_t i = 0; i < in->n_flags; i++) {
        free(in->flags[i].name);
        free(in->flags[i].value);
    }
    free(in->flags);
    for (size_t i = 0; i < in->n_args; i++)
        free(in->args[i]);
    free(in->args);
    for (size_t i = 0; i < in->n_heredocs; i++) {
        free(in->heredocs[i].name);
        free(in->heredocs[i].content);
    }
    free(in->heredocs);
    if (in->onbuild) {
        bld_free_instr(in->onbuild);
        free(in->onbuild);
    }
    memset(in, 0, sizeof(*in));
}

/* Fills an instruction from a parse-tree node. ENV and LABEL come as
 * key/value/separator triples and become key/value pairs. */
static int instr_from_node(const bld_node *node, struct instr *in)
{
    memset(in, 0, sizeof(*in));
    in->keyword = strdup(node->value);
    in->original = strdup(node->original ? node->original : node->value);
    in->line = node->start_line;
    in->is_json = node->is_json;
    if (!in->keyword || !in->original)
        return -1;
    in->flags = calloc(node->n_flags + 1, sizeof(*in->flags));
    if (in->flags == NULL)
        return -1;
    for (size_t i = 0; i < node->n_flags; i++) {
        const char *f = node->flags[i];
        f += strncmp(f, "--", 2) == 0 ? 2 : 0;
        const char *eq = strchr(f, '=');
        in->flags[i].name = eq ? strndup(f, (size_t)(eq - f)) : strdup(f);
        in->flags[i].value = strdup(eq ? eq + 1 : "");
        if (!in->flags[i].name || !in->flags[i].value)
            return -1;
        in->n_flags++;
    }
    if (strcmp(node->value, "onbuild") == 0) {
        if (node->next && node->next->n_children > 0) {
            in->onbuild = calloc(1, sizeof(*in->onbuild));
            if (in->onbuild == NULL || instr_from_node(node->next->children[0], in->onbuild) != 0)
                return -1;
            /* the trigger as the user wrote it, without "ONBUILD " */
            const char *o = node->original ? node->original : "";
            while (*o == ' ' || *o == '\t')
                o++;
            o += strcspn(o, " \t");
            o += strspn(o, " \t");
            free(in->onbuild->original);
            in->onbuild->original = strdup(o);
        }
        return 0;
    }
    int triples = strcmp(node->value, "env") == 0 || strcmp(node->value, "label") == 0;
    size_t count = 0;
    for (const bld_node *a = node->next; a; a = a->next)
        count++;
    in->args = calloc(count + 1, sizeof(char *));
    if (in->args == NULL)
        return -1;
    size_t idx = 0;
    for (const bld_node *a = node->next; a; a = a->next, idx++) {
        if (triples && idx % 3 == 2)
            continue; /* the separator */
        if ((in->args[in->n_args++] = strdup(a->value)) == NULL)
            return -1;
    }
    if (node->n_heredocs) {
        in->heredocs = calloc(node->n_heredocs, sizeof(*in->heredocs));
        if (in->heredocs == NULL)
            return -1;
        for (size_t i = 0; i < node->n_heredocs; i++) {
            const struct bld_heredoc *h = &node->heredocs[i];
            in->heredocs[i].name = strdup(h->name);
            in->heredocs[i].content = strdup(h->content);
            in->heredocs[i].expand = h->expand;
            in->n_heredocs++;
            if (!in->heredocs[i].name || !in->heredocs[i].content)
                return -1;
            if (h->chomp) /* <<-: leading tabs go, for COPY (RUN's shell does it itself) */
                for (char *line = in->heredocs[i].content; *line;) {
                    size_t tabs = strspn(line, "\t");
                    memmove(line, line + tabs, strlen(line + tabs) + 1);
                    char *nl = strchr(line, '\n');
                    line = nl ? nl + 1 : line + strlen(line);
                }
        }
    }
    return 0;
}

/* The flags of an instruction (and of an ONBUILD's trigger) against the
 * table of builder/flags.c: nothing unknown is ignored. */
static int check_node_flags(struct build *b, const bld_node *node, sw_error **err)
{
    int rc = bld_flags_check(node->value, (const char *const *)node->flags, node->n_flags,
                             b->dockerfile, node->start_line, err);
    if (rc == 0 && strcmp(node->value, "onbuild") == 0 && node->next && node->next->n_children)
        rc = bld_flags_check(
            node->next->children[0]->value, (const char *const *)node->next->children[0]->flags,
            node->next->children[0]->n_flags, b->dockerfile, node->start_line, err);
    return rc;
}

int bld_is_number(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* An exec-form argument holding a NUL (JSON "\u0000"): BuildKit keeps
 * it, but no argv or config string can carry it, so the builder refuses it
 * rather than cut the argument at the NUL. */
static int check_node_nul(struct build *b, const bld_node *node, int line, sw_error **err)
{
    for (const bld_node *a = node->next; a; a = a->next) {
        if (a->value && a->value_len > strlen(a->value))
            return sw_error_set(err, SW_EINVAL,
                                "%s:%d: %.200s: an argument holds a NUL character "
                                "(\\u0000), which no command or config string can carry",
                                b->dockerfile, line, node->original ? node->original : node->value);
        for (size_t i = 0; i < a->n_children; i++)
            if (check_node_nul(b, a->children[i], line, err) != 0)
                return SW_EINVAL;
    }
    return 0;
}

int bld_load_dockerfile(struct build *b, sw_error **err)
{
    struct bld_dockerfile *df = NULL;
    int rc = bld_dockerfile_parse_file(b->dockerfile, &df, err);
    if (rc != 0)
        return rc;
    b->escape = df->escape;
    size_t n = df->root->n_children;
    b->instrs = calloc(n ? n : 1, sizeof(*b->instrs));
    if (b->instrs == NULL) {
        bld_dockerfile_free(df);
        return sw_error_oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        if (instr_from_node(df->root->children[i], &b->instrs[i]) != 0) {
            b->n_instrs = i + 1;
            bld_dockerfile_free(df);
            return sw_error_oom(err);
        }
        b->n_instrs = i + 1;
        static const char *const known[] = { "add",         "arg",     "cmd",        "copy",
                                             "entrypoint",  "env",     "expose",     "from",
                                             "healthcheck", "label",   "maintainer", "onbuild",
                                             "run",         "shell",   "stopsignal", "user",
                                             "volume",      "workdir", NULL };
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(*k, b->instrs[i].keyword) == 0;
        if (!ok) {
            int line = b->instrs[i].line;
            char kw[64];
            snprintf(kw, sizeof(kw), "%s", b->instrs[i].original);
            kw[strcspn(kw, " \t")] = '\0';
            bld_dockerfile_free(df);
            return sw_error_set(err, SW_EINVAL, "%s:%d: unknown instruction: %s", b->dockerfile,
                                line, kw);
        }
        if (check_node_flags(b, df->root->children[i], err) != 0 ||
            check_node_nul(b, df->root->children[i], b->instrs[i].line, err) != 0) {
            bld_dockerfile_free(df);
            return SW_EINVAL;
        }
    }
    bld_dockerfile_free(df);
    return 0;
}

int bld_parse_trigger(struct build *b, const char *text, int line, struct instr **out,
                      sw_error **err)
{
    bld_node *node = NULL;
    int rc = bld_dockerfile_parse_line(text, b->escape, &node, err);
    if (rc != 0) {
        sw_error_prefix(err, "ONBUILD trigger '%s'", text);
        return rc;
    }
    if ((rc = bld_flags_check(node->value, (const char *const *)node->flags, node->n_flags,
                              b->dockerfile, line, err)) != 0) {
        sw_error_prefix(err, "ONBUILD trigger '%s'", text);
        bld_node_free(node);
        return rc;
    }
    if ((rc = check_node_nul(b, node, line, err)) != 0) {
        sw_error_prefix(err, "ONBUILD trigger '%s'", text);
        bld_node_free(node);
        return rc;
    }
    struct instr *in = calloc(1, sizeof(*in));
    if (in == NULL || instr_from_node(node, in) != 0) {
        bld_free_instr(in);
        free(in);
        bld_node_free(node);
        return sw_error_oom(err);
    }
    in->line = line;
    bld_node_free(node);
    *out = in;
    return 0;
}

int bld_load_ignore(struct build *b, sw_error **err)
{
    bld_ignore *ig = NULL;
    /* the resolved Dockerfile path: <context>/Dockerfile.dockerignore counts too */
    int rc = bld_ignore_load(b->opts->context_dir, b->dockerfile, &ig, err);
    if (rc == 0)
        b->ignore = ig;
    return rc;
}

void bld_free_ignore(struct build *b)
{
    bld_ignore_free(b->ignore);
    b->ignore = NULL;
}

int bld_exclude_cb(void *ctx, const char *rel, int is_dir)
{
    struct build *b = ctx;
    if (b->ignore == NULL || !bld_ignore_matches(b->ignore, rel))
        return 0;
    /* an excluded directory is still walked when an exception may
     * re-include something below it */
    return !(is_dir && bld_ignore_dir_needed(b->ignore, rel));
}
