/*
 * fuzz_unpack.c - libFuzzer target for layer/ADD archive extraction
 * (builder/unpack.c). The input is a tar stream, plain or compressed; each
 * run extracts it into a fresh directory and removes it afterwards.
 *
 * What this tests beyond "no crash": extraction must never write outside
 * the destination. Each run's tree is scratch/run/{dest,sentinel}; after
 * extracting into dest, scratch must hold only run/, run/ only dest and
 * the untouched empty sentinel file. Archives with "..", absolute names,
 * symlinks or hardlinks pointing up would show there. (An absolute
 * symlink escape writing elsewhere, e.g. /tmp, would not; unpack.c refuses
 * any entry whose path crosses a symlink, which the seeds exercise.)
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/unpack.h"

static char scratch[256];

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(p) != 0) {
        chmod(p, 0700);
        remove(p);
    }
    return 0;
}

static void rm_rf(const char *p)
{
    nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void)
{
    if (scratch[0])
        rm_rf(scratch);
}

/* The names in dir, sorted and joined by ','; "" on error. */
static void listing(const char *dir, char *out, size_t cap)
{
    struct dirent **names = NULL;
    out[0] = '\0';
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *s = names[i]->d_name;
        if (strcmp(s, ".") != 0 && strcmp(s, "..") != 0) {
            size_t used = strlen(out);
            snprintf(out + used, cap - used, "%s%s", used ? "," : "", s);
        }
        free(names[i]);
    }
    free(names);
}

/* Octal tar number field (NUL/space terminated); 0 on anything else. */
static uint64_t octal(const uint8_t *f, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(f[i] - '0');
    return v;
}

/* Mutations rarely keep a tar header's checksum right, and a bad checksum
 * stops libarchive at once. For an uncompressed stream, rewrite the
 * checksum of every header block (walking by the size fields) so mutated
 * headers reach the extraction code. */
static void fix_checksums(uint8_t *buf, size_t size)
{
    size_t off = 0;
    while (off + 512 <= size) {
        uint8_t *h = buf + off;
        if (h[0] == 0)
            break; /* end marker */
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
            sum += h[i];
        snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
        h[155] = ' ';
        uint64_t len = octal(h + 124, 12);
        if (len > size)
            break;
        off += 512 + (size_t)((len + 511) / 512 * 512);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char run[300], dest[320], sentinel[320], list[256];
    if (scratch[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/fuzz_unpack.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(scratch) == NULL)
            abort();
        atexit(remove_scratch);
    }
    snprintf(run, sizeof(run), "%s/run", scratch);
    snprintf(dest, sizeof(dest), "%s/dest", run);
    snprintf(sentinel, sizeof(sentinel), "%s/sentinel", run);
    if (mkdir(run, 0755) != 0 || mkdir(dest, 0755) != 0)
        abort();
    int sfd = open(sentinel, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (sfd < 0)
        abort();
    close(sfd);

    int fd = memfd_create("fuzz_unpack", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    int compressed =
        size >= 2 &&
        ((copy[0] == 0x1f && copy[1] == 0x8b) || (copy[0] == 0x28 && copy[1] == 0xb5) || /* zstd */
         (copy[0] == 'B' && copy[1] == 'Z') || (copy[0] == 0xfd && copy[1] == '7'));     /* xz */
    if (!compressed)
        fix_checksums(copy, size);
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, copy + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    free(copy);
    lseek(fd, 0, SEEK_SET);

    struct bld_unpack_options opts = { .convert_whiteouts = size % 2 };
    sw_error *err = NULL;
    if (bld_unpack_fd(fd, dest, &opts, &err) != 0) {
        if (err == NULL)
            abort();
        if (getenv("FUZZ_VERBOSE")) /* to see why a seed is refused */
            fprintf(stderr, "fuzz_unpack: %s\n", sw_error_message(err));
    }
    sw_error_clear(&err);
    close(fd);

    /* Nothing may have appeared or changed beside dest. */
    listing(scratch, list, sizeof(list));
    if (strcmp(list, "run") != 0) {
        fprintf(stderr, "fuzz_unpack: wrote outside dest: scratch holds %s\n", list);
        abort();
    }
    listing(run, list, sizeof(list));
    if (strcmp(list, "dest,sentinel") != 0) {
        fprintf(stderr, "fuzz_unpack: wrote outside dest: run/ holds %s\n", list);
        abort();
    }
    struct stat st;
    if (lstat(sentinel, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0) {
        fprintf(stderr, "fuzz_unpack: the sentinel beside dest was changed\n");
        abort();
    }
    rm_rf(run);
    return 0;
}
