/*
 * test_shell_lex.c - builder/shell_lex.c: cases from Docker's
 * "Environment replacement" documentation and BuildKit's behaviour.
 */
#include "builder/dockerfile.h"
#include "builder/shell_lex.h"
#include "tests/unit/test.h"

static const char *const env[][2] = {
    { "NAME", "world" },
    { "EMPTY", "" },
    { "SPACED", "a  b\tc" },
    { "PATH", "/usr/bin:/bin" },
    { "FILE", "archive.tar.gz" },
    { "DIR", "/usr/local/share/doc" },
    { "Q", "\"quoted\"" },
    { "1", "one" },
    { "\xC3\x84"
      "BC",
      "umlaut" },              /* ÄBC */
    { "A\xD9\xA3", "arabic" }, /* A followed by ARABIC-INDIC DIGIT THREE */
    { "STAR", "x*y*" },
    { "BR", "[x](y){z}|^$.+" },
    { "ML", "line1\nline2" },
    { "SLASH", "a/b/c" },
    { NULL, NULL },
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
        /* BuildKit's wrapping, checked here and left out of the cases */
        char *q = bld_go_quote(in, strlen(in)), *prefix = NULL, *msg = NULL;
        if (q == NULL || asprintf(&prefix, "failed to process %s: ", q) < 0)
            prefix = NULL;
        const char *m = sw_error_message(err);
        if (prefix && strncmp(m, prefix, strlen(prefix)) == 0)
            m += strlen(prefix);
        else
            fprintf(stderr, "  no \"failed to process\" prefix: %s\n", m);
        free(q);
        free(prefix);
        if (asprintf(&msg, "ERR: %s", m) < 0)
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
    CHECK_WORD("$2", "");
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
    /* with ':' an unset variable still says "unset", an empty one "empty" */
    CHECK_WORD("${UNSET:?}", "ERR: UNSET: is not allowed to be unset");
    CHECK_WORD("${EMPTY:?}", "ERR: EMPTY: is not allowed to be empty");
    CHECK_WORD("${UNSET:?say $NAME}", "ERR: UNSET: say world");
    CHECK_WORD("${NAME:?}", "world");
}

/* BuildKit does not implement assignment: = and := are errors, set or not */
static void test_unsupported_modifiers(void)
{
    CHECK_WORD("${UNSET=x}", "ERR: unsupported modifier (=) in substitution");
    CHECK_WORD("${NAME=x}", "ERR: unsupported modifier (=) in substitution");
    CHECK_WORD("${UNSET:=x}", "ERR: unsupported modifier (:=) in substitution");
    CHECK_WORD("${NAME:=x}", "ERR: unsupported modifier (:=) in substitution");
    CHECK_WORD("${NAME!x}", "ERR: unsupported modifier (!) in substitution");
    CHECK_WORD("${NAME:#x}", "ERR: unsupported modifier (:#) in substitution");
    CHECK_WORD("${NAME:%x}", "ERR: unsupported modifier (:%) in substitution");
    CHECK_WORD("${NAME:/x/y}", "ERR: unsupported modifier (:/) in substitution");
    CHECK_WORD("${#NAME}", "ERR: unsupported modifier (N) in substitution");
    /* the end of the word where the operator should be: Go's string(EOF) */
    CHECK_WORD("${NAME", "ERR: unsupported modifier (\xEF\xBF\xBD) in substitution");
    CHECK_WORD("${NAME:-x", "ERR: syntax error: missing '}'");
    CHECK_WORD("${NAME:", "ERR: syntax error: missing '}'");
    CHECK_WORD("${", "ERR: syntax error: missing '}'");
    CHECK_WORD("${}", "ERR: syntax error: bad substitution");
    CHECK_WORD("${:-x}", "ERR: syntax error: bad substitution");
    CHECK_WORD("${{NAME}}", "ERR: syntax error: bad substitution");
    /* an empty name is simply unset */
    CHECK_WORD("${+x}", "");
    CHECK_WORD("${-x}", "ERR: unsupported modifier (x) in substitution"); /* name "-" */
}

