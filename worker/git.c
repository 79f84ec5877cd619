/*
 * git.c - mirrors and checkouts with libgit2 (see git.h).
 */
#include "worker/git.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <strings.h>
#include <sys/socket.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/base64.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/strbuf.h"
#include "worker/known_hosts.h"

#define MAX_SUBMODULE_DEPTH 8
#define MAX_AUTH_TRIES 3

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---- origins ------------------------------------------------------------------ */

/* Where credentials may go: scheme, host (lower case, no brackets) and
 * port (the scheme's default filled in, as libgit2 does). */
struct origin {
    char scheme[8]; /* https, http, ssh, git */
    char host[256];
    char port[8];
};

/* The origin of a Git URL: scheme://[user@]host[:port]/..., or
 * [user@]host:path (ssh). -1 for local paths, file:// and unknown schemes. */
static int parse_origin(const char *url, struct origin *o)
{
    static const char *const schemes[][3] = {
        { "https://", "https", "443" }, { "http://", "http", "80" },   { "ssh://", "ssh", "22" },
        { "ssh+git://", "ssh", "22" },  { "git+ssh://", "ssh", "22" }, { "git://", "git", "9418" },
    };
    const char *auth = NULL, *default_port = "22";
    memset(o, 0, sizeof(*o));
    if (url == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i][0]);
        if (strncasecmp(url, schemes[i][0], n) == 0) {
            snprintf(o->scheme, sizeof(o->scheme), "%s", schemes[i][1]);
            default_port = schemes[i][2];
            auth = url + n;
            break;
        }
    }
    size_t len;
    if (auth) {
        len = strcspn(auth, "/?#");
    } else {
        /* scp-like: a ':' before any '/', something before it */
        if (strstr(url, "://") || url[0] == '/' || url[0] == '.' || url[0] == '-')
            return -1;
        const char *colon = url[0] == '[' ? strstr(url, "]:") : strchr(url, ':');
        if (colon && url[0] == '[')
            colon++;
        const char *slash = strchr(url, '/');
        /* "<transport>::<address>" is a remote helper (ext::, fd::), no host */
        if (colon == NULL || colon == url || (slash && slash < colon) || colon[1] == ':')
            return -1;
        snprintf(o->scheme, sizeof(o->scheme), "ssh");
        auth = url;
        len = (size_t)(colon - url);
    }
    const char *at = NULL;
    for (const char *p = auth; p < auth + len; p++)
        if (*p == '@')
            at = p;
    const char *host = at ? at + 1 : auth, *end = auth + len, *port = NULL;
    size_t host_len;
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close == NULL)
            return -1;
        host_len = (size_t)(close - host - 1);
        host++;
        if (close + 1 < end) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        host_len = (size_t)((colon ? colon : end) - host);
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0 || host_len >= sizeof(o->host))
        return -1;
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != ':')
            return -1;
        o->host[i] = (char)tolower(c);
    }
    size_t port_len = port ? (size_t)(end - port) : 0;
    if (port_len >= sizeof(o->port) || strspn(port ? port : "", "0123456789") < port_len)
        return -1;
    if (port_len > 0)
        memcpy(o->port, port, port_len);
    else
        snprintf(o->port, sizeof(o->port), "%s", default_port);
    return 0;
}

static int same_origin(const struct origin *a, const struct origin *b)
{
    return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
           strcmp(a->port, b->port) == 0;
}

int wrk_git_same_origin(const char *a, const char *b)
{
    struct origin oa, ob;
    return parse_origin(a, &oa) == 0 && parse_origin(b, &ob) == 0 && same_origin(&oa, &ob);
}

static void origin_text(const struct origin *o, char *out, size_t size)
{
    snprintf(out, size, "%s://%s%s%s:%s", o->scheme, strchr(o->host, ':') ? "[" : "", o->host,
             strchr(o->host, ':') ? "]" : "", o->port);
}

/* ---- the connection guard ------------------------------------------------------ */

/* libgit2 follows HTTP redirects itself and then asks the credentials
 * callback with the URL it started from, so the callback cannot tell that
 * the server asking is another one; nor does libgit2 count another port
 * on the same host as "off-site". Every connection libgit2 makes goes
 * through the standard socket stream (TLS wraps it), so we provide that
 * stream and note, per thread, whether a fetch connected anywhere but its
 * origin: credentials_cb then refuses. The struct has the layout of
 * libgit2 1.5's git_socket_stream, whose SSH transport reads the socket
 * from it; for other libgit2 versions the guard is left out and only
 * libgit2's own rule (GIT_REMOTE_REDIRECT_NONE: no other host) holds. */
#if LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR == 5
#define HAVE_CONNECTION_GUARD 1
#endif

struct connection_guard {
    const struct origin *origin; /* where this fetch may connect with credentials */
    int left_origin;             /* it connected elsewhere */
    char elsewhere[300];         /* "host:port" of the first other place */
    int credentials_given;       /* libgit2 holds credentials of ours */
    char *refusal;               /* where to say why a connection was refused */
    size_t refusal_size;
};

static _Thread_local struct connection_guard *current_guard;

#ifdef HAVE_CONNECTION_GUARD
struct guarded_socket {
    git_stream parent;
    char *host;
    char *port;
    int s;
};

static int guarded_connect(git_stream *stream)
{
    struct guarded_socket *gs = (struct guarded_socket *)stream;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
    struct addrinfo *info = NULL;
    int rc = getaddrinfo(gs->host, gs->port, &hints, &info);
    if (rc != 0) {
        git_error_set(GIT_ERROR_NET, "failed to resolve address for %s: %s", gs->host,
                      gai_strerror(rc));
        return -1;
    }
    int s = -1;
    for (struct addrinfo *p = info; p; p = p->ai_next) {
        s = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (s < 0)
            continue;
        if (connect(s, p->ai_addr, p->ai_addrlen) == 0)
            break;
        close(s);
        s = -1;
    }
    freeaddrinfo(info);
    if (s < 0) {
        git_error_set(GIT_ERROR_OS, "failed to connect to %s", gs->host);
        return -1;
    }
    gs->s = s;
    return 0;
}

