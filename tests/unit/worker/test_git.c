/*
 * test_git.c - worker/git.c against real repositories made with the git
 * CLI: mirrors, exact-commit checkouts, tags, modes and symlinks, crafted
 * trees, submodules, a fetch over git:// from `git daemon`, and token
 * credentials over https (libgit2's TLS on our guarded socket stream) that
 * do not follow a redirect to another origin.
 */
#include <git2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/git.h"

static char *root;

/* Runs a shell command in root; its first output line into out (may be NULL). */
static int sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int sh(char *out, size_t size, const char *fmt, ...)
{
    char *cmd = NULL, *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (asprintf(&full,
                 "cd '%s' && export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@e "
                 "GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@e "
                 "GIT_CONFIG_NOSYSTEM=1 HOME='%s' && (%s)",
                 root, root, cmd) < 0)
        abort();
    FILE *p = popen(full, "r");
    char line[512] = "";
    if (p && fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    while (p && fgetc(p) != EOF)
        ;
    int status = p ? pclose(p) : -1;
    line[strcspn(line, "\n")] = '\0';
    if (out)
        snprintf(out, size, "%s", line);
    free(cmd);
    free(full);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_text(const char *dir, const char *name)
{
    char *path = sw_path_join(dir, name), *text = NULL;
    size_t len = 0;
    if (sw_read_file(path, 1 << 20, &text, &len, NULL) != 0)
        text = NULL;
    free(path);
    return text;
}

static char first_sha[41], second_sha[41], src_url[1024];

static void make_source(void)
{
    CHECK_INT_EQ(
        sh(NULL, 0,
           "git init -q -b main src && cd src && echo one > hello.txt && "
           "mkdir -p bin && printf '#!/bin/sh\\necho hi\\n' > bin/run && chmod +x bin/run && "
           "ln -s hello.txt link && git add -A && git commit -qm 'first commit' && "
           "git tag -a v1.0.0 -m release && git tag light"),
        0);
    sh(first_sha, sizeof(first_sha), "git -C src rev-parse HEAD");
    CHECK_INT_EQ(sh(NULL, 0,
                    "cd src && echo two > hello.txt && git commit -qam 'second commit"
                    "' && git checkout -q -b feature && echo three > hello.txt && "
                    "git commit -qam third && git checkout -q main"),
                 0);
    sh(second_sha, sizeof(second_sha), "git -C src rev-parse main");
    snprintf(src_url, sizeof(src_url), "file://%s/src", root);
}

static void test_fetch_and_checkout(void)
{
    char *data = sw_path_join(root, "data"), *mirror = NULL, *dest = NULL;
    char sha[41];
    sw_error *err = NULL;
    struct wrk_commit_info info = { 0 };
    CHECK_INT_EQ(wrk_git_mirror_path(data, src_url, &mirror, &err), 0);
    CHECK(strstr(mirror, "/data/git/") != NULL && strstr(mirror, ".git") != NULL);

    /* a branch resolves to its head */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", NULL, sha, &err), 0);
    CHECK_STR_EQ(sha, second_sha);
    /* the exact pushed commit, not the branch head */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", first_sha, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    dest = sw_path_join(root, "out1");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, &info, &err), 0);
    char *hello = read_text(dest, "hello.txt");
    CHECK_STR_EQ(hello, "one\n");
    free(hello);
    CHECK_STR_EQ(info.sha, first_sha);
    CHECK_STR_EQ(info.summary, "first commit");
    CHECK_STR_EQ(info.message, "first commit\n");
    CHECK_STR_EQ(info.author, "T <t@e>");
    CHECK(info.time > 1600000000);
    wrk_commit_info_release(&info);

    /* modes and symlinks */
    struct stat st;
    char *path = sw_path_join(dest, "bin/run");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0755);
    free(path);
    path = sw_path_join(dest, "hello.txt");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    free(path);
    path = sw_path_join(dest, "link");
    char target[64] = "";
    CHECK(readlink(path, target, sizeof(target) - 1) > 0);
    CHECK_STR_EQ(target, "hello.txt");
    free(path);
    path = sw_path_join(dest, ".git");
    CHECK(!sw_path_exists(path));
    free(path);

    /* tags: annotated ones are peeled, lightweight ones resolve too */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "v1.0.0", NULL, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "light", NULL, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    /* GitHub and Gitea name an annotated tag's push by the tag object's id
     * (`after`): it is peeled to the commit, in full or abbreviated */
    char tag_object[41];
    sh(tag_object, sizeof(tag_object), "git -C src rev-parse v1.0.0");
    CHECK(strcmp(tag_object, first_sha) != 0);
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "v1.0.0", tag_object, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    tag_object[10] = '\0';
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "v1.0.0", tag_object, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    /* an abbreviated commit */
    char abbrev[8];
    snprintf(abbrev, sizeof(abbrev), "%.7s", second_sha);
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "commit", abbrev, abbrev, sha, &err), 0);
    CHECK_STR_EQ(sha, second_sha);

    /* unknown names */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "nope", NULL, sha, &err),
                 SW_ENOTFOUND);
    CHECK(err && strstr(err->message, "branch nope") != NULL);
    sw_error_clear(&err);

    /* a new commit: fetched on the next run */
    char third[41];
    sh(NULL, 0, "cd src && echo four > hello.txt && git commit -qam fourth");
    sh(third, sizeof(third), "git -C src rev-parse HEAD");
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", third, sha, &err), 0);
    CHECK_STR_EQ(sha, third);

    /* a commit the mirror has needs no fetch: works with the source gone */
    sh(NULL, 0, "mv src src.moved");
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", first_sha, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    CHECK(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", NULL, sha, &err) != 0);
    sw_error_clear(&err);
    sh(NULL, 0, "mv src.moved src");
    free(dest);
    free(mirror);
    free(data);
}

