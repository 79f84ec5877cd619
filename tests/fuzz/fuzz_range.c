/*
 * fuzz_range.c - libFuzzer target for the Range header of blob GETs and
 * the Content-Range header of upload chunks (server/http.c). Besides no
 * crash, the answers must be usable as they are: a satisfiable range lies
 * inside the resource, a chunk range is ordered and non-negative.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

static const int64_t sizes[] = { 0, 1, 2, 100, 4096, INT64_MAX / 2, INT64_MAX };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    if (header == NULL)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int64_t first = -7, last = -7;
        int rc = srv_parse_range(header, sizes[i], &first, &last);
        if (rc == 0 && !(first >= 0 && first <= last && last < sizes[i]))
            abort();
        if (rc != 0 && rc != 1 && rc != -1)
            abort();
    }
    int64_t first = -7, last = -7;
    if (srv_parse_content_range(header, &first, &last) == 0 && !(first >= 0 && first <= last))
        abort();
    free(header);
    return 0;
}
