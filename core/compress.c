/*
 * compress.c - the layer-blob pipeline (hash -> compress -> hash -> sink)
 * and content-detecting decompressors (libarchive raw + filters).
 *
 * Determinism matters as much as speed here: with SOURCE_DATE_EPOCH the
 * builder promises byte-identical images. gzip output is a series of
 * independent gzip members, one per GZIP_CHUNK_SIZE bytes of input,
 * compressed by libdeflate (no name, mtime 0, OS "unknown", fixed level) on
 * a few threads and written in input order. A multi-member stream is valid
 * gzip (RFC 1952 2.2) that every client reads (Go's compress/gzip, zlib,
 * libarchive, pigz, containerd); the boundaries depend only on the input,
 * never on the number of threads, so the bytes are the same on every
 * machine with the same libdeflate. A stream of one chunk or less is
 * compressed inline, without threads. Past one chunk, the caller's thread
 * only fills chunks: one emitter thread adds each chunk's input to the diff
 * ID's sha256 and hands its output to the sink, in input order, so reading
 * the tar, compressing, hashing and writing the blob overlap.
 *
 * A chunk that does not compress (random bytes, an archive or a binary
 * that is already compressed) is stored: deflate's stored blocks in the
 * same kind of member, at the speed of a copy, instead of a full level-6
 * match search that saves nothing. Whether a chunk is stored is decided
 * from its own bytes (a few samples compressed at level 1), so the output
 * is as deterministic as before.
 */
#include "core/compress.h"

#include <archive.h>
#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/profile.h"

#define PIPE_BUF_SIZE (64 * 1024)
#define GZIP_DEFAULT_LEVEL 6
#define ZSTD_DEFAULT_LEVEL 3
/* Input bytes per gzip member. 1 MiB costs ~0.01% in size against one
 * member (deflate's window is 32 KiB anyway) and gives threads work. */
#define GZIP_CHUNK_SIZE (1024 * 1024)
#define GZIP_MAX_THREADS 8
/* The incompressible-chunk test: SAMPLE_COUNT samples of SAMPLE_SIZE bytes
 * spread over the chunk, compressed at level 1; a chunk is stored when
 * they do not get below 31/32 of their size together. Costs ~1% of a
 * level-6 pass on random data, less on data that compresses. */
#define SAMPLE_SIZE (16 * 1024)
#define SAMPLE_COUNT 4

/* ---- parallel gzip --------------------------------------------------------- */

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct gz_slot {
    unsigned char *in;
    size_t in_len;
    unsigned char *out;
    size_t out_cap, out_len;
    enum slot_state state;
};

struct gz_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t threads[GZIP_MAX_THREADS];
    int n_threads;
    pthread_t emitter; /* hashes and hands chunks to the sink, in order */
    int has_emitter;
    struct sw_compressor *owner;
    int emit_rc; /* the sink's first failure; nothing is emitted after it */
    sw_error *emit_err;
    int level;
    int stop;
    int failed; /* a worker could not allocate its compressor */
    struct gz_slot *slots;
    size_t n_slots;
    uint64_t next_fill; /* chunk being filled by the writer */
    uint64_t next_take; /* next chunk a worker takes */
    uint64_t next_emit; /* next chunk handed to the sink */
};

struct sw_compressor {
    enum sw_compression algo;
    sw_compress_sink_fn sink;
    void *sink_ctx;
    sw_hash *uncompressed_hash;
    sw_hash *compressed_hash;
    int64_t uncompressed_size;
    int64_t compressed_size;
    int is_finished;
    int level;
    struct gz_pool *pool; /* gzip: started at the second chunk */
    struct gz_slot first; /* gzip: the first chunk, filled before any pool */
    ZSTD_CCtx *zstd;
    unsigned char *out;
};

int sw_compression_parse(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcmp(name, "gzip") == 0)
        return SW_COMPRESSION_GZIP;
    if (strcmp(name, "zstd") == 0)
        return SW_COMPRESSION_ZSTD;
    if (strcmp(name, "none") == 0)
        return SW_COMPRESSION_NONE;
    return -1;
}

