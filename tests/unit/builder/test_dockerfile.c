/*
 * test_dockerfile.c - builder/dockerfile.c and dockerfile_check.c: cases
 * written from Docker's Dockerfile reference and BuildKit's documented
 * parser behaviour; the dump must match BuildKit's Node.Dump() to the byte.
 */
#include "builder/dockerfile.h"
#include "builder/dockerfile_check.h"
#include "tests/unit/test.h"

/* Parses text and returns the dump ("ERR: message" on failure). */
static char *dump(const char *text)
{
    struct bld_dockerfile *df = NULL;
    sw_error *err = NULL;
    char *out = NULL;
    if (bld_dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err) != 0) {
        if (asprintf(&out, "ERR: %s", sw_error_message(err)) < 0)
            out = NULL;
        sw_error_clear(&err);
        return out;
    }
    out = bld_dockerfile_dump(df);
    bld_dockerfile_free(df);
    return out;
}

#define CHECK_DUMP(text, expected)                                                                 \
    do {                                                                                           \
        char *d_ = dump(text);                                                                     \
        CHECK_STR_EQ(d_, expected);                                                                \
        free(d_);                                                                                  \
    } while (0)

static void test_instructions_and_arguments(void)
{
    CHECK_DUMP("FROM busybox\n", "(from \"busybox\")\n");
    CHECK_DUMP("from busybox AS base\n", "(from \"busybox\" \"AS\" \"base\")\n");
    CHECK_DUMP("FROM --platform=linux/amd64 busybox\n",
               "(from [\"--platform=linux/amd64\"] \"busybox\")\n");
    CHECK_DUMP("FROM a\nRUN make  all\n", "(from \"a\")\n(run \"make  all\")\n");
    CHECK_DUMP("FROM a\nRUN [\"make\", \"all\"]\n", "(from \"a\")\n(run \"make\" \"all\")\n");
    /* invalid JSON falls back to the shell form */
    CHECK_DUMP("FROM a\nCMD [ls -l]\n", "(from \"a\")\n(cmd \"[ls -l]\")\n");
    CHECK_DUMP("FROM a\nCMD [\"a\", \"b\"] trailing\n",
               "(from \"a\")\n(cmd \"[\\\"a\\\", \\\"b\\\"] trailing\")\n");
    /* JSON with a non-string element is an error */
    char *d = dump("FROM a\nCMD [\"a\", 1]\n");
    CHECK(strstr(d, "Dockerfile:2") && strstr(d, "arrays must be comprised of strings only"));
    free(d);
    CHECK_DUMP(
        "FROM a\nENV A=1 B=\"x y\" C=\n",
        "(from \"a\")\n(env \"A\" \"1\" \"=\" \"B\" \"\\\"x y\\\"\" \"=\" \"C\" \"\" \"=\")\n");
    CHECK_DUMP("FROM a\nENV PATH /usr/bin:$PATH and more\n",
               "(from \"a\")\n(env \"PATH\" \"/usr/bin:$PATH and more\" \"\")\n");
    d = dump("FROM a\nENV ONLY\n");
    CHECK(strstr(d, "ENV must have two arguments") != NULL);
    free(d);
    d = dump("FROM a\nLABEL a=b c\n");
    CHECK(strstr(d, "can't find = in \"c\"") != NULL);
    free(d);
    CHECK_DUMP("FROM a\nLABEL \"com.example.v\"=\"1 2\" x='y z'\n",
               "(from \"a\")\n(label \"\\\"com.example.v\\\"\" \"\\\"1 2\\\"\" \"=\" \"x\" \"'y "
               "z'\" \"=\")\n");
    CHECK_DUMP("ARG V=1\nARG W\nFROM a\n", "(arg \"V=1\")\n(arg \"W\")\n(from \"a\")\n");
    CHECK_DUMP("FROM a\nARG A=\"x y\" B\n", "(from \"a\")\n(arg \"A=\\\"x y\\\"\" \"B\")\n");
    CHECK_DUMP("FROM a\nEXPOSE 80  443/tcp\t53/udp\n",
               "(from \"a\")\n(expose \"80\" \"443/tcp\" \"53/udp\")\n");
    CHECK_DUMP("FROM a\nCOPY a b  c/\n", "(from \"a\")\n(copy \"a\" \"b\" \"c/\")\n");
    CHECK_DUMP("FROM a\nCOPY [\"a b\", \"/c\"]\n", "(from \"a\")\n(copy \"a b\" \"/c\")\n");
    CHECK_DUMP("FROM a\nVOLUME /data /logs\n", "(from \"a\")\n(volume \"/data\" \"/logs\")\n");
    CHECK_DUMP(
        "FROM a\nUSER app:staff\nWORKDIR /my app\nSTOPSIGNAL SIGTERM\n",
        "(from \"a\")\n(user \"app:staff\")\n(workdir \"/my app\")\n(stopsignal \"SIGTERM\")\n");
    CHECK_DUMP("FROM a\nMAINTAINER Jane <jane@example.com>\n",
               "(from \"a\")\n(maintainer \"Jane <jane@example.com>\")\n");
    CHECK_DUMP("FROM a\nHEALTHCHECK NONE\n", "(from \"a\")\n(healthcheck \"NONE\")\n");
    CHECK_DUMP("FROM a\nHEALTHCHECK --interval=5m --timeout=3s CMD [\"curl\", \"-f\"]\n",
               "(from \"a\")\n(healthcheck [\"--interval=5m\" \"--timeout=3s\"] \"CMD\" \"curl\" "
               "\"-f\")\n");
    CHECK_DUMP("FROM a\nONBUILD RUN echo hi\nONBUILD COPY --chown=1 . /app\n",
               "(from \"a\")\n(onbuild (run \"echo hi\"))\n(onbuild (copy [\"--chown=1\"] \".\" "
               "\"/app\"))\n");
    CHECK_DUMP("FROM a\nSHELL [\"/bin/bash\", \"-c\"]\n",
               "(from \"a\")\n(shell \"/bin/bash\" \"-c\")\n");
    /* unknown instructions are kept with no arguments (check reports them) */
    CHECK_DUMP("FROM a\nFROBNICATE now\n", "(from \"a\")\n(frobnicate \"\")\n");
    /* instructions without arguments */
    CHECK_DUMP("FROM a\nRUN\n", "(from \"a\")\n(run)\n");
}

