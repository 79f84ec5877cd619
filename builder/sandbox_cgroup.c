/*
 * sandbox_cgroup.c - what a container leaves until it is deleted (see
 * sandbox.c): the owner record (our pid and start time), its cgroup (event
 * counters, killing and removing it), and the sweep that removes what
 * dead owners left.
 */
#include "builder/sandbox_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/strbuf.h"

/* ---- owners: who started a container, and are they still alive ---------- */

/* The start time of a process (clock ticks since boot, field 22 of its
 * stat), so a reused pid is not taken for the owner; 0 when gone. */
static unsigned long long process_start_time(long pid)
{
    char path[64], *text = NULL;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (sw_read_file(path, 4096, &text, NULL, NULL) != 0)
        return 0;
    unsigned long long start = 0;
    char *p = strrchr(text, ')'); /* the command name may hold spaces */
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (p)
        start = strtoull(p, NULL, 10);
    free(text);
    return start;
}

/* "PID START", naming this process. */
void bld_sandbox_owner_record(char *buf, size_t size)
{
    long pid = (long)getpid();
    snprintf(buf, size, "%ld %llu", pid, process_start_time(pid));
}

/* 1 when the owner a record names still runs (or the record is not ours
 * to judge), 0 when it is gone. */
static int owner_alive(const char *record)
{
    char *end = NULL;
    long pid = record ? strtol(record, &end, 10) : 0;
    if (pid <= 0 || end == record)
        return 1;
    unsigned long long start = strtoull(end, NULL, 10);
    if (pid == (long)getpid())
        return 1;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 0;
    unsigned long long now = process_start_time(pid);
    return now == 0 ? 0 : (start == 0 || now == start);
}

/* ---- cgroups -------------------------------------------------------------- */

int bld_sandbox_cgroup_v2(void)
{
    struct statfs fs;
    return statfs(CGROUP_ROOT, &fs) == 0 && fs.f_type == 0x63677270; /* CGROUP2_SUPER_MAGIC */
}

/* The container's cgroup directory for a v1 controller (ignored on v2). */
static char *cgroup_dir(const char *controller, const char *id)
{
    char *path = NULL;
    if (bld_sandbox_cgroup_v2()) {
        if (asprintf(&path, CGROUP_ROOT "/" CGROUP_PARENT "/%s", id) < 0)
            path = NULL;
    } else if (asprintf(&path, CGROUP_ROOT "/%s/" CGROUP_PARENT "/%s", controller, id) < 0) {
        path = NULL;
    }
    return path;
}

/* The number after "key " in a cgroup file of flat keyed values; 0 when
 * absent. */
long long bld_sandbox_cgroup_counter(const char *controller, const char *id, const char *file,
                                     const char *key)
{
    char *dir = cgroup_dir(controller, id), *path = dir ? sw_path_join(dir, file) : NULL;
    char *text = NULL;
    long long value = 0;
    size_t klen = strlen(key);
    if (path && sw_read_file(path, 64 * 1024, &text, NULL, NULL) == 0) {
        for (char *line = text; line && *line;) {
            if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
                value = strtoll(line + klen + 1, NULL, 10);
            line = strchr(line, '\n');
            line = line ? line + 1 : NULL;
        }
    }
    free(text);
    free(path);
    free(dir);
    return value;
}

/* Kills every process in the container's cgroup, until it is empty (a
 * fork may race with the first round). */