static ssize_t guarded_read(git_stream *stream, void *data, size_t len)
{
    struct guarded_socket *gs = (struct guarded_socket *)stream;
    ssize_t n;
    while ((n = recv(gs->s, data, len, 0)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        git_error_set(GIT_ERROR_NET, "error receiving socket data: %s", strerror(errno));
    return n;
}

static ssize_t guarded_write(git_stream *stream, const char *data, size_t len, int flags)
{
    struct guarded_socket *gs = (struct guarded_socket *)stream;
    ssize_t n;
    while ((n = send(gs->s, data, len, flags | MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        git_error_set(GIT_ERROR_NET, "error sending data: %s", strerror(errno));
    return n;
}

static int guarded_close(git_stream *stream)
{
    struct guarded_socket *gs = (struct guarded_socket *)stream;
    if (gs->s >= 0)
        close(gs->s);
    gs->s = -1;
    return 0;
}

static void guarded_free(git_stream *stream)
{
    struct guarded_socket *gs = (struct guarded_socket *)stream;
    free(gs->host);
    free(gs->port);
    free(gs);
}

static int guarded_socket_new(git_stream **out, const char *host, const char *port)
{
    struct connection_guard *g = current_guard;
    if (g && g->origin && !g->left_origin) {
        char bare[256];
        size_t n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
            snprintf(bare, sizeof(bare), "%.*s", (int)(n - 2), host + 1);
        else
            snprintf(bare, sizeof(bare), "%s", host);
        if (strcasecmp(bare, g->origin->host) != 0 || strcmp(port, g->origin->port) != 0) {
            g->left_origin = 1;
            snprintf(g->elsewhere, sizeof(g->elsewhere), "%s:%s", host, port);
            /* libgit2 re-sends credentials it holds when a redirect answer
             * carries a challenge: once it holds ours, no other origin */
            if (g->credentials_given) {
                snprintf(g->refusal, g->refusal_size,
                         "redirected to %s after authenticating: the credentials are not"
                         " offered to another origin; not following",
                         g->elsewhere);
                git_error_set_str(GIT_ERROR_NET, g->refusal);
                return -1;
            }
        }
    }
    struct guarded_socket *gs = calloc(1, sizeof(*gs));
    if (gs == NULL || (gs->host = strdup(host)) == NULL || (gs->port = strdup(port)) == NULL) {
        if (gs) {
            free(gs->host);
            free(gs);
        }
        git_error_set_oom();
        return -1;
    }
    gs->s = -1;
    gs->parent.version = GIT_STREAM_VERSION;
    gs->parent.connect = guarded_connect;
    gs->parent.read = guarded_read;
    gs->parent.write = guarded_write;
    gs->parent.close = guarded_close;
    gs->parent.free = guarded_free;
    *out = &gs->parent;
    return 0;
}
#endif

static void init_libgit2(void)
{
    git_libgit2_init();
#ifdef HAVE_CONNECTION_GUARD
    git_stream_registration reg = { .version = GIT_STREAM_VERSION, .init = guarded_socket_new };
    git_stream_register(GIT_STREAM_STANDARD, &reg);
#endif
}

/* The libgit2 error as an sw_error, with context. A URL in arg loses its
 * user:password@ part: messages end up in logs and the API. */
static int git_fail(sw_error **err, int code, const char *what, const char *arg)
{
    const git_error *e = git_error_last();
    const char *scheme = strstr(arg, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (at && (slash == NULL || at < slash))
        return sw_error_set(err, code, "%s %.*s%s: %s", what, (int)(scheme + 3 - arg), arg, at + 1,
                            e && e->message ? e->message : "failed");
    return sw_error_set(err, code, "%s %s: %s", what, arg, e && e->message ? e->message : "failed");
}

void wrk_commit_info_release(struct wrk_commit_info *ci)
{
    if (ci == NULL)
        return;
    free(ci->message);
    free(ci->summary);
    free(ci->author);
    memset(ci, 0, sizeof(*ci));
}

int wrk_git_mirror_path(const char *data_dir, const char *url, char **out, sw_error **err)
{
    char digest[SW_DIGEST_MAX];
    sw_sha256_digest(url, strlen(url), digest);
    if (asprintf(out, "%s/git/%.16s.git", data_dir, digest + strlen("sha256:")) < 0)
        return sw_error_oom(err);
    return 0;
}

/* flock on "<mirror>.lock"; the fd, or -1 with err set. */
static int lock_mirror(const char *mirror, int op, sw_error **err)
{
    char *path = NULL;
    if (asprintf(&path, "%s.lock", mirror) < 0) {
        sw_error_oom(err);
        return -1;
    }
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) {
        *slash = '\0';
        sw_mkdir_p(dir, 0750, NULL);
    }
    free(dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        sw_error_sys(err, SW_EIO, errno, "opening %s", path);
    } else {
        while (flock(fd, op) != 0) {
            if (errno != EINTR) {
                sw_error_sys(err, SW_EIO, errno, "locking %s", path);
                close(fd);
                fd = -1;
                break;
            }
        }
    }
    free(path);
    return fd;
}

/* ---- credentials ---------------------------------------------------------- */

struct cred_state {
    const struct wrk_git_auth *auth;
    int tries;
    const char *url;
    int ssh_key_offered;
    char hostkey_error[2048]; /* why the SSH host key was refused */
    const char *url_user;     /* the user:password of the URL, taken out of it */
    const char *url_password;
    struct origin cred_origin; /* where the credentials may go */
    struct origin fetch_origin;
    int origins_known; /* both parsed */
    struct connection_guard guard;
    char refusal[600]; /* why credentials were withheld */
};

static int withhold(struct cred_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records why no credentials go out (the fetch then fails with it). */
static int withhold(struct cred_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->refusal, sizeof(st->refusal), fmt, ap);
    va_end(ap);
    git_error_set_str(GIT_ERROR_NET, st->refusal);
    return GIT_EUSER;
}

/* 0 when credentials may be offered to the server asking now. */
static int credentials_allowed(struct cred_state *st)
{
    char want[300], asking[300];
    if (!st->origins_known)
        return withhold(st, "credentials are only offered to https://, http:// and ssh:// origins");
    origin_text(&st->cred_origin, want, sizeof(want));
    origin_text(&st->fetch_origin, asking, sizeof(asking));
    if (!same_origin(&st->cred_origin, &st->fetch_origin))
        return withhold(st, "the credentials configured for %s are not offered to %s", want,
                        asking);
    if (st->guard.left_origin)
        return withhold(st,
                        "%s redirected to %s: the credentials configured for %s are not offered"
                        " to another origin",
                        want, st->guard.elsewhere, want);
    if (strcmp(st->fetch_origin.scheme, "http") == 0 && !(st->auth && st->auth->insecure))
        return withhold(st,
                        "not sending the credentials for %s over plain http:// (set insecure: true"
                        " on the repository to allow it)",
                        want);
    return 0;
}

static int credentials_cb(git_credential **out, const char *url, const char *username_from_url,
                          unsigned int allowed, void *payload)
{
    struct cred_state *st = payload;
    (void)url;
    if (st == NULL || (st->auth == NULL && st->url_user == NULL))
        return GIT_PASSTHROUGH;
    if (++st->tries > MAX_AUTH_TRIES) {
        git_error_set_str(GIT_ERROR_NET, "authentication failed (the credentials were refused)");
        return GIT_EUSER;
    }
    const char *token = st->auth ? st->auth->token : NULL;
    const char *ssh_key = st->auth ? st->auth->ssh_key : NULL;
    int rc;
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && (st->url_user || token)) {
        if ((rc = credentials_allowed(st)) != 0)
            return rc;
        st->guard.credentials_given = 1;
        if (st->url_user)
            return git_credential_userpass_plaintext_new(out, st->url_user,
                                                         st->url_password ? st->url_password : "");
        return git_credential_userpass_plaintext_new(out, "x-access-token", token);
    }
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && ssh_key) {
        if ((rc = credentials_allowed(st)) != 0)
            return rc;
        /* one key, offered once: the server refused it */
        if (st->ssh_key_offered++) {
            git_error_set_str(GIT_ERROR_NET, "authentication failed (the server refused the"
                                             " SSH key)");
            return GIT_EUSER;
        }
        st->guard.credentials_given = 1;
        return git_credential_ssh_key_new(out, username_from_url ? username_from_url : "git", NULL,
                                          ssh_key, NULL);
    }
    if (allowed & GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, username_from_url ? username_from_url : "git");
    return GIT_PASSTHROUGH;
}

/* ---- SSH host keys ------------------------------------------------------------ */

/* The port of an ssh:// URL (22 when it names none; scp-like URLs have
 * none). */
static int ssh_port(const char *url)
{
    if (strncmp(url, "ssh://", 6) != 0)
        return 22;
    const char *host = url + 6;
    size_t len = strcspn(host, "/");
    const char *at = memchr(host, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    const char *end = host + len;
    const char *colon = NULL;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', len);
        colon = close && close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(host, ':', len);
    }
    int64_t port = 22;
    if (colon == NULL || sw_parse_int64_prefix(colon + 1, 1, 65535, &port, NULL) != 0)
        return 22;
    return (int)port;
}

/* OpenSSH's way of showing a key: SHA256: and unpadded base64. */
static void fingerprint(const git_cert_hostkey *hk, char *out, size_t size)
{
    if (!(hk->type & GIT_CERT_SSH_SHA256)) {
        snprintf(out, size, "no SHA256 fingerprint");
        return;
    }
    char *b64 = sw_base64_encode(hk->hash_sha256, sizeof(hk->hash_sha256));
    size_t n = b64 ? strcspn(b64, "=") : 0;
    snprintf(out, size, "SHA256:%.*s", (int)n, b64 ? b64 : "");
    free(b64);
}

static const char *key_type_name(git_cert_ssh_raw_type_t t)
{
    switch (t) {
    case GIT_CERT_SSH_RAW_TYPE_RSA:
        return "ssh-rsa";
    case GIT_CERT_SSH_RAW_TYPE_DSS:
        return "ssh-dss";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256:
        return "ecdsa-sha2-nistp256";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384:
        return "ecdsa-sha2-nistp384";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521:
        return "ecdsa-sha2-nistp521";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519:
        return "ssh-ed25519";
    default:
        return "key";
    }
}

/* libgit2 asks before it authenticates: the server's key must be in the
 * repository's known_hosts file, or in OpenSSH's default files. https
 * certificates are left to libgit2 (OpenSSL's verification). */
static int certificate_cb(git_cert *cert, int valid, const char *host, void *payload)
{
    struct cred_state *st = payload;
    (void)valid;
    if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2 || st == NULL)
        return GIT_PASSTHROUGH;
    const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
    int port = ssh_port(st->url);
    char fpr[80], where[4200] = "", files[4200];
    fingerprint(hk, fpr, sizeof(fpr));
    const char *type = key_type_name(hk->raw_type);
    if (!(hk->type & GIT_CERT_SSH_RAW) || hk->hostkey == NULL) {
        snprintf(st->hostkey_error, sizeof(st->hostkey_error),
                 "the SSH server %s:%d sent no host key to check", host, port);
        return GIT_ECERTIFICATE;
    }

    char user_file[SW_PATH_MAX] = "";
    const char *home = getenv("HOME");
    if (home && *home &&
        snprintf(user_file, sizeof(user_file), "%s/.ssh/known_hosts", home) >=
            (int)sizeof(user_file))
        user_file[0] = '\0'; /* a cut path would name another file */
    const char *paths[2] = { NULL, NULL };
    if (st->auth && st->auth->known_hosts) {
        paths[0] = st->auth->known_hosts;
    } else {
        paths[0] = user_file[0] ? user_file : NULL;
        paths[1] = "/etc/ssh/ssh_known_hosts";
    }
    snprintf(files, sizeof(files), "%s%s%s", paths[0] ? paths[0] : "",
             paths[0] && paths[1] ? " or " : "", paths[1] ? paths[1] : "");

    enum wrk_host_key best = WRK_HOST_UNKNOWN;
    for (int i = 0; i < 2; i++) {
        if (paths[i] == NULL)
            continue;
        enum wrk_host_key found;
        char here[4200];
        sw_error *e = NULL;
        if (wrk_known_hosts_check(paths[i], host, port, (const unsigned char *)hk->hostkey,
                                  hk->hostkey_len, &found, here, sizeof(here), &e) != 0) {
            snprintf(st->hostkey_error, sizeof(st->hostkey_error), "%s", sw_error_message(e));
            sw_error_clear(&e);
            return GIT_ECERTIFICATE;
        }
        if (found > best) {
            best = found;
            snprintf(where, sizeof(where), "%s", here);
        }
    }
    char name[300];
    if (port == 22)
        snprintf(name, sizeof(name), "%s", host);
    else
        snprintf(name, sizeof(name), "[%s]:%d", host, port);
    switch (best) {
    case WRK_HOST_MATCH:
        return 0;
    case WRK_HOST_REVOKED:
        snprintf(st->hostkey_error, sizeof(st->hostkey_error),
                 "the SSH host key of %s (%s %s) is revoked in %.900s", name, type, fpr, where);
        break;
    case WRK_HOST_MISMATCH:
        snprintf(st->hostkey_error, sizeof(st->hostkey_error),
                 "the SSH host key of %s (%s %s) is not the one in %.900s: the server's key"
                 " changed, or something is in between; not fetching",
                 name, type, fpr, where);
        break;
    default:
        snprintf(st->hostkey_error, sizeof(st->hostkey_error),
                 "the SSH host %s (%s %s) is not in %.900s; check the key, then add it"
                 " (ssh-keyscan%s%.0d %s >> FILE) or set known_hosts for the repository",
                 name, type, fpr, files[0] ? files : "any known_hosts file",
                 port == 22 ? "" : " -p ", port == 22 ? 0 : port, host);
        break;
    }
    return GIT_ECERTIFICATE;
}

/* ---- fetch ------------------------------------------------------------------ */

/* Resolves what the run wants to a commit id in repo. */
static int resolve(git_repository *repo, const char *source_type, const char *ref, const char *want,
                   char sha_out[41], sw_error **err)
{
    git_object *obj = NULL;
    git_commit *commit = NULL;
    int rc = 0;
    if (want && *want) {
        git_oid oid;
        size_t n = strlen(want);
        if (n < 4 || n > 40 || git_oid_fromstrn(&oid, want, n) != 0)
            return sw_error_set(err, SW_EINVAL, "\"%s\" is not a commit id", want);
        /* any object: a forge's push of an annotated tag names the tag
         * object (GitHub's and Gitea's `after`), peeled below */
        if (git_object_lookup_prefix(&obj, repo, &oid, n, GIT_OBJECT_ANY) != 0)
            return sw_error_set(err, SW_ENOTFOUND, "commit %s is not in the repository", want);
    } else {
        char full[512];
        const char *kind = strcmp(source_type, "tag") == 0 ? "tag" : "branch";
        if (strcmp(source_type, "commit") == 0)
            return resolve(repo, source_type, NULL, ref, sha_out, err);
        snprintf(full, sizeof(full), "refs/%s/%s", strcmp(kind, "tag") == 0 ? "tags" : "heads",
                 ref);
        if (git_revparse_single(&obj, repo, full) != 0)
            return sw_error_set(err, SW_ENOTFOUND, "%s %s does not exist in the repository", kind,
                                ref);
    }
    if (git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) != 0) {
        rc = sw_error_set(err, SW_ENOTFOUND, "%s does not name a commit", want ? want : ref);
        goto cleanup;
    }
    git_oid_tostr(sha_out, 41, git_commit_id(commit));
cleanup:
    git_commit_free(commit);
    git_object_free(obj);
    return rc;
}

/* The commit a pull request's head ref points at in the mirror, which
 * must be want (when given): the forge moves the ref on every push to the
 * pull request, so another commit means a newer push. */
static int resolve_pull(git_repository *repo, const char *ref, const char *want, char sha_out[41],
                        sw_error **err)
{
    git_object *obj = NULL;
    git_commit *commit = NULL;
    int rc = 0;
    if (git_revparse_single(&obj, repo, ref) != 0)
        return sw_error_set(err, SW_ENOTFOUND,
                            "%s does not exist in the repository (was the pull request closed?)",
                            ref);
    if (git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) != 0) {
        rc = sw_error_set(err, SW_ENOTFOUND, "%s does not name a commit", ref);
        goto cleanup;
    }
    git_oid_tostr(sha_out, 41, git_commit_id(commit));
    if (want && *want && strncasecmp(sha_out, want, strlen(want)) != 0)
        rc = sw_error_set(err, SW_ECONFLICT,
                          "%s is now at %.12s, not at %.12s (the head commit the delivery named): "
                          "a newer push to the pull request supersedes this run",
                          ref, sha_out, want);
cleanup:
    git_commit_free(commit);
    git_object_free(obj);
    return rc;
}