static void test_flags(void)
{
    CHECK_DUMP("FROM a\nCOPY --from=build --chown=app:app --chmod=0644 /src /dst\n",
               "(from \"a\")\n(copy [\"--from=build\" \"--chown=app:app\" \"--chmod=0644\"] "
               "\"/src\" \"/dst\")\n");
    CHECK_DUMP("FROM a\nRUN --mount=type=cache,target=/root/.cache --network=none make\n",
               "(from \"a\")\n(run [\"--mount=type=cache,target=/root/.cache\" \"--network=none\"] "
               "\"make\")\n");
    /* quotes in flag values are removed, as BuildKit does */
    CHECK_DUMP("FROM a\nCOPY --chown=\"app user\" x y\n",
               "(from \"a\")\n(copy [\"--chown=app user\"] \"x\" \"y\")\n");
    CHECK_DUMP("FROM a\nCOPY --link x y\n", "(from \"a\")\n(copy [\"--link\"] \"x\" \"y\")\n");
    /* "--" ends the flags */
    CHECK_DUMP("FROM a\nRUN --network=host -- --not-a-flag\n",
               "(from \"a\")\n(run [\"--network=host\"] \"--not-a-flag\")\n");
    CHECK_DUMP("FROM a\nADD --checksum=sha256:abc --keep-git-dir=true https://x/y /z\n",
               "(from \"a\")\n(add [\"--checksum=sha256:abc\" \"--keep-git-dir=true\"] "
               "\"https://x/y\" \"/z\")\n");
}