/* A tree with a symlink "evil" -> /tmp and a directory also named "evil"
 * holding a file: a checkout must not write through the link. Git's own
 * tools refuse such trees, so it is made with plumbing. */
static void test_crafted_tree(void)
{
    char blob[64], tree_sub[64], tree[64], commit[64];
    sw_error *err = NULL;
    CHECK_INT_EQ(sh(NULL, 0, "git init -q --bare evil.git"), 0);
    sh(blob, sizeof(blob), "echo pwned | git -C evil.git hash-object -w --stdin");
    char outside[1024];
    snprintf(outside, sizeof(outside), "%s/outside", root);
    mkdir(outside, 0755);
    char link_blob[64];
    sh(link_blob, sizeof(link_blob), "printf '%%s' '%s' | git -C evil.git hash-object -w --stdin",
       outside);
    sh(tree_sub, sizeof(tree_sub), "printf '100644 blob %s\\tfile\\n' | git -C evil.git mktree",
       blob);
    sh(tree, sizeof(tree),
       "printf '120000 blob %s\\tevil\\n040000 tree %s\\tevil\\n' | git -C evil.git mktree "
       "--missing",
       link_blob, tree_sub);
    sh(commit, sizeof(commit), "git -C evil.git commit-tree %s -m evil", tree);
    CHECK(strlen(commit) == 40);
    char url[1100], *data = sw_path_join(root, "data"), *mirror = NULL;
    snprintf(url, sizeof(url), "file://%s/evil.git", root);
    sh(NULL, 0, "git -C evil.git update-ref refs/heads/main %s", commit);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    char sha[41];
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "main", NULL, sha, &err), 0);
    sw_error_clear(&err);
    char *dest = sw_path_join(root, "out-evil");
    CHECK(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, NULL, &err) != 0);
    sw_error_clear(&err);
    char *escaped = sw_path_join(outside, "file");
    CHECK(!sw_path_exists(escaped));
    free(escaped);

    /* a tree entry named ".." or ".git" is refused */
    char bad_tree[64], bad_commit[64];
    sh(bad_tree, sizeof(bad_tree), "printf '100644 blob %s\\t.git\\n' | git -C evil.git mktree",
       blob);
    sh(bad_commit, sizeof(bad_commit), "git -C evil.git commit-tree %s -m bad", bad_tree);
    sh(NULL, 0, "git -C evil.git update-ref refs/heads/bad %s", bad_commit);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "bad", NULL, sha, &err), 0);
    char *dest2 = sw_path_join(root, "out-bad");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest2, 0, data, NULL, NULL, &err), SW_EINVAL);
    CHECK(err && strstr(err->message, "unsafe path") != NULL);
    sw_error_clear(&err);
    free(dest2);
    free(dest);
    free(mirror);
    free(data);
}

