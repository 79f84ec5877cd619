/*
 * copy.h - COPY and ADD: files from the build context, another stage or an
 * image into the root filesystem a step is building.
 *
 * Semantics follow Docker's: wildcards (path.Match syntax) in sources; a
 * directory source copies its contents; several sources (or a wildcard)
 * need a destination directory ending in '/'; a file copied to a path
 * ending in '/' or to an existing directory keeps its name; missing
 * destination directories are created; permissions and mtimes are kept;
 * owners become 0:0 (or --chown) when copying from the context and are
 * kept from another stage (or --chown); --chmod overrides modes; ADD
 * extracts local tar archives (plain, gzip, bzip2, xz, zstd).
 *
 * Paths are never trusted: sources are resolved inside their root with
 * openat2(RESOLVE_IN_ROOT), so a symlink in a Git checkout cannot reach the
 * host's files, and the destination is resolved inside the image's root,
 * so the image's own symlinks resolve as they would in a container.
 */
#ifndef BLD_COPY_H
#define BLD_COPY_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/hash.h"

/* Returns 1 when a context path (relative, '/'-separated) is excluded by
 * .dockerignore; the copier then skips it (and, for a directory, anything
 * below it that the callback also reports as excluded). */
typedef int (*bld_exclude_fn)(void *ctx, const char *rel_path, int is_dir);

struct bld_copy_spec {
    const char *src_root;       /* the context, or a stage's root filesystem */
    const char *const *sources; /* relative to src_root; may contain wildcards */
    size_t n_sources;
    const char *dest;      /* absolute path in the image; a trailing '/'
                              means "a directory" */
    const char *dest_root; /* the root filesystem being built (mounted) */
    int from_context;      /* owners become 0:0 unless chown is set */
    int has_chown;
    uid_t uid;
    gid_t gid;
    int has_chmod;
    mode_t mode;
    int is_add;              /* extract local archives */
    bld_exclude_fn excluded; /* NULL: nothing excluded */
    void *excluded_ctx;
    /* COPY --exclude: .dockerignore-like patterns, matched against the path
     * relative to each source (a directory source: the path below it; a
     * file source or a wildcard match: its path and its base name) */
    const char *const *exclude;
    size_t n_exclude;
    /* COPY --parents: each source keeps its parent directories under dest,
     * from the "/./" pivot in the source when there is one
     * ("./a/./b/c.txt" -> dest/b/c.txt), else all of them */
    int parents;
    /* COPY --link: directories created above the destination stay 0:0 with
     * mode 0755 (they stand for the base's, which the layer must not
     * re-own); only the destination directory takes --chown */
    int dest_parents_root;
    /* A directory laid out as dest_root (a previous layer of the same
     * COPY): a regular file found there at the same destination path with
     * the same size, mtime, mode, owner, no xattrs and the same bytes is
     * hard-linked into dest_root instead of created and copied. Only for a
     * dest_root that is a plain directory (an overlay's upper directory),
     * never a mounted overlay (links do not cross mounts). NULL: none. */
    const char *reuse_root;
    /* Content digests of unchanged files from an earlier build
     * (bld_digest_memo_open), for bld_copy_digest; NULL: read every file. */
    struct bld_digest_memo *memo;
};

/* Performs the copy. Errors name the source or destination, e.g.
 * "COPY: no source files were specified" or
 * "COPY failed: file not found in build context: missing.txt". */
int bld_copy(const struct bld_copy_spec *spec, sw_error **err);

/* Creates the destination directory spec->dest in spec->dest_root, and the
 * directories above it, as bld_copy would (0755, the --chown owner or
 * root; symlinks resolved in the root). */
int bld_copy_make_dest(const struct bld_copy_spec *spec, sw_error **err);

/* A digest of everything bld_copy would read for spec: the matched paths,
 * their types, modes, contents and link targets (and owners when not from
 * the context). dest_root is not used. For the build cache. */
int bld_copy_digest(const struct bld_copy_spec *spec, char out[SW_DIGEST_MAX], sw_error **err);

/* A memo of the content digests of a context's files, kept between builds
 * under <data_dir>/build-memo/ (copy_memo.c says when an entry is trusted).
 * bld_digest_memo_open: -1 when it cannot be made (build without one); a
 * missing or damaged memo file opens as an empty memo.
 * bld_digest_memo_lookup: the "sha256:..." digest of the file st describes
 * (owned by the memo), or NULL. bld_digest_memo_record: remembers a digest
 * just computed for st, unless the file changed too recently to be sure.
 * bld_digest_memo_close: writes what this build used back (best effort)
 * and frees; bld_digest_memo_free frees without writing. Both accept NULL. */
struct bld_digest_memo;
int bld_digest_memo_open(const char *data_dir, const char *context_dir,
                         struct bld_digest_memo **out);
const char *bld_digest_memo_lookup(struct bld_digest_memo *m, const struct stat *st);
void bld_digest_memo_record(struct bld_digest_memo *m, const struct stat *st, const char *digest);
void bld_digest_memo_close(struct bld_digest_memo *m);
void bld_digest_memo_free(struct bld_digest_memo *m);

/* path.Match as Go implements it ('*', '?', '[...]', '\\' escapes; '*'
 * does not cross '/'). Returns 1 on a match, 0 on none, -1 for a bad
 * pattern. Exposed for tests and for the cache's source hashing. */
int bld_path_match(const char *pattern, const char *name);

#endif
