/*
 * addgit.c - ADD of a Git URL (see addgit.h).
 */
#include "builder/addgit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/egress.h"
#include "core/fs.h"
#include "core/gitfetch.h"

static int is_ssh_form(const char *s)
{
    return strncmp(s, "git@", 4) == 0 || strncmp(s, "ssh://", 6) == 0 ||
           strncmp(s, "git://", 6) == 0;
}

int bld_addgit_is_git(const char *source)
{
    if (is_ssh_form(source))
        return 1;
    if (strncmp(source, "http://", 7) != 0 && strncmp(source, "https://", 8) != 0)
        return 0;
    size_t len = strcspn(source, "#?");
    return len > 4 && memcmp(source + len - 4, ".git", 4) == 0;
}

static int allow(void *ctx, const struct sockaddr *sa)
{
    return bld_egress_allows(ctx, sa);
}

int bld_addgit_fetch(const struct sw_config *cfg, int network_host, const char *source,
                     int keep_git_dir, const char *dir, const char *name, char commit[41],
                     sw_error **err)
{
    if (is_ssh_form(source))
        return sw_error_set(err, SW_EUNSUPPORTED,
                            "ADD %s: Git over ssh:// and git:// is not supported by Slipway "
                            "(use the https:// URL of the repository)",
                            source);
    char *url = strdup(source);
    char *dest = sw_path_join(dir, name);
    bld_egress *policy = NULL;
    int rc = 0;
    if (url == NULL || dest == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    char *ref = strchr(url, '#');
    char *subdir = NULL;
    if (ref) {
        *ref++ = '\0';
        subdir = strchr(ref, ':');
        if (subdir)
            *subdir++ = '\0';
        if (subdir && (strstr(subdir, "..") != NULL)) {
            rc = sw_error_set(err, SW_EINVAL, "ADD %s: the subdirectory may not hold ..", source);
            goto cleanup;
        }
    }
    if (!network_host && (rc = bld_egress_new(cfg, &policy, err)) != 0)
        goto cleanup;
    struct sw_git_fetch f = {
        .url = url,
        .ref = ref,
        .subdir = subdir,
        .keep_git_dir = keep_git_dir,
        .dest = dest,
        .max_size = cfg ? cfg->add_max_size : (int64_t)2 << 30,
        .allow = policy ? allow : NULL,
        .allow_ctx = policy,
    };
    rc = sw_git_fetch_checkout(&f, commit, err);
cleanup:
    bld_egress_free(policy);
    free(url);
    free(dest);
    return rc;
}

int bld_addgit_excluded(void *ctx, const char *rel_path, int is_dir)
{
    (void)ctx;
    (void)is_dir;
    while (rel_path[0] == '.' && rel_path[1] == '/')
        rel_path += 2;
    return strncmp(rel_path, BLD_ADDGIT_PREFIX, strlen(BLD_ADDGIT_PREFIX)) == 0;
}