static void test_submodules(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(sh(NULL, 0,
                    "git init -q -b main lib && cd lib && echo libcode > lib.c && git add -A && "
                    "git commit -qm lib && cd .. && git init -q -b main app && cd app && "
                    "echo app > app.c && git -c protocol.file.allow=always submodule -q add "
                    "../lib vendor/lib && git commit -qam 'app with lib'"),
                 0);
    char url[1100], sha[41], *data = sw_path_join(root, "data"), *mirror = NULL;
    snprintf(url, sizeof(url), "file://%s/app", root);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "main", NULL, sha, &err), 0);
    char *without = sw_path_join(root, "out-nosub"), *with = sw_path_join(root, "out-sub");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, without, 0, data, NULL, NULL, &err), 0);
    char *text = read_text(without, "vendor/lib/lib.c");
    CHECK(text == NULL);
    free(text);
    /* a file:// submodule is refused unless local ones are allowed */
    char *refused = sw_path_join(root, "out-sub-refused");
    CHECK_INT_EQ(
        wrk_git_checkout(mirror, url, sha, refused, WRK_GIT_SUBMODULES, data, NULL, NULL, &err),
        SW_EPERM);
    CHECK(err && strstr(err->message, "submodule vendor/lib: URL file://") != NULL &&
          strstr(err->message, "allow_local") != NULL);
    sw_error_clear(&err);
    free(refused);
    CHECK_INT_EQ(wrk_git_checkout(mirror, url, sha, with,
                                  WRK_GIT_SUBMODULES | WRK_GIT_SUBMODULES_LOCAL, data, NULL, NULL,
                                  &err),
                 0);
    if (err)
        fprintf(stderr, "%s\n", err->message);
    sw_error_clear(&err);
    text = read_text(with, "vendor/lib/lib.c");
    CHECK_STR_EQ(text, "libcode\n");
    free(text);
    free(without);
    free(with);
    free(mirror);
    free(data);
}

static void test_same_origin(void)
{
    CHECK(wrk_git_same_origin("https://github.com/a/b.git", "https://GitHub.com:443/c/d"));
    CHECK(wrk_git_same_origin("https://tok:x@github.com/a", "https://github.com/b"));
    CHECK(wrk_git_same_origin("git@github.com:a/b.git", "ssh://git@github.com/c/d.git"));
    CHECK(wrk_git_same_origin("ssh://git@[::1]:2222/a", "ssh://[::1]:2222/b"));
    CHECK(wrk_git_same_origin("git://127.0.0.1/a", "git://127.0.0.1:9418/b"));
    CHECK(!wrk_git_same_origin("https://github.com/a", "http://github.com/a"));
    CHECK(!wrk_git_same_origin("https://github.com/a", "https://github.com:8443/a"));
    CHECK(!wrk_git_same_origin("http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a"));
    CHECK(!wrk_git_same_origin("https://github.com/a", "https://github.com.evil/a"));
    CHECK(!wrk_git_same_origin("https://github.com@evil.example/a", "https://github.com/a"));
    CHECK(!wrk_git_same_origin("git@github.com:a/b.git", "https://github.com/a/b.git"));
    CHECK(!wrk_git_same_origin("file:///srv/a", "file:///srv/a"));
    CHECK(!wrk_git_same_origin("/srv/a", "/srv/a"));
    CHECK(!wrk_git_same_origin("ext::sh -c evil", "ext::sh -c evil"));
    CHECK(!wrk_git_same_origin("https://host:99999999/a", "https://host:99999999/a"));
}

