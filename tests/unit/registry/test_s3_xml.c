/*
 * test_s3_xml.c - registry/s3.c's readers of S3's XML answers: a
 * ListObjectsV2 page (entities decoded, continuation), and what a broken
 * or hostile store may send (negative sizes, truncated pages without a
 * token, unterminated elements), plus error bodies.
 */
#include <stdlib.h>

#include "registry/s3.h"
#include "tests/unit/test.h"

struct seen {
    int n;
    char keys[4][128];
    int64_t sizes[4];
    int64_t mtimes[4];
};

static int collect(const char *key, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    struct seen *s = ctx;
    (void)err;
    if (s->n < 4) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
        s->sizes[s->n] = size;
        s->mtimes[s->n] = mtime;
    }
    s->n++;
    return 0;
}

static int parse(const char *body, struct seen *s, char **next, sw_error **err)
{
    memset(s, 0, sizeof(*s));
    return reg_s3_parse_list(body, strlen(body), collect, s, next, err);
}

static void test_page(void)
{
    struct seen s;
    char *next = NULL;
    const char *body = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
                       "<NextContinuationToken>a/b+c=</NextContinuationToken>"
                       "<Contents><Key>p/x&amp;y&#47;z</Key><LastModified>2026-12-06T05:00:00.000Z"
                       "</LastModified><Size>1234</Size></Contents>"
                       "<Contents><Key>p/e</Key><Size>0</Size></Contents></ListBucketResult>";
    CHECK_INT_EQ(parse(body, &s, &next, NULL), 0);
    CHECK_INT_EQ(s.n, 2);
    CHECK_STR_EQ(s.keys[0], "p/x&y/z");
    CHECK_INT_EQ(s.sizes[0], 1234);
    CHECK_INT_EQ(s.mtimes[0], 1796533200);
    CHECK_STR_EQ(s.keys[1], "p/e");
    CHECK_INT_EQ(s.sizes[1], 0);
    CHECK_STR_EQ(next, "a/b+c=");
    free(next);
    /* the last page has no token */
    CHECK_INT_EQ(parse("<IsTruncated>false</IsTruncated>", &s, &next, NULL), 0);
    CHECK(next == NULL);
    CHECK_INT_EQ(s.n, 0);
}

static void test_broken_pages(void)
{
    struct seen s;
    char *next = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(parse("<Contents><Key>k</Key><Size>-5</Size></Contents>", &s, &next, &err),
                 SW_EIO);
    CHECK(strstr(sw_error_message(err), "valid size") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(parse("<Contents><Size>5</Size></Contents>", &s, &next, NULL), SW_EIO);
    CHECK_INT_EQ(parse("<Contents><Key>k</Key><Size>5x</Size></Contents>", &s, &next, NULL),
                 SW_EIO);
    CHECK_INT_EQ(parse("<IsTruncated>true</IsTruncated>", &s, &next, &err), SW_EIO);
    CHECK(strstr(sw_error_message(err), "continuation") != NULL);
    CHECK(next == NULL);
    sw_error_clear(&err);
    /* unterminated elements end the page, they are not read past */
    CHECK_INT_EQ(parse("<Contents><Key>k</Key><Size>5</Size>", &s, &next, NULL), 0);
    CHECK_INT_EQ(s.n, 0);
    CHECK_INT_EQ(parse("<Contents><Key>k</Contents>", &s, &next, NULL), SW_EIO);
    CHECK_INT_EQ(parse("<Contents><Key>&#;&#x;&#99999999999;&amp</Key><Size>1</Size></Contents>",
                       &s, &next, NULL),
                 0);
    CHECK_STR_EQ(s.keys[0], "&#;&#x;&#99999999999;&amp");
}

static void test_error_body(void)
{
    char *code = NULL, *message = NULL;
    const char *body = "<Error><Code>NoSuchKey</Code><Message>The key &lt;k&gt; does not exist."
                       "</Message></Error>";
    reg_s3_parse_error(body, strlen(body), &code, &message);
    CHECK_STR_EQ(code, "NoSuchKey");
    CHECK_STR_EQ(message, "The key <k> does not exist.");
    free(code);
    free(message);
    reg_s3_parse_error("<html>502 Bad Gateway</html>", 28, &code, &message);
    CHECK(code == NULL && message == NULL);
}

int main(void)
{
    RUN(test_page);
    RUN(test_broken_pages);
    RUN(test_error_body);
    return TEST_EXIT();
}