static void test_continuations_comments_directives(void)
{
    CHECK_DUMP("FROM a\nRUN echo a \\\n  b \\\n  c\n", "(from \"a\")\n(run \"echo a   b   c\")\n");
    /* comments inside a continuation are dropped; empty lines warn */
    const char *text = "FROM a\nRUN echo a \\\n# comment\n\n  b\n";
    struct bld_dockerfile *df = NULL;
    CHECK_INT_EQ(bld_dockerfile_parse(text, strlen(text), "Dockerfile", &df, NULL), 0);
    if (df) {
        char *d = bld_dockerfile_dump(df);
        CHECK_STR_EQ(d, "(from \"a\")\n(run \"echo a   b\")\n");
        free(d);
        CHECK_INT_EQ(df->n_warnings, 2);
        if (df->n_warnings == 2) {
            CHECK(strstr(df->warnings[0], "Empty continuation line found in:") != NULL);
            CHECK(strstr(df->warnings[1], "will become errors") != NULL);
        }
        CHECK_INT_EQ(df->root->children[1]->start_line, 2);
        CHECK_INT_EQ(df->root->children[1]->end_line, 5);
        bld_dockerfile_free(df);
    }
    /* an escaped escape character does not continue the line */
    CHECK_DUMP("FROM a\nRUN echo \\\\\nRUN x\n",
               "(from \"a\")\n(run \"echo \\\\\\\\\")\n(run \"x\")\n");
    /* the backtick escape directive (Windows style) */
    CHECK_DUMP("# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\n",
               "(from \"a\")\n(run \"dir c:\\\\   /w\")\n");
    df = NULL;
    text = "# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended\nFROM a\n";
    CHECK_INT_EQ(bld_dockerfile_parse(text, strlen(text), "D", &df, NULL), 0);
    if (df) {
        CHECK_STR_EQ(df->syntax, "docker/dockerfile:1.7");
        CHECK_STR_EQ(df->check, "skip=JSONArgsRecommended");
        CHECK_INT_EQ(df->escape, '\\');
        bld_dockerfile_free(df);
    }
    /* a directive after an instruction or comment is only a comment */
    CHECK_DUMP("# hello\n# escape=`\nFROM a\nRUN x \\\n y\n", "(from \"a\")\n(run \"x  y\")\n");
    char *d = dump("# escape=x\nFROM a\n");
    CHECK(strstr(d, "Dockerfile:1: invalid escape token 'x' does not match ` or \\") != NULL);
    free(d);
    d = dump("# escape=`\n# escape=\\\nFROM a\n");
    CHECK(strstr(d, "only one escape parser directive can be used") != NULL);
    free(d);
    /* a UTF-8 BOM and CRLF line endings */
    CHECK_DUMP("\xEF\xBB\xBF"
               "FROM a\r\nRUN b\r\n",
               "(from \"a\")\n(run \"b\")\n");
    /* indented instructions and comments */
    CHECK_DUMP("   FROM a\n\t# note\n  RUN b\n", "(from \"a\")\n(run \"b\")\n");
    d = dump("# only a comment\n\n");
    CHECK(strstr(d, "file with no instructions") != NULL);
    free(d);
}

