/*
 * dockerfile.h - reading a Dockerfile into instructions, as BuildKit's
 * parser does (frontend/dockerfile/parser), with the same tree shape:
 *
 *   root
 *    └─ children: one node per instruction
 *         value     lower-case instruction ("run", "copy", ...)
 *         flags     "--from=build", "--chown=app" ... as written
 *         next      a chain of argument nodes (values), or for ONBUILD one
 *                   node whose children hold the wrapped instruction
 *         heredocs  for RUN/COPY/ADD: name, content, expand, chomp
 *
 * Argument rules per instruction follow BuildKit: JSON (exec) form with
 * fallback to the shell form when the JSON is invalid; ENV/LABEL key,
 * value, separator triples (legacy `ENV k v` gives separator ""); ARG words;
 * FROM/EXPOSE split on whitespace; HEALTHCHECK type + command; unknown
 * instructions keep no arguments. bld_dockerfile_dump prints the tree
 * exactly like BuildKit's Node.Dump().
 */
#ifndef BLD_DOCKERFILE_H
#define BLD_DOCKERFILE_H

#include <stddef.h>

#include "core/error.h"

struct bld_heredoc {
    char *name;
    unsigned fd;   /* the file descriptor prefix of <<, 0 when none */
    int expand;    /* unquoted delimiter: variables are expanded */
    int chomp;     /* <<-: leading tabs are removed */
    char *content; /* the lines, each with its newline */
};

typedef struct bld_node {
    char *value;
    struct bld_node *next;
    struct bld_node **children;
    size_t n_children;
    struct bld_heredoc *heredocs;
    size_t n_heredocs;
    int is_json;    /* BuildKit's "json" attribute: exec form */
    char *original; /* the instruction line as read (continuations joined) */
    char **flags;
    size_t n_flags;
    int start_line; /* 1-based, inclusive */
    int end_line;
    size_t value_len; /* bytes of value: a JSON-form argument may hold a NUL
                         (\u0000), as in BuildKit; value is cut there */
} bld_node;

struct bld_dockerfile {
    bld_node *root; /* children: the instructions */
    char escape;    /* '\\' or '`' */
    char *syntax;   /* the # syntax= directive, or NULL */
    char *check;    /* the # check= directive, or NULL */
    char **warnings;
    size_t n_warnings;
};

/* Parses Dockerfile text. `name` is used in errors: "NAME:LINE: message".
 * *out is owned by the caller (bld_dockerfile_free). */
int bld_dockerfile_parse(const char *text, size_t len, const char *name,
                         struct bld_dockerfile **out, sw_error **err);

/* Reads and parses a file. */
int bld_dockerfile_parse_file(const char *path, struct bld_dockerfile **out, sw_error **err);

/* Parses one instruction line (ONBUILD triggers); heredocs not allowed. */
int bld_dockerfile_parse_line(const char *line, char escape, bld_node **out, sw_error **err);

void bld_dockerfile_free(struct bld_dockerfile *df);
void bld_node_free(bld_node *node);

/* The whole file as BuildKit dumps it: one "(…)" line per instruction,
 * each followed by a newline. malloc'd. */
char *bld_dockerfile_dump(const struct bld_dockerfile *df);

/* Go's strconv.Quote of s (for the dump), appended to a malloc'd string. */
char *bld_go_quote(const char *s, size_t len);

#endif