/* The mirror's repository, created on first use. Fetches go through an
 * anonymous remote with explicit refspecs: nothing about the remote is kept
 * in the mirror's config (and libgit2 1.5 leaks a little on every config
 * regex match a named remote's lookup does). */
static int open_mirror(const char *mirror, const char *url, git_repository **repo,
                       git_remote **remote, sw_error **err)
{
    if (git_repository_open_bare(repo, mirror) != 0) {
        if (git_repository_init(repo, mirror, 1) != 0)
            return git_fail(err, SW_EIO, "creating the mirror", mirror);
    }
    if (git_remote_create_anonymous(remote, *repo, url) != 0)
        return git_fail(err, SW_EIO, "setting up a fetch from", url);
    return 0;
}

int wrk_git_is_pull_ref(const char *ref)
{
    static const char *const prefixes[] = { "refs/pull/", "refs/merge-requests/", NULL };
    for (size_t i = 0; ref && prefixes[i]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(ref, prefixes[i], n) != 0)
            continue;
        size_t digits = strspn(ref + n, "0123456789");
        return digits >= 1 && digits <= 12 && ref[n] != '0' &&
               strcmp(ref + n + digits, "/head") == 0;
    }
    return 0;
}

/* Fetches the branches and tags, or (pull_ref not NULL) only that pull
 * request head ref, into the mirror under the same names. */