static void test_git_daemon(void)
{
    char port_text[16];
    sh(port_text, sizeof(port_text),
       "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
       "print(s.getsockname()[1])'");
    pid_t pid = fork();
    if (pid == 0) {
        char base[1100], port[32];
        snprintf(base, sizeof(base), "--base-path=%s", root);
        snprintf(port, sizeof(port), "--port=%s", port_text);
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(127);
        execlp("git", "git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", port,
               base, root, (char *)NULL);
        _exit(127);
    }
    char url[256], sha[41], *data = sw_path_join(root, "data"), *mirror = NULL;
    snprintf(url, sizeof(url), "git://127.0.0.1:%s/src", port_text);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    sw_error *err = NULL;
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) { /* until the daemon listens */
        sw_error_clear(&err);
        rc = wrk_git_fetch(mirror, url, NULL, "branch", "feature", NULL, sha, &err);
        if (rc != 0)
            usleep(100 * 1000);
    }
    CHECK_INT_EQ(rc, 0);
    if (err)
        fprintf(stderr, "git daemon: %s\n", err->message);
    sw_error_clear(&err);
    char *dest = sw_path_join(root, "out-daemon");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, NULL, &err), 0);
    char *text = read_text(dest, "hello.txt");
    CHECK_STR_EQ(text, "three\n");
    free(text);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(dest);
    free(mirror);
    free(data);
}

/* A smart-HTTP server over TLS (python3 + git-http-backend) for the
 * repositories in root/https: "serve" wants the token, "redirect" sends
 * everything to the serving one; each logs what Authorization it got. */
