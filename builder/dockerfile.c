/*
 * dockerfile.c - the Dockerfile parser (see dockerfile.h).
 *
 * Lines are read one at a time; parser directives are recognised only
 * before anything else; comment lines are dropped (also inside
 * continuations); a line ending in the escape token continues on the next
 * line; heredoc bodies of RUN/COPY/ADD are read after their instruction
 * line. Every instruction line is split into command, leading --flags and
 * the rest, and the rest goes to the argument parser of that instruction.
 */
#include "builder/dockerfile.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/shell_lex.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "builder/dockerfile_internal.h"

/* [\t\v\f\r ] as in BuildKit's whitespace regexps */
int bld_df_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* unicode.IsSpace for ASCII, which is what the parsers test */
int bld_df_is_space(char c)
{
    return bld_df_is_ws(c) || c == '\n' || (unsigned char)c == 0x85 || (unsigned char)c == 0xa0;
}

/* ---- nodes --------------------------------------------------------------- */

static bld_node *node_new(const char *value, size_t len)
{
    bld_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    if (value == NULL)
        len = 0;
    n->value = malloc(len + 1); /* a JSON string may hold a NUL */
    if (n->value == NULL) {
        free(n);
        return NULL;
    }
    if (len)
        memcpy(n->value, value, len);
    n->value[len] = '\0';
    n->value_len = len;
    return n;
}

void bld_node_free(bld_node *node)
{
    while (node) {
        bld_node *next = node->next;
        for (size_t i = 0; i < node->n_children; i++)
            bld_node_free(node->children[i]);
        free(node->children);
        for (size_t i = 0; i < node->n_heredocs; i++) {
            free(node->heredocs[i].name);
            free(node->heredocs[i].content);
        }
        free(node->heredocs);
        for (size_t i = 0; i < node->n_flags; i++)
            free(node->flags[i]);
        free(node->flags);
        free(node->value);
        free(node->original);
        free(node);
        node = next;
    }
}

static int node_add_child(bld_node *parent, bld_node *child)
{
    bld_node **bigger = realloc(parent->children, (parent->n_children + 1) * sizeof(*bigger));
    if (bigger == NULL)
        return -1;
    parent->children = bigger;
    parent->children[parent->n_children++] = child;
    return 0;
}

void bld_df_chain_add(struct chain *c, const char *value, size_t len)
{
    bld_node *n = node_new(value, len);
    if (n == NULL) {
        c->failed = 1;
        return;
    }
    if (c->tail)
        c->tail->next = n;
    else
        c->head = n;
    c->tail = n;
}

/* ---- splitting a line into command, flags, arguments ------------------- */

/* Leading "--flag" words (quotes and backslashes processed), as BuildKit's
 * extractBuilderFlags; *rest_out points into line after them. */
static int extract_flags(const char *line, bld_node *node, const char **rest_out)
{
    sw_strbuf word = SW_STRBUF_INIT;
    enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
    char quote = 0;
    int blank_ok = 0;
    size_t len = strlen(line);
    *rest_out = line + len;
    for (size_t pos = 0; pos <= len; pos++) {
        char ch = pos < len ? line[pos] : 0;
        if (phase == IN_SPACES) {
            if (pos == len)
                break;
            if (bld_df_is_space(ch))
                continue;
            if (ch != '-' || pos + 1 == len || line[pos + 1] != '-') {
                *rest_out = line + pos;
                break;
            }
            phase = IN_WORD;
        }
        if ((phase == IN_WORD || phase == IN_QUOTE) && pos == len) {
            if (!(word.len == 2 && strcmp(word.data, "--") == 0) && (blank_ok || word.len > 0)) {
                char **bigger = realloc(node->flags, (node->n_flags + 1) * sizeof(char *));
                if (bigger == NULL)
                    goto fail;
                node->flags = bigger;
                node->flags[node->n_flags++] = sw_strbuf_detach(&word);
            }
            break;
        }
        if (phase == IN_WORD) {
            if (bld_df_is_space(ch)) {
                phase = IN_SPACES;
                if (word.len == 2 && strcmp(word.data, "--") == 0) {
                    *rest_out = line + pos;
                    break;
                }
                if (blank_ok || word.len > 0) {
                    char **bigger = realloc(node->flags, (node->n_flags + 1) * sizeof(char *));
                    if (bigger == NULL)
                        goto fail;
                    node->flags = bigger;
                    node->flags[node->n_flags++] = sw_strbuf_detach(&word);
                }
                sw_strbuf_reset(&word);
                blank_ok = 0;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
                blank_ok = 1;
                phase = IN_QUOTE;
                continue;
            }
            if (ch == '\\') {
                if (pos + 1 == len)
                    continue;
                pos++;
                ch = line[pos];
            }
            sw_strbuf_putc(&word, ch);
            continue;
        }
        if (ch == quote) {
            phase = IN_WORD;
            continue;
        }
        if (ch == '\\') {
            if (pos + 1 == len) {
                phase = IN_WORD;
                continue;
            }
            pos++;
            ch = line[pos];
        }
        sw_strbuf_putc(&word, ch);
    }
    sw_strbuf_free(&word);
    return 0;
fail:
    sw_strbuf_free(&word);
    return -1;
}

