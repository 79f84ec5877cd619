/*
 * fuzz_s3_xml.c - libFuzzer target for the S3 answers registry/s3.c reads
 * from the network: ListObjectsV2 pages and error bodies. Whatever a
 * (hostile or broken) store sends must give entries with a key and a
 * non-negative size, or a clear error, and never read past the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/s3.h"

static int entry(const char *key, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    (void)mtime, (void)ctx, (void)err;
    if (key == NULL || size < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so reading past the end is an ASan error */
    char *body = malloc(size ? size : 1);
    char *next = NULL, *code = NULL, *message = NULL;
    sw_error *err = NULL;
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    if (reg_s3_parse_list(body, size, entry, NULL, &next, &err) != 0 && next != NULL)
        abort(); /* no token on failure */
    free(next);
    sw_error_clear(&err);
    reg_s3_parse_error(body, size, &code, &message);
    free(code);
    free(message);
    free(body);
    return 0;
}
