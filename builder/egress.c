/*
 * egress.c - the build network policy and the per-step network (see
 * egress.h).
 */
#include "builder/egress.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/spawn.h"
#include "core/strbuf.h"

struct cidr_list {
    struct sw_cidr *items;
    size_t n;
};

struct bld_egress {
    struct cidr_list fixed; /* always refused */
    struct cidr_list host;  /* the host's own addresses: always refused */
    struct cidr_list deny;  /* builder.egress.deny */
    struct cidr_list allow; /* builder.egress.allow */
};

/* Never reachable, whatever the config says. */
static const char *const fixed_ranges[] = {
    "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
    "::/128",    "::1/128",     "fe80::/10",      "ff00::/8",    NULL,
};

static const char *const default_deny[] = {
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", NULL,
};

static int list_add(struct cidr_list *l, const struct sw_cidr *c)
{
    struct sw_cidr *bigger = realloc(l->items, (l->n + 1) * sizeof(*bigger));
    if (bigger == NULL)
        return -1;
    l->items = bigger;
    l->items[l->n++] = *c;
    return 0;
}

static int list_add_strings(struct cidr_list *l, const char *const *items, const char *key,
                            sw_error **err)
{
    for (size_t i = 0; items && items[i]; i++) {
        struct sw_cidr c;
        if (sw_cidr_parse(items[i], &c) != 0)
            return sw_error_set(err, SW_EINVAL, "%s: \"%s\" is not an address range", key,
                                items[i]);
        if (list_add(l, &c) != 0)
            return sw_error_oom(err);
    }
    return 0;
}

static int list_contains(const struct cidr_list *l, const struct sockaddr *sa)
{
    for (size_t i = 0; i < l->n; i++)
        if (sw_cidr_contains(&l->items[i], sa))
            return 1;
    return 0;
}

/* Every address of every interface of the host (of this network
 * namespace: the one slirp4netns and ADD connect from). */
