/*
 * gitfetch.c - a commit over smart HTTP, checked out (see gitfetch.h).
 */
#include "core/gitfetch.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cidr.h"
#include "core/fs.h"
#include "core/strbuf.h"

#define ADVERTISEMENT_MAX (16 * 1024 * 1024)

/* ---- pkt-lines ------------------------------------------------------------ */

/* The length of the pkt-line at p (4 hex digits), -1 when malformed. */
static long pkt_len(const char *p, size_t avail)
{
    if (avail < 4)
        return -1;
    long n = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        n = n * 16 + v;
    }
    if (n != 0 && (n < 4 || (size_t)n > avail))
        return -1;
    return n;
}

static int is_hex40(const char *s, size_t len)
{
    if (len < 40)
        return 0;
    for (size_t i = 0; i < 40; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int sw_git_find_ref(const char *adv, size_t len, const char *ref, char sha[41], char *caps,
                    size_t caps_size)
{
    /* the candidates in order of preference; a tag's peeled line wins */
    char want[4][512];
    size_t n_want = 0;
    int best = 99;
    if (caps && caps_size)
        caps[0] = '\0';
    if (ref && is_hex40(ref, strlen(ref)) && strlen(ref) == 40) {
        memcpy(sha, ref, 41);
        best = 0;
    } else if (ref == NULL || *ref == '\0') {
        snprintf(want[n_want++], sizeof(want[0]), "HEAD");
    } else {
        snprintf(want[n_want++], sizeof(want[0]), "%s", ref);
        snprintf(want[n_want++], sizeof(want[0]), "refs/heads/%s", ref);
        snprintf(want[n_want++], sizeof(want[0]), "refs/tags/%s", ref);
    }
    size_t off = 0;
    while (off < len) {
        long n = pkt_len(adv + off, len - off);
        if (n < 0)
            return -1;
        if (n == 0) {
            off += 4;
            continue;
        }
        const char *line = adv + off + 4;
        size_t l = (size_t)n - 4;
        off += (size_t)n;
        if (l > 0 && line[l - 1] == '\n')
            l--;
        if (!is_hex40(line, l) || l < 42 || line[40] != ' ')
            continue;
        const char *name = line + 41;
        size_t name_len = strnlen(name, l - 41);
        if (name_len < l - 41 && caps && caps_size && caps[0] == '\0')
            snprintf(caps, caps_size, "%.*s", (int)(l - 41 - name_len - 1), name + name_len + 1);
        int peeled = name_len > 3 && memcmp(name + name_len - 3, "^{}", 3) == 0;
        size_t base_len = peeled ? name_len - 3 : name_len;
        for (size_t k = 0; k < n_want; k++) {
            if (strlen(want[k]) != base_len || memcmp(want[k], name, base_len) != 0)
                continue;
            int rank = (int)k * 2 + (peeled ? 0 : 1);
            if (rank < best) {
                best = rank;
                memcpy(sha, line, 40);
                sha[40] = '\0';
            }
        }
    }
    return best == 99 ? 1 : 0;
}

/* ---- HTTP ----------------------------------------------------------------- */

struct xfer {
    const struct sw_git_fetch *f;
    char refused[64];
    sw_strbuf mem; /* the response, when file is NULL */
    FILE *file;
    int64_t size;
    int too_big;
};

static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = ctx;
    (void)purpose;
    if (x->f->allow && !x->f->allow(x->f->allow_ctx, &a->addr)) {
        if (x->refused[0] == '\0')
            sw_sockaddr_format(&a->addr, x->refused, sizeof(x->refused));
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    struct xfer *x = ctx;
    size_t len = size * n;
    x->size += (int64_t)len;
    int64_t max = x->file ? x->f->max_size : ADVERTISEMENT_MAX;
    if (max > 0 && x->size > max) {
        x->too_big = 1;
        return 0;
    }
    if (x->file)
        return fwrite(data, 1, len, x->file);
    sw_strbuf_append(&x->mem, data, len);
    return x->mem.failed ? 0 : len;
}

/* GET url/info/refs (body == NULL) or POST url/git-upload-pack. */
static int request(struct xfer *x, const char *path, const char *body, size_t body_len,
                   sw_error **err)
{
    const struct sw_git_fetch *f = x->f;
    char *url = NULL;
    struct curl_slist *headers = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    int rc = 0;
    size_t ul = strlen(f->url);
    while (ul > 0 && f->url[ul - 1] == '/')
        ul--;
    if (asprintf(&url, "%.*s%s", (int)ul, f->url, path) < 0)
        return sw_error_oom(err);
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        free(url);
        return sw_error_oom(err);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, body ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "git/2.0 (slipway)");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, x);
    /* a proxy from the environment would be the address checked */
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/x-git-upload-pack-request");
        headers = curl_slist_append(headers, "Accept: application/x-git-upload-pack-result");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK && x->refused[0])
        rc = sw_error_set(err, SW_EPERM,
                          "%s refused: %s is not reachable from builds (builder.egress)", f->url,
                          x->refused);
    else if (res != CURLE_OK && x->too_big)
        rc = sw_error_set(err, SW_ETOOBIG, "%s: the repository is larger than %lld bytes", f->url,
                          (long long)(body ? f->max_size : ADVERTISEMENT_MAX));
    else if (res != CURLE_OK)
        rc = sw_error_set(err, SW_EIO, "fetching %s: %s", url,
                          curl_err[0] ? curl_err : curl_easy_strerror(res));
    if (rc == 0 && body == NULL) {
        char *type = NULL;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
        if (type == NULL || strncmp(type, "application/x-git-upload-pack-advertisement", 43) != 0)
            rc = sw_error_set(err, SW_EINVAL, "%s is not a smart HTTP Git server", f->url);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(url);
    return rc;
}

