/*
 * dockerignore.h - .dockerignore files, read and matched as Docker and
 * BuildKit do (moby/patternmatcher with the BuildKit ignore-file reader and
 * fsutil's walk pruning): lines trimmed, "#" comments, patterns cleaned like
 * Go's filepath.Clean with a leading "/" dropped, Go filepath.Match syntax
 * plus "**", "!" exceptions applied in order (the last matching pattern
 * decides), and a pattern matching a path or any of its parent directories.
 */
#ifndef BLD_DOCKERIGNORE_H
#define BLD_DOCKERIGNORE_H

#include "core/error.h"

typedef struct bld_ignore bld_ignore;

/* Loads the ignore file for a build: <dockerfile path>.dockerignore when it
 * exists next to the Dockerfile (e.g. build/app.Dockerfile.dockerignore),
 * else <context_dir>/.dockerignore; neither gives a matcher that excludes
 * nothing. dockerfile_path may be NULL (then only the context's file).
 * A malformed pattern fails with SW_EINVAL naming the file and line. */
int bld_ignore_load(const char *context_dir, const char *dockerfile_path, bld_ignore **out,
                    sw_error **err);

/* Parses ignore-file text (for tests and the loader). */
int bld_ignore_parse(const char *text, bld_ignore **out, sw_error **err);

/* 1 when the context path (relative, '/'-separated, no leading "./") is
 * excluded, 0 otherwise. Patterns are applied in order; a later "!" pattern
 * re-includes. A path is also excluded when one of its parent directories
 * is excluded (unless an exception re-includes it). */
int bld_ignore_matches(const bld_ignore *ig, const char *rel_path);

/* 1 when the directory rel_dir is excluded but must still be walked
 * because an exception ("!" pattern) may re-include something below it. */
int bld_ignore_dir_needed(const bld_ignore *ig, const char *rel_dir);

void bld_ignore_free(bld_ignore *ig);

#endif