static const char https_server_py[] =
    "import base64, http.server, os, ssl, subprocess, sys\n"
    "port, root, token, cert, key, mode, target, log = sys.argv[1:9]\n"
    "want = 'Basic ' + base64.b64encode(('x-access-token:' + token).encode()).decode()\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def handle_any(self):\n"
    "        auth = self.headers.get('Authorization')\n"
    "        with open(log, 'a') as f:\n"
    "            f.write(('ok' if auth == want else 'refused' if auth else 'none') + '\\n')\n"
    "        if mode == 'redirect':\n"
    "            self.send_response(302)\n"
    "            self.send_header('Location', f'https://localhost:{target}{self.path}')\n"
    "            self.send_header('Content-Length', '0')\n"
    "            self.end_headers()\n"
    "            return\n"
    "        if auth != want:\n"
    "            self.send_response(401)\n"
    "            self.send_header('WWW-Authenticate', 'Basic realm=\"git\"')\n"
    "            self.send_header('Content-Length', '0')\n"
    "            self.end_headers()\n"
    "            return\n"
    "        path, _, query = self.path.partition('?')\n"
    "        body = self.rfile.read(int(self.headers.get('Content-Length', 0) or 0))\n"
    "        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL='1',\n"
    "                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,\n"
    "                   CONTENT_TYPE=self.headers.get('Content-Type', ''),\n"
    "                   CONTENT_LENGTH=str(len(body)))\n"
    "        out = subprocess.run(['/usr/lib/git-core/git-http-backend'], input=body,\n"
    "                             env=env, capture_output=True).stdout\n"
    "        head, _, data = out.partition(b'\\r\\n\\r\\n')\n"
    "        status, headers = 200, []\n"
    "        for line in head.decode().split('\\r\\n'):\n"
    "            k, _, v = line.partition(': ')\n"
    "            if k.lower() == 'status':\n"
    "                status = int(v.split()[0])\n"
    "            elif k:\n"
    "                headers.append((k, v))\n"
    "        self.send_response(status)\n"
    "        for k, v in headers:\n"
    "            self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(data)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(data)\n"
    "    do_GET = do_POST = handle_any\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "srv = http.server.ThreadingHTTPServer(('127.0.0.1', int(port)), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(cert, key)\n"
    "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
    "srv.serve_forever()\n";

static pid_t start_https_server(const char *port, const char *mode, const char *target,
                                const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        char script[1100], https_root[1100], cert[1100], key[1100], log_path[1100];
        snprintf(log_path, sizeof(log_path), "%s/%s", root, log);
        snprintf(script, sizeof(script), "%s/https_server.py", root);
        snprintf(https_root, sizeof(https_root), "%s/https", root);
        snprintf(cert, sizeof(cert), "%s/cert.pem", root);
        snprintf(key, sizeof(key), "%s/key.pem", root);
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(127);
        execlp("python3", "python3", script, port, https_root, "tok-https", cert, key, mode, target,
               log_path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int count_lines(const char *log, const char *what)
{
    char *text = read_text(root, log);
    int n = 0;
    size_t len = strlen(what);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, what, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            n++;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    free(text);
    return n;
}

static void test_https_credentials(void)
{
    char serve_port[16], redirect_port[16], url[256], sha[41], cert[1100];
    const char *free_port = "python3 -c 'import socket; s=socket.socket(); "
                            "s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'";
    sh(serve_port, sizeof(serve_port), "%s", free_port);
    sh(redirect_port, sizeof(redirect_port), "%s", free_port);
    CHECK_INT_EQ(sh(NULL, 0,
                    "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
                    "-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost "
                    "2>/dev/null && mkdir -p https && git clone -q --bare src https/app.git && "
                    "git clone -q --bare src https/sub.git"),
                 0);
    char *script = sw_path_join(root, "https_server.py");
    sw_write_file_atomic(script, https_server_py, strlen(https_server_py), 0644, NULL);
    free(script);
    snprintf(cert, sizeof(cert), "%s/cert.pem", root);
    git_libgit2_init();
    CHECK_INT_EQ(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, cert, NULL), 0);
    pid_t serve = start_https_server(serve_port, "serve", "0", "serve.log");
    pid_t redirect = start_https_server(redirect_port, "redirect", serve_port, "redirect.log");
    CHECK_INT_EQ(sh(NULL, 0,
                    "for i in $(seq 100); do curl -sk -o /dev/null https://127.0.0.1:%s/ && "
                    "curl -sk -o /dev/null https://127.0.0.1:%s/ && exit 0; sleep 0.1; done; "
                    "exit 1",
                    serve_port, redirect_port),
                 0);
    sh(NULL, 0, ": > serve.log");

    char *data = sw_path_join(root, "data-https"), *mirror = NULL;
    sw_error *err = NULL;
    struct wrk_git_auth auth = { .token = "tok-https" };

    /* the token, over TLS through the guarded socket stream */
    snprintf(url, sizeof(url), "https://localhost:%s/app.git", serve_port);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, &auth, "branch", "main", NULL, sha, &err), 0);
    if (err)
        fprintf(stderr, "https fetch: %s\n", err->message);
    sw_error_clear(&err);
    char want_sha[41];
    sh(want_sha, sizeof(want_sha), "git -C src rev-parse main");
    CHECK_STR_EQ(sha, want_sha);
    CHECK(count_lines("serve.log", "ok") > 0);
    free(mirror);

    /* a redirect to another port: followed, but the token stays home */
    sh(NULL, 0, ": > serve.log");
    snprintf(url, sizeof(url), "https://localhost:%s/app.git", redirect_port);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, &auth, "branch", "main", NULL, sha, &err), SW_EPERM);
    CHECK(err && strstr(err->message, "redirected to localhost:") != NULL &&
          strstr(err->message, "not offered to another origin") != NULL);
    if (err && strstr(err->message, "tok-https"))
        CHECK(!"the token is in the message");
    sw_error_clear(&err);
    CHECK(count_lines("serve.log", "none") > 0);
    CHECK_INT_EQ(count_lines("serve.log", "ok") + count_lines("serve.log", "refused"), 0);
    CHECK_INT_EQ(count_lines("redirect.log", "ok"), 0);
    free(mirror);

    /* user:password in the URL: offered to its origin only, too */
    sh(NULL, 0, ": > serve.log");
    snprintf(url, sizeof(url), "https://x-access-token:tok-https@localhost:%s/app.git", serve_port);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "main", NULL, sha, &err), 0);
    sw_error_clear(&err);
    CHECK(count_lines("serve.log", "ok") > 0);
    free(mirror);

    /* submodules: the token goes to one on its origin, not to one elsewhere
     * (a second server on another port, which would accept it) */
    char other_port[16], head[41];
    sh(other_port, sizeof(other_port), "%s", free_port);
    pid_t other = start_https_server(other_port, "serve", "0", "other.log");
    CHECK_INT_EQ(sh(NULL, 0,
                    "for i in $(seq 100); do curl -sk -o /dev/null https://127.0.0.1:%s/ && "
                    "exit 0; sleep 0.1; done; exit 1",
                    other_port),
                 0);
    sh(head, sizeof(head), "git -C src rev-parse main");
    char origin[256];
    snprintf(origin, sizeof(origin), "https://localhost:%s/app.git", serve_port);
    struct wrk_git_auth parent_auth = { .token = "tok-https", .origin = origin };
    const char *ports[2] = { serve_port, other_port };
    for (int i = 0; i < 2; i++) {
        char parent_url[1200], *parent_mirror = NULL, *dest = NULL;
        sh(NULL, 0, ": > serve.log; : > other.log");
        CHECK_INT_EQ(sh(NULL, 0,
                        "rm -rf parent%d && git init -q -b main parent%d && cd parent%d && "
                        "printf '[submodule \"vendor/app\"]\\n\\tpath = vendor/app\\n"
                        "\\turl = https://localhost:%s/sub.git\\n' > .gitmodules && "
                        "git add .gitmodules && "
                        "git update-index --add --cacheinfo 160000,%s,vendor/app && "
                        "git commit -qm parent",
                        i, i, i, ports[i], head),
                     0);
        snprintf(parent_url, sizeof(parent_url), "file://%s/parent%d", root, i);
        wrk_git_mirror_path(data, parent_url, &parent_mirror, NULL);
        CHECK_INT_EQ(wrk_git_fetch(parent_mirror, parent_url, &parent_auth, "branch", "main", NULL,
                                   sha, &err),
                     0);
        sw_error_clear(&err);
        if (asprintf(&dest, "%s/out-parent%d", root, i) < 0)
            abort();
        int rc = wrk_git_checkout(parent_mirror, parent_url, sha, dest, WRK_GIT_SUBMODULES, data,
                                  &parent_auth, NULL, &err);
        if (i == 0) {
            CHECK_INT_EQ(rc, 0);
            CHECK(count_lines("serve.log", "ok") > 0);
        } else {
            CHECK(rc != 0);
            CHECK(err && strstr(err->message, "submodule vendor/app") != NULL &&
                  strstr(err->message, "are not offered to https://localhost:") != NULL);
            CHECK(count_lines("other.log", "none") > 0);
            CHECK_INT_EQ(count_lines("other.log", "ok"), 0);
        }
        sw_error_clear(&err);
        free(parent_mirror);
        free(dest);
    }

    kill(other, SIGTERM);
    kill(serve, SIGTERM);
    kill(redirect, SIGTERM);
    waitpid(other, NULL, 0);
    waitpid(serve, NULL, 0);
    waitpid(redirect, NULL, 0);
    git_libgit2_shutdown();
    free(data);
}