/* ---- checkout ------------------------------------------------------------- */

static int git_fail(sw_error **err, const char *what)
{
    const git_error *e = git_error_last();
    return sw_error_set(err, SW_EIO, "%s: %s", what, e && e->message ? e->message : "failed");
}

/* Indexes the pack that follows the NAK line of the upload-pack response. */
static int index_pack(git_repository *repo, FILE *response, sw_error **err)
{
    char head[8];
    if (fread(head, 1, 8, response) != 8)
        return sw_error_set(err, SW_EIO, "the server sent no pack");
    if (memcmp(head, "0008NAK\n", 8) != 0) {
        char line[200] = "";
        if (memcmp(head + 4, "ERR ", 4) == 0 && fgets(line, sizeof(line), response))
            return sw_error_set(err, SW_EIO, "the server said: %s", line);
        return sw_error_set(err, SW_EIO, "unexpected upload-pack response");
    }
    git_odb *odb = NULL;
    git_odb_writepack *wp = NULL;
    git_indexer_progress stats = { 0 };
    int rc = 0;
    if (git_repository_odb(&odb, repo) != 0 || git_odb_write_pack(&wp, odb, NULL, NULL) != 0) {
        rc = git_fail(err, "indexing the pack");
        goto cleanup;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), response)) > 0)
        if (wp->append(wp, buf, n, &stats) != 0) {
            rc = git_fail(err, "indexing the pack");
            goto cleanup;
        }
    if (wp->commit(wp, &stats) != 0)
        rc = git_fail(err, "indexing the pack");
cleanup:
    if (wp)
        wp->free(wp);
    git_odb_free(odb);
    return rc;
}

/* Sets the times of everything under dir (symlinks themselves) to t. */
static void set_times(int dir_fd, struct timespec t[2])
{
    DIR *d = fdopendir(dir_fd);
    if (d == NULL) {
        close(dir_fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                set_times(sub, t);
        }
        utimensat(dirfd(d), e->d_name, t, AT_SYMLINK_NOFOLLOW);
    }
    futimens(dirfd(d), t);
    closedir(d);
}