static int do_fetch(git_repository *repo, git_remote *remote, const struct wrk_git_auth *auth,
                    const char *url, const char *url_user, const char *url_password,
                    const char *pull_ref, sw_error **err)
{
    (void)repo;
    char pull_spec[128];
    char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
    char *pull_specs[] = { pull_spec };
    git_strarray refspecs = { specs, 2 };
    if (pull_ref) {
        snprintf(pull_spec, sizeof(pull_spec), "+%s:%s", pull_ref, pull_ref);
        refspecs.strings = pull_specs;
        refspecs.count = 1;
    }
    git_fetch_options opts;
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    struct cred_state st = {
        .auth = auth, .url = url, .url_user = url_user, .url_password = url_password
    };
    st.origins_known =
        parse_origin(auth && auth->origin ? auth->origin : url, &st.cred_origin) == 0 &&
        parse_origin(url, &st.fetch_origin) == 0;
    st.guard.origin = st.origins_known ? &st.fetch_origin : NULL;
    st.guard.refusal = st.refusal;
    st.guard.refusal_size = sizeof(st.refusal);
    opts.callbacks.credentials = credentials_cb;
    opts.callbacks.certificate_check = certificate_cb;
    opts.callbacks.payload = &st;
    opts.prune = GIT_FETCH_NO_PRUNE;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
#ifdef HAVE_CONNECTION_GUARD
    /* redirects of the first request only (a moved repository), whatever
     * http.followRedirects says; the guard keeps credentials at home */
    opts.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;
#else
    /* without the guard, at least no other host (see above) */
    opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
#endif
    current_guard = &st.guard;
    int failed = git_remote_fetch(remote, &refspecs, &opts, NULL) != 0;
    current_guard = NULL;
    if (failed) {
        if (st.refusal[0]) {
            git_error_set_str(GIT_ERROR_NET, st.refusal);
            return git_fail(err, SW_EPERM, "fetching", url);
        }
        if (st.hostkey_error[0]) {
            /* libgit2 puts its own words over ours; git_fail redacts the URL */
            git_error_set_str(GIT_ERROR_SSH, st.hostkey_error);
            return git_fail(err, SW_EPERM, "fetching", url);
        }
        const git_error *e = git_error_last();
        int refused =
            st.tries > MAX_AUTH_TRIES || st.ssh_key_offered > 1 || (e && e->klass == GIT_ERROR_SSH);
        int code = refused ? SW_EPERM : SW_EIO;
        return git_fail(err, code, "fetching", url);
    }
    return 0;
}