/* $123 reads all its digits; @ * # ? - $ ! 0 are one-character names */
static void test_positional_and_special(void)
{
    CHECK_WORD("$1", "one");
    CHECK_WORD("$123", "");
    CHECK_WORD("${123}", "");
    CHECK_WORD("${123:-d}", "d");
    CHECK_WORD("$12x", "x");
    CHECK_WORD("a$0b", "ab"); /* "0" is a digit name, then "b" */
    CHECK_WORD("$@x", "x");
    CHECK_WORD("$*x", "x");
    CHECK_WORD("$#x", "x");
    CHECK_WORD("$?x", "x");
    CHECK_WORD("$-x", "x");
    CHECK_WORD("$$x", "x");
    CHECK_WORD("$!x", "x");
    CHECK_WORD("${#}", "");
    CHECK_WORD("${@:-all}", "all");
    CHECK_WORD("$%", "$%");
    CHECK_WORD("$/x", "$/x");
}

/* names are Unicode letters, digits and '_' (Go's unicode.IsLetter/IsDigit) */
static void test_unicode(void)
{
    CHECK_WORD("$\xC3\x84"
               "BC",
               "umlaut");
    CHECK_WORD("${\xC3\x84"
               "BC}",
               "umlaut");
    CHECK_WORD("$\xC3\x84"
               "BC.x",
               "umlaut.x");
    CHECK_WORD("$A\xD9\xA3", "arabic");
    CHECK_WORD("$\xD9\xA3x", "x");                       /* a leading Unicode digit reads digits */
    CHECK_WORD("$\xC3\x84\xE2\x82\xAC", "\xE2\x82\xAC"); /* € ends the name */
    /* an invalid UTF-8 byte reads as U+FFFD; a leading byte-order mark is skipped */
    CHECK_WORD("a\xFF"
               "b",
               "a\xEF\xBF\xBD"
               "b");
    CHECK_WORD("\xEF\xBB\xBFx", "x");
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
    /* only * and ? are wildcards: brackets and regex characters are literal */
    CHECK_WORD("${NAME#[wx]}", "world");
    CHECK_WORD("${BR#[x](y)}", "{z}|^$.+");
    CHECK_WORD("${BR%|^$.+}", "[x](y){z}");
    CHECK_WORD("${BR##*.}", "+");
    CHECK_WORD("${NAME#w?r}", "ld");
    /* escapes are kept: \* is a literal star */
    CHECK_WORD("${STAR#x\\*}", "y*");
    CHECK_WORD("${STAR#x*}", "*y*");
    CHECK_WORD("${STAR##x*}", "");
    CHECK_WORD("${STAR%y\\*}", "x*");
    CHECK_WORD("${STAR%\\*}", "x*y");
    CHECK_WORD("${STAR%%\\**}", "x");
    CHECK_WORD("${NAME#\\w}", "ERR: invalid pattern (\\w) in substitution: invalid escape '\\w'");
    /* quotes are removed, variables expanded */
    CHECK_WORD("${NAME#\"w\"}", "orld");
    CHECK_WORD("${DIR#$UNSET/usr}", "/local/share/doc");
    CHECK_WORD("${NAME%${UNSET:-ld}}", "wor");
    /* like Go's '.', wildcards do not match a newline */
    CHECK_WORD("${ML#*2}", "line1\nline2");
    CHECK_WORD("${ML##*}", "\nline2");
    CHECK_WORD("${ML%%l*}", "line1\n");
}

