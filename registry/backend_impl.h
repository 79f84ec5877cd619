/*
 * backend_impl.h - what a blob backend driver implements (registry/
 * internal; callers use backend.h). backend.c checks every argument
 * (digests, uuids, ranges) before a driver sees it, and keeps the pieces
 * all drivers share: the resumable hash state of upload sessions.
 */
#ifndef REG_BACKEND_IMPL_H
#define REG_BACKEND_IMPL_H

#include "registry/backend.h"

struct reg_backend_ops {
    const char *name;
    void (*close)(reg_backend *b);
    int (*stat)(reg_backend *b, const char *key, int64_t *size, sw_error **err);
    int (*remove)(reg_backend *b, const char *key, sw_error **err);
    int (*walk)(reg_backend *b, reg_backend_walk_fn fn, void *ctx, sw_error **err);
    /* offset/length already checked against size by backend.c */
    int (*reader_open)(reg_backend *b, const char *key, int64_t size, int64_t offset,
                       int64_t length, reg_backend_reader **out, sw_error **err);
    int (*read)(reg_backend_reader *r, void *buf, size_t cap, size_t *got, sw_error **err);
    int (*reader_fd)(reg_backend_reader *r, int *fd, int64_t *offset);
    void (*reader_close)(reg_backend_reader *r);
    int (*redirect_url)(reg_backend *b, const char *key, int64_t ttl_s, char **url, sw_error **err);
    int (*writer_new)(reg_backend *b, reg_backend_writer **out, sw_error **err);
    /* 1: writer_write feeds w->hash itself (the filesystem driver hashes on
       another thread); backend.c then calls writer_flush before it reads
       the digest. 0: backend.c hashes each write on the caller's thread. */
    int writer_hashes;
    int (*writer_flush)(reg_backend_writer *w, sw_error **err); /* may be NULL */
    int (*writer_write)(reg_backend_writer *w, const void *data, size_t len, sw_error **err);
    /* digest verified by backend.c; key is its blob key */
    int (*writer_publish)(reg_backend_writer *w, const char *key, sw_error **err);
    void (*writer_free)(reg_backend_writer *w); /* discards what was stored */
    int (*upload_create)(reg_backend *b, const char *uuid, const char *state, sw_error **err);
    /* *state: malloc'd session state text */
    int (*upload_state)(reg_backend *b, const char *uuid, char **state, sw_error **err);
    /* offset: the session's size as backend.c read it; a driver that can
       lock the session re-checks it under the lock */
    int (*chunk_begin)(reg_backend *b, const char *uuid, int64_t offset, const char *state,
                       reg_backend_chunk **out, sw_error **err);
    int (*chunk_write)(reg_backend_chunk *c, const void *data, size_t len, sw_error **err);
    /* 1: chunk_write feeds c->hash itself (and chunk_end has it complete
       before it saves the state); 0: backend.c hashes each write */
    int chunk_hashes;
    int (*chunk_end)(reg_backend_chunk *c, sw_error **err);
    void (*chunk_free)(reg_backend_chunk *c); /* after end, or to abort */
    /* bytes verified or to be verified: digest NULL when the state's hash
       matched; else the driver hashes the bytes (algo of digest) and
       compares. Publishes under key and removes the session. */
    int (*upload_publish)(reg_backend *b, const char *uuid, const char *state,
                          const char *rehash_digest, const char *key, sw_error **err);
    int (*upload_cancel)(reg_backend *b, const char *uuid, sw_error **err);
    int (*upload_walk)(reg_backend *b, reg_backend_upload_walk_fn fn, void *ctx, sw_error **err);
};

struct reg_backend {
    const struct reg_backend_ops *ops;
    int64_t part_size;
    int redirect;
};

/* The common head of every driver's reader, writer and chunk. */
struct reg_backend_reader {
    reg_backend *b;
};

struct reg_backend_writer {
    reg_backend *b;
    sw_hash *hash;
    int64_t size;
    int is_verified;              /* reg_backend_writer_verify succeeded */
    char verified[SW_DIGEST_MAX]; /* its digest */
};

/* A session's state is a line of text the driver stores with the bytes:
 * "v1 <offset> <hash state> <driver's own fields...>". backend.c reads and
 * writes the first three; the rest is the driver's (S3: multipart id,
 * parts, tail object). */
struct reg_backend_chunk {
    reg_backend *b;
    int64_t offset; /* bytes in the session, this chunk included */
    struct reg_hashstate *hash;
    char *driver_state; /* the driver's fields, malloc'd */
};

/* A SHA-256 whose state can be saved as text and resumed elsewhere. */
struct reg_hashstate;
struct reg_hashstate *reg_hashstate_new(void);
void reg_hashstate_update(struct reg_hashstate *h, const void *data, size_t len);
void reg_hashstate_digest(const struct reg_hashstate *h, char out[SW_DIGEST_MAX]);
/* text: malloc'd, no spaces; NULL on allocation failure */
char *reg_hashstate_save(const struct reg_hashstate *h);
struct reg_hashstate *reg_hashstate_load(const char *text);
void reg_hashstate_free(struct reg_hashstate *h);

/* Formats a session state line (malloc'd) from offset, hash and driver
 * fields; parses one (driver_state malloc'd). */
char *reg_backend_state_format(int64_t offset, const struct reg_hashstate *h,
                               const char *driver_state);
int reg_backend_state_parse(const char *text, int64_t *offset, struct reg_hashstate **h,
                            char **driver_state, sw_error **err);

/* "blobs/sha256/ab/<hex>" for a valid digest (malloc'd), NULL otherwise. */
char *reg_backend_blob_key(const char *digest);
/* The digest a blob key names ("blobs/<algo>/<2>/<hex>"), 0 if it is one. */
int reg_backend_key_digest(const char *key, char out[SW_DIGEST_MAX]);

/* Drivers */
int reg_backend_fs_open(const struct reg_backend_config *cfg, reg_backend **out, sw_error **err);
int reg_backend_s3_open(const struct reg_backend_config *cfg, reg_backend **out, sw_error **err);

#endif