static char *percent_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t k = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            out[k++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

/* Takes the user:password out of scheme://user:password@host/...: the
 * URL without it (malloc'd) and the decoded user and password (malloc'd,
 * NULL when the URL names none), so that they go out only through
 * credentials_cb and its origin rules, never by libgit2 on its own. */
static int split_userinfo(const char *url, char **clean, char **user, char **password)
{
    *clean = *user = *password = NULL;
    const char *scheme = strstr(url, "://");
    const char *authority = scheme ? scheme + 3 : NULL;
    const char *end = authority ? authority + strcspn(authority, "/?#") : NULL;
    const char *at = NULL;
    for (const char *p = authority; p && p < end; p++)
        if (*p == '@')
            at = p;
    if (at == NULL || strncmp(url, "ssh", 3) == 0 || strncmp(url, "git+ssh", 7) == 0) {
        *clean = strdup(url);
        return *clean ? 0 : -1;
    }
    const char *colon = memchr(authority, ':', (size_t)(at - authority));
    *user = percent_decode(authority, (size_t)((colon ? colon : at) - authority));
    if (colon)
        *password = percent_decode(colon + 1, (size_t)(at - colon - 1));
    if (asprintf(clean, "%.*s%s", (int)(authority - url), url, at + 1) < 0)
        *clean = NULL;
    return *clean && *user && (colon == NULL || *password) ? 0 : -1;
}

int wrk_git_fetch_here(const char *mirror, const char *url, const struct wrk_git_auth *auth,
                       const char *source_type, const char *ref, const char *want_sha,
                       char sha_out[41], sw_error **err)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    char *clean_url = NULL, *url_user = NULL, *url_password = NULL;
    int rc = 0, lock;
    int is_pull = source_type && strcmp(source_type, "pull_request") == 0;
    if (is_pull && !wrk_git_is_pull_ref(ref))
        return sw_error_set(err, SW_EINVAL, "\"%s\" is not a pull request's head ref", ref);
    pthread_once(&init_once, init_libgit2);
    if ((lock = lock_mirror(mirror, LOCK_EX, err)) < 0)
        return SW_EIO;
    /* the commit is there already: nothing to fetch (a pull request's ref
     * is always fetched: where it points now is the answer) */
    if (!is_pull && want_sha && git_repository_open_bare(&repo, mirror) == 0 &&
        resolve(repo, source_type, ref, want_sha, sha_out, NULL) == 0)
        goto cleanup;
    git_repository_free(repo);
    repo = NULL;
    if (split_userinfo(url, &clean_url, &url_user, &url_password) != 0) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = open_mirror(mirror, clean_url, &repo, &remote, err)) != 0)
        goto cleanup;
    if ((rc = do_fetch(repo, remote, auth, clean_url, url_user, url_password, is_pull ? ref : NULL,
                       err)) != 0)
        goto cleanup;
    if (is_pull)
        rc = resolve_pull(repo, ref, want_sha, sha_out, err);
    else
        rc = resolve(repo, source_type, ref, want_sha, sha_out, err);
cleanup:
    git_remote_free(remote);
    git_repository_free(repo);
    free(clean_url);
    free(url_user);
    if (url_password)
        explicit_bzero(url_password, strlen(url_password));
    free(url_password);
    close(lock);
    return rc;
}

/* ---- fetching in a helper process ---------------------------------------------- */

static char *helper_exe;

void wrk_git_use_helper(const char *exe)
{
    free(helper_exe);
    helper_exe = exe ? strdup(exe) : NULL;
}

/* Exit statuses of the helper, for the error codes that matter. */
static int helper_status_for(int code)
{
    switch (code) {
    case SW_ENOTFOUND:
        return 3;
    case SW_EPERM:
        return 4;
    case SW_EINVAL:
        return 5;
    case SW_ECONFLICT:
        return 6;
    default:
        return 1;
    }
}

static int code_for_helper_status(int status)
{
    switch (status) {
    case 3:
        return SW_ENOTFOUND;
    case 4:
        return SW_EPERM;
    case 5:
        return SW_EINVAL;
    case 6:
        return SW_ECONFLICT;
    default:
        return SW_EIO;
    }
}

