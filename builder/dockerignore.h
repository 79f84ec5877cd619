/*
 * dockerignore.h - .dockerignore files, matched as Docker and BuildKit do
 * (moby/patternmatcher): patterns cleaned like Go's filepath.Clean, Go
 * filepath.Match syntax plus "**", "!" exceptions applied in order, a
 * pattern matching a path or any of its parent directories.
 */
#ifndef BLD_DOCKERIGNORE_H
#define BLD_DOCKERIGNORE_H

#include "core/error.h"

typedef struct bld_ignore bld_ignore;

/* Loads the ignore file for a build: <dockerfile path>.dockerignore when it
 * exists next to the Dockerfile, else <context_dir>/.dockerignore; neither
 * gives a matcher that excludes nothing. dockerfile_path may be NULL. */
int bld_ignore_load(const char *context_dir, const char *dockerfile_path, bld_ignore **out,
                    sw_error **err);

/* Parses ignore-file text. */
int bld_ignore_parse(const char *text, bld_ignore **out, sw_error **err);

/* 1 when the context path (relative, '/'-separated) is excluded. */
int bld_ignore_matches(const bld_ignore *ig, const char *rel_path);

/* 1 when the directory rel_dir must still be walked because an exception
 * ("!" pattern) may re-include something below it. */
int bld_ignore_dir_needed(const bld_ignore *ig, const char *rel_dir);

void bld_ignore_free(bld_ignore *ig);

#endif