static char *trim_copy(const char *s)
{
    while (bld_df_is_space(*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && bld_df_is_space(s[len - 1]))
        len--;
    return strndup(s, len);
}

static int node_from_line(const char *line, char escape, bld_node **out, sw_error **err);

/* Builds the node for one instruction line (without heredocs). */
static int node_from_line(const char *line, char escape, bld_node **out, sw_error **err)
{
    char *trimmed = trim_copy(line);
    bld_node *node = NULL;
    struct chain args = { 0 };
    int rc = 0;
    if (trimmed == NULL)
        return sw_error_oom(err);
    const char *p = trimmed;
    while (*p && !bld_df_is_ws(*p))
        p++;
    node = node_new(trimmed, (size_t)(p - trimmed));
    SW_CHECK_ALLOC(node, rc, err, cleanup);
    for (char *c = node->value; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    node->original = strdup(line);
    while (bld_df_is_ws(*p))
        p++;
    const char *rest_start = p;
    char *rest = NULL;
    if (*rest_start) {
        const char *after_flags = NULL;
        if (extract_flags(rest_start, node, &after_flags) != 0) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        rest = trim_copy(after_flags);
    } else {
        rest = strdup("");
    }
    if (rest == NULL || node->original == NULL) {
        free(rest);
        rc = sw_error_oom(err);
        goto cleanup;
    }

    const char *v = node->value;
    if (strcmp(v, "add") == 0 || strcmp(v, "copy") == 0 || strcmp(v, "volume") == 0) {
        rc = bld_df_parse_maybe_json_to_list(rest, &args, &node->is_json, err);
    } else if (strcmp(v, "run") == 0 || strcmp(v, "cmd") == 0 || strcmp(v, "entrypoint") == 0 ||
               strcmp(v, "shell") == 0) {
        rc = bld_df_parse_maybe_json(rest, &args, &node->is_json, err);
    } else if (strcmp(v, "arg") == 0) {
        char **words = NULL;
        size_t n = 0;
        if (bld_df_parse_words(rest, escape, &words, &n) != 0)
            rc = sw_error_oom(err);
        for (size_t i = 0; i < n; i++)
            bld_df_chain_add(&args, words[i], strlen(words[i]));
        bld_df_free_words(words, n);
    } else if (strcmp(v, "env") == 0) {
        rc = bld_df_parse_name_val(rest, "ENV", escape, &args, err);
    } else if (strcmp(v, "label") == 0) {
        rc = bld_df_parse_name_val(rest, "LABEL", escape, &args, err);
    } else if (strcmp(v, "expose") == 0 || strcmp(v, "from") == 0) {
        if (*rest)
            bld_df_split_ws(&args, rest);
    } else if (strcmp(v, "maintainer") == 0 || strcmp(v, "stopsignal") == 0 ||
               strcmp(v, "user") == 0 || strcmp(v, "workdir") == 0) {
        if (*rest)
            bld_df_chain_add(&args, rest, strlen(rest));
    } else if (strcmp(v, "healthcheck") == 0) {
        const char *q = rest;
        while (*q && !bld_df_is_space(*q))
            q++;
        if (q != rest) {
            bld_df_chain_add(&args, rest, (size_t)(q - rest));
            while (bld_df_is_space(*q))
                q++;
            struct chain cmd = { 0 };
            rc = bld_df_parse_maybe_json(q, &cmd, &node->is_json, err);
            if (args.tail)
                args.tail->next = cmd.head;
            args.failed |= cmd.failed;
        }
    } else if (strcmp(v, "onbuild") == 0) {
        if (*rest) {
            bld_node *child = NULL;
            rc = node_from_line(rest, escape, &child, err);
            if (rc == 0) {
                bld_node *holder = node_new("", 0);
                if (holder == NULL || node_add_child(holder, child) != 0) {
                    bld_node_free(holder);
                    bld_node_free(child);
                    rc = sw_error_oom(err);
                } else {
                    args.head = args.tail = holder;
                }
            }
        }
    } else {
        /* unknown instructions keep one empty argument node, as BuildKit's
         * parseIgnore does; `dockerfile check` reports them */
        bld_df_chain_add(&args, "", 0);
    }
    free(rest);
    if (args.failed && rc == 0)
        rc = sw_error_oom(err);
    node->next = args.head;
    args.head = NULL;
    if (rc != 0)
        goto cleanup;
    *out = node;
    node = NULL;
cleanup:
    bld_node_free(args.head);
    bld_node_free(node);
    free(trimmed);
    return rc;
}

int bld_dockerfile_parse_line(const char *line, char escape, bld_node **out, sw_error **err)
{
    return node_from_line(line, escape, out, err);
}

/* ---- heredocs ------------------------------------------------------------ */

static int can_contain_heredoc(const bld_node *node)
{
    if (strcmp(node->value, "onbuild") == 0 && node->next && node->next->n_children > 0)
        node = node->next->children[0];
    if (strcmp(node->value, "run") != 0 && strcmp(node->value, "copy") != 0 &&
        strcmp(node->value, "add") != 0)
        return 0;
    return !node->is_json;
}

static size_t count_quotes(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\'' || *s == '"';
    return n;
}

/* BuildKit's heredocFromMatch for one word matching ^(\d*)<<(-?)\s*([^<]*)$
 * (a word may hold blanks after "<<": the lexer keeps them with it).
 * Returns 1 and fills h for a heredoc, 0 when the word is none, -1 on an
 * error (err set). */
static int heredoc_from_word(const char *w, struct bld_heredoc *h, sw_error **err)
{
    const char *p = w;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p[0] != '<' || p[1] != '<')
        return 0;
    unsigned long fd = strtoul(w, NULL, 10); /* 0 when there are no digits */
    p += 2;
    int chomp = 0;
    if (*p == '-') {
        chomp = 1;
        p++;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\f' || *p == '\r')
        p++; /* RE2's \s */
    if (*p == '\0' || strchr(p, '<'))
        return 0;
    struct bld_shell_opts o = { .escape = '\\', .skip_unset_env = 1 };
    char **words = NULL, **raw = NULL;
    size_t n = 0, n_raw = 0;
    int rc = 0;
    if (bld_shell_process(p, &o, NULL, NULL, NULL, &words, &n, err) != 0)
        return -1;
    if (n != 1)
        goto cleanup;
    o.raw_quotes = 1;
    if (bld_shell_process(p, &o, NULL, NULL, NULL, &raw, &n_raw, err) != 0) {
        rc = -1;
        goto cleanup;
    }
    if (n_raw != n) {
        sw_error_set(err, SW_EINVAL, "internal lexing of heredoc produced inconsistent results: %s",
                     p);
        rc = -1;
        goto cleanup;
    }
    h->name = words[0];
    words[0] = NULL;
    h->fd = (unsigned)fd;
    h->chomp = chomp;
    h->expand = count_quotes(h->name) == count_quotes(raw[0]);
    h->content = strdup("");
    rc = h->content ? 1 : -1;
    if (rc < 0)
        sw_error_oom(err);
cleanup:
    bld_shell_words_free(words, n);
    bld_shell_words_free(raw, n_raw);
    return rc;
}

/* The heredocs named on a line (heredocsFromLine): the line's words, read
 * with quotes and escapes kept and unset variables left as written (a line
 * the lexer rejects names none), each tried as [N]<<[-]WORD, where a quoted
 * WORD (or one with quoted parts) disables expansion. */
static int heredocs_from_line(const char *line, bld_node *node, sw_error **err)
{
    struct bld_shell_opts o = {
        .escape = '\\', .raw_quotes = 1, .raw_escapes = 1, .skip_unset_env = 1
    };
    char **words = NULL;
    size_t n = 0;
    sw_error *lex_err = NULL;
    if (bld_shell_process(line, &o, NULL, NULL, NULL, &words, &n, &lex_err) != 0) {
        int oom = sw_error_code(lex_err) == SW_ENOMEM;
        sw_error_clear(&lex_err);
        return oom ? sw_error_oom(err) : 0;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct bld_heredoc h = { 0 };
        int r = heredoc_from_word(words[i], &h, err);
        if (r < 0) {
            rc = SW_EINVAL;
            break;
        }
        if (r == 0)
            continue;
        struct bld_heredoc *bigger =
            realloc(node->heredocs, (node->n_heredocs + 1) * sizeof(*bigger));
        if (bigger == NULL) {
            free(h.name);
            free(h.content);
            rc = sw_error_oom(err);
            break;
        }
        node->heredocs = bigger;
        node->heredocs[node->n_heredocs++] = h;
    }
    bld_shell_words_free(words, n);
    return rc;
}

/* ---- the file ------------------------------------------------------------ */

/* BuildKit reads lines with Go's bufio.Scanner, whose token limit is
 * 64 KiB including the newline. */
#define MAX_LINE_LEN 65535

struct reader {
    const char *text;
    size_t len, pos;
    int line_no; /* lines consumed so far */
    const char *name;
    size_t bom;        /* bytes of byte-order mark skipped before line 1 */
    int too_long_line; /* the line over MAX_LINE_LEN that ended reading */
};

/* Next physical line without its newline ("\r\n" or "\n"); NULL at the end.
 * *with_nl_len covers the line including its newline. */
static const char *next_line(struct reader *r, size_t *len, size_t *with_nl_len)
{
    if (r->pos >= r->len || r->too_long_line)
        return NULL;
    const char *start = r->text + r->pos;
    const char *nl = memchr(start, '\n', r->len - r->pos);
    size_t full = nl ? (size_t)(nl - start) + 1 : r->len - r->pos;
    size_t l = nl ? (size_t)(nl - start) : full;
    if (l + (r->line_no == 0 ? r->bom : 0) > MAX_LINE_LEN) {
        r->too_long_line = r->line_no + 1; /* the scanner stops here */
        return NULL;
    }
    while (l > 0 && start[l - 1] == '\r')
        l--; /* trimNewline: every trailing \r */
    r->pos += full;
    r->line_no++;
    *len = l;
    if (with_nl_len)
        *with_nl_len = full;
    return start;
}

static const char *skip_ws_n(const char *s, size_t *len)
{
    while (*len > 0 && bld_df_is_space(*s)) {
        s++;
        (*len)--;
    }
    return s;
}

static int is_comment_line(const char *s, size_t len)
{
    s = skip_ws_n(s, &len);
    return len > 0 && *s == '#';
}

/* Parser directives: "# key = value" before anything else. 1 when the
 * line was a directive, 0 when directives are over. */
static int directive(struct bld_dockerfile *df, const char *s, size_t len, int *done,
                     struct reader *r, sw_error **err)
{
    if (*done)
        return 0;
    char buf[1024];
    if (len >= sizeof(buf) || len == 0 || s[0] != '#') {
        *done = 1;
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *p = buf + 1;
    while (isspace((unsigned char)*p))
        p++;
    char *key = p;
    if (!isalpha((unsigned char)*p)) {
        *done = 1;
        return 0;
    }
    while (isalnum((unsigned char)*p))
        p++;
    char *key_end = p;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '=') {
        *done = 1;
        return 0;
    }
    *key_end = '\0';
    p++;
    while (isspace((unsigned char)*p))
        p++;
    char *value = p;
    size_t vlen = strlen(value);
    while (vlen > 0 && isspace((unsigned char)value[vlen - 1]))
        value[--vlen] = '\0';
    if (vlen == 0) {
        *done = 1;
        return 0;
    }
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    char **slot = NULL;
    if (strcmp(key, "escape") == 0) {
        if (df->escape != 0)
            return sw_error_set(err, SW_EINVAL,
                                "%s:%d: only one escape parser directive can "
                                "be used",
                                r->name, r->line_no);
        if (strcmp(value, "\\") != 0 && strcmp(value, "`") != 0)
            return sw_error_set(err, SW_EINVAL,
                                "%s:%d: invalid escape token '%s' does not "
                                "match ` or \\",
                                r->name, r->line_no, value);
        df->escape = value[0];
        return 1;
    }
    if (strcmp(key, "syntax") == 0)
        slot = &df->syntax;
    else if (strcmp(key, "check") == 0)
        slot = &df->check;
    else {
        *done = 1;
        return 0;
    }
    if (*slot)
        return sw_error_set(err, SW_EINVAL, "%s:%d: only one %s parser directive can be used",
                            r->name, r->line_no, key);
    *slot = strdup(value);
    return 1;
}

/* If line ends with the escape token (then only blanks), removes it and
 * returns 1: the instruction continues. An escaped escape token does not
 * continue (BuildKit's regexp requires a non-escape char before it). */
static int trim_continuation(sw_strbuf *line, size_t from, char escape)
{
    size_t n = line->len;
    while (n > from && (line->data[n - 1] == ' ' || line->data[n - 1] == '\t'))
        n--;
    if (n == from || line->data[n - 1] != escape)
        return 0;
    if (n - 1 > from && line->data[n - 2] == escape)
        return 0;
    line->len = n - 1;
    line->data[line->len] = '\0';
    return 1;
}

static int add_warning(struct bld_dockerfile *df, const char *text)
{
    char **bigger = realloc(df->warnings, (df->n_warnings + 1) * sizeof(char *));
    if (bigger == NULL)
        return -1;
    df->warnings = bigger;
    df->warnings[df->n_warnings] = strdup(text);
    return df->warnings[df->n_warnings++] ? 0 : -1;
}

int bld_dockerfile_parse(const char *text, size_t len, const char *name,
                         struct bld_dockerfile **out, sw_error **err)
{
    struct bld_dockerfile *df = calloc(1, sizeof(*df));
    struct reader r = { .text = text, .len = len, .name = name ? name : "Dockerfile" };
    sw_strbuf line = SW_STRBUF_INIT;
    int rc = 0, directives_done = 0, empty_continuation_warned = 0;
    const char *s;
    size_t slen;

    if (df == NULL || (df->root = node_new("", 0)) == NULL) {
        free(df);
        return sw_error_oom(err);
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        r.pos = r.bom = 3;
    while ((s = next_line(&r, &slen, NULL)) != NULL) {
        if (memchr(s, '\0', slen) != NULL) {
            rc = sw_error_set(err, SW_EINVAL, "%s:%d: the Dockerfile contains a NUL byte", r.name,
                              r.line_no);
            goto cleanup;
        }
        size_t trimmed_len = slen;
        const char *trimmed = skip_ws_n(s, &trimmed_len);
        int d = directive(df, trimmed, trimmed_len, &directives_done, &r, err);
        if (d < 0) {
            rc = d;
            goto cleanup;
        }
        if (d == 1)
            continue;
        char escape = df->escape ? df->escape : '\\';
        if (trimmed_len > 0 && trimmed[0] == '#')
            continue; /* a comment */
        int start_line = r.line_no;
        sw_strbuf_reset(&line);
        sw_strbuf_append(&line, trimmed, trimmed_len);
        int continues = trim_continuation(&line, 0, escape);
        if (!continues && line.len == 0)
            continue;
        int has_empty_continuation = 0;
        while (continues) {
            const char *c = next_line(&r, &slen, NULL);
            if (c == NULL)
                break;
            if (is_comment_line(c, slen))
                continue;
            size_t blank_len = slen;
            skip_ws_n(c, &blank_len);
            if (blank_len == 0) {
                has_empty_continuation = 1;
                continue;
            }
            size_t from = line.len;
            sw_strbuf_append(&line, c, slen);
            continues = trim_continuation(&line, from, escape);
        }
        if (line.failed) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        if (has_empty_continuation) {
            char *w = NULL;
            if (asprintf(&w, "[WARNING]: Empty continuation line found in:\n    %s", line.data) >=
                0)
                add_warning(df, w);
            free(w);
            empty_continuation_warned = 1;
        }
        bld_node *child = NULL;
        if ((rc = node_from_line(line.data, escape, &child, err)) != 0) {
            sw_error_prefix(err, "%s:%d", r.name, start_line);
            goto cleanup;
        }
        if (can_contain_heredoc(child)) {
            bld_node *target = child;
            if (strcmp(child->value, "onbuild") == 0)
                target = child->next->children[0];
            if (strstr(line.data, "<<") != NULL &&
                (rc = heredocs_from_line(line.data, target, err)) != 0) {
                bld_node_free(child);
                if (rc != SW_ENOMEM)
                    sw_error_prefix(err, "%s:%d", r.name, start_line);
                goto cleanup;
            }
            for (size_t i = 0; i < target->n_heredocs; i++) {
                struct bld_heredoc *h = &target->heredocs[i];
                sw_strbuf content = SW_STRBUF_INIT;
                int terminated = 0;
                size_t full;
                const char *c;
                while ((c = next_line(&r, &slen, &full)) != NULL) {
                    const char *term = c;
                    size_t term_len = slen;
                    while (term_len > 0 && term[term_len - 1] == '\r')
                        term_len--; /* trimNewline: every trailing \r and \n */
                    if (h->chomp)
                        while (term_len > 0 && *term == '\t') {
                            term++;
                            term_len--;
                        }
                    if (term_len == strlen(h->name) && memcmp(term, h->name, term_len) == 0) {
                        terminated = 1;
                        break;
                    }
                    sw_strbuf_append(&content, c, full);
                }
                free(h->content);
                h->content = sw_strbuf_detach(&content);
                if (!terminated) {
                    bld_node_free(child);
                    rc = sw_error_set(err, SW_EINVAL, "%s:%d: unterminated heredoc", r.name,
                                      start_line);
                    goto cleanup;
                }
            }
        }
        child->start_line = start_line;
        child->end_line = r.line_no;
        if (node_add_child(df->root, child) != 0) {
            bld_node_free(child);
            rc = sw_error_oom(err);
            goto cleanup;
        }
    }
    if (empty_continuation_warned)
        add_warning(df, "[WARNING]: Empty continuation lines will become errors in a future "
                        "release.");
    if (df->root->n_children == 0) {
        rc = sw_error_set(err, SW_EINVAL, "%s:%d: file with no instructions", r.name, r.line_no);
        goto cleanup;
    }
    if (r.too_long_line) {
        rc = sw_error_set(err, SW_EINVAL,
                          "%s:%d: dockerfile line greater than max allowed size of %d", r.name,
                          r.too_long_line, MAX_LINE_LEN);
        goto cleanup;
    }
    if (df->escape == 0)
        df->escape = '\\';
    *out = df;
    df = NULL;
cleanup:
    sw_strbuf_free(&line);
    bld_dockerfile_free(df);
    return rc;
}

int bld_dockerfile_parse_file(const char *path, struct bld_dockerfile **out, sw_error **err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = sw_read_file(path, MAX_DOCKERFILE_SIZE, &text, &len, err);
    if (rc != 0)
        return rc;
    rc = bld_dockerfile_parse(text, len, path, out, err);
    free(text);
    return rc;
}

void bld_dockerfile_free(struct bld_dockerfile *df)
{
    if (df == NULL)
        return;
    bld_node_free(df->root);
    free(df->syntax);
    free(df->check);
    for (size_t i = 0; i < df->n_warnings; i++)
        free(df->warnings[i]);
    free(df->warnings);
    free(df);
}