static void test_heredocs(void)
{
    const char *text = "FROM a\n"
                       "RUN <<EOF\n"
                       "echo $HOME\n"
                       "echo two\n"
                       "EOF\n"
                       "COPY <<one.txt <<\"two.txt\" /dest/\n"
                       "first\n"
                       "one.txt\n"
                       "second $X\n"
                       "two.txt\n"
                       "RUN <<-END cat\n"
                       "\tindented\n"
                       "\tEND\n"
                       "RUN [\"echo\", \"<<EOF\"]\n";
    struct bld_dockerfile *df = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_dockerfile_parse(text, strlen(text), "D", &df, &err), 0);
    if (df == NULL) {
        fprintf(stderr, "  %s\n", sw_error_message(err));
        sw_error_clear(&err);
        return;
    }
    char *d = bld_dockerfile_dump(df);
    CHECK_STR_EQ(
        d, "(from \"a\")\n(run \"<<EOF\")\n(copy \"<<one.txt\" \"<<\\\"two.txt\\\"\" \"/dest/\")\n"
           "(run \"<<-END cat\")\n(run \"echo\" \"<<EOF\")\n");
    free(d);
    bld_node **in = df->root->children;
    CHECK_INT_EQ(in[1]->n_heredocs, 1);
    CHECK_STR_EQ(in[1]->heredocs[0].name, "EOF");
    CHECK_STR_EQ(in[1]->heredocs[0].content, "echo $HOME\necho two\n");
    CHECK_INT_EQ(in[1]->heredocs[0].expand, 1);
    CHECK_INT_EQ(in[1]->start_line, 2);
    CHECK_INT_EQ(in[1]->end_line, 5);
    CHECK_INT_EQ(in[2]->n_heredocs, 2);
    CHECK_STR_EQ(in[2]->heredocs[0].content, "first\n");
    CHECK_INT_EQ(in[2]->heredocs[0].expand, 1);
    CHECK_STR_EQ(in[2]->heredocs[1].name, "two.txt");
    CHECK_STR_EQ(in[2]->heredocs[1].content, "second $X\n");
    CHECK_INT_EQ(in[2]->heredocs[1].expand, 0); /* quoted delimiter */
    CHECK_INT_EQ(in[3]->heredocs[0].chomp, 1);
    CHECK_STR_EQ(in[3]->heredocs[0].content, "\tindented\n"); /* tabs removed later */
    CHECK_INT_EQ(in[4]->n_heredocs, 0);                       /* exec form: no heredocs */
    bld_dockerfile_free(df);

    d = dump("FROM a\nRUN <<EOF\necho never closed\n");
    CHECK(strstr(d, "D") && strstr(d, "unterminated heredoc") != NULL);
    free(d);
}

static void test_go_quote(void)
{
    const char *s1 = "tab\there \"q\" \\ é \x01 \x7f";
    char *q = bld_go_quote(s1, strlen(s1));
    CHECK_STR_EQ(q, "\"tab\\there \\\"q\\\" \\\\ é \\x01 \\x7f\"");
    free(q);
    q = bld_go_quote("\xff\xfe bad", strlen("\xff\xfe bad"));
    CHECK_STR_EQ(q, "\"\\xff\\xfe bad\"");
    free(q);
    const char *s3 = "\xc2\xa0nbsp \xe2\x80\xa8 \xf0\x9f\x90\xb3";
    q = bld_go_quote(s3, strlen(s3));
    CHECK_STR_EQ(q, "\"\\u00a0nbsp \\u2028 \xf0\x9f\x90\xb3\"");
    free(q);
}

static char *problems_of(const char *text)
{
    struct bld_dockerfile *df = NULL;
    struct bld_problem *p = NULL;
    size_t n = 0;
    char *out = NULL;
    if (bld_dockerfile_parse(text, strlen(text), "D", &df, NULL) != 0)
        return strdup("parse error");
    bld_dockerfile_check(df, &p, &n, NULL);
    size_t size = 1;
    for (size_t i = 0; i < n; i++)
        size += strlen(p[i].rule) + 16;
    out = calloc(1, size);
    for (size_t i = 0; i < n; i++)
        sprintf(out + strlen(out), "%d:%s;", p[i].line, p[i].rule);
    bld_problems_free(p, n);
    bld_dockerfile_free(df);
    return out;
}

#define CHECK_PROBLEMS(text, expected)                                                             \
    do {                                                                                           \
        char *p_ = problems_of(text);                                                              \
        CHECK_STR_EQ(p_, expected);                                                                \
        free(p_);                                                                                  \
    } while (0)

/* Heredoc words as BuildKit's ^(\d*)<<(-?)\s*([^<]*)$ over the line's
 * words, where the lexer keeps "<<" and the blanks after it together. */