const char *sw_compression_oci_media_type(enum sw_compression algo)
{
    switch (algo) {
    case SW_COMPRESSION_GZIP:
        return "application/vnd.oci.image.layer.v1.tar+gzip";
    case SW_COMPRESSION_ZSTD:
        return "application/vnd.oci.image.layer.v1.tar+zstd";
    default:
        return "application/vnd.oci.image.layer.v1.tar";
    }
}

const char *sw_compression_docker_media_type(enum sw_compression algo)
{
    if (algo == SW_COMPRESSION_GZIP)
        return "application/vnd.docker.image.rootfs.diff.tar.gzip";
    return sw_compression_oci_media_type(algo);
}

/* Passes compressed bytes on: counted, hashed, then to the sink. */
static int emit(sw_compressor *c, const void *buf, size_t len, sw_error **err)
{
    if (len == 0)
        return 0;
    if (c->compressed_hash) {
        uint64_t profiled = sw_profile_start();
        sw_hash_update(c->compressed_hash, buf, len);
        sw_profile_stop(SW_PHASE_BLOB_HASH, profiled);
    }
    c->compressed_size += (int64_t)len;
    return c->sink(c->sink_ctx, buf, len, err);
}

static int slot_alloc(struct gz_slot *slot)
{
    if (slot->in == NULL && (slot->in = malloc(GZIP_CHUNK_SIZE)) == NULL)
        return -1;
    return 0;
}

/* The compressors one thread uses: the chosen level, level 1 for the
 * samples, level 0 (stored blocks) for incompressible chunks. */
struct gz_engines {
    struct libdeflate_compressor *main, *sample, *store;
};

static int engines_new(struct gz_engines *e, int level)
{
    e->main = libdeflate_alloc_compressor(level);
    e->sample = libdeflate_alloc_compressor(1);
    e->store = libdeflate_alloc_compressor(0);
    return e->main && e->sample && e->store ? 0 : -1;
}

static void engines_free(struct gz_engines *e)
{
    libdeflate_free_compressor(e->main);
    libdeflate_free_compressor(e->sample);
    libdeflate_free_compressor(e->store);
}

/* 1 when the chunk's samples, together, do not shrink below 31/32 of
 * their size at level 1 (a sample that does not shrink at all counts as
 * its own size). Tar headers or a short text at one sample do not make a
 * chunk of noise compressible; stops as soon as the answer is known. */
static int chunk_incompressible(struct libdeflate_compressor *sample, const unsigned char *in,
                                size_t len)
{
    unsigned char out[SAMPLE_SIZE];
    const size_t total = (size_t)SAMPLE_SIZE * SAMPLE_COUNT;
    const size_t shrunk = total - total / 32;
    size_t sum = 0;
    if (len < total)
        return 0;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        size_t off = (len - SAMPLE_SIZE) / (SAMPLE_COUNT - 1) * i;
        size_t n = libdeflate_deflate_compress(sample, in + off, SAMPLE_SIZE, out, SAMPLE_SIZE);
        sum += n == 0 ? SAMPLE_SIZE : n;
        if (sum + (SAMPLE_COUNT - 1 - i) * (size_t)SAMPLE_SIZE <= shrunk)
            return 0; /* shrinks even if the rest does not */
    }
    return sum > shrunk;
}

/* Compresses slot->in into slot->out as one gzip member. */
static int slot_compress(const struct gz_engines *e, struct gz_slot *slot)
{
    uint64_t profiled = sw_profile_start();
    struct libdeflate_compressor *z =
        chunk_incompressible(e->sample, slot->in, slot->in_len) ? e->store : e->main;
    size_t bound = libdeflate_gzip_compress_bound(z, slot->in_len);
    if (slot->out_cap < bound) {
        unsigned char *out = realloc(slot->out, bound);
        if (out == NULL)
            return -1;
        slot->out = out;
        slot->out_cap = bound;
    }
    slot->out_len = libdeflate_gzip_compress(z, slot->in, slot->in_len, slot->out, slot->out_cap);
    sw_profile_stop(SW_PHASE_COMPRESS, profiled);
    return slot->out_len == 0 ? -1 : 0;
}

