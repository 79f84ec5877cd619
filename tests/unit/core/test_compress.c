/*
 * test_compress.c - core/compress.c: the layer pipeline round-trips through
 * the real zlib/zstd decoders, its digests are the sha256 of what went in
 * and what came out, its output is deterministic, and the detecting
 * decompressor reads gzip, zstd, bzip2, xz and plain input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/compress.h"
#include "core/strbuf.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static int strbuf_sink(void *ctx, const void *buf, size_t len, sw_error **err)
{
    sw_strbuf *sb = ctx;
    sw_strbuf_append(sb, buf, len);
    return sb->failed ? sw_error_set(err, SW_ENOMEM, "out of memory") : 0;
}

static int failing_sink(void *ctx, const void *buf, size_t len, sw_error **err)
{
    int *calls = ctx;
    (*calls)++;
    return sw_error_set(err, SW_EIO, "disk full (test)");
}

/* Semi-compressible test data: a tar-like mix of text and noise. */
static unsigned char *make_input(size_t len)
{
    unsigned char *buf = malloc(len);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (i / 4096) % 2 ? (unsigned char)(x >> 16) : (unsigned char)("slipway "[i % 8]);
    }
    return buf;
}

/* Compresses input in odd-sized chunks; returns the compressed bytes. */
static char *compress_all(enum sw_compression algo, const unsigned char *in, size_t len,
                          struct sw_compress_result *res, size_t *out_len)
{
    sw_error *err = NULL;
    sw_strbuf out = SW_STRBUF_INIT;
    sw_compressor *c = NULL;
    CHECK_INT_EQ(sw_compress_new(algo, 0, strbuf_sink, &out, &c, &err), 0);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 7777 ? len - off : 7777;
        CHECK_INT_EQ(sw_compress_write(c, in + off, n, &err), 0);
        off += n;
    }
    CHECK_INT_EQ(sw_compress_finish(c, res, &err), 0);
    sw_compress_free(c);
    if (err)
        fprintf(stderr, "error: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    *out_len = out.len;
    return out.data ? sw_strbuf_detach(&out) : strdup("");
}

static void check_digests(const unsigned char *in, size_t in_len, const char *out, size_t out_len,
                          const struct sw_compress_result *res)
{
    char expect[SW_DIGEST_MAX];
    sw_sha256_digest(in, in_len, expect);
    CHECK_STR_EQ(res->diff_id, expect);
    sw_sha256_digest(out, out_len, expect);
    CHECK_STR_EQ(res->digest, expect);
    CHECK_INT_EQ(res->uncompressed_size, in_len);
    CHECK_INT_EQ(res->compressed_size, out_len);
}

static void test_gzip_round_trip(void)
{
    size_t len = 1000000, out_len = 0, out2_len = 0;
    unsigned char *in = make_input(len);
    struct sw_compress_result res, res2;
    char *out = compress_all(SW_COMPRESSION_GZIP, in, len, &res, &out_len);
    CHECK(out_len > 18 && out_len < len);
    /* gzip magic, deflate, no flags, mtime 0, OS unknown */
    CHECK((unsigned char)out[0] == 0x1f && (unsigned char)out[1] == 0x8b);
    CHECK_INT_EQ(out[2], 8);
    CHECK_INT_EQ(out[3], 0);
    CHECK(out[4] == 0 && out[5] == 0 && out[6] == 0 && out[7] == 0);
    CHECK_INT_EQ((unsigned char)out[9], 255);
    check_digests(in, len, out, out_len, &res);

    /* decompress with zlib itself */
    unsigned char *back = malloc(len + 16);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    CHECK_INT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)out;
    zs.avail_in = (uInt)out_len;
    zs.next_out = back;
    zs.avail_out = (uInt)(len + 16);
    CHECK_INT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
    CHECK_INT_EQ(zs.total_out, len);
    CHECK(memcmp(back, in, len) == 0);
    inflateEnd(&zs);

    /* deterministic */
    char *out2 = compress_all(SW_COMPRESSION_GZIP, in, len, &res2, &out2_len);
    CHECK_INT_EQ(out2_len, out_len);
    CHECK(memcmp(out, out2, out_len) == 0);
    CHECK_STR_EQ(res2.digest, res.digest);
    free(out2);
    free(back);
    free(out);
    free(in);
}

/* Inflates a (multi-member) gzip stream with zlib, member by member. */
static size_t inflate_members(const char *gz, size_t gz_len, unsigned char *out, size_t cap,
                              int *members)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    CHECK_INT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)gz;
    zs.avail_in = (uInt)gz_len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    *members = 0;
    for (;;) {
        int zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc != Z_STREAM_END) {
            CHECK_INT_EQ(zrc, Z_STREAM_END);
            break;
        }
        (*members)++;
        if (zs.avail_in == 0)
            break;
        CHECK_INT_EQ(inflateReset(&zs), Z_OK);
    }
    size_t n = cap - zs.avail_out; /* total_out restarts with each member */
    inflateEnd(&zs);
    return n;
}

