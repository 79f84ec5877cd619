/*
 * ssh_agent.c - the SSH agent socket of RUN --mount=type=ssh (see
 * ssh_agent.h).
 *
 * Why OpenSSH's ssh-agent and not an agent of our own: signing needs every
 * key type OpenSSH reads (ed25519, ECDSA, RSA with its SHA-2 signatures,
 * keys with passphrases refused cleanly), and ssh-agent already does this
 * and keeps the key out of core dumps and ptrace. What we add is small: a
 * socket per step with the mount's owner and mode, and a proxy in front of
 * the agent.
 */
#include "builder/ssh_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/mounts.h"
#include "core/fs.h"

/* ---- sources ------------------------------------------------------------- */

void bld_ssh_source_free(struct bld_ssh_source *s)
{
    if (s == NULL)
        return;
    free((char *)s->id);
    for (size_t i = 0; i < s->n_paths; i++)
        free((char *)s->paths[i]);
    free((void *)s->paths);
    memset(s, 0, sizeof(*s));
}

int bld_ssh_from_cli(const char *spec, struct bld_ssh_source *out, sw_error **err)
{
    memset(out, 0, sizeof(*out));
    const char *eq = strchr(spec, '=');
    size_t id_len = eq ? (size_t)(eq - spec) : strlen(spec);
    const char *list = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
    if (id_len == 0 || strcspn(spec, ",") < id_len)
        return sw_error_set(err, SW_EINVAL, "--ssh %s: expected ID or ID=PATH[,PATH]", spec);
    if (list == NULL || *list == '\0')
        return sw_error_set(err, SW_EINVAL,
                            "--ssh %s: SSH_AUTH_SOCK is not set (give a key: --ssh "
                            "%.*s=PATH_TO_KEY)",
                            spec, (int)id_len, spec);
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char **paths = calloc(n, sizeof(char *));
    out->id = strndup(spec, id_len);
    if (paths == NULL || out->id == NULL) {
        free(paths);
        bld_ssh_source_free(out);
        return sw_error_oom(err);
    }
    out->paths = (const char *const *)paths;
    for (const char *p = list; *p || out->n_paths == 0;) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            bld_ssh_source_free(out);
            return sw_error_set(err, SW_EINVAL, "--ssh %s: an empty path", spec);
        }
        if ((paths[out->n_paths++] = strndup(p, len)) == NULL) {
            bld_ssh_source_free(out);
            return sw_error_oom(err);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    for (size_t i = 0; i < out->n_paths; i++)
        if (access(out->paths[i], R_OK) != 0) {
            int e = errno;
            int rc = sw_error_sys(err, SW_ENOTFOUND, e, "--ssh: %s", out->paths[i]);
            bld_ssh_source_free(out);
            return rc;
        }
    return 0;
}

const struct bld_ssh_source *bld_ssh_find(const struct bld_ssh_source *sources, size_t n,
                                          const char *id)
{
    for (size_t i = 0; sources && i < n; i++)
        if (strcmp(sources[i].id, id ? id : "default") == 0)
            return &sources[i];
    return NULL;
}

/* ---- the agent and its proxy ---------------------------------------------- */

#define MAX_CONNECTIONS 16

struct bld_ssh_agent {
    pid_t agent_pid; /* the keeper of the private ssh-agent, 0: a forwarded socket */
    int lifeline;    /* closing it (or our death) ends the agent */
    char *upstream;  /* the real agent's socket */
    char *sock_dir;  /* a short private directory for both sockets (sun_path
                        holds 108 bytes; data directories can be deeper) */
    int listen_fd;
    int stop_r, stop_w;
    pthread_t thread;
    int started;
};

static int unix_address(const char *path, struct sockaddr_un *sa, sw_error **err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path))
        return sw_error_set(err, SW_EINVAL, "socket path too long: %s", path);
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    if (unix_address(path, &sa, NULL) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Copies what fd has to read into to; 0 on EOF or an error. */
static int pass(int from, int to)
{
    char buf[16384];
    ssize_t n;
    do
        n = read(from, buf, sizeof(buf));
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        off += w;
    }
    return 1;
}