static void *gz_worker(void *arg)
{
    struct gz_pool *p = arg;
    struct gz_engines e;
    int usable = engines_new(&e, p->level) == 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct gz_slot *slot = &p->slots[p->next_take % p->n_slots];
        while (!p->stop && slot->state != SLOT_READY) {
            pthread_cond_wait(&p->cond, &p->lock);
            slot = &p->slots[p->next_take % p->n_slots];
        }
        if (p->stop)
            break;
        slot->state = SLOT_BUSY;
        p->next_take++;
        pthread_mutex_unlock(&p->lock);
        int ok = usable && slot_compress(&e, slot) == 0;
        pthread_mutex_lock(&p->lock);
        if (!ok)
            p->failed = 1;
        slot->state = SLOT_DONE;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    engines_free(&e);
    return NULL;
}

/* The emitter: takes compressed chunks in input order, adds their input to
 * the diff ID's sha256 and hands their output to the sink, so that neither
 * the hash nor the sink's copy and write(2) run on the thread that reads
 * and feeds the tar. Stops at the sink's first failure (emit_rc). */
static void *gz_emitter(void *arg)
{
    struct gz_pool *p = arg;
    sw_compressor *c = p->owner;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct gz_slot *slot = &p->slots[p->next_emit % p->n_slots];
        if (p->emit_rc == 0 && !p->failed && p->next_emit < p->next_fill &&
            slot->state == SLOT_DONE) {
            pthread_mutex_unlock(&p->lock);
            sw_error *e = NULL;
            uint64_t profiled = sw_profile_start();
            sw_hash_update(c->uncompressed_hash, slot->in, slot->in_len);
            sw_profile_stop(SW_PHASE_DIFF_ID, profiled);
            int rc = emit(c, slot->out, slot->out_len, &e);
            pthread_mutex_lock(&p->lock);
            if (rc != 0) {
                p->emit_rc = rc;
                p->emit_err = e;
            }
            slot->state = SLOT_FREE;
            slot->in_len = 0;
            p->next_emit++;
            pthread_cond_broadcast(&p->cond);
            continue;
        }
        if (p->stop)
            break;
        pthread_cond_wait(&p->cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void gz_pool_free(struct gz_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->has_emitter)
        pthread_join(p->emitter, NULL);
    sw_error_clear(&p->emit_err);
    for (size_t i = 0; i < p->n_slots; i++) {
        free(p->slots[i].in);
        free(p->slots[i].out);
    }
    free(p->slots);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int gz_pool_new(sw_compressor *owner, int level, struct gz_pool **out)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus < 1 ? 1 : cpus > GZIP_MAX_THREADS ? GZIP_MAX_THREADS : (int)cpus;
    struct gz_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->level = level;
    p->owner = owner;
    /* two chunks per thread in flight keep every core busy while the
     * writer fills the next one and the sink takes the last */
    p->n_slots = (size_t)n * 2 + 1;
    if ((p->slots = calloc(p->n_slots, sizeof(*p->slots))) == NULL) {
        gz_pool_free(p);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, gz_worker, p) != 0)
            break;
        p->n_threads++;
    }
    if (p->n_threads == 0 || pthread_create(&p->emitter, NULL, gz_emitter, p) != 0) {
        gz_pool_free(p);
        return -1;
    }
    p->has_emitter = 1;
    *out = p;
    return 0;
}

/* Waits until the emitter has handed chunks [0, upto) to the sink; the
 * sink's error, or a worker's, when there was one. Writer thread only. */