static void test_replace(void)
{
    CHECK_WORD("${NAME/o/$NAME}", "wworldrld");
    CHECK_WORD("${NAME/\"\"/x}", "xworld"); /* an empty pattern matches at 0 */
    CHECK_WORD("${NAME/$EMPTY/x}", "xworld");
    CHECK_WORD("${NAME///x}", "xwxoxrxlxdx");
    CHECK_WORD("${NAME/o}", "ERR: syntax error: missing '/' in ${}");
    CHECK_WORD("${NAME//o}", "ERR: syntax error: missing '/' in ${}");
    CHECK_WORD("${NAME/o/\\x}", "w\\xrld"); /* escapes kept in the replacement */
    CHECK_WORD("${NAME/o/a\\}b}", "wa\\}brld");
    CHECK_WORD("${SLASH//\\//-}", "a-b-c");
    CHECK_WORD("${NAME//[wo]/x}", "world");
    CHECK_WORD("${NAME/*/x}", "x");
    CHECK_WORD("${NAME/o*/x}", "wx");
    CHECK_WORD("${NAME//?/x}", "xxxxx");
    CHECK_WORD("${NAME/r?/_}", "wo_d");
    /* no anchors: # and % are literal in the pattern */
    CHECK_WORD("${NAME/#w/x}", "world");
    CHECK_WORD("${NAME/%d/x}", "world");
    /* // uses Go's ReplaceAllString: "$0" in the replacement is the match */
    CHECK_WORD("${NAME//o/\\$0}", "w\\orld");
    CHECK_WORD("${NAME/o/\\$0}", "w\\$0rld");
    CHECK_WORD("${UNSET/x/y}", "");
    CHECK_WORD("${NAME/w/x}${NAME//d/}", "xorldworl");
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
    CHECK_INT_EQ(n, 6); /* neither '' nor $EMPTY makes a word */
    if (n == 6) {
        CHECK_STR_EQ(words[0], "a");
        CHECK_STR_EQ(words[1], "a");
        CHECK_STR_EQ(words[2], "b");
        CHECK_STR_EQ(words[3], "c");
        CHECK_STR_EQ(words[4], "x  y");
        CHECK_STR_EQ(words[5], "z");
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
    /* "<<" keeps the blanks after it in its word (heredoc detection) */
    CHECK_INT_EQ(bld_shell_expand_words("cat << EOF x", '\\', lookup, NULL, &words, &n, &err), 0);
    CHECK_INT_EQ(n, 3);
    if (n == 3)
        CHECK_STR_EQ(words[1], "<< EOF");
    bld_shell_words_free(words, n);
    /* BuildKit's scans share one word buffer: an operand's scan drops the
     * start of the word it is in */
    CHECK_INT_EQ(bld_shell_expand_words("x ab${UNSET:-c}d", '\\', lookup, NULL, &words, &n, &err),
                 0);
    CHECK_INT_EQ(n, 2);
    if (n == 2)
        CHECK_STR_EQ(words[1], "cd");
    bld_shell_words_free(words, n);
    /* Unicode spaces split too */
    CHECK_INT_EQ(bld_shell_expand_words("a\xC2\xA0"
                                        "b",
                                        '\\', lookup, NULL, &words, &n, &err),
                 0);
    CHECK_INT_EQ(n, 2);
    bld_shell_words_free(words, n);
    CHECK(bld_shell_expand_words("${X?need X}", '\\', lookup, NULL, &words, &n, &err) != 0);
    CHECK_STR_EQ(sw_error_message(err), "failed to process \"${X?need X}\": X: need X");
    sw_error_clear(&err);
}

/* COPY/ADD heredoc bodies: quotes are text, variables expand, '\\' escapes
 * (BuildKit's ExpandRaw with SkipProcessQuotes) */
static void test_heredoc_body(void)
{
    char *out = NULL;
    sw_error *err = NULL;
    const char *body = "{\"name\": \"$NAME\"}\ndon't '$NAME' \\$NAME a\\nb ${UNSET:-\"d\"}\n";
    CHECK_INT_EQ(bld_shell_expand_heredoc(body, lookup, NULL, &out, &err), 0);
    CHECK_STR_EQ(out, "{\"name\": \"world\"}\ndon't 'world' $NAME anb \"d\"\n");
    free(out);
    CHECK(bld_shell_expand_heredoc("${X:=1}\n", lookup, NULL, &out, &err) != 0);
    CHECK(strstr(sw_error_message(err), "unsupported modifier (:=) in substitution") != NULL);
    sw_error_clear(&err);
}

int main(void)
{
    RUN(test_variables);
    RUN(test_operators);
    RUN(test_unsupported_modifiers);
    RUN(test_positional_and_special);
    RUN(test_unicode);
    RUN(test_patterns);
    RUN(test_replace);
    RUN(test_quotes_and_escapes);
    RUN(test_words);
    RUN(test_heredoc_body);
    return TEST_EXIT();
}