/* The stream inflates member by member (want_members of them) back to
 * the input, and compressing the input again gives the same bytes. */
static void check_members_and_repeat(const unsigned char *in, size_t len, const char *out,
                                     size_t out_len, const struct sw_compress_result *res,
                                     int want_members)
{
    unsigned char *back = malloc(len + 16);
    int members = 0;
    CHECK_INT_EQ(inflate_members(out, out_len, back, len + 16, &members), len);
    CHECK_INT_EQ(members, want_members);
    CHECK(memcmp(back, in, len) == 0);
    struct sw_compress_result res2;
    size_t out2_len = 0;
    char *out2 = compress_all(SW_COMPRESSION_GZIP, in, len, &res2, &out2_len);
    CHECK_INT_EQ(out2_len, out_len);
    CHECK(memcmp(out, out2, out_len) == 0);
    CHECK_STR_EQ(res2.digest, res->digest);
    free(out2);
    free(back);
}

static void test_gzip_large_is_deterministic_members(void)
{
    /* 5 MiB + 1 byte: five full 1 MiB members and a one-byte member,
     * compressed on threads, written in order */
    size_t len = 5 * 1024 * 1024 + 1, out_len = 0;
    unsigned char *in = make_input(len);
    struct sw_compress_result res;
    char *out = compress_all(SW_COMPRESSION_GZIP, in, len, &res, &out_len);
    CHECK(out_len < len);
    check_digests(in, len, out, out_len, &res);
    check_members_and_repeat(in, len, out, out_len, &res, 6);
    free(out);
    free(in);
}

/* A chunk that does not compress is stored (deflate stored blocks, BTYPE
 * 00) in its member; a compressible chunk next to it is still compressed,
 * and the stream is the same on every run. */
static void test_gzip_stores_incompressible_chunks(void)
{
    size_t mib = 1024 * 1024, len = 3 * mib + 100, out_len = 0;
    unsigned char *in = malloc(len);
    uint32_t x = 987654321u;
    for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        /* chunks 0 and 2: noise; chunk 1 and the tail: text */
        in[i] = (i / mib) % 2 == 0 && i < 3 * mib ? (unsigned char)(x >> 24)
                                                  : (unsigned char)("layer text "[i % 11]);
    }
    /* chunk 0 starts as a tar member does: a header block, mostly zeros */
    memset(in, 0, 1024);
    memcpy(in, "data/noise.bin", 14);
    struct sw_compress_result res;
    char *out = compress_all(SW_COMPRESSION_GZIP, in, len, &res, &out_len);
    check_digests(in, len, out, out_len, &res);
    /* the noise costs its size plus stored-block headers, the text little */
    CHECK(out_len > 2 * mib && out_len < 2 * mib + mib / 64);
    /* member 1 (a header, then noise): its first block is a stored one */
    CHECK_INT_EQ((unsigned char)out[10] & 0x06, 0);
    check_members_and_repeat(in, len, out, out_len, &res, 4);
    free(out);
    free(in);
}

static void test_zstd_round_trip(void)
{
    size_t len = 700001, out_len = 0, out2_len = 0;
    unsigned char *in = make_input(len);
    struct sw_compress_result res, res2;
    char *out = compress_all(SW_COMPRESSION_ZSTD, in, len, &res, &out_len);
    CHECK(out_len > 4 && out_len < len);
    check_digests(in, len, out, out_len, &res);

    unsigned char *back = malloc(len + 16);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_inBuffer zin = { out, out_len, 0 };
    ZSTD_outBuffer zout = { back, len + 16, 0 };
    size_t r = ZSTD_decompressStream(dctx, &zout, &zin);
    CHECK(!ZSTD_isError(r));
    CHECK_INT_EQ(r, 0); /* frame complete */
    CHECK_INT_EQ(zout.pos, len);
    CHECK(memcmp(back, in, len) == 0);
    ZSTD_freeDCtx(dctx);

    char *out2 = compress_all(SW_COMPRESSION_ZSTD, in, len, &res2, &out2_len);
    CHECK_INT_EQ(out2_len, out_len);
    CHECK(memcmp(out, out2, out_len) == 0);
    free(out2);
    free(back);
    free(out);
    free(in);
}

