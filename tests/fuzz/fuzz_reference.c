/*
 * fuzz_reference.c - libFuzzer target for image references (FROM lines,
 * pull arguments, mirrors) and the registry's name/tag/digest checks, plus
 * platform strings. A reference that parses must format to a string that
 * parses again to the same parts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/names.h"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    (void)reg_name_valid(text);
    (void)reg_tag_valid(text);
    if (reg_reference_is_digest(text))
        (void)reg_digest_valid(text);

    sw_error *err = NULL;
    struct reg_ref ref;
    if (reg_ref_parse(text, &ref, &err) == 0) {
        if (ref.domain == NULL || ref.path == NULL || (ref.tag == NULL && ref.digest == NULL))
            abort();
        if (!reg_name_valid(ref.path))
            abort(); /* the path must be a name the registry accepts */
        (void)reg_ref_endpoint_host(ref.domain);
        char *again = reg_ref_format(&ref);
        if (again != NULL) {
            struct reg_ref ref2;
            if (reg_ref_parse(again, &ref2, &err) != 0)
                abort(); /* the canonical form must parse */
            if (!same(ref.domain, ref2.domain) || !same(ref.path, ref2.path) ||
                !same(ref.tag, ref2.tag) || !same(ref.digest, ref2.digest))
                abort();
            reg_ref_release(&ref2);
            free(again);
        }
        reg_ref_release(&ref);
    } else if (err == NULL) {
        abort();
    }
    sw_error_clear(&err);

    struct reg_platform p;
    if (reg_platform_parse(text, &p, &err) == 0) {
        char out[100];
        reg_platform_format(&p, out);
    }
    sw_error_clear(&err);
    free(text);
    return 0;
}