static void test_heredoc_forms(void)
{
    struct bld_dockerfile *df = NULL;
    const char *text = "FROM a\n"
                       "RUN << EOF\n" /* blank after << : a heredoc */
                       "FROM not-an-instruction\n"
                       "EOF\n"
                       "RUN cat 3<<\t\"E O\"\n" /* fd, tab, quoted name with a blank */
                       "x\n"
                       "E O\n"
                       "RUN <<- EOF\n"            /* "<<-" alone is no heredoc */
                       "RUN echo '<<X' \"<<Y\"\n" /* quoted: none */
                       "RUN <<\\Z\n"              /* an escape does not stop expansion */
                       "$A\n"
                       "Z\n"
                       "RUN echo 'open <<W\n" /* the lexer fails: no heredoc */
                       "RUN <<T\n"
                       "T\r\r\n" /* every trailing \r goes */
                       "ONBUILD RUN << O\n"
                       "o\n"
                       "O\n";
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_dockerfile_parse(text, strlen(text), "D", &df, &err), 0);
    if (df == NULL) {
        fprintf(stderr, "  %s\n", sw_error_message(err));
        sw_error_clear(&err);
        return;
    }
    bld_node **in = df->root->children;
    CHECK_INT_EQ(df->root->n_children, 9);
    if (df->root->n_children == 9) {
        CHECK_INT_EQ(in[1]->n_heredocs, 1);
        CHECK_STR_EQ(in[1]->heredocs[0].name, "EOF");
        CHECK_STR_EQ(in[1]->heredocs[0].content, "FROM not-an-instruction\n");
        CHECK_INT_EQ(in[2]->n_heredocs, 1);
        CHECK_STR_EQ(in[2]->heredocs[0].name, "E O");
        CHECK_INT_EQ(in[2]->heredocs[0].fd, 3);
        CHECK_INT_EQ(in[2]->heredocs[0].expand, 0);
        CHECK_INT_EQ(in[3]->n_heredocs, 0);
        CHECK_INT_EQ(in[4]->n_heredocs, 0);
        CHECK_INT_EQ(in[5]->n_heredocs, 1);
        CHECK_STR_EQ(in[5]->heredocs[0].name, "Z");
        CHECK_INT_EQ(in[5]->heredocs[0].expand, 1);
        CHECK_INT_EQ(in[6]->n_heredocs, 0);
        CHECK_INT_EQ(in[7]->n_heredocs, 1);
        CHECK_STR_EQ(in[7]->heredocs[0].content, "");
        CHECK_INT_EQ(in[8]->next->children[0]->n_heredocs, 1);
        CHECK_STR_EQ(in[8]->next->children[0]->heredocs[0].content, "o\n");
    }
    bld_dockerfile_free(df);
}

/* Go's bufio.Scanner stops at a line of more than 65,535 bytes. */
static void test_long_lines(void)
{
    size_t max = 65535;
    char *text = malloc(max + 64);
    /* "FROM a\n" then "RUN " and x's making a line of exactly max bytes */
    strcpy(text, "FROM a\nRUN ");
    memset(text + 11, 'x', max - 4);
    strcpy(text + 11 + max - 4, "\n");
    char *d = dump(text);
    CHECK(strncmp(d, "(from \"a\")\n(run \"xxx", 20) == 0);
    free(d);
    strcpy(text + 11 + max - 4, "x\n"); /* one byte more */
    d = dump(text);
    CHECK_STR_EQ(d, "ERR: Dockerfile:2: dockerfile line greater than max allowed size of 65535");
    free(d);
    text[11 + max - 3] = '\0'; /* the same without the newline */
    d = dump(text);
    CHECK_STR_EQ(d, "ERR: Dockerfile:2: dockerfile line greater than max allowed size of 65535");
    free(d);
    /* as in BuildKit, nothing read before it: "file with no instructions" */
    d = dump(text + 7);
    CHECK(strstr(d, "file with no instructions") != NULL);
    free(d);
    free(text);
}

