/*
 * fuzz_auth_challenge.c - libFuzzer target for the WWW-Authenticate parser
 * the registry client runs on a remote registry's 401 answer (the header
 * comes from whatever registry a Dockerfile's FROM names).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    if (header == NULL)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';
    struct reg_auth_challenge c;
    sw_error *err = NULL;
    if (reg_auth_challenge_parse(header, &c, &err) == 0) {
        if (c.scheme == NULL)
            abort(); /* success names a scheme */
        if (strcmp(c.scheme, "bearer") != 0 && strcmp(c.scheme, "basic") != 0)
            abort();
        reg_auth_challenge_release(&c);
    } else if (err == NULL) {
        abort();
    }
    sw_error_clear(&err);
    free(header);
    return 0;
}