static void test_none_and_empty(void)
{
    size_t out_len = 0;
    struct sw_compress_result res;
    unsigned char in[] = "plain bytes";
    char *out = compress_all(SW_COMPRESSION_NONE, in, sizeof(in), &res, &out_len);
    CHECK_INT_EQ(out_len, sizeof(in));
    CHECK_STR_EQ(res.diff_id, res.digest);
    free(out);

    /* an empty input still gives a valid (non-empty) gzip stream */
    out = compress_all(SW_COMPRESSION_GZIP, in, 0, &res, &out_len);
    CHECK(out_len >= 20);
    CHECK_STR_EQ(res.diff_id,
                 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(out);
}

/* A sink that fails: the error stops the pipeline (no call after the
 * first) and reaches the caller with its message. The input goes in in
 * pieces of `piece` bytes. */
static void check_sink_error_stops(size_t len, size_t piece)
{
    sw_error *err = NULL;
    sw_compressor *c = NULL;
    int calls = 0;
    unsigned char *in = make_input(len);
    CHECK_INT_EQ(sw_compress_new(SW_COMPRESSION_GZIP, 0, failing_sink, &calls, &c, &err), 0);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len; off += piece)
        rc = sw_compress_write(c, in + off, len - off < piece ? len - off : piece, &err);
    struct sw_compress_result res;
    if (rc == 0)
        rc = sw_compress_finish(c, &res, &err);
    CHECK_INT_EQ(rc, SW_EIO);
    CHECK_INT_EQ(calls, 1);
    CHECK(strstr(sw_error_message(err), "disk full") != NULL);
    sw_error_clear(&err);
    sw_compress_free(c);
    free(in);
}

static void test_sink_error_stops_pipeline(void)
{
    check_sink_error_stops(300000, 300000); /* one chunk: compressed inline */
}

/* Past one chunk the sink runs on the emitter thread. */
static void test_sink_error_stops_threaded_pipeline(void)
{
    check_sink_error_stops(6 * 1024 * 1024, 100000);
}

static void test_parse_and_media_types(void)
{
    CHECK_INT_EQ(sw_compression_parse("gzip"), SW_COMPRESSION_GZIP);
    CHECK_INT_EQ(sw_compression_parse("zstd"), SW_COMPRESSION_ZSTD);
    CHECK_INT_EQ(sw_compression_parse("lz4"), -1);
    CHECK_STR_EQ(sw_compression_oci_media_type(SW_COMPRESSION_GZIP),
                 "application/vnd.oci.image.layer.v1.tar+gzip");
    CHECK_STR_EQ(sw_compression_docker_media_type(SW_COMPRESSION_GZIP),
                 "application/vnd.docker.image.rootfs.diff.tar.gzip");
}

static char *write_temp(const char *name, const void *data, size_t len)
{
    char *path = sw_path_join(dir, name);
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_write_file_atomic(path, data, len, 0644, &err), 0);
    sw_error_clear(&err);
    return path;
}

/* Reads a whole file through the detecting decompressor. */
static int decompress_file(const char *path, sw_strbuf *out, char *format, size_t fmt_len,
                           sw_error **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    sw_decompressor *d = NULL;
    int rc = sw_decompress_open_fd(fd, path, &d, err);
    char buf[4096];
    size_t got = 0;
    while (rc == 0 && (rc = sw_decompress_read(d, buf, sizeof(buf), &got, err)) == 0 && got > 0)
        sw_strbuf_append(out, buf, got);
    if (d)
        snprintf(format, fmt_len, "%s", sw_decompress_format(d));
    sw_decompress_close(d);
    close(fd);
    return rc;
}

static void check_detected(const char *tool, const char *suffix, const char *expect_format)
{
    char *cmd = NULL, *plain = NULL, format[32] = "";
    size_t len = 200000;
    unsigned char *in = make_input(len);
    if (asprintf(&plain, "%s/detect-%s", dir, expect_format) < 0)
        abort();
    free(write_temp(strrchr(plain, '/') + 1, in, len));
    if (tool) {
        if (asprintf(&cmd, "%s -q -f '%s'", tool, plain) < 0)
            abort();
        CHECK_INT_EQ(system(cmd), 0);
        char *packed = NULL;
        if (asprintf(&packed, "%s%s", plain, suffix) < 0)
            abort();
        free(plain);
        plain = packed;
    }
    sw_error *err = NULL;
    sw_strbuf out = SW_STRBUF_INIT;
    CHECK_INT_EQ(decompress_file(plain, &out, format, sizeof(format), &err), 0);
    if (err)
        fprintf(stderr, "%s\n", sw_error_message(err));
    CHECK_INT_EQ(out.len, len);
    CHECK(out.data && memcmp(out.data, in, len) == 0);
    CHECK_STR_EQ(format, expect_format);
    sw_error_clear(&err);
    sw_strbuf_free(&out);
    free(cmd);
    free(plain);
    free(in);
}

static void test_decompress_detects_formats(void)
{
    check_detected(NULL, "", "none");
    check_detected("gzip", ".gz", "gzip");
    check_detected("bzip2", ".bz2", "bzip2");
    check_detected("xz", ".xz", "xz");
    check_detected("zstd --rm", ".zst", "zstd");
}