static int gz_wait_emitted(sw_compressor *c, uint64_t upto, sw_error **err)
{
    struct gz_pool *p = c->pool;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    while (p->next_emit < upto && p->emit_rc == 0 && !p->failed)
        pthread_cond_wait(&p->cond, &p->lock);
    if (p->emit_rc != 0) {
        rc = p->emit_rc;
        if (err && *err == NULL) {
            *err = p->emit_err;
            p->emit_err = NULL;
        }
        if (err && *err == NULL)
            rc = sw_error_set(err, rc, "compressed layer: the sink failed");
    } else if (p->failed) {
        rc = sw_error_set(err, SW_ENOMEM, "gzip: compression failed");
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* The slot the writer fills now; waits for it to be emitted if needed. */
static int gz_fill_slot(sw_compressor *c, struct gz_slot **out, sw_error **err)
{
    struct gz_pool *p = c->pool;
    struct gz_slot *slot = &p->slots[p->next_fill % p->n_slots];
    if (slot->state != SLOT_FILLING) {
        /* the slot of chunk next_fill - n_slots must be out first */
        int rc = gz_wait_emitted(
            c, p->next_fill + 1 > p->n_slots ? p->next_fill + 1 - p->n_slots : 0, err);
        if (rc != 0)
            return rc;
        if (slot_alloc(slot) != 0)
            return sw_error_oom(err);
        slot->state = SLOT_FILLING;
        slot->in_len = 0;
    }
    *out = slot;
    return 0;
}

static void gz_submit(struct gz_pool *p, struct gz_slot *slot)
{
    pthread_mutex_lock(&p->lock);
    slot->state = SLOT_READY;
    p->next_fill++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static int gzip_write(sw_compressor *c, const unsigned char *buf, size_t len, sw_error **err)
{
    while (len > 0) {
        struct gz_slot *slot = NULL;
        int rc;
        if (c->pool == NULL) {
            /* the first chunk: no threads until there is a second one */
            slot = &c->first;
            if (slot->in_len == GZIP_CHUNK_SIZE) {
                if (gz_pool_new(c, c->level, &c->pool) != 0)
                    return sw_error_set(err, SW_ENOMEM, "gzip: cannot start compression threads");
                struct gz_slot *s0 = &c->pool->slots[0];
                *s0 = c->first;
                memset(&c->first, 0, sizeof(c->first));
                s0->state = SLOT_FILLING;
                gz_submit(c->pool, s0);
                continue;
            }
            if (slot_alloc(slot) != 0)
                return sw_error_oom(err);
        } else if ((rc = gz_fill_slot(c, &slot, err)) != 0) {
            return rc;
        }
        size_t n = GZIP_CHUNK_SIZE - slot->in_len;
        if (n > len)
            n = len;
        memcpy(slot->in + slot->in_len, buf, n);
        slot->in_len += n;
        buf += n;
        len -= n;
        if (c->pool && slot->in_len == GZIP_CHUNK_SIZE)
            gz_submit(c->pool, slot);
    }
    return 0;
}

static int gzip_finish(sw_compressor *c, sw_error **err)
{
    if (c->pool == NULL) {
        /* one chunk or less (an empty input still makes a valid member) */
        struct gz_engines e;
        int ok = engines_new(&e, c->level) == 0 &&
                 (c->first.in != NULL || slot_alloc(&c->first) == 0) &&
                 slot_compress(&e, &c->first) == 0;
        engines_free(&e);
        if (!ok)
            return sw_error_set(err, SW_ENOMEM, "gzip: compression failed");
        uint64_t profiled = sw_profile_start();
        sw_hash_update(c->uncompressed_hash, c->first.in, c->first.in_len);
        sw_profile_stop(SW_PHASE_DIFF_ID, profiled);
        return emit(c, c->first.out, c->first.out_len, err);
    }
    struct gz_slot *slot = &c->pool->slots[c->pool->next_fill % c->pool->n_slots];
    if (slot->state == SLOT_FILLING && slot->in_len > 0)
        gz_submit(c->pool, slot);
    return gz_wait_emitted(c, c->pool->next_fill, err);
}

int sw_compress_new(enum sw_compression algo, int level, sw_compress_sink_fn sink, void *sink_ctx,
                    sw_compressor **out, sw_error **err)
{
    int rc = 0;
    sw_compressor *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sw_error_oom(err);
    c->algo = algo;
    c->sink = sink;
    c->sink_ctx = sink_ctx;
    c->uncompressed_hash = sw_hash_new(SW_HASH_SHA256);
    c->compressed_hash = sw_hash_new(SW_HASH_SHA256);
    c->out = malloc(PIPE_BUF_SIZE);
    if (c->uncompressed_hash == NULL || c->compressed_hash == NULL || c->out == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    switch (algo) {
    case SW_COMPRESSION_NONE:
        break;
    case SW_COMPRESSION_GZIP:
        c->level = level > 0 ? level : GZIP_DEFAULT_LEVEL;
        if (c->level > 12) {
            rc = sw_error_set(err, SW_EINVAL, "gzip: bad compression level %d", level);
            goto cleanup;
        }
        break;
    case SW_COMPRESSION_ZSTD:
        c->zstd = ZSTD_createCCtx();
        if (c->zstd == NULL) {
            rc = sw_error_set(err, SW_ENOMEM, "zstd: cannot initialise compressor");
            goto cleanup;
        }
        if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel,
                                                level > 0 ? level : ZSTD_DEFAULT_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_checksumFlag, 1))) {
            rc = sw_error_set(err, SW_EINVAL, "zstd: bad compression level %d", level);
            goto cleanup;
        }
        break;
    default:
        rc = sw_error_set(err, SW_EUNSUPPORTED, "unknown compression %d", (int)algo);
        goto cleanup;
    }
    *out = c;
    c = NULL;
cleanup:
    sw_compress_free(c);
    return rc;
}

static int zstd_run(sw_compressor *c, const void *buf, size_t len, ZSTD_EndDirective mode,
                    sw_error **err)
{
    ZSTD_inBuffer in = { buf, len, 0 };
    size_t remaining;
    do {
        ZSTD_outBuffer out = { c->out, PIPE_BUF_SIZE, 0 };
        uint64_t profiled = sw_profile_start();
        remaining = ZSTD_compressStream2(c->zstd, &out, &in, mode);
        sw_profile_stop(SW_PHASE_COMPRESS, profiled);
        if (ZSTD_isError(remaining))
            return sw_error_set(err, SW_EIO, "zstd: %s", ZSTD_getErrorName(remaining));
        int rc = emit(c, c->out, out.pos, err);
        if (rc != 0)
            return rc;
    } while (mode == ZSTD_e_end ? remaining != 0 : in.pos < in.size);
    return 0;
}

int sw_compress_write(sw_compressor *c, const void *buf, size_t len, sw_error **err)
{
    if (c->is_finished)
        return sw_error_set(err, SW_EINVAL, "compressor already finished");
    c->uncompressed_size += (int64_t)len;
    /* gzip hashes each chunk's input as it is emitted (gz_emitter) */
    if (c->algo == SW_COMPRESSION_GZIP)
        return gzip_write(c, buf, len, err);
    uint64_t profiled = sw_profile_start();
    sw_hash_update(c->uncompressed_hash, buf, len);
    sw_profile_stop(SW_PHASE_DIFF_ID, profiled);
    /* feed huge buffers in slices */
    while (len > 0) {
        size_t slice = len > (1u << 30) ? (1u << 30) : len;
        int rc;
        switch (c->algo) {
        case SW_COMPRESSION_ZSTD:
            rc = zstd_run(c, buf, slice, ZSTD_e_continue, err);
            break;
        default:
            rc = emit(c, buf, slice, err);
            break;
        }
        if (rc != 0)
            return rc;
        buf = (const char *)buf + slice;
        len -= slice;
    }
    return 0;
}

void sw_compress_skip_digest(sw_compressor *c)
{
    sw_hash_free(c->compressed_hash);
    c->compressed_hash = NULL;
}

int sw_compress_finish(sw_compressor *c, struct sw_compress_result *result, sw_error **err)
{
    int rc = 0;
    if (c->is_finished)
        return sw_error_set(err, SW_EINVAL, "compressor already finished");
    c->is_finished = 1;
    if (c->algo == SW_COMPRESSION_GZIP)
        rc = gzip_finish(c, err);
    else if (c->algo == SW_COMPRESSION_ZSTD)
        rc = zstd_run(c, "", 0, ZSTD_e_end, err);
    if (rc != 0)
        return rc;
    memset(result, 0, sizeof(*result));
    sw_hash_digest(c->uncompressed_hash, result->diff_id);
    if (c->compressed_hash)
        sw_hash_digest(c->compressed_hash, result->digest);
    else
        result->digest[0] = '\0';
    result->uncompressed_size = c->uncompressed_size;
    result->compressed_size = c->compressed_size;
    return 0;
}

void sw_compress_free(sw_compressor *c)
{
    if (c == NULL)
        return;
    gz_pool_free(c->pool);
    free(c->first.in);
    free(c->first.out);
    ZSTD_freeCCtx(c->zstd);
    sw_hash_free(c->uncompressed_hash);
    sw_hash_free(c->compressed_hash);
    free(c->out);
    free(c);
}

/* ---- decompression ---------------------------------------------------- */

/* gzip goes through zlib rather than libarchive because libarchive's gzip
 * filter does not check the member CRC and length: a flipped bit would
 * silently become a different layer. The other formats' libraries check
 * their own checksums. */
struct sw_decompressor {
    char *name;
    sw_source_fn source;
    void *source_ctx;
    int fd;
    unsigned char *in;
    size_t in_len; /* bytes of `in` not yet handed on */
    size_t in_off;
    int is_source_eof;
    int is_eof;
    /* gzip */
    int is_gzip;
    int has_zstream;
    int member_done; /* a gzip member ended: another may follow */
    z_stream zs;
    /* everything else */
    struct archive *ar;
    sw_error *source_error; /* kept until the reader asks, so it wins */
    int has_header;
};

static int fd_source_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    sw_decompressor *d = ctx;
    ssize_t n;
    do
        n = read(d->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sw_error_sys(err, SW_EIO, errno, "reading %s", d->name);
    *got = (size_t)n;
    return 0;
}

/* Refills `in` from the source when it is used up. */
static int fill_input(sw_decompressor *d, sw_error **err)
{
    if (d->in_off < d->in_len || d->is_source_eof)
        return 0;
    size_t got = 0;
    int rc = d->source(d->source_ctx, d->in, PIPE_BUF_SIZE, &got, err);
    if (rc != 0)
        return rc;
    d->in_off = 0;
    d->in_len = got;
    if (got == 0)
        d->is_source_eof = 1;
    return 0;
}

/* libarchive pulls the peeked bytes first, then the rest of the source. */
static la_ssize_t archive_read_cb(struct archive *ar, void *client_data, const void **buffer)
{
    sw_decompressor *d = client_data;
    if (fill_input(d, &d->source_error) != 0) {
        archive_set_error(ar, EIO, "%s", sw_error_message(d->source_error));
        return -1;
    }
    size_t n = d->in_len - d->in_off;
    *buffer = d->in + d->in_off;
    d->in_off = d->in_len;
    return (la_ssize_t)n;
}

static int open_archive_reader(sw_decompressor *d, sw_error **err)
{
    if ((d->ar = archive_read_new()) == NULL)
        return sw_error_oom(err);
    /* Only the compressions images use; filter_all would also decode
     * uuencode, rpm and external-program formats, which is surprising. */
    archive_read_support_filter_zstd(d->ar);
    archive_read_support_filter_bzip2(d->ar);
    archive_read_support_filter_xz(d->ar);
    archive_read_support_filter_lzma(d->ar);
    archive_read_support_format_raw(d->ar);
    archive_read_support_format_empty(d->ar);
    if (archive_read_open(d->ar, d, NULL, archive_read_cb, NULL) != ARCHIVE_OK) {
        if (d->source_error) {
            int rc = d->source_error->code;
            if (err && *err == NULL) {
                *err = d->source_error;
                d->source_error = NULL;
            }
            return rc;
        }
        return sw_error_set(err, SW_EINVAL, "%s: %s", d->name, archive_error_string(d->ar));
    }
    return 0;
}

static int decompress_open(sw_decompressor *d, sw_error **err)
{
    int rc;
    if ((d->in = malloc(PIPE_BUF_SIZE)) == NULL)
        return sw_error_oom(err);
    /* peek at the magic; a source may hand out one byte at a time */
    while (d->in_len < 2 && !d->is_source_eof) {
        size_t got = 0;
        if ((rc = d->source(d->source_ctx, d->in + d->in_len, PIPE_BUF_SIZE - d->in_len, &got,
                            err)) != 0)
            return rc;
        d->in_len += got;
        if (got == 0)
            d->is_source_eof = 1;
    }
    if (d->in_len >= 2 && d->in[0] == 0x1f && d->in[1] == 0x8b) {
        d->is_gzip = 1;
        if (inflateInit2(&d->zs, 15 + 16) != Z_OK)
            return sw_error_set(err, SW_ENOMEM, "gzip: cannot initialise decompressor");
        d->has_zstream = 1;
        return 0;
    }
    return open_archive_reader(d, err);
}

static int decompress_new(sw_source_fn source, void *source_ctx, int fd, const char *name,
                          sw_decompressor **out, sw_error **err)
{
    sw_decompressor *d = calloc(1, sizeof(*d));
    int rc;
    if (d == NULL || (d->name = strdup(name)) == NULL) {
        free(d);
        return sw_error_oom(err);
    }
    d->fd = fd;
    d->source = source ? source : fd_source_read;
    d->source_ctx = source ? source_ctx : d;
    if ((rc = decompress_open(d, err)) != 0) {
        sw_decompress_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

int sw_decompress_open_fd(int fd, const char *name, sw_decompressor **out, sw_error **err)
{
    return decompress_new(NULL, NULL, fd, name, out, err);
}

int sw_decompress_open_source(sw_source_fn source, void *source_ctx, const char *name,
                              sw_decompressor **out, sw_error **err)
{
    return decompress_new(source, source_ctx, -1, name, out, err);
}

static int gzip_read(sw_decompressor *d, void *buf, size_t len, size_t *got, sw_error **err)
{
    int rc;
    if (len > (1u << 30))
        len = 1u << 30;
    d->zs.next_out = buf;
    d->zs.avail_out = (uInt)len;
    while (d->zs.avail_out == len) {
        if ((rc = fill_input(d, err)) != 0)
            return rc;
        if (d->in_off == d->in_len) {
            if (d->member_done) {
                d->is_eof = 1;
                break;
            }
            return sw_error_set(err, SW_EINVAL, "%s: gzip stream: truncated", d->name);
        }
        if (d->member_done) {
            /* concatenated gzip members are one stream, as gzip(1) reads them */
            inflateReset(&d->zs);
            d->member_done = 0;
        }
        d->zs.next_in = d->in + d->in_off;
        d->zs.avail_in = (uInt)(d->in_len - d->in_off);
        int zrc = inflate(&d->zs, Z_NO_FLUSH);
        d->in_off = d->in_len - d->zs.avail_in;
        if (zrc == Z_STREAM_END)
            d->member_done = 1;
        else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return sw_error_set(err, SW_EINVAL, "%s: gzip stream: %s", d->name,
                                d->zs.msg ? d->zs.msg : "corrupt data");
    }
    *got = len - d->zs.avail_out;
    return 0;
}

/* Turns a libarchive failure into our error, preferring the source's. */
static int archive_failure(sw_decompressor *d, sw_error **err)
{
    if (d->source_error) {
        int rc = d->source_error->code;
        if (err && *err == NULL) {
            *err = d->source_error;
            d->source_error = NULL;
        }
        return rc;
    }
    return sw_error_set(err, SW_EINVAL, "%s: %s stream: %s", d->name, sw_decompress_format(d),
                        archive_error_string(d->ar) ? archive_error_string(d->ar) : "corrupt data");
}

int sw_decompress_read(sw_decompressor *d, void *buf, size_t len, size_t *got, sw_error **err)
{
    *got = 0;
    if (d->is_eof || len == 0)
        return 0;
    if (d->is_gzip)
        return gzip_read(d, buf, len, got, err);
    if (!d->has_header) {
        struct archive_entry *entry;
        int r = archive_read_next_header(d->ar, &entry);
        if (r == ARCHIVE_EOF) {
            d->is_eof = 1;
            return 0;
        }
        if (r != ARCHIVE_OK)
            return archive_failure(d, err);
        d->has_header = 1;
    }
    la_ssize_t n = archive_read_data(d->ar, buf, len);
    if (n < 0)
        return archive_failure(d, err);
    if (n == 0)
        d->is_eof = 1;
    *got = (size_t)n;
    return 0;
}

const char *sw_decompress_format(const sw_decompressor *d)
{
    if (d->is_gzip)
        return "gzip";
    const char *name = d->ar ? archive_filter_name(d->ar, 0) : NULL;
    return name ? name : "none";
}

void sw_decompress_close(sw_decompressor *d)
{
    if (d == NULL)
        return;
    if (d->has_zstream)
        inflateEnd(&d->zs);
    if (d->ar)
        archive_read_free(d->ar);
    sw_error_clear(&d->source_error);
    free(d->in);
    free(d->name);
    free(d);
}