/* Go's encoding/json: \u0000 is a valid character, invalid UTF-8 is U+FFFD. */
static void test_json_nul(void)
{
    CHECK_DUMP("FROM a\nCMD [\"a\\u0000b\", \"c\"]\n", "(from \"a\")\n(cmd \"a\\x00b\" \"c\")\n");
    CHECK_DUMP("FROM a\nCMD [\"\xff\"]\n", "(from \"a\")\n(cmd \"\xEF\xBF\xBD\")\n");
    /* a surrogate without its pair is U+FFFD too; a pair is one character */
    CHECK_DUMP("FROM a\nCMD [\"\\ud800x\", \"\\udc00\\ud800\"]\n",
               "(from \"a\")\n(cmd \"\xEF\xBF\xBDx\" \"\xEF\xBF\xBD\xEF\xBF\xBD\")\n");
    CHECK_DUMP("FROM a\nCMD [\"\\ud83d\\ude00\"]\n", "(from \"a\")\n(cmd \"\xF0\x9F\x98\x80\")\n");
    /* outside a string nothing changes: still not JSON */
    CHECK_DUMP("FROM a\nCMD [\\ud800]\n", "(from \"a\")\n(cmd \"[\\\\ud800]\")\n");
    struct bld_dockerfile *df = NULL;
    const char *text = "FROM a\nRUN [\"x\\u0000y\"]\n";
    CHECK_INT_EQ(bld_dockerfile_parse(text, strlen(text), "D", &df, NULL), 0);
    if (df) {
        const bld_node *run = df->root->children[1];
        CHECK_INT_EQ(run->is_json, 1);
        CHECK_INT_EQ(run->next->value_len, 3);
        CHECK(memcmp(run->next->value, "x\0y", 3) == 0);
        bld_dockerfile_free(df);
    }
}

static void test_check(void)
{
    CHECK_PROBLEMS("FROM a\nRUN make\nCMD [\"app\"]\n", "");
    CHECK_PROBLEMS("FROM a\nRUNN make\n", "2:UnknownInstruction;");
    CHECK_PROBLEMS("RUN x\n", "1:NoFromInstruction;1:NoFromInstruction;");
    CHECK_PROBLEMS("ARG V\nFROM a:$V\nFROM b:$W\n", "3:UndefinedArgInFrom;");
    CHECK_PROBLEMS("FROM a:$TARGETARCH\n", "");
    CHECK_PROBLEMS("FROM a\nENV X=$V\nARG V\n", "2:ArgUsedBeforeDeclaration;");
    CHECK_PROBLEMS("FROM a\nARG V\nENV X=$V\n", "");
    CHECK_PROBLEMS("FROM a\nCMD [ls -l]\n", "2:InvalidJSONForm;");
    CHECK_PROBLEMS("FROM a\nCMD ls -l\n", "2:JSONArgsRecommended;");
    CHECK_PROBLEMS("FROM a\nMAINTAINER me\n", "2:MaintainerDeprecated;");
    CHECK_PROBLEMS("FROM a AS x\nFROM b AS X\n", "2:DuplicateStageName;");
    CHECK_PROBLEMS("FROM a as x\n", "1:FromAsCasing;");
    CHECK_PROBLEMS("from a as x\n", "");
    CHECK_PROBLEMS("FROM a AS build\nFROM b\nCOPY --from=biuld /x /y\nCOPY --from=build /x /y\n"
                   "COPY --from=0 /x /y\nCOPY --from=alpine:3 /x /y\n",
                   "3:UndefinedStage;");
    CHECK_PROBLEMS("FROM a\nENV K v\n", "2:LegacyKeyValueFormat;");
}

int main(void)
{
    RUN(test_instructions_and_arguments);
    RUN(test_flags);
    RUN(test_continuations_comments_directives);
    RUN(test_heredocs);
    RUN(test_heredoc_forms);
    RUN(test_long_lines);
    RUN(test_json_nul);
    RUN(test_go_quote);
    RUN(test_check);
    return TEST_EXIT();
}
