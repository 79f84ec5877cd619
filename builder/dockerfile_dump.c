/*
 * dockerfile_dump.c - the parse tree as BuildKit's Node.Dump prints it
 * (`slipway dockerfile dump`), with strings quoted as Go's %q does.
 */
#include "builder/dockerfile_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

/* ---- Dump ------------------------------------------------------------------ */

/* Go's unicode.IsPrint, closely enough for the dump: graphic characters
 * and the ASCII space, not controls, formats, surrogates, private use,
 * non-characters, nor the line/paragraph separators. */
static int go_is_print(unsigned r)
{
    if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad)
        return 0;
    /* space separators other than the ASCII space are not "print" in Go */
    if (r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x202f || r == 0x205f || r == 0x3000)
        return 0;
    if (r == 0x2028 || r == 0x2029 || (r >= 0x200b && r <= 0x200f) ||
        (r >= 0x202a && r <= 0x202e) || (r >= 0x2060 && r <= 0x206f) || r == 0xfeff)
        return 0;
    if ((r >= 0xd800 && r <= 0xdfff) || (r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000)
        return 0;
    if ((r & 0xfffe) == 0xfffe || (r >= 0xfdd0 && r <= 0xfdef) || (r >= 0xfff9 && r <= 0xfffb))
        return 0;
    return 1;
}

/* Decodes one UTF-8 rune; returns its length, or 0 for an invalid byte. */
size_t bld_df_utf8_decode(const unsigned char *s, size_t len, unsigned *rune)
{
    if (s[0] < 0x80) {
        *rune = s[0];
        return 1;
    }
    size_t n;
    unsigned min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        *rune = s[0] & 0x1f;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        *rune = s[0] & 0x0f;
        min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        *rune = s[0] & 0x07;
        min = 0x10000;
    } else
        return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *rune = (*rune << 6) | (s[i] & 0x3f);
    }
    if (*rune < min || *rune > 0x10ffff || (*rune >= 0xd800 && *rune <= 0xdfff))
        return 0;
    return n;
}

static void go_quote_into(sw_strbuf *sb, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    sw_strbuf_putc(sb, '"');
    for (size_t i = 0; i < len;) {
        unsigned r;
        size_t n = bld_df_utf8_decode(p + i, len - i, &r);
        if (n == 0) {
            sw_strbuf_printf(sb, "\\x%02x", p[i]);
            i++;
            continue;
        }
        if (r == '"' || r == '\\') {
            sw_strbuf_putc(sb, '\\');
            sw_strbuf_putc(sb, (char)r);
        } else if (go_is_print(r)) {
            sw_strbuf_append(sb, p + i, n);
        } else {
            switch (r) {
            case '\a':
                sw_strbuf_puts(sb, "\\a");
                break;
            case '\b':
                sw_strbuf_puts(sb, "\\b");
                break;
            case '\f':
                sw_strbuf_puts(sb, "\\f");
                break;
            case '\n':
                sw_strbuf_puts(sb, "\\n");
                break;
            case '\r':
                sw_strbuf_puts(sb, "\\r");
                break;
            case '\t':
                sw_strbuf_puts(sb, "\\t");
                break;
            case '\v':
                sw_strbuf_puts(sb, "\\v");
                break;
            default:
                if (r < ' ' || r == 0x7f)
                    sw_strbuf_printf(sb, "\\x%02x", r);
                else if (r < 0x10000)
                    sw_strbuf_printf(sb, "\\u%04x", r);
                else
                    sw_strbuf_printf(sb, "\\U%08x", r);
            }
        }
        i += n;
    }
    sw_strbuf_putc(sb, '"');
}

char *bld_go_quote(const char *s, size_t len)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    go_quote_into(&sb, s, len);
    return sw_strbuf_detach(&sb);
}

static void dump_into(sw_strbuf *sb, const bld_node *node)
{
    size_t start = sb->len;
    for (const char *c = node->value; *c; c++)
        sw_strbuf_putc(sb, (char)tolower((unsigned char)*c));
    if (node->n_flags > 0) {
        sw_strbuf_puts(sb, " [");
        for (size_t i = 0; i < node->n_flags; i++) {
            if (i)
                sw_strbuf_putc(sb, ' ');
            go_quote_into(sb, node->flags[i], strlen(node->flags[i]));
        }
        sw_strbuf_putc(sb, ']');
    }
    for (size_t i = 0; i < node->n_children; i++) {
        sw_strbuf_putc(sb, '(');
        dump_into(sb, node->children[i]);
        sw_strbuf_puts(sb, ")\n");
    }
    for (const bld_node *n = node->next; n; n = n->next) {
        sw_strbuf_putc(sb, ' ');
        if (n->n_children > 0)
            dump_into(sb, n);
        else
            go_quote_into(sb, n->value, n->value_len);
    }
    /* strings.TrimSpace of this node's text */
    if (sb->failed)
        return;
    size_t a = start;
    while (a < sb->len && isspace((unsigned char)sb->data[a]))
        a++;
    size_t b = sb->len;
    while (b > a && isspace((unsigned char)sb->data[b - 1]))
        b--;
    memmove(sb->data + start, sb->data + a, b - a);
    sb->len = start + (b - a);
    sb->data[sb->len] = '\0';
}

char *bld_dockerfile_dump(const struct bld_dockerfile *df)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    dump_into(&sb, df->root);
    sw_strbuf_putc(&sb, '\n');
    return sw_strbuf_detach(&sb);
}