int wrk_git_fetch_helper_main(int argc, char **argv)
{
#ifdef __SANITIZE_ADDRESS__
    /* This process exists so that libgit2's and libssh2's leaks end with it
     * (see fetch_in_child); under LeakSanitizer they would fail it. Our own
     * fetch code is leak-checked in-process by tests/unit/worker/test_git. */
    __lsan_disable();
#endif
    /* __git-fetch MIRROR URL SOURCE_TYPE REF [WANT]; credentials in the
     * environment (SLIPWAY_GIT_TOKEN, SLIPWAY_GIT_SSH_KEY), never in argv */
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: slipway __git-fetch MIRROR URL SOURCE_TYPE REF [WANT]\n");
        return 2;
    }
    const char *insecure = getenv("SLIPWAY_GIT_INSECURE");
    struct wrk_git_auth auth = { .token = getenv("SLIPWAY_GIT_TOKEN"),
                                 .ssh_key = getenv("SLIPWAY_GIT_SSH_KEY"),
                                 .known_hosts = getenv("SLIPWAY_GIT_KNOWN_HOSTS"),
                                 .origin = getenv("SLIPWAY_GIT_ORIGIN"),
                                 .insecure = insecure && strcmp(insecure, "1") == 0 };
    /* a URL with user:password comes in the environment, argv shows "-" */
    const char *url = strcmp(argv[2], "-") == 0 && getenv("SLIPWAY_GIT_URL")
                          ? getenv("SLIPWAY_GIT_URL")
                          : argv[2];
    char sha[41];
    sw_error *err = NULL;
    int rc = wrk_git_fetch_here(argv[1], url, &auth, argv[3], argv[4], argc == 6 ? argv[5] : NULL,
                                sha, &err);
    if (rc == 0) {
        printf("%s\n", sha);
        return 0;
    }
    printf("%s\n", sw_error_message(err));
    sw_error_clear(&err);
    return helper_status_for(rc);
}

/* Runs the fetch in a child process: libgit2 1.5 leaks a little memory on
 * every config lookup (a pcre2 match block per non-matching entry), which
 * a long-running server must not accumulate; a child's leaks end with it. */
static int fetch_in_child(const char *mirror, const char *url, const struct wrk_git_auth *auth,
                          const char *source_type, const char *ref, const char *want_sha,
                          char sha_out[41], sw_error **err)
{
    /* everything the child needs is made before fork: only async-signal-safe
     * calls may follow it in a threaded process */
    extern char **environ;
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 8, sizeof(char *));
    char *token_env = NULL, *key_env = NULL, *hosts_env = NULL, *origin_env = NULL;
    char *url_env = NULL;
    static char insecure_env[] = "SLIPWAY_GIT_INSECURE=1";
    if (envp == NULL)
        return sw_error_oom(err);
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "SLIPWAY_GIT_", 12) != 0)
            envp[k++] = environ[i];
    if (auth && auth->token && asprintf(&token_env, "SLIPWAY_GIT_TOKEN=%s", auth->token) >= 0)
        envp[k++] = token_env;
    if (auth && auth->ssh_key && asprintf(&key_env, "SLIPWAY_GIT_SSH_KEY=%s", auth->ssh_key) >= 0)
        envp[k++] = key_env;
    if (auth && auth->known_hosts &&
        asprintf(&hosts_env, "SLIPWAY_GIT_KNOWN_HOSTS=%s", auth->known_hosts) >= 0)
        envp[k++] = hosts_env;
    if (auth && auth->origin && asprintf(&origin_env, "SLIPWAY_GIT_ORIGIN=%s", auth->origin) >= 0)
        envp[k++] = origin_env;
    if (auth && auth->insecure)
        envp[k++] = insecure_env;
    /* user:password in the URL: not in argv, which every user can read */
    const char *scheme = strstr(url, "://");
    const char *authority = scheme ? scheme + 3 : NULL;
    const char *at = authority ? strchr(authority, '@') : NULL;
    int url_has_password = at && at < authority + strcspn(authority, "/") &&
                           memchr(authority, ':', (size_t)(at - authority));
    if (url_has_password && asprintf(&url_env, "SLIPWAY_GIT_URL=%s", url) >= 0)
        envp[k++] = url_env;
    const char *argv[] = { helper_exe,  "__git-fetch", mirror,   url_env ? "-" : url,
                           source_type, ref,           want_sha, NULL };
    int out[2] = { -1, -1 };
    pid_t pid = -1;
    if (pipe2(out, O_CLOEXEC) == 0) {
        pid = fork();
        if (pid == 0) {
            dup2(out[1], STDOUT_FILENO);
            execve(helper_exe, (char *const *)argv, envp);
            static const char msg[] = "cannot run the git fetch helper\n";
            ssize_t ignored = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
            (void)ignored;
            _exit(1);
        }
    }
    if (token_env) {
        explicit_bzero(token_env, strlen(token_env));
        free(token_env);
    }
    free(key_env);
    free(hosts_env);
    free(origin_env);
    if (url_env) {
        explicit_bzero(url_env, strlen(url_env));
        free(url_env);
    }
    free(envp);
    if (pid < 0) {
        int e = errno;
        if (out[0] >= 0) {
            close(out[0]);
            close(out[1]);
        }
        return sw_error_sys(err, SW_EIO, e, "starting the git fetch helper");
    }
    close(out[1]);
    char buf[2048];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1)
            break;
    }
    close(out[0]);
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strlen(buf) == 40) {
        memcpy(sha_out, buf, 41);
        return 0;
    }
    int code = WIFEXITED(status) ? code_for_helper_status(WEXITSTATUS(status)) : SW_EIO;
    return sw_error_set(err, code, "%s", buf[0] ? buf : "the git fetch helper failed");
}

int wrk_git_fetch(const char *mirror, const char *url, const struct wrk_git_auth *auth,
                  const char *source_type, const char *ref, const char *want_sha, char sha_out[41],
                  sw_error **err)
{
    if (helper_exe)
        return fetch_in_child(mirror, url, auth, source_type, ref, want_sha, sha_out, err);
    return wrk_git_fetch_here(mirror, url, auth, source_type, ref, want_sha, sha_out, err);
}

/* ---- checkout --------------------------------------------------------------- */

struct gitlink {
    char *path;
    char sha[41];
};

struct checkout {
    git_repository *repo;
    struct gitlink *links;
    size_t n_links;
    char *gitmodules; /* the root .gitmodules, if any */
};

static int name_ok(const char *name)
{
    return name[0] != '\0' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           strchr(name, '/') == NULL && strcasecmp(name, ".git") != 0;
}

