/*
 * users.c - user and group names through an image's /etc/passwd and
 * /etc/group (see users.h).
 */
#include "builder/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"

#define MAX_ID 2147483647L
#define MAX_DB_SIZE (4 * 1024 * 1024)

char *bld_user_read_file(char *const *dirs, size_t n_dirs, const char *rel)
{
    for (size_t i = n_dirs; i-- > 0;) {
        char *path = sw_path_join(dirs[i], rel);
        if (path == NULL)
            return NULL;
        struct stat s;
        if (lstat(path, &s) == 0) {
            char *data = NULL;
            if (S_ISREG(s.st_mode) && sw_read_file(path, MAX_DB_SIZE, &data, NULL, NULL) != 0)
                data = NULL;
            free(path);
            return data; /* NULL for a whiteout or a non-file */
        }
        free(path);
    }
    return NULL;
}

/* A decimal id in 0..MAX_ID, as the whole of s; -1 when s is not one. */
static long parse_id(const char *s, size_t len)
{
    if (len == 0 || len > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= MAX_ID ? v : -1;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Field `n` (0-based) of a ':'-separated line [line, end): its start and
 * length; -1 when the line has fewer fields. */
static int field(const char *line, const char *end, int n, const char **start, size_t *len)
{
    const char *p = line;
    for (int i = 0; i < n; i++) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL)
            return -1;
        p = colon + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    *start = p;
    *len = colon ? (size_t)(colon - p) : (size_t)(end - p);
    return 0;
}

/* Finds the entry of a passwd/group text whose name (field 0) is `name`,
 * or, with name NULL, whose id (field 2) is `id`. Returns the id fields:
 * *id_out (field 2) and, when gid_out is set, *gid_out (field 3). 0 when
 * found. Lines with a bad id are skipped, as Go's parser does. */
static int find_entry(const char *text, const char *name, long id, long *id_out, long *gid_out)
{
    if (text == NULL)
        return -1;
    for (const char *line = text; *line;) {
        const char *end = strchrnul(line, '\n');
        const char *f;
        size_t flen;
        long line_id = -1, line_gid = -1;
        if (field(line, end, 2, &f, &flen) == 0)
            line_id = parse_id(f, flen);
        if (gid_out && field(line, end, 3, &f, &flen) == 0)
            line_gid = parse_id(f, flen);
        int usable = line_id >= 0 && (gid_out == NULL || line_gid >= 0);
        if (usable && line[0] != '#') {
            const char *n;
            size_t nlen;
            field(line, end, 0, &n, &nlen);
            if (name ? (nlen == strlen(name) && strncmp(n, name, nlen) == 0) : line_id == id) {
                *id_out = line_id;
                if (gid_out)
                    *gid_out = line_gid;
                return 0;
            }
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

int bld_user_is_numeric(const char *spec, enum bld_user_mode mode)
{
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    int user_ok = parse_id(spec, ulen) >= 0 ||
                  (mode == BLD_USER_CHOWN && ulen == 4 && strncmp(spec, "root", 4) == 0);
    if (!user_ok)
        return 0;
    if (colon == NULL || colon[1] == '\0')
        return 1;
    return parse_id(colon + 1, strlen(colon + 1)) >= 0 ||
           (mode == BLD_USER_CHOWN && strcmp(colon + 1, "root") == 0);
}

/* A bad or out-of-range number where a number was meant. */
static int check_number(const char *what, const char *text, sw_error **err)
{
    if (all_digits(text) && parse_id(text, strlen(text)) < 0)
        return sw_error_set(err, SW_EINVAL, "%s %s is out of range (0-%ld)", what, text, MAX_ID);
    return 0;
}

int bld_user_resolve_text(const char *spec, enum bld_user_mode mode, const char *passwd,
                          const char *group, uid_t *uid, gid_t *gid, sw_error **err)
{
    char user[256], grp[256] = "";
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (ulen >= sizeof(user) || (colon && strlen(colon + 1) >= sizeof(grp)))
        return sw_error_set(err, SW_EINVAL, "bad user '%.300s': too long", spec);
    memcpy(user, spec, ulen);
    user[ulen] = '\0';
    if (colon)
        snprintf(grp, sizeof(grp), "%s", colon + 1);
    if (check_number("uid", user, err) != 0 || check_number("gid", grp, err) != 0)
        return SW_EINVAL;

    long u = 0, g = 0, id = -1;
    if (user[0] == '\0') {
        u = 0; /* "" and ":group": root, as runc's default */
    } else if (mode == BLD_USER_CHOWN && strcmp(user, "root") == 0) {
        u = g = 0;
    } else if ((id = parse_id(user, strlen(user))) >= 0) {
        u = id;
        if (mode == BLD_USER_CHOWN)
            g = id;
        else if (find_entry(passwd, NULL, id, &u, &g) != 0)
            g = 0;
    } else if (find_entry(passwd, user, 0, &u, &g) != 0) {
        return sw_error_set(err, SW_ENOTFOUND,
                            "unable to find user %s: no matching entries in passwd file", user);
    }

    if (grp[0] != '\0') {
        if (mode == BLD_USER_CHOWN && strcmp(grp, "root") == 0)
            g = 0;
        else if ((id = parse_id(grp, strlen(grp))) >= 0)
            g = id;
        else if (find_entry(group, grp, 0, &g, NULL) != 0)
            return sw_error_set(err, SW_ENOTFOUND,
                                "unable to find group %s: no matching entries in group file", grp);
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

int bld_user_resolve(const char *spec, enum bld_user_mode mode, char *const *dirs, size_t n_dirs,
                     uid_t *uid, gid_t *gid, sw_error **err)
{
    const char *colon = strchr(spec, ':');
    /* BuildKit's fast path: "uid:gid" (or any numeric --chown) reads nothing */
    int needs_passwd =
        !(bld_user_is_numeric(spec, mode) && (mode == BLD_USER_CHOWN || (colon && colon[1])));
    int needs_group = colon && !bld_user_is_numeric(colon + 1, mode);
    char *passwd = needs_passwd ? bld_user_read_file(dirs, n_dirs, "etc/passwd") : NULL;
    char *group = needs_group ? bld_user_read_file(dirs, n_dirs, "etc/group") : NULL;
    int rc = bld_user_resolve_text(spec, mode, passwd, group, uid, gid, err);
    free(passwd);
    free(group);
    return rc;
}
