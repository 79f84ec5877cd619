/*
 * test_dockerfile_check.c - builder/dockerfile_check.c: the rules that
 * follow BuildKit's linter (WorkdirRelativePath, SecretsUsedInArgOrEnv)
 * with the cases its documentation and dispatcher describe, and Slipway's
 * InvalidJSONForm, which must leave shell tests alone.
 */
#include "builder/dockerfile.h"
#include "builder/dockerfile_check.h"
#include "tests/unit/test.h"

/* "LINE:Rule;" for each problem, or "parse error". */
static char *problems_of(const char *text, char **message)
{
    struct bld_dockerfile *df = NULL;
    struct bld_problem *p = NULL;
    size_t n = 0;
    if (bld_dockerfile_parse(text, strlen(text), "D", &df, NULL) != 0)
        return strdup("parse error");
    if (bld_dockerfile_check(df, &p, &n, NULL) != 0) {
        bld_dockerfile_free(df);
        return strdup("check error");
    }
    size_t size = 1;
    for (size_t i = 0; i < n; i++)
        size += strlen(p[i].rule) + 16;
    char *out = calloc(1, size);
    for (size_t i = 0; out && i < n; i++)
        sprintf(out + strlen(out), "%d:%s;", p[i].line, p[i].rule);
    if (message)
        *message = n > 0 ? strdup(p[n - 1].message) : NULL;
    bld_problems_free(p, n);
    bld_dockerfile_free(df);
    return out;
}

#define CHECK_PROBLEMS(text, expected)                                                             \
    do {                                                                                           \
        char *p_ = problems_of(text, NULL);                                                        \
        CHECK_STR_EQ(p_, expected);                                                                \
        free(p_);                                                                                  \
    } while (0)

#define CHECK_MESSAGE(text, expected)                                                              \
    do {                                                                                           \
        char *m_ = NULL;                                                                           \
        free(problems_of(text, &m_));                                                              \
        CHECK_STR_EQ(m_, expected);                                                                \
        free(m_);                                                                                  \
    } while (0)

static void test_invalid_json_form(void)
{
    /* shell tests are shell, not broken JSON */
    CHECK_PROBLEMS("FROM a\nRUN [ \"$X\" = y ] && echo yes\n", "");
    CHECK_PROBLEMS("FROM a\nRUN [ -f /etc/os-release ]\n", "");
    CHECK_PROBLEMS("FROM a\nRUN [[ -n \"$X\" ]] || exit 1\n", "");
    CHECK_PROBLEMS("FROM a\nRUN [ \"$A\" = \"$B\" ]\n", "");
    /* what looks like an attempt at the exec form */
    CHECK_PROBLEMS("FROM a\nCMD [ls -l]\n", "2:InvalidJSONForm;");
    CHECK_PROBLEMS("FROM a\nCMD ['ls', '-l']\n", "2:InvalidJSONForm;");
    CHECK_PROBLEMS("FROM a\nENTRYPOINT [ 'app' ]\n", "2:InvalidJSONForm;");
    CHECK_PROBLEMS("FROM a\nRUN [ \"a\", b ]\n", "2:InvalidJSONForm;");
    CHECK_PROBLEMS("FROM a\nRUN [\"ok\"]\n", "");
}

static void test_workdir_relative_path(void)
{
    CHECK_PROBLEMS("FROM a\nWORKDIR app\n", "2:WorkdirRelativePath;");
    CHECK_MESSAGE("FROM a\nWORKDIR app\n",
                  "Relative workdir \"app\" can have unexpected results if the base image changes");
    /* after an absolute WORKDIR a relative one is fine */
    CHECK_PROBLEMS("FROM a\nWORKDIR /srv\nWORKDIR app\n", "");
    /* only the first WORKDIR of a stage is checked */
    CHECK_PROBLEMS("FROM a\nWORKDIR app\nWORKDIR sub\n", "2:WorkdirRelativePath;");
    /* each stage starts again, unless it is built on a stage that set one */
    CHECK_PROBLEMS("FROM a AS base\nWORKDIR /srv\nFROM b\nWORKDIR app\n", "4:WorkdirRelativePath;");
    CHECK_PROBLEMS("FROM a AS base\nWORKDIR /srv\nFROM base\nWORKDIR app\n", "");
    CHECK_PROBLEMS("FROM a AS Base\nWORKDIR /srv\nFROM BASE AS two\nFROM two\nWORKDIR app\n", "");
    CHECK_PROBLEMS("FROM a\nWORKDIR $HOME/app\n", "");
}

static void test_secrets_in_arg_or_env(void)
{
    CHECK_PROBLEMS("FROM a\nARG GITHUB_TOKEN\n", "2:SecretsUsedInArgOrEnv;");
    CHECK_MESSAGE("FROM a\nARG GITHUB_TOKEN\n",
                  "Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")");
    CHECK_PROBLEMS("FROM a\nENV DATABASE_PASSWORD=x\n", "2:SecretsUsedInArgOrEnv;");
    CHECK_MESSAGE("FROM a\nENV api_key=x\n",
                  "Do not use ARG or ENV instructions for sensitive data (ENV \"api_key\")");
    CHECK_PROBLEMS("FROM a\nARG secret_MESSAGE=hi\n", "2:SecretsUsedInArgOrEnv;");
    CHECK_PROBLEMS("FROM a\nARG AUTH\n", "2:SecretsUsedInArgOrEnv;");
    CHECK_PROBLEMS("FROM a\nARG MY_APIKEY\n", "2:SecretsUsedInArgOrEnv;");
    /* whole '_' parts only */
    CHECK_PROBLEMS("FROM a\nARG TOKENIZER\nARG AUTHOR\nARG KEYS\nARG MONKEY\n", "");
    /* the allow list wins: public, file, version */
    CHECK_PROBLEMS("FROM a\nARG PUBLIC_KEY\nENV SECRET_FILE=/run/x\nARG TOKEN_VERSION=2\n", "");
    /* ARGs before the first FROM are not checked (BuildKit lints dispatched
     * stages only) */
    CHECK_PROBLEMS("ARG NPM_TOKEN\nFROM a\n", "");
    /* every key of a multi-key ENV / ARG */
    CHECK_PROBLEMS("FROM a\nENV A=1 PASSWD=2 B=3\n", "2:SecretsUsedInArgOrEnv;");
}

int main(void)
{
    RUN(test_invalid_json_form);
    RUN(test_workdir_relative_path);
    RUN(test_secrets_in_arg_or_env);
    return TEST_EXIT();
}
