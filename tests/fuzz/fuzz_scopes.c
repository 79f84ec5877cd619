/*
 * fuzz_scopes.c - libFuzzer target for the token scope grammar
 * (registry/access.c): parse, and when it parses, format and parse again
 * to the same scopes, and match a few names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/access.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct reg_scopes scopes = { 0 }, again = { 0 };
    if (reg_scopes_parse(text, &scopes, NULL) == 0) {
        char *formatted = reg_scopes_format(&scopes);
        if (formatted == NULL || reg_scopes_parse(formatted, &again, NULL) != 0 ||
            again.n != scopes.n)
            abort();
        for (size_t i = 0; i < scopes.n; i++)
            if (strcmp(scopes.items[i].pattern, again.items[i].pattern) != 0 ||
                scopes.items[i].access != again.items[i].access)
                abort();
        (void)reg_scopes_access(&scopes, "team/app");
        (void)reg_scopes_access(&scopes, scopes.items[0].pattern);
        free(formatted);
    }
    reg_scopes_clear(&scopes);
    reg_scopes_clear(&again);
    free(text);
    return 0;
}