/* A pull request's head: fetched only through the base repository's
 * refs/pull/N/head (or GitLab's refs/merge-requests/N/head), and only
 * when that ref still points at the commit the delivery named. */
static void test_pull_request_ref(void)
{
    char *data = sw_path_join(root, "data-pr"), *mirror = NULL, *dest = NULL;
    char url[1100], pr_sha[41], newer_sha[41], mr_sha[41], sha[41];
    sw_error *err = NULL;
    struct wrk_commit_info info = { 0 };
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/pull/7/head"), 1);
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/merge-requests/12/head"), 1);
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/pull/7/merge"), 0);
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/pull/07/head"), 0);
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/pull//head"), 0);
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/pull/7/head:refs/heads/main"), 0);
    CHECK_INT_EQ(wrk_git_is_pull_ref("refs/heads/main"), 0);
    CHECK_INT_EQ(wrk_git_is_pull_ref(NULL), 0);

    /* the head commits are on no branch, as in a base repository whose
     * pull requests come from forks */
    CHECK_INT_EQ(
        sh(NULL, 0,
           "git init -q -b main prsrc && cd prsrc && echo base > hello.txt && "
           "git add -A && git commit -qm base && git checkout -q -b fork && "
           "echo pr > hello.txt && git commit -qam 'pr head' && "
           "git update-ref refs/pull/7/head HEAD && echo mr > hello.txt && "
           "git commit -qam 'mr head' && git update-ref refs/merge-requests/3/head HEAD && "
           "git checkout -q main && git branch -q -D fork"),
        0);
    sh(pr_sha, sizeof(pr_sha), "git -C prsrc rev-parse refs/pull/7/head");
    sh(mr_sha, sizeof(mr_sha), "git -C prsrc rev-parse refs/merge-requests/3/head");
    snprintf(url, sizeof(url), "file://%s/prsrc", root);
    CHECK_INT_EQ(wrk_git_mirror_path(data, url, &mirror, &err), 0);

    CHECK_INT_EQ(
        wrk_git_fetch(mirror, url, NULL, "pull_request", "refs/pull/7/head", pr_sha, sha, &err), 0);
    CHECK_STR_EQ(sha, pr_sha);
    dest = sw_path_join(root, "out-pr");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, &info, &err), 0);
    char *hello = read_text(dest, "hello.txt");
    CHECK_STR_EQ(hello, "pr\n");
    free(hello);
    CHECK_STR_EQ(info.summary, "pr head");
    wrk_commit_info_release(&info);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "pull_request", "refs/merge-requests/3/head",
                               mr_sha, sha, &err),
                 0);
    CHECK_STR_EQ(sha, mr_sha);

    /* a newer push moved the ref: the older delivery's run is superseded */
    CHECK_INT_EQ(sh(NULL, 0,
                    "cd prsrc && git checkout -q refs/pull/7/head && echo newer > hello.txt && "
                    "git commit -qam newer && git update-ref refs/pull/7/head HEAD && "
                    "git checkout -q main"),
                 0);
    sh(newer_sha, sizeof(newer_sha), "git -C prsrc rev-parse refs/pull/7/head");
    CHECK(strcmp(newer_sha, pr_sha) != 0);
    CHECK_INT_EQ(
        wrk_git_fetch(mirror, url, NULL, "pull_request", "refs/pull/7/head", pr_sha, sha, &err),
        SW_ECONFLICT);
    CHECK(strstr(sw_error_message(err), "a newer push to the pull request supersedes") != NULL);
    sw_error_clear(&err);
    CHECK_INT_EQ(
        wrk_git_fetch(mirror, url, NULL, "pull_request", "refs/pull/7/head", newer_sha, sha, &err),
        0);
    CHECK_STR_EQ(sha, newer_sha);
    /* a closed pull request's ref is gone; anything else is no pull ref */
    CHECK_INT_EQ(
        wrk_git_fetch(mirror, url, NULL, "pull_request", "refs/pull/8/head", NULL, sha, &err),
        SW_ENOTFOUND);
    sw_error_clear(&err);
    CHECK_INT_EQ(
        wrk_git_fetch(mirror, url, NULL, "pull_request", "refs/heads/main", NULL, sha, &err),
        SW_EINVAL);
    sw_error_clear(&err);
    free(dest);
    free(mirror);
    free(data);
}

int main(void)
{
    root = scratch_dir("test_git");
    make_source();
    RUN(test_fetch_and_checkout);
    RUN(test_crafted_tree);
    RUN(test_submodules);
    RUN(test_same_origin);
    RUN(test_git_daemon);
    RUN(test_https_credentials);
    RUN(test_pull_request_ref);
    sw_rm_rf(root, NULL);
    free(root);
    return TEST_EXIT();
}
