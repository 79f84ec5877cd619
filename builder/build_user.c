/*
 * build_user.c - USER names through the image's /etc/passwd and
 * /etc/group.
 */
#include "builder/build_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/layers.h"
#include "core/fs.h"

/* ---- users: names through the image's /etc/passwd and /etc/group --------- */

/* Finds `rel` (e.g. "etc/passwd") in the topmost layer directory that has
 * it and reads it. Whiteouts are honoured: a deleted file is absent. */
static char *read_image_file(struct build *b, struct stage *st, const char *rel)
{
    for (size_t i = st->image.n_layers; i-- > 0;) {
        char *dir = NULL;
        if (bld_layer_unpacked(b->store, &st->image.layers[i], &dir, NULL) != 0)
            return NULL;
        char *path = sw_path_join(dir, rel);
        free(dir);
        if (path == NULL)
            return NULL;
        struct stat s;
        if (lstat(path, &s) == 0) {
            char *data = NULL;
            if (S_ISREG(s.st_mode))
                sw_read_file(path, 4 * 1024 * 1024, &data, NULL, NULL);
            free(path);
            return data; /* NULL for a whiteout or a non-file */
        }
        free(path);
    }
    return NULL;
}

/* Looks `name` up in passwd/group text: field 0 is the name, field 2 the
 * id; for passwd, field 3 is the primary group. */
static int lookup_id(const char *text, const char *name, long *id, long *gid)
{
    if (text == NULL)
        return -1;
    size_t name_len = strlen(name);
    for (const char *line = text; *line;) {
        const char *end = strchrnul(line, '\n');
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *f = line + name_len + 1;
            f = strchr(f, ':'); /* skip password */
            if (f && f < end) {
                *id = strtol(f + 1, NULL, 10);
                const char *g = strchr(f + 1, ':');
                if (gid && g && g < end)
                    *gid = strtol(g + 1, NULL, 10);
                return 0;
            }
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

int bld_is_number(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Resolves "user[:group]" (names or numbers) for stage st. */
int bld_resolve_user(struct build *b, struct stage *st, const char *spec, uid_t *uid, gid_t *gid,
                     sw_error **err)
{
    char user[256], group[256] = "";
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (ulen == 0 || ulen >= sizeof(user) || (colon && strlen(colon + 1) >= sizeof(group)))
        return sw_error_set(err, SW_EINVAL, "bad user '%s'", spec);
    memcpy(user, spec, ulen);
    user[ulen] = '\0';
    if (colon)
        snprintf(group, sizeof(group), "%s", colon + 1);

    long u = 0, g = 0;
    char *passwd = NULL, *groups = NULL;
    int rc = 0;
    if (bld_is_number(user)) {
        u = strtol(user, NULL, 10);
        passwd = read_image_file(b, st, "etc/passwd");
        /* a known uid takes its primary group, as Docker does */
        g = u;
        if (passwd) {
            for (const char *line = passwd; *line;) {
                const char *end = strchrnul(line, '\n');
                const char *f1 = strchr(line, ':');
                const char *f2 = f1 && f1 < end ? strchr(f1 + 1, ':') : NULL;
                if (f2 && f2 < end && strtol(f2 + 1, NULL, 10) == u) {
                    const char *f3 = strchr(f2 + 1, ':');
                    if (f3 && f3 < end)
                        g = strtol(f3 + 1, NULL, 10);
                    break;
                }
                line = *end ? end + 1 : end;
            }
        }
        if (!passwd)
            g = u;
    } else {
        passwd = read_image_file(b, st, "etc/passwd");
        if (lookup_id(passwd, user, &u, &g) != 0) {
            rc = sw_error_set(err, SW_ENOTFOUND,
                              "unable to find user %s: no matching entries "
                              "in passwd file",
                              user);
            goto cleanup;
        }
    }
    if (group[0]) {
        if (bld_is_number(group)) {
            g = strtol(group, NULL, 10);
        } else {
            groups = read_image_file(b, st, "etc/group");
            if (lookup_id(groups, group, &g, NULL) != 0) {
                rc = sw_error_set(err, SW_ENOTFOUND,
                                  "unable to find group %s: no matching "
                                  "entries in group file",
                                  group);
                goto cleanup;
            }
        }
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
cleanup:
    free(passwd);
    free(groups);
    return rc;
}
