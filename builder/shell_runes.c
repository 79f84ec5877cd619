/*
 * shell_runes.c - UTF-8 and the Unicode classes of word expansion, as Go's
 * utf8 and unicode packages give them (see shell_lex.c).
 */
#include "builder/shell_lex_internal.h"

#include <stdint.h>

#include "builder/shell_lex_unicode.h"

/* ---- UTF-8 and Unicode classes, as Go ------------------------------------ */

/* utf8.DecodeRune: (RuneError, 1) for an invalid or incomplete sequence. */
int32_t bld_shell_decode_rune(const unsigned char *s, size_t len, size_t *width)
{
    if (len == 0) {
        *width = 0;
        return RUNE_EOF;
    }
    unsigned c = s[0];
    size_t n;
    uint32_t r;
    unsigned lo = 0x80, hi = 0xBF;
    *width = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        r = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        r = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        r = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return RUNE_ERROR;
    }
    if (len < 2 || s[1] < lo || s[1] > hi)
        return RUNE_ERROR;
    r = (r << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < n; i++) {
        if (i >= len || s[i] < 0x80 || s[i] > 0xBF)
            return RUNE_ERROR;
        r = (r << 6) | (s[i] & 0x3F);
    }
    *width = n;
    return (int32_t)r;
}

void bld_shell_put_rune(sw_strbuf *sb, int32_t r)
{
    char b[4];
    uint32_t u = (uint32_t)r;
    if (r < 0 || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
        u = RUNE_ERROR;
    if (u < 0x80) {
        b[0] = (char)u;
        sw_strbuf_append(sb, b, 1);
    } else if (u < 0x800) {
        b[0] = (char)(0xC0 | (u >> 6));
        b[1] = (char)(0x80 | (u & 0x3F));
        sw_strbuf_append(sb, b, 2);
    } else if (u < 0x10000) {
        b[0] = (char)(0xE0 | (u >> 12));
        b[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        b[2] = (char)(0x80 | (u & 0x3F));
        sw_strbuf_append(sb, b, 3);
    } else {
        b[0] = (char)(0xF0 | (u >> 18));
        b[1] = (char)(0x80 | ((u >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((u >> 6) & 0x3F));
        b[3] = (char)(0x80 | (u & 0x3F));
        sw_strbuf_append(sb, b, 4);
    }
}

static int in_ranges(const uint32_t (*ranges)[2], size_t n, int32_t r)
{
    size_t lo = 0, hi = n;
    if (r < 0)
        return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint32_t)r < ranges[mid][0])
            hi = mid;
        else if ((uint32_t)r > ranges[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* unicode.IsLetter / unicode.IsDigit */
int bld_shell_go_is_letter(int32_t r)
{
    if (r < 0x80)
        return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
    return in_ranges(unicode_letters, sizeof(unicode_letters) / sizeof(unicode_letters[0]), r);
}

int bld_shell_go_is_digit(int32_t r)
{
    if (r < 0x80)
        return r >= '0' && r <= '9';
    return in_ranges(unicode_digits, sizeof(unicode_digits) / sizeof(unicode_digits[0]), r);
}

/* unicode.IsSpace */
int bld_shell_go_is_space(int32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return 1;
    default:
        return r >= 0x2000 && r <= 0x200A;
    }
}
