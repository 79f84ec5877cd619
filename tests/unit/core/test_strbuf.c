/*
 * test_strbuf.c - the growable string of core/strbuf.c: appends of every
 * kind, growth past the first allocation, binary data, reset, detach of an
 * empty buffer, and a failed buffer that refuses further work.
 */
#include "core/strbuf.h"
#include "tests/unit/test.h"

static void test_appends(void)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    CHECK(sb.data == NULL);
    sw_strbuf_puts(&sb, "hello");
    sw_strbuf_putc(&sb, ' ');
    sw_strbuf_printf(&sb, "%s #%d", "world", 42);
    sw_strbuf_append(&sb, "!", 1);
    sw_strbuf_append(&sb, NULL, 0);
    CHECK_STR_EQ(sb.data, "hello world #42!");
    CHECK_INT_EQ(sb.len, strlen("hello world #42!"));
    CHECK(sb.cap > sb.len);
    sw_strbuf_free(&sb);
    CHECK(sb.data == NULL);
    CHECK_INT_EQ(sb.len, 0);
}

static void test_growth(void)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    for (int i = 0; i < 10000; i++)
        sw_strbuf_printf(&sb, "%04d", i % 10000);
    CHECK_INT_EQ(sb.len, 40000);
    CHECK(strncmp(sb.data, "000000010002", 12) == 0);
    CHECK(strcmp(sb.data + sb.len - 4, "9999") == 0);
    CHECK(sb.failed == 0);
    sw_strbuf_free(&sb);
}

static void test_binary(void)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_append(&sb, "a\0b", 3);
    CHECK_INT_EQ(sb.len, 3);
    CHECK(memcmp(sb.data, "a\0b", 4) == 0); /* still NUL-terminated */
    sw_strbuf_free(&sb);
}

static void test_reset_and_detach(void)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_reset(&sb); /* nothing allocated yet: harmless */
    char *empty = sw_strbuf_detach(&sb);
    CHECK_STR_EQ(empty, "");
    free(empty);

    sw_strbuf_puts(&sb, "first");
    sw_strbuf_reset(&sb);
    CHECK_STR_EQ(sb.data, "");
    sw_strbuf_puts(&sb, "second");
    char *s = sw_strbuf_detach(&sb);
    CHECK_STR_EQ(s, "second");
    CHECK(sb.data == NULL);
    CHECK_INT_EQ(sb.len, 0);
    free(s);
    sw_strbuf_free(&sb);
}

static void test_failed_buffer(void)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_puts(&sb, "partial");
    sb.failed = 1; /* as after an allocation failure */
    sw_strbuf_puts(&sb, " more");
    sw_strbuf_printf(&sb, "%d", 1);
    CHECK_STR_EQ(sb.data, "partial");
    CHECK(sw_strbuf_detach(&sb) == NULL);
    CHECK(sb.data == NULL);
    CHECK_INT_EQ(sb.failed, 0); /* detach freed it: usable again */
    sw_strbuf_puts(&sb, "again");
    CHECK_STR_EQ(sb.data, "again");
    sw_strbuf_free(&sb);
}

/* both vector frees accept NULL; the counted one frees past a NULL entry
 * (a strdup that failed midway); ASan/LSan in CI see a leak or a double free */
static void test_strv_free(void)
{
    sw_strv_free(NULL);
    sw_strv_free_n(NULL, 3);
    char **v = calloc(4, sizeof(char *));
    CHECK(v != NULL);
    if (v == NULL)
        return;
    v[0] = strdup("a");
    v[2] = strdup("c"); /* v[1] left NULL */
    sw_strv_free_n(v, 3);
    char **w = calloc(3, sizeof(char *));
    CHECK(w != NULL);
    if (w == NULL)
        return;
    w[0] = strdup("x");
    w[1] = strdup("y");
    sw_strv_free(w);
}

int main(void)
{
    RUN(test_appends);
    RUN(test_growth);
    RUN(test_binary);
    RUN(test_reset_and_detach);
    RUN(test_failed_buffer);
    RUN(test_strv_free);
    return TEST_EXIT();
}