static int checkout(const struct sw_git_fetch *f, git_repository *repo, const char *sha,
                    sw_error **err)
{
    git_oid oid;
    git_commit *commit = NULL;
    git_tree *tree = NULL, *sub = NULL;
    git_tree_entry *entry = NULL;
    int rc = 0;
    if (git_oid_fromstr(&oid, sha) != 0 || git_commit_lookup(&commit, repo, &oid) != 0 ||
        git_commit_tree(&tree, commit) != 0) {
        rc = git_fail(err, "reading the fetched commit");
        goto cleanup;
    }
    git_tree *what = tree;
    if (f->subdir && *f->subdir && strcmp(f->subdir, "/") != 0) {
        const char *path = f->subdir;
        while (*path == '/')
            path++;
        if (git_tree_entry_bypath(&entry, tree, path) != 0 ||
            git_tree_entry_type(entry) != GIT_OBJECT_TREE ||
            git_tree_lookup(&sub, repo, git_tree_entry_id(entry)) != 0) {
            rc = sw_error_set(err, SW_ENOTFOUND, "%s: no directory %s at %.12s", f->url, f->subdir,
                              sha);
            goto cleanup;
        }
        what = sub;
    }
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (f->keep_git_dir && what == tree) {
        /* a usable repository: HEAD at the commit, the index written */
        if (git_repository_set_head_detached(repo, &oid) != 0 || git_checkout_head(repo, &co) != 0)
            rc = git_fail(err, "checking out");
    } else {
        co.target_directory = f->dest;
        if (git_checkout_tree(repo, (const git_object *)what, &co) != 0)
            rc = git_fail(err, "checking out");
    }
    if (rc == 0) {
        /* BuildKit gives the files of a Git source the commit's time */
        git_time_t when = git_commit_time(commit);
        struct timespec t[2] = { { .tv_sec = (time_t)when }, { .tv_sec = (time_t)when } };
        int fd = open(f->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            set_times(fd, t);
    }
cleanup:
    git_tree_entry_free(entry);
    git_tree_free(sub);
    git_tree_free(tree);
    git_commit_free(commit);
    return rc;
}

int sw_git_fetch_checkout(const struct sw_git_fetch *f, char commit[41], sw_error **err)
{
    struct xfer x = { .f = f };
    sw_strbuf body = SW_STRBUF_INIT;
    char *pack_path = NULL, *git_dir = NULL;
    git_repository *repo = NULL;
    char caps[1024] = "";
    int rc = 0;
    commit[0] = '\0';
    git_libgit2_init();
    if ((rc = request(&x, "/info/refs?service=git-upload-pack", NULL, 0, err)) != 0)
        goto cleanup;
    int found = x.mem.data
                    ? sw_git_find_ref(x.mem.data, x.mem.len, f->ref, commit, caps, sizeof(caps))
                    : -1;
    if (found < 0) {
        rc = sw_error_set(err, SW_EINVAL, "%s: a malformed ref advertisement", f->url);
        goto cleanup;
    }
    if (found > 0) {
        rc = sw_error_set(err, SW_ENOTFOUND, "%s: no branch or tag '%s'", f->url,
                          f->ref && *f->ref ? f->ref : "HEAD");
        goto cleanup;
    }
    /* one want, no common commits, done: the answer is NAK and a pack */
    char want[128];
    int with_ofs = strstr(caps, "ofs-delta") != NULL;
    int wl = snprintf(want, sizeof(want), "want %s%s\n", commit, with_ofs ? " ofs-delta" : "");
    sw_strbuf_printf(&body, "%04x%s00000009done\n", wl + 4, want);
    if (body.failed || asprintf(&pack_path, "%s.pack", f->dest) < 0) {
        pack_path = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((x.file = fopen(pack_path, "w+xe")) == NULL) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", pack_path);
        goto cleanup;
    }
    x.size = 0;
    if ((rc = request(&x, "/git-upload-pack", body.data, body.len, err)) != 0)
        goto cleanup;
    if ((rc = sw_mkdir_p(f->dest, 0755, err)) != 0)
        goto cleanup;
    if (git_repository_init(&repo, f->dest, 0) != 0) {
        rc = git_fail(err, "creating the repository");
        goto cleanup;
    }
    rewind(x.file);
    if ((rc = index_pack(repo, x.file, err)) != 0 || (rc = checkout(f, repo, commit, err)) != 0) {
        sw_error_prefix(err, "%s", f->url);
        goto cleanup;
    }
    if (!f->keep_git_dir || (f->subdir && *f->subdir && strcmp(f->subdir, "/") != 0)) {
        git_repository_free(repo);
        repo = NULL;
        if ((git_dir = sw_path_join(f->dest, ".git")) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        rc = sw_rm_rf(git_dir, err);
    }
cleanup:
    git_repository_free(repo);
    if (x.file)
        fclose(x.file);
    if (pack_path)
        unlink(pack_path);
    free(pack_path);
    free(git_dir);
    sw_strbuf_free(&x.mem);
    sw_strbuf_free(&body);
    git_libgit2_shutdown();
    if (rc != 0)
        commit[0] = '\0';
    return rc;
}
