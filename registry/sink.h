/*
 * sink.h - the write path of blob bytes: large writes on the caller's
 * thread, sha256 on another core.
 *
 * Bytes are copied into a ring of a few 1 MiB buffers. A full buffer is
 * handed to a writer thread, which writes it in one pwrite(2) (past the
 * page cache with reg_sink_open_direct), and to a hashing thread, so
 * receiving, writing and hashing overlap. What goes through the page cache
 * has its writeback started as the file grows (sync_file_range) when
 * asked, so the fsync that makes a push durable finds little left. A blob
 * smaller than one buffer never starts the threads: it is written and
 * hashed at flush.
 */
#ifndef REG_SINK_H
#define REG_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/hash.h"

typedef struct reg_sink reg_sink;

/* A sink writing to fd (at its current position, which is `offset`) and
 * updating hash; neither is owned. path names the file in errors. */
int reg_sink_new(int fd, int64_t offset, sw_hash *hash, const char *path, reg_sink **out,
                 sw_error **err);
/* The same with any hash: update(hash, data, len) runs on the hashing
 * thread (an upload session's resumable SHA-256 state). */
typedef void (*reg_sink_hash_fn)(void *hash, const void *data, size_t len);
int reg_sink_new_fn(int fd, int64_t offset, reg_sink_hash_fn update, void *hash, const char *path,
                    reg_sink **out, sw_error **err);
/* Appends len bytes. After a failure every later call fails. */
int reg_sink_write(reg_sink *s, const void *data, size_t len, sw_error **err);
/* Writes what is buffered and waits for the hash: afterwards the file and
 * the hash hold every byte given to reg_sink_write. */
int reg_sink_flush(reg_sink *s, sw_error **err);
/* Writes whole blocks of the file opened again by name with O_DIRECT,
 * past the page cache, when the filesystem allows it and the name still
 * leads to fd's file (otherwise, or after a direct write is refused,
 * everything goes through fd). Call before the first write. */
void reg_sink_open_direct(reg_sink *s, const char *file);
/* Starts writeback of the file every 8 MiB as it grows (sync_file_range),
 * so a final fsync has little left. Off by default: measured on one file
 * written by a series of sinks (the PATCHes of a chunked upload) it
 * doubled the CPU time and halved the throughput; for one sink writing a
 * whole blob it shortens the fsync. Call before the first write. */
void reg_sink_start_writeback(reg_sink *s);
/* Lets the threads finish the buffers already handed to them (the one
 * being filled is dropped), stops them and frees the sink. Accepts NULL. */
void reg_sink_free(reg_sink *s);

#endif
