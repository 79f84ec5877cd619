/*
 * cmd_dockerfile.c - `slipway dockerfile`: look at Dockerfiles the way the
 * builder reads them.
 *
 *   dump FILE            the parse tree, exactly as BuildKit's Node.Dump()
 *   check FILE           problems a user should fix, with line numbers
 *   expand WORD          a word expanded as one word (ProcessWord)
 *   words WORD           the words a word expands to (ProcessWords)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dockerfile.h"
#include "builder/dockerfile_check.h"
#include "builder/shell_lex.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: slipway dockerfile dump FILE\n"
                 "       slipway dockerfile check FILE\n"
                 "       slipway dockerfile expand [--escape CHAR] [--env K=V ...] WORD\n"
                 "       slipway dockerfile words [--escape CHAR] [--env K=V ...] WORD\n"
                 "\n"
                 "dump    prints the parsed instructions as BuildKit's parser dumps them\n"
                 "check   reports problems to fix (exit 1 when there are any)\n"
                 "expand  prints WORD expanded as a single word, as the builder does\n"
                 "words   prints the words WORD expands to, one per line\n"
                 "\n"
                 "--help (or -h) after any subcommand prints this text; after --, FILE or\n"
                 "WORD may start with '-'.\n");
}

/* --help or -h among the arguments of a subcommand (before a "--"). */
static int wants_help(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

static int do_dump(const char *path)
{
    struct bld_dockerfile *df = NULL;
    sw_error *err = NULL;
    if (bld_dockerfile_parse_file(path, &df, &err) != 0) {
        fprintf(stderr, "%s\n", sw_error_message(err));
        sw_error_clear(&err);
        return 1;
    }
    for (size_t i = 0; i < df->n_warnings; i++)
        fprintf(stderr, "%s\n", df->warnings[i]);
    char *text = bld_dockerfile_dump(df);
    int status = text ? 0 : 1;
    if (text)
        fputs(text, stdout);
    free(text);
    bld_dockerfile_free(df);
    return status;
}

static int do_check(const char *path)
{
    struct bld_dockerfile *df = NULL;
    struct bld_problem *problems = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    if (bld_dockerfile_parse_file(path, &df, &err) != 0 ||
        bld_dockerfile_check(df, &problems, &n, &err) != 0) {
        fprintf(stderr, "%s\n", sw_error_message(err));
        sw_error_clear(&err);
        bld_dockerfile_free(df);
        return 1;
    }
    for (size_t i = 0; i < df->n_warnings; i++)
        printf("%s\n", df->warnings[i]);
    for (size_t i = 0; i < n; i++)
        printf("%s:%d: %s: %s\n", path, problems[i].line, problems[i].rule, problems[i].message);
    if (n == 0)
        printf("%s: no problems found\n", path);
    bld_problems_free(problems, n);
    bld_dockerfile_free(df);
    return n == 0 ? 0 : 1;
}

struct env_list {
    char **items;
    int n;
};

static const char *env_lookup(void *ctx, const char *name)
{
    const struct env_list *env = ctx;
    size_t len = strlen(name);
    /* the last definition wins, as with repeated ENV */
    for (int i = env->n - 1; i >= 0; i--)
        if (strncmp(env->items[i], name, len) == 0 && env->items[i][len] == '=')
            return env->items[i] + len + 1;
    return NULL;
}

static int do_expand(int argc, char **argv, int as_words)
{
    struct env_list env = { calloc((size_t)argc, sizeof(char *)), 0 };
    char escape = '\\';
    const char *word = NULL;
    int status = 2;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--escape") == 0 && i + 1 < argc) {
            const char *e = argv[++i];
            if ((strcmp(e, "\\") != 0 && strcmp(e, "`") != 0)) {
                fprintf(stderr, "slipway dockerfile: --escape takes \\ or `\n");
                goto cleanup;
            }
            escape = e[0];
        } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
            if (strchr(argv[i + 1], '=') == NULL) {
                fprintf(stderr, "slipway dockerfile: --env takes K=V\n");
                goto cleanup;
            }
            env.items[env.n++] = argv[++i];
        } else if (strcmp(argv[i], "--") == 0 && word == NULL && i + 1 < argc) {
            word = argv[++i];
        } else if (word == NULL) {
            word = argv[i];
        } else {
            fprintf(stderr, "slipway dockerfile: expected one WORD\n");
            goto cleanup;
        }
    }
    if (word == NULL) {
        usage(stderr);
        goto cleanup;
    }
    sw_error *err = NULL;
    if (as_words) {
        char **words = NULL;
        size_t n = 0;
        if (bld_shell_expand_words(word, escape, env_lookup, &env, &words, &n, &err) != 0) {
            fprintf(stderr, "%s\n", sw_error_message(err));
            sw_error_clear(&err);
            status = 1;
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++)
            printf("%s\n", words[i]);
        bld_shell_words_free(words, n);
    } else {
        char *out = NULL;
        if (bld_shell_expand_word(word, escape, env_lookup, &env, &out, &err) != 0) {
            fprintf(stderr, "%s\n", sw_error_message(err));
            sw_error_clear(&err);
            status = 1;
            goto cleanup;
        }
        printf("%s\n", out);
        free(out);
    }
    status = 0;
cleanup:
    free(env.items);
    return status;
}

int cmd_dockerfile(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "dump") == 0 || strcmp(sub, "check") == 0) {
        const char *file = argc == 3 ? argv[2] : NULL;
        if (argc == 4 && strcmp(argv[2], "--") == 0)
            file = argv[3];
        if (file == NULL || (file == argv[2] && file[0] == '-' && file[1] != '\0')) {
            if (file != NULL)
                fprintf(stderr, "slipway dockerfile: unknown option '%s'\n", file);
            usage(stderr);
            return 2;
        }
        return strcmp(sub, "dump") == 0 ? do_dump(file) : do_check(file);
    }
    if (strcmp(sub, "expand") == 0)
        return do_expand(argc, argv, 0);
    if (strcmp(sub, "words") == 0)
        return do_expand(argc, argv, 1);
    fprintf(stderr, "slipway dockerfile: unknown subcommand '%s'\n\n", sub);
    usage(stderr);
    return 2;
}