static int write_all_fd(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_tree(struct checkout *co, const git_tree *tree, int dirfd, const char *path,
                      sw_error **err)
{
    size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(tree, i);
        const char *name = git_tree_entry_name(e);
        git_filemode_t mode = git_tree_entry_filemode(e);
        char *sub = NULL;
        int rc = 0;
        if (!name_ok(name))
            return sw_error_set(err, SW_EINVAL, "the commit has an unsafe path %s/%s", path, name);
        if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", name) < 0)
            return sw_error_oom(err);
        if (mode == GIT_FILEMODE_TREE) {
            git_tree *child = NULL;
            int fd = -1;
            if (mkdirat(dirfd, name, 0755) != 0 ||
                (fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                rc = sw_error_sys(err, SW_EIO, errno, "creating %s", sub);
            else if (git_tree_lookup(&child, co->repo, git_tree_entry_id(e)) != 0)
                rc = git_fail(err, SW_EIO, "reading tree", sub);
            else
                rc = write_tree(co, child, fd, sub, err);
            git_tree_free(child);
            if (fd >= 0)
                close(fd);
        } else if (mode == GIT_FILEMODE_COMMIT) {
            /* a submodule: an empty directory unless submodules are wanted */
            if (mkdirat(dirfd, name, 0755) != 0) {
                rc = sw_error_sys(err, SW_EIO, errno, "creating %s", sub);
            } else {
                struct gitlink *bigger = realloc(co->links, (co->n_links + 1) * sizeof(*co->links));
                if (bigger == NULL) {
                    rc = sw_error_oom(err);
                } else {
                    co->links = bigger;
                    co->links[co->n_links].path = sub;
                    git_oid_tostr(co->links[co->n_links].sha, 41, git_tree_entry_id(e));
                    co->n_links++;
                    sub = NULL;
                }
            }
        } else {
            git_blob *blob = NULL;
            if (git_blob_lookup(&blob, co->repo, git_tree_entry_id(e)) != 0) {
                rc = git_fail(err, SW_EIO, "reading", sub);
            } else {
                const void *data = git_blob_rawcontent(blob);
                size_t size = (size_t)git_blob_rawsize(blob);
                if (mode == GIT_FILEMODE_LINK) {
                    char *target = strndup(data, size);
                    if (target == NULL || symlinkat(target, dirfd, name) != 0)
                        rc = sw_error_sys(err, SW_EIO, errno, "creating symlink %s", sub);
                    free(target);
                } else {
                    mode_t m = mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
                    int fd = openat(dirfd, name,
                                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m);
                    if (fd < 0 || write_all_fd(fd, data, size) != 0 || fchmod(fd, m) != 0)
                        rc = sw_error_sys(err, SW_EIO, errno, "writing %s", sub);
                    if (fd >= 0)
                        close(fd);
                    if (rc == 0 && *path == '\0' && strcmp(name, ".gitmodules") == 0)
                        co->gitmodules = strndup(data, size);
                }
            }
            git_blob_free(blob);
        }
        free(sub);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The url of the submodule at path in a .gitmodules text, malloc'd. */
static char *submodule_url(const char *gitmodules, const char *path)
{
    char *url = NULL, *cur_path = NULL, *cur_url = NULL;
    const char *p = gitmodules;
    for (;;) {
        const char *eol = p ? strchrnul(p, '\n') : NULL;
        int section = p == NULL || *p == '\0' || (p[strspn(p, " \t")] == '[');
        if (section) {
            if (cur_path && cur_url && strcmp(cur_path, path) == 0 && url == NULL)
                url = strdup(cur_url);
            free(cur_path);
            free(cur_url);
            cur_path = cur_url = NULL;
            if (p == NULL || *p == '\0')
                break;
        } else {
            const char *s = p + strspn(p, " \t");
            const char *eq = memchr(s, '=', (size_t)(eol - s));
            if (eq) {
                size_t klen = (size_t)(eq - s);
                while (klen > 0 && (s[klen - 1] == ' ' || s[klen - 1] == '\t'))
                    klen--;
                const char *v = eq + 1 + strspn(eq + 1, " \t");
                size_t vlen = (size_t)(eol - v);
                while (vlen > 0 &&
                       (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == '\r'))
                    vlen--;
                if (klen == 4 && strncmp(s, "path", 4) == 0) {
                    free(cur_path);
                    cur_path = strndup(v, vlen);
                } else if (klen == 3 && strncmp(s, "url", 3) == 0) {
                    free(cur_url);
                    cur_url = strndup(v, vlen);
                }
            }
        }
        p = *eol ? eol + 1 : eol;
    }
    return url;
}

/* A submodule URL relative to the parent's ("../other.git" next to
 * "https://host/owner/repo.git" is "https://host/owner/other.git"). */
static char *resolve_url(const char *parent, const char *url)
{
    if (strncmp(url, "./", 2) != 0 && strncmp(url, "../", 3) != 0)
        return strdup(url);
    char *base = strdup(parent);
    if (base == NULL)
        return NULL;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = '\0';
    const char *scheme = strstr(base, "://");
    char *floor = scheme ? strchr((char *)scheme + 3, '/') : strchr(base, ':');
    const char *rest = url;
    for (;;) {
        if (strncmp(rest, "./", 2) == 0) {
            rest += 2;
        } else if (strncmp(rest, "../", 3) == 0) {
            char *slash = strrchr(base, '/');
            if (slash && floor && slash > floor)
                *slash = '\0'; /* drop the last segment */
            else if (floor && !scheme)
                floor[1] = '\0'; /* scp-like: "git@host:" */
            rest += 3;
        } else {
            break;
        }
    }
    char *out = NULL;
    size_t len = strlen(base);
    if (asprintf(&out, "%s%s%s", base, len && base[len - 1] == ':' ? "" : "/", rest) < 0)
        out = NULL;
    free(base);
    return out;
}

static int checkout_at(const char *mirror, const char *url, const char *sha, const char *dest,
                       int submodules, const char *data_dir, const struct wrk_git_auth *auth,
                       struct wrk_commit_info *info, int depth, sw_error **err);

/* The URL for messages: without a user:password. malloc'd. */
static char *url_for_message(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *authority = scheme ? scheme + 3 : NULL;
    const char *end = authority ? authority + strcspn(authority, "/?#") : NULL;
    const char *at = authority ? memchr(authority, '@', (size_t)(end - authority)) : NULL;
    char *out = NULL;
    if (at == NULL)
        return strdup(url);
    if (asprintf(&out, "%.*s%s", (int)(authority - url), url, at + 1) < 0)
        return NULL;
    return out;
}

/* Whether a submodule may be fetched from url: https://, ssh:// and
 * user@host:path, git://; http:// only for an insecure repository; file://
 * and local paths only with WRK_GIT_SUBMODULES_LOCAL. Everything else
 * (ext::, fd::, unknown schemes, "-option") is refused. */
static int submodule_url_allowed(const char *path, const char *url, int submodules, int insecure,
                                 sw_error **err)
{
    struct origin o;
    const char *why = NULL;
    if (parse_origin(url, &o) == 0) {
        if (strcmp(o.scheme, "http") == 0 && !insecure)
            why = "plain http:// is not allowed unless the repository is marked insecure: true";
    } else if (url[0] == '-' || strstr(url, "::") != NULL ||
               (strstr(url, "://") && strncmp(url, "file://", 7) != 0)) {
        why = "only https://, ssh:// (or user@host:path) and git:// URLs are allowed";
    } else if (!(submodules & WRK_GIT_SUBMODULES_LOCAL)) {
        why = "file:// URLs and local paths are not allowed unless the repository says"
              " submodules: {allow_local: true}";
    }
    if (why == NULL)
        return 0;
    char *shown = url_for_message(url);
    int rc = sw_error_set(err, SW_EPERM, "submodule %s: URL %s refused: %s", path,
                          shown ? shown : "(unprintable)", why);
    free(shown);
    return rc;
}

static int checkout_submodules(struct checkout *co, const char *url, const char *dest,
                               int submodules, const char *data_dir,
                               const struct wrk_git_auth *auth, int depth, sw_error **err)
{
    if (co->n_links == 0)
        return 0;
    if (depth >= MAX_SUBMODULE_DEPTH)
        return sw_error_set(err, SW_EINVAL, "submodules nested deeper than %d",
                            MAX_SUBMODULE_DEPTH);
    for (size_t i = 0; i < co->n_links; i++) {
        const struct gitlink *l = &co->links[i];
        char *sub_url_raw = co->gitmodules ? submodule_url(co->gitmodules, l->path) : NULL;
        if (sub_url_raw == NULL)
            return sw_error_set(err, SW_ENOTFOUND, "submodule %s has no url in .gitmodules",
                                l->path);
        char *sub_url = resolve_url(url, sub_url_raw);
        char *sub_mirror = NULL, *sub_dest = sw_path_join(dest, l->path);
        char sha[41];
        int rc = sub_url && sub_dest ? 0 : sw_error_oom(err);
        if (rc == 0 && (rc = submodule_url_allowed(l->path, sub_url, submodules,
                                                   auth && auth->insecure, err)) != 0) {
            free(sub_url_raw);
            free(sub_url);
            free(sub_dest);
            return rc;
        }
        /* the credentials belong to the parent's origin: credentials_cb
         * withholds them from a submodule elsewhere */
        struct wrk_git_auth sub_auth = { .origin = url };
        if (auth) {
            sub_auth = *auth;
            sub_auth.origin = auth->origin ? auth->origin : url;
        }
        if (rc == 0)
            rc = wrk_git_mirror_path(data_dir, sub_url, &sub_mirror, err);
        if (rc == 0)
            rc = wrk_git_fetch(sub_mirror, sub_url, &sub_auth, "commit", l->sha, l->sha, sha, err);
        if (rc == 0)
            rc = checkout_at(sub_mirror, sub_url, sha, sub_dest, submodules, data_dir, &sub_auth,
                             NULL, depth + 1, err);
        if (rc != 0)
            sw_error_prefix(err, "submodule %s", l->path);
        free(sub_url_raw);
        free(sub_url);
        free(sub_mirror);
        free(sub_dest);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int checkout_at(const char *mirror, const char *url, const char *sha, const char *dest,
                       int submodules, const char *data_dir, const struct wrk_git_auth *auth,
                       struct wrk_commit_info *info, int depth, sw_error **err)
{
    struct checkout co = { 0 };
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_oid oid;
    int rc = 0, dirfd = -1;
    int lock = lock_mirror(mirror, LOCK_SH, err);
    if (lock < 0)
        return SW_EIO;
    if (git_repository_open_bare(&co.repo, mirror) != 0) {
        rc = git_fail(err, SW_EIO, "opening the mirror", mirror);
        goto cleanup;
    }
    if (git_oid_fromstr(&oid, sha) != 0 || git_commit_lookup(&commit, co.repo, &oid) != 0) {
        rc = sw_error_set(err, SW_ENOTFOUND, "commit %s is not in the mirror", sha);
        goto cleanup;
    }
    if (git_commit_tree(&tree, commit) != 0) {
        rc = git_fail(err, SW_EIO, "reading the tree of", sha);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(dest, 0755, err)) != 0)
        goto cleanup;
    if ((dirfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "opening %s", dest);
        goto cleanup;
    }
    if ((rc = write_tree(&co, tree, dirfd, "", err)) != 0)
        goto cleanup;
    if (info) {
        const git_signature *author = git_commit_author(commit);
        memset(info, 0, sizeof(*info));
        git_oid_tostr(info->sha, sizeof(info->sha), git_commit_id(commit));
        info->message = strdup(git_commit_message(commit) ? git_commit_message(commit) : "");
        info->summary = strdup(git_commit_summary(commit) ? git_commit_summary(commit) : "");
        if (author && asprintf(&info->author, "%s <%s>", author->name, author->email) < 0)
            info->author = NULL;
        info->time = (int64_t)git_commit_time(commit);
    }
    git_tree_free(tree);
    tree = NULL;
    git_commit_free(commit);
    commit = NULL;
    git_repository_free(co.repo);
    co.repo = NULL;
    close(lock);
    lock = -1;
    if (submodules & WRK_GIT_SUBMODULES)
        rc = checkout_submodules(&co, url, dest, submodules, data_dir, auth, depth, err);
cleanup:
    if (dirfd >= 0)
        close(dirfd);
    git_tree_free(tree);
    git_commit_free(commit);
    git_repository_free(co.repo);
    for (size_t i = 0; i < co.n_links; i++)
        free(co.links[i].path);
    free(co.links);
    free(co.gitmodules);
    if (lock >= 0)
        close(lock);
    if (rc != 0 && info)
        wrk_commit_info_release(info);
    return rc;
}

int wrk_git_checkout(const char *mirror, const char *url, const char *sha, const char *dest,
                     int submodules, const char *data_dir, const struct wrk_git_auth *auth,
                     struct wrk_commit_info *info, sw_error **err)
{
    pthread_once(&init_once, init_libgit2);
    return checkout_at(mirror, url ? url : "", sha, dest, submodules, data_dir, auth, info, 0, err);
}