static int add_host_addresses(struct cidr_list *l, sw_error **err)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0)
        return sw_error_sys(err, SW_EIO, errno, "listing the host's addresses");
    int rc = 0;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        struct sw_cidr c = { 0 };
        if (i->ifa_addr->sa_family == AF_INET) {
            c.family = AF_INET;
            c.prefix = 32;
            memcpy(c.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            c.family = AF_INET6;
            c.prefix = 128;
            memcpy(c.addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        if (list_add(l, &c) != 0) {
            rc = sw_error_oom(err);
            break;
        }
    }
    freeifaddrs(ifa);
    return rc;
}

int bld_egress_new(const struct sw_config *cfg, bld_egress **out, sw_error **err)
{
    bld_egress *e = calloc(1, sizeof(*e));
    int rc;
    if (e == NULL)
        return sw_error_oom(err);
    if ((rc = list_add_strings(&e->fixed, fixed_ranges, "fixed", err)) ||
        (rc = list_add_strings(&e->deny, cfg ? (const char *const *)cfg->egress_deny : default_deny,
                               "builder.egress.deny", err)) ||
        (rc = list_add_strings(&e->allow, cfg ? (const char *const *)cfg->egress_allow : NULL,
                               "builder.egress.allow", err)) ||
        (rc = add_host_addresses(&e->host, err))) {
        bld_egress_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void bld_egress_free(bld_egress *e)
{
    if (e == NULL)
        return;
    free(e->fixed.items);
    free(e->host.items);
    free(e->deny.items);
    free(e->allow.items);
    free(e);
}

int bld_egress_allows(const bld_egress *e, const struct sockaddr *sa)
{
    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return 0;
    if (list_contains(&e->allow, sa))
        return 1;
    if (list_contains(&e->fixed, sa) || list_contains(&e->host, sa))
        return 0;
    return !list_contains(&e->deny, sa);
}

/* ---- the nftables filter -------------------------------------------------- */

static void nft_set(sw_strbuf *sb, const char *name, int family,
                    const struct cidr_list *const *lists, size_t n_lists, const char *const *extra)
{
    sw_strbuf_printf(sb, "  set %s {\n    type %s\n    flags interval\n    auto-merge\n", name,
                     family == AF_INET ? "ipv4_addr" : "ipv6_addr");
    int first = 1;
    for (size_t l = 0; l < n_lists; l++)
        for (size_t i = 0; i < lists[l]->n; i++) {
            if (lists[l]->items[i].family != family)
                continue;
            char text[80];
            sw_cidr_format(&lists[l]->items[i], text, sizeof(text));
            sw_strbuf_printf(sb, "%s%s", first ? "    elements = { " : ", ", text);
            first = 0;
        }
    for (size_t i = 0; extra && extra[i]; i++) {
        sw_strbuf_printf(sb, "%s%s", first ? "    elements = { " : ", ", extra[i]);
        first = 0;
    }
    if (!first)
        sw_strbuf_puts(sb, " }\n");
    sw_strbuf_puts(sb, "  }\n");
}

char *bld_egress_nft_rules(const bld_egress *e)
{
    /* slirp4netns's own network: 10.0.2.2 is the host, 10.0.2.3 its DNS
     * (let through on port 53 only, before this) */
    static const char *const slirp_net[] = { "10.0.2.0/24", NULL };
    const struct cidr_list *refused[] = { &e->fixed, &e->host };
    const struct cidr_list *deny[] = { &e->deny };
    const struct cidr_list *allow[] = { &e->allow };
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_puts(&sb, "table inet slipway_egress {\n");
    nft_set(&sb, "refused4", AF_INET, refused, 2, slirp_net);
    nft_set(&sb, "refused6", AF_INET6, refused, 2, NULL);
    nft_set(&sb, "allow4", AF_INET, allow, 1, NULL);
    nft_set(&sb, "allow6", AF_INET6, allow, 1, NULL);
    nft_set(&sb, "deny4", AF_INET, deny, 1, NULL);
    nft_set(&sb, "deny6", AF_INET6, deny, 1, NULL);
    sw_strbuf_puts(&sb, "  chain output {\n"
                        "    type filter hook output priority 0; policy accept;\n"
                        /* the step's own loopback is its own; rejections are
                         * answered through it */
                        "    oifname \"lo\" accept\n"
                        "    ip daddr " BLD_EGRESS_DNS " udp dport 53 accept\n"
                        "    ip daddr " BLD_EGRESS_DNS " tcp dport 53 accept\n"
                        "    ip daddr @allow4 accept\n"
                        "    ip6 daddr @allow6 accept\n"
                        "    ip daddr @refused4 reject with icmpx type admin-prohibited\n"
                        "    ip6 daddr @refused6 reject with icmpx type admin-prohibited\n"
                        "    ip daddr @deny4 reject with icmpx type admin-prohibited\n"
                        "    ip6 daddr @deny6 reject with icmpx type admin-prohibited\n"
                        "  }\n"
                        "}\n");
    return sw_strbuf_detach(&sb);
}

/* ---- the step network ----------------------------------------------------- */

/* The full path of an executable found in PATH (malloc'd), or NULL. */
static char *find_program(const char *name)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    /* nft and slirp4netns live in sbin/bin; services often run without
     * sbin in PATH */
    char *all = NULL;
    if (asprintf(&all, "%s:/usr/sbin:/sbin:/usr/bin:/bin", path) < 0)
        return NULL;
    char *save = NULL, *found = NULL;
    for (char *dir = strtok_r(all, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *p = NULL;
        if (*dir == '\0' || asprintf(&p, "%s/%s", dir, name) < 0)
            continue;
        if (access(p, X_OK) == 0) {
            found = p;
            break;
        }
        free(p);
    }
    free(all);
    return found;
}

/* The tail of a log file in the scratch dir, for error messages. */
static char *log_tail(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (sw_read_file(path, 64 * 1024, &text, &len, NULL) != 0 || text == NULL)
        return strdup("");
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (len > 500) {
        memmove(text, text + len - 500, 501);
    }
    for (char *p = text; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return text;
}

/* The holder: a process in a new network namespace that installs the
 * filter there and then waits for its control pipe to close. Status byte
 * on status_fd: 0 ready, 1 no namespace, 2 filter failed. */
static void holder_main(pid_t parent, int ctl_fd, int status_fd, const char *nft,
                        const char *rules_path, const char *log_path)
{
    sw_child_die_with_parent(parent);
    /* Keep only the two pipes (as 3 and 4): this process lives as long as
     * the step, and any other descriptor of the worker it held -- another
     * step's slirp4netns exit pipe -- would be kept open with it. */
    const int keep[] = { ctl_fd, status_fd };
    if (sw_child_keep_fds(keep, 2) != 0)
        _exit(1);
    ctl_fd = 3;
    status_fd = 4;
    unsigned char status = 0;
    if (unshare(CLONE_NEWNET) != 0) {
        status = 1;
        (void)!write(status_fd, &status, 1);
        _exit(1);
    }
    /* ping through ICMP datagram sockets, which go through the filter
     * (the container has no CAP_NET_RAW here) */
    int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, "0 2147483647", 12);
        close(fd);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        sw_child_stdio(log, log);
        execl(nft, nft, "-f", rules_path, (char *)NULL);
        _exit(127);
    }
    int ws = 0;
    if (pid < 0 || sw_wait(pid, &ws) != 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        status = 2;
    (void)!write(status_fd, &status, 1);
    if (status != 0)
        _exit(1);
    for (;;) {
        char byte;
        ssize_t n = read(ctl_fd, &byte, 1);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    _exit(0);
}

int bld_egress_net_start(const bld_egress *e, const char *scratch_dir, struct bld_egress_net *net,
                         sw_error **err)
{
    char *nft = NULL, *slirp = NULL, *rules = NULL, *rules_path = NULL;
    char *nft_log = NULL, *slirp_log = NULL;
    int ctl[2] = { -1, -1 }, st[2] = { -1, -1 }, ready[2] = { -1, -1 }, quit[2] = { -1, -1 };
    int rc = 0;

    memset(net, 0, sizeof(*net));
    if ((slirp = find_program("slirp4netns")) == NULL) {
        rc = sw_error_set(err, SW_ENOTFOUND,
                          "builder.network egress needs slirp4netns (Debian package "
                          "slirp4netns), which is not installed; install it, or set "
                          "builder.network to none");
        goto cleanup;
    }
    if ((nft = find_program("nft")) == NULL) {
        rc = sw_error_set(err, SW_ENOTFOUND,
                          "builder.network egress needs nft (Debian package nftables), which "
                          "is not installed; install it, or set builder.network to none");
        goto cleanup;
    }
    rules = bld_egress_nft_rules(e);
    rules_path = sw_path_join(scratch_dir, "egress.nft");
    nft_log = sw_path_join(scratch_dir, "nft.log");
    slirp_log = sw_path_join(scratch_dir, "slirp4netns.log");
    if (!rules || !rules_path || !nft_log || !slirp_log) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = sw_write_file_atomic(rules_path, rules, strlen(rules), 0600, err)) != 0)
        goto cleanup;
    pid_t parent = getpid();
    int holder_pipes[2][2];
    pid_t pid = sw_spawn_fork(holder_pipes, 2, err);
    if (pid < 0) {
        rc = SW_EIO;
        goto cleanup;
    }
    memcpy(ctl, holder_pipes[0], sizeof(ctl));
    memcpy(st, holder_pipes[1], sizeof(st));
    if (pid == 0) {
        close(ctl[1]);
        close(st[0]);
        holder_main(parent, ctl[0], st[1], nft, rules_path, nft_log);
    }
    net->holder = pid;
    sw_close_fd(&ctl[0]);
    sw_close_fd(&st[1]);
    net->holder_ctl = ctl[1];
    ctl[1] = -1;
    /* the filter loads in well under a second; a holder that says nothing
     * for 10 s is stuck (and is killed by bld_egress_net_stop) */
    unsigned char status = 9;
    int n = sw_read_byte(st[0], 10000, &status);
    if (n != 1 || status != 0) {
        if (n == 1 && status == 1) {
            rc = sw_error_set(err, SW_EIO, "cannot make a network namespace for the step");
        } else {
            char *tail = log_tail(nft_log);
            rc = sw_error_set(err, SW_EIO, "installing the build network filter failed: %s",
                              tail && *tail ? tail : "nft failed");
            free(tail);
        }
        goto cleanup;
    }
    snprintf(net->netns_path, sizeof(net->netns_path), "/proc/%d/ns/net", (int)net->holder);

    int slirp_pipes[2][2];
    if ((pid = sw_spawn_fork(slirp_pipes, 2, err)) < 0) {
        rc = SW_EIO;
        goto cleanup;
    }
    memcpy(ready, slirp_pipes[0], sizeof(ready));
    memcpy(quit, slirp_pipes[1], sizeof(quit));
    if (pid == 0) {
        sw_child_die_with_parent(parent);
        int log = open(slirp_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        sw_child_stdio(log, log);
        /* --enable-sandbox unmounts what it does not need (/run among
         * them) in the mount namespace it makes; on a host with shared
         * mount propagation (systemd's default) those unmounts reach the
         * host. Give it a private copy first. */
        if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
            sw_child_error(2, "cannot make a private mount namespace for slirp4netns", errno);
            _exit(126);
        }
        /* these two are slirp4netns's, as 3 and 4; nothing else */
        const int keep[] = { ready[1], quit[0] };
        if (sw_child_keep_fds(keep, 2) != 0)
            _exit(126);
        execl(slirp, slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
              "--enable-sandbox", "--enable-seccomp", "--netns-type=path", "--ready-fd=3",
              "--exit-fd=4", net->netns_path, "tap0", (char *)NULL);
        sw_child_error(2, "cannot run slirp4netns", errno);
        _exit(127);
    }
    net->slirp = pid;
    sw_close_fd(&ready[1]);
    sw_close_fd(&quit[0]);
    net->slirp_exit = quit[1];
    quit[1] = -1;

    /* slirp4netns writes "1" to the ready fd once the tap is configured */
    unsigned char c = 0;
    int pr = sw_read_byte(ready[0], 10000, &c);
    if (pr != 1) {
        char *tail = log_tail(slirp_log);
        rc = sw_error_set(err, SW_EIO, "slirp4netns did not start%s%s",
                          tail && *tail ? ": " : (pr == 0 ? " within 10s" : ""), tail ? tail : "");
        free(tail);
        goto cleanup;
    }

cleanup:
    if (rc != 0)
        bld_egress_net_stop(net);
    int *fds[] = { &ctl[0], &ctl[1], &st[0], &st[1], &ready[0], &ready[1], &quit[0], &quit[1] };
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        sw_close_fd(fds[i]);
    free(nft);
    free(slirp);
    free(rules);
    free(rules_path);
    free(nft_log);
    free(slirp_log);
    return rc;
}

void bld_egress_net_release(struct bld_egress_net *net)
{
    if (net->slirp > 0 && net->slirp_exit >= 0)
        sw_close_fd(&net->slirp_exit);
    if (net->holder > 0 && net->holder_ctl >= 0)
        sw_close_fd(&net->holder_ctl);
}

void bld_egress_net_stop(struct bld_egress_net *net)
{
    /* both told first: they exit side by side */
    bld_egress_net_release(net);
    if (net->slirp > 0) {
        sw_reap(net->slirp, 2.0);
        net->slirp = 0;
    }
    if (net->holder > 0) {
        sw_reap(net->holder, 2.0);
        net->holder = 0;
    }
    net->slirp_exit = net->holder_ctl = -1;
    net->netns_path[0] = '\0';
}
