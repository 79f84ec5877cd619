/*
 * test_shell_lex.c - builder/shell_lex.c: cases from Docker's
 * "Environment replacement" documentation and BuildKit's behaviour.
 */
#include "builder/shell_lex.h"
#include "tests/unit/test.h"

static const char *const env[][2] = {
    { "NAME", "world" },          { "EMPTY", "" },
    { "SPACED", "a  b\tc" },      { "PATH", "/usr/bin:/bin" },
    { "FILE", "archive.tar.gz" }, { "DIR", "/usr/local/share/doc" },
    { "Q", "\"quoted\"" },        { NULL, NULL },
};

static const char *lookup(void *ctx, const char *name)
{
    for (int i = 0; env[i][0]; i++)
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    return NULL;
}

static char *word(const char *in, char escape)
{
    char *out = NULL;
    sw_error *err = NULL;
    if (bld_shell_expand_word(in, escape, lookup, NULL, &out, &err) != 0) {
        char *msg = NULL;
        if (asprintf(&msg, "ERR: %s", sw_error_message(err)) < 0)
            msg = NULL;
        sw_error_clear(&err);
        return msg;
    }
    return out;
}

#define CHECK_WORD(in, expected)                                                                   \
    do {                                                                                           \
        char *w_ = word(in, '\\');                                                                 \
        CHECK_STR_EQ(w_, expected);                                                                \
        free(w_);                                                                                  \
    } while (0)

static void test_variables(void)
{
    CHECK_WORD("hello $NAME", "hello world");
    CHECK_WORD("hello ${NAME}!", "hello world!");
    CHECK_WORD("${NAME}s", "worlds");
    CHECK_WORD("$NAMEs", ""); /* the name is NAMEs, unset */
    CHECK_WORD("$UNSET-x", "-x");
    CHECK_WORD("cost: $", "cost: $");
    CHECK_WORD("$ 5", "$ 5");
    CHECK_WORD("a$", "a$");
    CHECK_WORD("$1", "");
}

static void test_operators(void)
{
    CHECK_WORD("${UNSET:-default}", "default");
    CHECK_WORD("${EMPTY:-default}", "default");
    CHECK_WORD("${EMPTY-default}", "");
    CHECK_WORD("${UNSET-default}", "default");
    CHECK_WORD("${NAME:-default}", "world");
    CHECK_WORD("${NAME:+set}", "set");
    CHECK_WORD("${EMPTY:+set}", "");
    CHECK_WORD("${EMPTY+set}", "set");
    CHECK_WORD("${UNSET+set}", "");
    CHECK_WORD("${UNSET:-$NAME}", "world");
    CHECK_WORD("${UNSET:-${ALSO:-nested}}", "nested");
    CHECK_WORD("${UNSET:-\"two words\"}", "two words");
    CHECK_WORD("${NAME?must be set}", "world");
    CHECK_WORD("${UNSET?must be set}", "ERR: UNSET: must be set");
    CHECK_WORD("${EMPTY:?must not be empty}", "ERR: EMPTY: must not be empty");
    CHECK_WORD("${EMPTY?}", "");
    CHECK_WORD("${UNSET?}", "ERR: UNSET: is not allowed to be unset");
}

static void test_patterns(void)
{
    CHECK_WORD("${FILE#*.}", "tar.gz");
    CHECK_WORD("${FILE##*.}", "gz");
    CHECK_WORD("${FILE%.*}", "archive.tar");
    CHECK_WORD("${FILE%%.*}", "archive");
    CHECK_WORD("${DIR#/usr/}", "local/share/doc");
    CHECK_WORD("${DIR##*/}", "doc");
    CHECK_WORD("${PATH/bin/sbin}", "/usr/sbin:/bin");
    CHECK_WORD("${PATH//bin/sbin}", "/usr/sbin:/sbin");
    CHECK_WORD("${PATH//:/ }", "/usr/bin /bin");
    CHECK_WORD("${FILE/tar/}", "archive..gz");
    CHECK_WORD("${UNSET#x}", "");
    CHECK_WORD("${NAME#[wx]}", "orld");
}

static void test_quotes_and_escapes(void)
{
    CHECK_WORD("'$NAME'", "$NAME");
    CHECK_WORD("\"$NAME\"", "world");
    CHECK_WORD("\"a 'b' c\"", "a 'b' c");
    CHECK_WORD("'a \"b\" c'", "a \"b\" c");
    CHECK_WORD("\\$NAME", "$NAME");
    CHECK_WORD("\"\\$NAME\"", "$NAME");
    CHECK_WORD("\"\\\"\"", "\"");
    CHECK_WORD("\"a\\nb\"", "a\\nb"); /* other escapes stay in double quotes */
    CHECK_WORD("a\\ b", "a b");
    CHECK_WORD("end\\", "end");
    CHECK_WORD("$Q", "\"quoted\"");
    CHECK_WORD("'unterminated",
               "ERR: unexpected end of statement while looking for matching single-quote");
    CHECK_WORD("\"unterminated",
               "ERR: unexpected end of statement while looking for matching double-quote");
    CHECK_WORD("${NAME", "ERR: syntax error: missing '}'");
    CHECK_WORD("${}", "ERR: bad substitution");
    CHECK_WORD("${NAME!x}", "ERR: unsupported modifier (!) in substitution");
    /* the backtick escape (escape=`): backslash is then an ordinary character */
    char *w = word("C:\\dir `$NAME $NAME", '`');
    CHECK_STR_EQ(w, "C:\\dir $NAME world");
    free(w);
}

static void test_words(void)
{
    char **words = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_shell_expand_words("a $SPACED \"x  y\" '' $EMPTY z", '\\', lookup, NULL,
                                        &words, &n, &err),
                 0);
    CHECK_INT_EQ(n, 7); /* $EMPTY unquoted makes no word */
    if (n == 7) {
        CHECK_STR_EQ(words[0], "a");
        CHECK_STR_EQ(words[1], "a");
        CHECK_STR_EQ(words[2], "b");
        CHECK_STR_EQ(words[3], "c");
        CHECK_STR_EQ(words[4], "x  y");
        CHECK_STR_EQ(words[5], "");
        CHECK_STR_EQ(words[6], "z");
    }
    bld_shell_words_free(words, n);
    CHECK_INT_EQ(bld_shell_expand_words("80/tcp   443 ${PORTS:-8080 9090}", '\\', lookup, NULL,
                                        &words, &n, &err),
                 0);
    CHECK_INT_EQ(n, 4);
    if (n == 4)
        CHECK_STR_EQ(words[3], "9090");
    bld_shell_words_free(words, n);
    CHECK_INT_EQ(bld_shell_expand_words("\"$SPACED\"x", '\\', lookup, NULL, &words, &n, &err), 0);
    CHECK_INT_EQ(n, 1);
    if (n == 1)
        CHECK_STR_EQ(words[0], "a  b\tcx");
    bld_shell_words_free(words, n);
    CHECK(bld_shell_expand_words("${X?need X}", '\\', lookup, NULL, &words, &n, &err) != 0);
    CHECK(strstr(sw_error_message(err), "X: need X") != NULL);
    sw_error_clear(&err);
}

int main(void)
{
    RUN(test_variables);
    RUN(test_operators);
    RUN(test_patterns);
    RUN(test_quotes_and_escapes);
    RUN(test_words);
    return TEST_EXIT();
}
