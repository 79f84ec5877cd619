/*
 * users.h - user and group names through an image's /etc/passwd and
 * /etc/group, as BuildKit and runc resolve them. One resolver serves the
 * builder (USER for RUN, COPY/ADD --chown) and `slipway run-image` (the
 * autotest runner), so a name means the same ids everywhere.
 *
 * Two rules, because BuildKit has two:
 *
 *   BLD_USER_EXEC  (USER; runc's GetExecUser): "name", "uid", "name:group",
 *                  "uid:gid". A name is looked up in passwd (an error when
 *                  absent); a uid takes the primary group of the passwd
 *                  entry with that uid, else gid 0. A group name is looked
 *                  up in group (an error when absent); a numeric group is
 *                  used as is.
 *   BLD_USER_CHOWN (COPY/ADD --chown; BuildKit's file op): a name takes the
 *                  uid and gid of its passwd entry; a uid without a group
 *                  uses the uid as the gid; "root" is 0 without a lookup.
 *
 * Ids are 0..2147483647, as runc allows.
 */
#ifndef BLD_USERS_H
#define BLD_USERS_H

#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

enum bld_user_mode { BLD_USER_EXEC, BLD_USER_CHOWN };

/* The content of `rel` ("etc/passwd") in the topmost of the unpacked layer
 * directories `dirs` (bottom first) that has an entry for it: a whiteout or
 * anything but a regular file there hides the lower layers (NULL). NULL
 * when absent or unreadable; else malloc'd, NUL-terminated. */
char *bld_user_read_file(char *const *dirs, size_t n_dirs, const char *rel);

/* Resolves spec with the text of passwd and group (NULL: no such file). */
int bld_user_resolve_text(const char *spec, enum bld_user_mode mode, const char *passwd,
                          const char *group, uid_t *uid, gid_t *gid, sw_error **err);

/* Resolves spec with the files of the layers (read only when a name or
 * the primary group of a uid needs them). */
int bld_user_resolve(const char *spec, enum bld_user_mode mode, char *const *dirs, size_t n_dirs,
                     uid_t *uid, gid_t *gid, sw_error **err);

/* 1 when spec needs no user database under `mode`: numeric ids (and
 * "root" for BLD_USER_CHOWN) only. */
int bld_user_is_numeric(const char *spec, enum bld_user_mode mode);

#endif
