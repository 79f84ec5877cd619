/*
 * compress.h - streaming layer-blob pipelines.
 *
 * Writing: an uncompressed tar stream goes in, its sha256 (the layer's diff
 * ID) is taken on the way, the bytes are compressed with gzip or zstd, the
 * sha256 of the compressed bytes (the blob digest) is taken, and the
 * compressed bytes are handed to a sink callback (typically a registry blob
 * writer). One pass, fixed-size buffers: a layer is never held in memory.
 * The output is deterministic: the gzip header carries no file name, no
 * mtime and a fixed OS byte, and the level is fixed, so the same input gives
 * the same bytes (and digest) on every run and every machine with the same
 * zlib/zstd.
 *
 * Reading: a decompressor that detects gzip, zstd, bzip2, xz (and plain
 * bytes) by content - gzip through zlib (which checks the CRC, unlike
 * libarchive's filter), the rest through libarchive's raw format - fed
 * either from a file descriptor or from a read callback (so it can sit on
 * top of an entry of another archive).
 */
#ifndef SW_COMPRESS_H
#define SW_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/hash.h"

enum sw_compression {
    SW_COMPRESSION_NONE = 0,
    SW_COMPRESSION_GZIP,
    SW_COMPRESSION_ZSTD,
};

/* Receives compressed bytes; returns 0 or a negative error (filling err),
 * which stops the pipeline and is passed back to the caller unchanged. */
typedef int (*sw_compress_sink_fn)(void *ctx, const void *buf, size_t len, sw_error **err);

/* "gzip" / "zstd" / "none" -> the enum; -1 for anything else. */
int sw_compression_parse(const char *name);

/* The OCI layer media type for a compression:
 * application/vnd.oci.image.layer.v1.tar(+gzip|+zstd). Static string. */
const char *sw_compression_oci_media_type(enum sw_compression algo);

/* The Docker schema 2 layer media type (gzip only exists there; zstd and
 * none get the OCI type, as containers/image does). Static string. */
const char *sw_compression_docker_media_type(enum sw_compression algo);

typedef struct sw_compressor sw_compressor;

/* Starts a pipeline. level 0 picks the fixed default (gzip 6, zstd 3);
 * SW_COMPRESSION_NONE passes bytes through (diff ID == digest). *out is
 * owned by the caller: sw_compress_finish or sw_compress_free. */
int sw_compress_new(enum sw_compression algo, int level, sw_compress_sink_fn sink, void *sink_ctx,
                    sw_compressor **out, sw_error **err);

/* Feeds uncompressed bytes. */
int sw_compress_write(sw_compressor *c, const void *buf, size_t len, sw_error **err);

/* Results of a finished pipeline. */
struct sw_compress_result {
    char diff_id[SW_DIGEST_MAX]; /* sha256 of the uncompressed bytes */
    char digest[SW_DIGEST_MAX];  /* sha256 of the compressed bytes */
    int64_t uncompressed_size;
    int64_t compressed_size;
};

/* The caller's sink hashes the compressed bytes itself (a blob writer
 * does): the compressor leaves result->digest empty instead of hashing
 * them a second time. Call before the first write. */
void sw_compress_skip_digest(sw_compressor *c);

/* Flushes the compressor's tail into the sink and fills *result. Does not
 * free the compressor (sw_compress_free does, in every case). */
int sw_compress_finish(sw_compressor *c, struct sw_compress_result *result, sw_error **err);

/* Accepts NULL. */
void sw_compress_free(sw_compressor *c);

/* A source of bytes for a decompressor: fills buf with up to len bytes and
 * sets *got (0 at end of stream); returns 0 or a negative error. */
typedef int (*sw_source_fn)(void *ctx, void *buf, size_t len, size_t *got, sw_error **err);

typedef struct sw_decompressor sw_decompressor;

/* Opens a decompressor over fd (not closed, not owned). `name` is used in
 * error messages (a file name or "layer 2 of x.tar"). */
int sw_decompress_open_fd(int fd, const char *name, sw_decompressor **out, sw_error **err);

/* Opens a decompressor over a callback source. */
int sw_decompress_open_source(sw_source_fn source, void *source_ctx, const char *name,
                              sw_decompressor **out, sw_error **err);

/* Reads up to len decompressed bytes; *got == 0 at the end. A corrupt or
 * truncated stream is SW_EINVAL naming the source. */
int sw_decompress_read(sw_decompressor *d, void *buf, size_t len, size_t *got, sw_error **err);

/* The compression detected ("gzip", "zstd", "bzip2", "xz", "none", ...);
 * valid after the first read. Static string. */
const char *sw_decompress_format(const sw_decompressor *d);

/* Accepts NULL. */
void sw_decompress_close(sw_decompressor *d);

#endif