static void test_decompress_corrupt_and_empty(void)
{
    size_t len = 100000, out_len = 0;
    unsigned char *in = make_input(len);
    struct sw_compress_result res;
    char *gz = compress_all(SW_COMPRESSION_GZIP, in, len, &res, &out_len);
    /* truncated gzip: an error naming the file */
    char *path = write_temp("truncated.gz", gz, out_len / 2);
    sw_error *err = NULL;
    char format[32];
    sw_strbuf out = SW_STRBUF_INIT;
    CHECK_INT_EQ(decompress_file(path, &out, format, sizeof(format), &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "truncated.gz") != NULL);
    sw_error_clear(&err);
    sw_strbuf_free(&out);
    free(path);

    /* flipped bytes in the middle: the CRC or the deflate data catches it */
    gz[out_len / 2] ^= 0x55;
    gz[out_len / 2 + 1] ^= 0x55;
    path = write_temp("flipped.gz", gz, out_len);
    CHECK(decompress_file(path, &out, format, sizeof(format), &err) < 0);
    sw_error_clear(&err);
    sw_strbuf_free(&out);
    free(path);

    /* a wrong CRC in the trailer alone (data intact) is caught too */
    gz[out_len / 2] ^= 0x55;
    gz[out_len / 2 + 1] ^= 0x55;
    gz[out_len - 8] = (char)~gz[out_len - 8];
    path = write_temp("badcrc.gz", gz, out_len);
    CHECK_INT_EQ(decompress_file(path, &out, format, sizeof(format), &err), SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "badcrc.gz: gzip stream") != NULL);
    sw_error_clear(&err);
    sw_strbuf_free(&out);
    free(path);

    path = write_temp("empty", "", 0);
    CHECK_INT_EQ(decompress_file(path, &out, format, sizeof(format), &err), 0);
    CHECK_INT_EQ(out.len, 0);
    sw_strbuf_free(&out);
    free(path);
    free(gz);
    free(in);
}

struct mem_source {
    const unsigned char *data;
    size_t len, off;
    int fail_at_end;
};

static int mem_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    struct mem_source *s = ctx;
    size_t n = s->len - s->off < len ? s->len - s->off : len;
    if (n > 1000)
        n = 1000; /* small reads: exercise the callback path */
    if (n == 0 && s->fail_at_end)
        return sw_error_set(err, SW_EIO, "source broke (test)");
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    *got = n;
    return 0;
}

static void test_decompress_from_source(void)
{
    size_t len = 150000, out_len = 0;
    unsigned char *in = make_input(len);
    struct sw_compress_result res;
    char *zst = compress_all(SW_COMPRESSION_ZSTD, in, len, &res, &out_len);
    struct mem_source src = { (unsigned char *)zst, out_len, 0, 0 };
    sw_decompressor *d = NULL;
    sw_error *err = NULL;
    sw_strbuf out = SW_STRBUF_INIT;
    char buf[3000];
    size_t got;
    CHECK_INT_EQ(sw_decompress_open_source(mem_source_read, &src, "mem", &d, &err), 0);
    while (sw_decompress_read(d, buf, sizeof(buf), &got, &err) == 0 && got > 0)
        sw_strbuf_append(&out, buf, got);
    CHECK(err == NULL);
    CHECK_INT_EQ(out.len, len);
    CHECK(out.data && memcmp(out.data, in, len) == 0);
    CHECK_STR_EQ(sw_decompress_format(d), "zstd");
    sw_decompress_close(d);
    sw_strbuf_free(&out);

    /* a failing source: its own error comes back, not libarchive's */
    struct mem_source bad = { (unsigned char *)zst, out_len / 2, 0, 1 };
    d = NULL;
    int rc = sw_decompress_open_source(mem_source_read, &bad, "mem", &d, &err);
    while (rc == 0 && (rc = sw_decompress_read(d, buf, sizeof(buf), &got, &err)) == 0 && got > 0)
        ;
    CHECK_INT_EQ(rc, SW_EIO);
    CHECK(strstr(sw_error_message(err), "source broke") != NULL);
    sw_error_clear(&err);
    sw_decompress_close(d);
    free(zst);
    free(in);
}

int main(void)
{
    dir = scratch_dir("test_compress");
    RUN(test_gzip_round_trip);
    RUN(test_gzip_large_is_deterministic_members);
    RUN(test_gzip_stores_incompressible_chunks);
    RUN(test_zstd_round_trip);
    RUN(test_none_and_empty);
    RUN(test_sink_error_stops_pipeline);
    RUN(test_sink_error_stops_threaded_pipeline);
    RUN(test_parse_and_media_types);
    RUN(test_decompress_detects_formats);
    RUN(test_decompress_corrupt_and_empty);
    RUN(test_decompress_from_source);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