static void *proxy_loop(void *arg)
{
    bld_ssh_agent *a = arg;
    int client[MAX_CONNECTIONS] = { 0 }, upstream[MAX_CONNECTIONS] = { 0 };
    size_t n = 0;
    for (;;) {
        struct pollfd pfd[2 + 2 * MAX_CONNECTIONS];
        size_t np = 0;
        pfd[np++] = (struct pollfd){ .fd = a->stop_r, .events = POLLIN };
        pfd[np++] =
            (struct pollfd){ .fd = n < MAX_CONNECTIONS ? a->listen_fd : -1, .events = POLLIN };
        for (size_t i = 0; i < n; i++) {
            pfd[np++] = (struct pollfd){ .fd = client[i], .events = POLLIN };
            pfd[np++] = (struct pollfd){ .fd = upstream[i], .events = POLLIN };
        }
        if (poll(pfd, np, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        for (size_t i = n; i-- > 0;) {
            short in_c = pfd[2 + 2 * i].revents, in_u = pfd[3 + 2 * i].revents;
            int open = 1;
            if (in_c)
                open = pass(client[i], upstream[i]);
            if (open && in_u)
                open = pass(upstream[i], client[i]);
            if (!open) {
                close(client[i]);
                close(upstream[i]);
                client[i] = client[n - 1];
                upstream[i] = upstream[n - 1];
                n--;
            }
        }
        if (pfd[1].revents & POLLIN) {
            int c = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                int u = connect_unix(a->upstream);
                if (u < 0) {
                    close(c);
                } else {
                    client[n] = c;
                    upstream[n++] = u;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        close(client[i]);
        close(upstream[i]);
    }
    return NULL;
}

/* fork + exec of argv with env, stdin and stdout on /dev/null, stderr to
 * err_path (or /dev/null); the child dies with this thread. */
static pid_t spawn(const char *const *argv, char *const *env, const char *err_path)
{
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int err_fd = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (null_fd < 0) {
        if (err_fd >= 0)
            close(err_fd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls until exec; the service blocks
         * SIGTERM in its threads, and the mask would survive exec */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(err_fd >= 0 ? err_fd : null_fd, 2);
        execve(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    close(null_fd);
    if (err_fd >= 0)
        close(err_fd);
    return pid;
}

/* Starts ssh-agent (argv) under a keeper process: the keeper waits on a
 * pipe whose write end only we hold (returned in *lifeline), and when it
 * reads EOF -- we closed it, or we died -- it ends the agent (SIGTERM,
 * then SIGKILL) and exits. ssh-agent is set-group-id on Debian, which
 * clears PR_SET_PDEATHSIG at exec, so this is how an agent never outlives
 * the build that started it. The keeper is a fork without exec: it makes
 * async-signal-safe calls only. */
static pid_t spawn_kept(const char *const *argv, char *const *env, int *lifeline)
{
    int life[2];
    if (pipe2(life, O_CLOEXEC) != 0)
        return -1;
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        close(life[0]);
        close(life[1]);
        return -1;
    }
    pid_t keeper = fork();
    if (keeper == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(life[0], 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        syscall(SYS_close_range, 3U, ~0U, 0U); /* other builds' lifelines too */
        pid_t agent = fork();
        if (agent == 0) {
            dup2(1, 0);
            execve(argv[0], (char *const *)argv, env);
            _exit(127);
        }
        if (agent < 0)
            _exit(1);
        char c;
        while (read(0, &c, 1) != 0 && errno == EINTR)
            ;
        kill(agent, SIGTERM);
        for (int i = 0; i < 200; i++) {
            if (waitpid(agent, NULL, WNOHANG) == agent)
                _exit(0);
            struct timespec ts = { .tv_sec = 0, .tv_nsec = 10000000L };
            nanosleep(&ts, NULL);
        }
        kill(agent, SIGKILL);
        waitpid(agent, NULL, 0);
        _exit(0);
    }
    close(life[0]);
    close(null_fd);
    if (keeper < 0) {
        close(life[1]);
        return -1;
    }
    *lifeline = life[1];
    return keeper;
}

static const char *find_program(const char *name)
{
    static const char *const dirs[] = { "/usr/bin", "/bin", "/usr/local/bin" };
    static char found[3][64];
    int slot = strcmp(name, "ssh-agent") == 0 ? 0 : 1;
    for (size_t i = 0; i < 3; i++) {
        snprintf(found[slot], sizeof(found[slot]), "%s/%s", dirs[i], name);
        if (access(found[slot], X_OK) == 0)
            return found[slot];
    }
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The first line of a file, for an error message. */
static void first_line(const char *path, char *out, size_t size)
{
    char *data = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (sw_read_file(path, 4096, &data, &len, NULL) != 0)
        return;
    size_t l = strcspn(data, "\r\n");
    snprintf(out, size, "%.*s", (int)l, data);
    free(data);
}

/* The private agent with the key files of src loaded. */
static int start_private_agent(bld_ssh_agent *a, const struct bld_ssh_source *src, const char *dir,
                               sw_error **err)
{
    const char *agent_bin = find_program("ssh-agent"), *add_bin = find_program("ssh-add");
    char agent_dir[SW_PATH_MAX], sock[SW_PATH_MAX], errfile[SW_PATH_MAX], env_sock[SW_PATH_MAX];
    int rc = 0;
    if (agent_bin == NULL || add_bin == NULL)
        return sw_error_set(err, SW_EUNSUPPORTED,
                            "RUN --mount=type=ssh needs ssh-agent and ssh-add (openssh-client)");
    if ((rc = sw_path_format(agent_dir, err, "%s/agent", a->sock_dir)) != 0)
        return rc;
    if (mkdir(agent_dir, 0700) != 0)
        return sw_error_sys(err, SW_EIO, errno, "creating %s", agent_dir);
    if ((rc = sw_path_format(sock, err, "%s/agent.sock", agent_dir)) != 0 ||
        (rc = sw_path_format(errfile, err, "%s/ssh-add.err", dir)) != 0 ||
        (rc = sw_path_format(env_sock, err, "SSH_AUTH_SOCK=%s", sock)) != 0)
        return rc;
    if ((a->upstream = strdup(sock)) == NULL)
        return sw_error_oom(err);
    char *const agent_env[] = { "PATH=/usr/bin:/bin", NULL };
    const char *agent_argv[] = { agent_bin, "-D", "-a", sock, NULL };
    a->agent_pid = spawn_kept(agent_argv, agent_env, &a->lifeline);
    if (a->agent_pid < 0) {
        a->agent_pid = 0;
        return sw_error_sys(err, SW_EIO, errno, "starting ssh-agent");
    }
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; i++) {
        if ((fd = connect_unix(sock)) < 0) {
            if (waitpid(a->agent_pid, NULL, WNOHANG) == a->agent_pid) {
                a->agent_pid = 0;
                return sw_error_set(err, SW_EIO, "ssh-agent exited at start");
            }
            sleep_ms(10);
        }
    }
    if (fd < 0)
        return sw_error_set(err, SW_ETIMEOUT, "ssh-agent did not open its socket in 5s");
    close(fd);
    const char **add_argv = calloc(src->n_paths + 4, sizeof(char *));
    if (add_argv == NULL)
        return sw_error_oom(err);
    size_t k = 0;
    add_argv[k++] = add_bin;
    add_argv[k++] = "-q";
    add_argv[k++] = "--";
    for (size_t i = 0; i < src->n_paths; i++)
        add_argv[k++] = src->paths[i];
    /* never a prompt: a key with a passphrase is an error */
    char *const add_env[] = { "PATH=/usr/bin:/bin", env_sock, "SSH_ASKPASS_REQUIRE=never", NULL };
    pid_t add = spawn(add_argv, add_env, errfile);
    free(add_argv);
    int status = -1;
    if (add < 0)
        return sw_error_sys(err, SW_EIO, errno, "starting ssh-add");
    while (waitpid(add, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[512];
        first_line(errfile, line, sizeof(line));
        rc = sw_error_set(err, SW_EINVAL, "ssh id %s: loading its key%s into the agent failed%s%s",
                          src->id, src->n_paths > 1 ? "s" : "", line[0] ? ": " : "", line);
    }
    unlink(errfile);
    return rc;
}

int bld_ssh_agent_start(const struct bld_ssh_source *src, const struct bld_mount *m,
                        const char *dir, uint32_t uid_offset, uint32_t gid_offset,
                        bld_ssh_agent **out, char **socket_path, sw_error **err)
{
    bld_ssh_agent *a = calloc(1, sizeof(*a));
    char *sock = NULL;
    struct sockaddr_un sa;
    int rc = 0;
    *out = NULL;
    *socket_path = NULL;
    if (a == NULL)
        return sw_error_oom(err);
    a->listen_fd = a->stop_r = a->stop_w = a->lifeline = -1;
    char tmpl[] = "/tmp/slipway-ssh-XXXXXX";
    if (mkdtemp(tmpl) == NULL || (a->sock_dir = strdup(tmpl)) == NULL) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating a directory for the agent socket");
        goto cleanup;
    }
    struct stat st;
    if (src->n_paths == 1 && stat(src->paths[0], &st) == 0 && S_ISSOCK(st.st_mode)) {
        if ((a->upstream = strdup(src->paths[0])) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
    } else if ((rc = start_private_agent(a, src, dir, err)) != 0) {
        goto cleanup;
    }
    if (asprintf(&sock, "%s/step.sock", a->sock_dir) < 0) {
        sock = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = unix_address(sock, &sa, err)) != 0)
        goto cleanup;
    a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a->listen_fd < 0 || bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(a->listen_fd, 16) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating the agent socket %s", sock);
        goto cleanup;
    }
    uid_t uid = (uid_t)((m->has_uid ? m->uid : 0) + uid_offset);
    gid_t gid = (gid_t)((m->has_gid ? m->gid : 0) + gid_offset);
    if (chown(sock, uid, gid) != 0 || chmod(sock, m->has_mode ? m->mode : 0600) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "setting up the agent socket %s", sock);
        goto cleanup;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "pipe");
        goto cleanup;
    }
    a->stop_r = fds[0];
    a->stop_w = fds[1];
    if (pthread_create(&a->thread, NULL, proxy_loop, a) != 0) {
        rc = sw_error_set(err, SW_EIO, "starting the ssh agent proxy");
        goto cleanup;
    }
    a->started = 1;
cleanup:
    if (rc != 0) {
        sw_error_prefix(err, "--mount=type=ssh,id=%s", m->id ? m->id : "default");
        bld_ssh_agent_stop(a);
        free(sock);
        return rc;
    }
    *out = a;
    *socket_path = sock;
    return 0;
}

void bld_ssh_agent_stop(bld_ssh_agent *a)
{
    if (a == NULL)
        return;
    if (a->started) {
        ssize_t w;
        do
            w = write(a->stop_w, "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(a->thread, NULL);
    }
    if (a->listen_fd >= 0)
        close(a->listen_fd);
    if (a->stop_r >= 0)
        close(a->stop_r);
    if (a->stop_w >= 0)
        close(a->stop_w);
    if (a->lifeline >= 0)
        close(a->lifeline); /* the keeper ends the agent, then itself */
    if (a->agent_pid > 0) {
        int status;
        while (waitpid(a->agent_pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (a->sock_dir)
        sw_rm_rf(a->sock_dir, NULL);
    free(a->sock_dir);
    free(a->upstream);
    free(a);
}
