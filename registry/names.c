/*
 * names.c - the OCI Distribution Specification's grammars for repository
 * names, tags and digests, written out by hand.
 *
 * A regex library would do, but the grammars are small and a hand-written
 * validator makes the edge cases (separator runs, case of hex digits,
 * length limits) explicit and keeps the hot path allocation-free.
 */
#include "registry/names.h"

#include <string.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_lower_hex(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. Returns the
 * number of characters consumed, 0 when s does not start with a valid
 * component; the component ends at '/' or the end of the string. */
static size_t component_length(const char *s)
{
    size_t i = 0;
    for (;;) {
        size_t alnum_start = i;
        while (is_lower_alnum(s[i]))
            i++;
        if (i == alnum_start)
            return 0; /* empty run: leading, trailing or doubled separator */
        if (s[i] == '\0' || s[i] == '/')
            return i;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (s[i] == '-')
                i++;
        } else {
            return 0;
        }
    }
}

int reg_name_valid(const char *name)
{
    if (name == NULL || *name == '\0' || strlen(name) > REG_NAME_MAX)
        return 0;
    const char *p = name;
    for (;;) {
        size_t len = component_length(p);
        if (len == 0)
            return 0;
        p += len;
        if (*p == '\0')
            return 1;
        p++; /* '/', and another component must follow */
    }
}

int reg_name_is_remote(const char *name)
{
    size_t len = strlen(REG_REMOTE_PREFIX);
    return name != NULL && strncmp(name, REG_REMOTE_PREFIX, len) == 0 &&
           strlen(name) <= REG_NAME_MAX && reg_name_valid(name + len);
}

int reg_name_valid_stored(const char *name)
{
    return reg_name_valid(name) || reg_name_is_remote(name);
}

int reg_tag_valid(const char *tag)
{
    if (tag == NULL)
        return 0;
    size_t len = strlen(tag);
    if (len == 0 || len > REG_TAG_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = tag[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok)
            return 0;
    }
    return 1;
}

int reg_digest_valid(const char *digest)
{
    size_t hex_len;
    if (digest == NULL)
        return 0;
    if (strncmp(digest, "sha256:", 7) == 0)
        hex_len = 64;
    else if (strncmp(digest, "sha512:", 7) == 0)
        hex_len = 128;
    else
        return 0;
    const char *hex = digest + 7;
    for (size_t i = 0; i < hex_len; i++)
        if (!is_lower_hex(hex[i]))
            return 0; /* also catches a short string: '\0' is not hex */
    return hex[hex_len] == '\0';
}

int reg_reference_is_digest(const char *reference)
{
    return reference != NULL && strchr(reference, ':') != NULL;
}