void bld_sandbox_cgroup_kill_all(const char *id)
{
    /* any controller the container has a cgroup in lists its processes */
    static const char *const controllers[] = { "pids", "memory", "cpu", "freezer", NULL };
    char *dir = NULL, *procs = NULL;
    for (size_t i = 0; controllers[i] && procs == NULL; i++) {
        dir = cgroup_dir(controllers[i], id);
        procs = dir ? sw_path_join(dir, "cgroup.procs") : NULL;
        if (procs && !sw_path_exists(procs)) {
            free(procs);
            procs = NULL;
        }
        if (procs == NULL) {
            free(dir);
            dir = NULL;
        }
    }
    for (int round = 0; procs && round < 50; round++) {
        char *text = NULL;
        int any = 0;
        if (sw_read_file(procs, 1 << 20, &text, NULL, NULL) != 0)
            break;
        for (char *p = text; *p;) {
            char *end = NULL;
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
                any = 1;
            p = end;
        }
        free(text);
        if (!any)
            break;
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    free(procs);
    free(dir);
}

/* Removes the container's cgroup under every controller (the runtime does
 * on delete; this is for what a killed runtime left). */
void bld_sandbox_cgroup_remove(const char *id)
{
    if (bld_sandbox_cgroup_v2()) {
        char *dir = cgroup_dir(NULL, id);
        if (dir)
            rmdir(dir);
        free(dir);
        return;
    }
    DIR *root = opendir(CGROUP_ROOT);
    struct dirent *de;
    while (root && (de = readdir(root)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *dir = cgroup_dir(de->d_name, id);
        if (dir)
            rmdir(dir);
        free(dir);
    }
    if (root)
        closedir(root);
}

/* ---- the sweep ------------------------------------------------------------- */

/* Runs `runtime list --format json` and returns its parsed output. */
static json_t *runtime_list(const char *runtime)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(devnull, 2);
        execlp(runtime, runtime, "list", "--format", "json", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    sw_strbuf out = SW_STRBUF_INIT;
    char buf[8192];
    ssize_t n;
    while (pid > 0 && (n = read(fds[0], buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || out.len > (64u << 20))
            break;
        sw_strbuf_append(&out, buf, (size_t)n);
    }
    close(fds[0]);
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    json_t *list = out.data ? json_loads(out.data, 0, NULL) : NULL;
    sw_strbuf_free(&out);
    return list;
}

int bld_sandbox_sweep(const char *runtime, int *killed, sw_error **err)
{
    (void)err;
    if (runtime == NULL)
        runtime = "runc";
    if (killed)
        *killed = 0;
    /* containers the runtime knows, whose recorded owner is gone */
    json_t *list = runtime_list(runtime), *c;
    size_t i;
    json_array_foreach(list, i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *bundle = json_string_value(json_object_get(c, "bundle"));
        const char *rec =
            json_string_value(json_object_get(json_object_get(c, "annotations"), OWNER_ANNOTATION));
        if (id == NULL || strncmp(id, "slipway-", 8) != 0 || rec == NULL || owner_alive(rec))
            continue;
        sw_warn("removing build container %s of a stopped process (%s)", id, rec);
        bld_sandbox_destroy_container(
            runtime, id,
            bundle && strncmp(bundle, SANDBOX_RUN_DIR "/", strlen(SANDBOX_RUN_DIR) + 1) == 0
                ? bundle
                : NULL);
        if (killed)
            (*killed)++;
    }
    json_decref(list);
    int swept = 0;
    bld_sandbox_sweep_bundles(runtime, &swept, err);
    if (killed)
        *killed += swept;
    return 0;
}

int bld_sandbox_sweep_bundles(const char *runtime, int *killed, sw_error **err)
{
    (void)err;
    if (runtime == NULL)
        runtime = "runc";
    if (killed)
        *killed = 0;
    /* bundle directories of dead owners (the runtime may or may not have
     * a record of their container): the root filesystem may still be
     * mounted; bld_sandbox_destroy_container kills and deletes by id first */
    DIR *dir = opendir(SANDBOX_RUN_DIR);
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, "slipway-", 8) != 0)
            continue;
        char *bundle = sw_path_join(SANDBOX_RUN_DIR, de->d_name);
        char *owner_path = bundle ? sw_path_join(bundle, "owner") : NULL;
        char *rec = NULL;
        if (owner_path && sw_read_file(owner_path, 256, &rec, NULL, NULL) == 0 &&
            !owner_alive(rec)) {
            bld_sandbox_destroy_container(runtime, de->d_name, bundle);
            if (killed)
                (*killed)++;
        }
        free(rec);
        free(owner_path);
        free(bundle);
    }
    if (dir)
        closedir(dir);
    return 0;
}
