/*
 * build_internal.h - what the files of the Dockerfile interpreter share
 * (build.c and build_*.c); not for use outside builder/. The public API
 * is build.h.
 */
#ifndef BLD_BUILD_INTERNAL_H
#define BLD_BUILD_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "builder/build.h"
#include "builder/image.h"
#include "builder/mounts.h"
#include "builder/sandbox.h"
#include "builder/users.h"
#include "core/error.h"
#include "core/strbuf.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define UNTAGGED_REPO "slipway/builds"
/* The end of every history entry's created_by, as BuildKit writes it. */
#define BLD_HISTORY_SUFFIX " # buildkit"

/* ---- instructions, as the builder sees them ------------------------------- */

struct flag {
    char *name;  /* without "--" */
    char *value; /* "" for a bare flag */
};

struct heredoc {
    char *name;
    char *content;
    int expand; /* unquoted delimiter */
};

struct instr {
    char *keyword;  /* lower case: "run", "copy", ... */
    char *original; /* the instruction as written (for messages) */
    int line;
    struct flag *flags;
    size_t n_flags;
    char **args; /* raw, unexpanded arguments */
    size_t n_args;
    int is_json; /* exec form */
    struct heredoc *heredocs;
    size_t n_heredocs;
    struct instr *onbuild; /* ONBUILD: the wrapped instruction */
};

/* ---- name=value lists ------------------------------------------------ */

struct kv {
    char *key;
    char *value;
};

struct kv_list {
    struct kv *items;
    size_t n, cap;
};

/* ---- stages and the build ------------------------------------------------ */

struct stage {
    char *name;        /* lower-cased AS name, or NULL */
    size_t first, end; /* its instructions: [first, end), first is FROM */
    int needed;
    int built;
    struct bld_image image;
    struct kv_list args;     /* ARGs declared in this stage, with values */
    char key[SW_DIGEST_MAX]; /* cache key of the last step */
    char *base_ref;          /* "repo:tag" of a stored base image, or NULL */
    int cmd_set;             /* CMD was set in this stage (ENTRYPOINT keeps it) */
    int64_t last_time;       /* time of the stage's latest step: a cached step
                                keeps its first time, so a rebuild from cache
                                gives the same image */
    size_t current;          /* the instruction being built */
};

struct build {
    reg_store *store;
    const struct bld_build_options *opts;
    const char *dockerfile; /* path, for messages */
    char escape;            /* the escape character from the directive */
    struct instr *instrs;
    size_t n_instrs;
    struct stage *stages;
    size_t n_stages;
    struct kv_list meta_args;  /* ARGs before the first FROM, with values */
    struct kv_list build_args; /* --build-arg */
    int step;                  /* current step number */
    int total_steps;
    int cached_steps;
    char *ro_mounts[64]; /* read-only stage mounts to undo at the end */
    size_t n_ro_mounts;
    json_t *base_images;
    void *ignore;                 /* the context's .dockerignore matcher */
    struct bld_digest_memo *memo; /* opts->context_memo: opened at the first COPY */
    int memo_tried;
    /* a RUN's egress network made ahead (bld_egress_prewarm) */
    struct bld_egress_spare *spare;
    char *spare_dir;
    int spare_tried;
};

/* A step's working area: <scratch>/upper (the new layer), work, empty and
 * a mount point "rootfs" with the overlay of the stage's layers + upper. */
struct step_area {
    char *scratch;
    char *upper;
    char *rootfs;
    int mounted;
};

/* The mounts of one RUN step and what they hold until the step ends. */
struct run_mounts {
    struct bld_mount *m;
    size_t n;
    struct bld_sandbox_mount *sb; /* for the sandbox */
    size_t n_sb;
    char **owned; /* strings the sandbox entries point to */
    size_t n_owned;
    char **tmp_dirs; /* removed at the end (copies, private caches, secrets) */
    size_t n_tmp;
    int *locks;
    size_t n_locks;
    char **env; /* secret environment entries "NAME=value" */
    size_t n_env;
    const char **opts;      /* 5 option slots per mount (tmpfs) */
    bld_ssh_agent **agents; /* RUN --mount=type=ssh */
    size_t n_agents;
};

/* ---- build_run.c: a step that misses the cache has every later step of
 * its stage run: when one of them is a RUN on the egress network, its
 * network starts now, on a helper thread (egress.h, bld_egress_spare). */
void bld_egress_prewarm(struct build *b, struct stage *st);

/* ---- build.c: orchestration (the build, its stages, dispatch) */

void bld_progress(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double bld_now_s(void);
int64_t bld_build_time(const struct build *b);
int64_t bld_step_time(const struct build *b, const struct stage *st);
int bld_run_instruction(struct build *b, struct stage *st, const struct instr *in, sw_error **err);

/* ---- build_instr.c: the instruction model and the parser glue */

const char *bld_kv_get(const struct kv_list *l, const char *key);
int bld_kv_set(struct kv_list *l, const char *key, const char *value);
void bld_kv_free(struct kv_list *l);
int bld_instr_error(struct build *b, const struct instr *in, sw_error **err, int code,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *bld_flag_value(const struct instr *in, const char *name);
const char *bld_kv_lookup(void *ctx, const char *name);
int bld_expand_word(struct build *b, const struct kv_list *vars, const char *word, char **out,
                    sw_error **err);
void bld_free_instr(struct instr *in);
int bld_load_dockerfile(struct build *b, sw_error **err);
int bld_parse_trigger(struct build *b, const char *text, int line, struct instr **out,
                      sw_error **err);
int bld_load_ignore(struct build *b, sw_error **err);
void bld_free_ignore(struct build *b);
int bld_is_number(const char *s);
int bld_exclude_cb(void *ctx, const char *rel, int is_dir);

/* ---- build_step.c: step areas, mounts of layers, cache keys */

int bld_stage_vars(struct stage *st, struct kv_list *out);
int bld_layer_dirs(struct build *b, struct stage *st, char ***out, sw_error **err);
void bld_free_dirs(char **dirs);
int bld_step_area_open(struct build *b, struct stage *st, int mount_it, struct step_area *a,
                       sw_error **err);
void bld_step_area_close(struct step_area *a);
int bld_mount_readonly(struct build *b, struct stage *st, char **root_out, sw_error **err);
void bld_chain_key(struct stage *st, const char *keyword, const char *const *parts, size_t n_parts);
char *bld_config_state(struct stage *st);
char *bld_args_state(struct stage *st);
int bld_try_cache(struct build *b, struct stage *st, const char *created_by, double started);
/* The created_by of a history entry: text + BLD_HISTORY_SUFFIX (malloc'd;
 * NULL when out of memory). Every step's entry is made with it. */
char *bld_created_by(const char *text);
/* USER (BLD_USER_EXEC) or --chown (BLD_USER_CHOWN) with the stage's
 * /etc/passwd and /etc/group (builder/users.h). */
int bld_resolve_user(struct build *b, struct stage *st, const char *spec, enum bld_user_mode mode,
                     uid_t *uid, gid_t *gid, sw_error **err);
/* Chains into st->key what every key holds besides the steps: the layer
 * format (compression, source date epoch) and the cache scope. */
void bld_key_seed(struct build *b, struct stage *st);
/* bld_try_cache and bld_commit_layer under another key than the stage's
 * (a COPY --link layer has a key of its own). */
int bld_try_cache_at(struct build *b, struct stage *st, const char *key, const char *created_by,
                     double started);
int bld_commit_layer_at(struct build *b, struct stage *st, struct step_area *a, const char *key,
                        const char *created_by, sw_error **err);
int bld_commit_layer(struct build *b, struct stage *st, struct step_area *a, const char *created_by,
                     sw_error **err);

/* ---- build_run.c: RUN */

json_t *bld_command_argv(struct stage *st, const struct instr *in, size_t first_arg);
const char *bld_configured_network(const struct build *b);
int bld_do_run(struct build *b, struct stage *st, const struct instr *in, double started,
               sw_error **err);

/* ---- build_run_mounts.c: RUN --mount */

void bld_run_mounts_free(struct run_mounts *rm);
int bld_run_mounts_parse(struct build *b, struct stage *st, const struct instr *in, const char *cwd,
                         struct run_mounts *rm, sw_error **err);
int bld_run_mounts_key(struct build *b, struct stage *st, const struct instr *in,
                       const struct run_mounts *rm, sw_strbuf *out, sw_error **err);
int bld_run_mounts_prepare(struct build *b, struct stage *st, const struct instr *in,
                           const struct bld_sandbox_userns *userns, struct run_mounts *rm,
                           sw_error **err);
int bld_secret_env(char ***env, const struct run_mounts *rm, sw_error **err);

/* ---- build_copy.c: COPY and ADD */

struct stage *bld_find_stage(struct build *b, const char *name, size_t before);
int bld_do_copy(struct build *b, struct stage *st, const struct instr *in, double started,
                sw_error **err);

/* ---- build_config.c: instructions that change the config */

int bld_add_history(struct build *b, struct stage *st, const char *text, sw_error **err);
int bld_do_pairs(struct build *b, struct stage *st, const struct instr *in, int is_env,
                 sw_error **err);
int bld_arg_value(struct build *b, const char *name, const char *default_value,
                  const struct kv_list *inherited, const char **value);
int bld_do_arg(struct build *b, struct stage *st, const struct instr *in, sw_error **err);
int bld_set_string(struct build *b, struct stage *st, const struct instr *in, const char *key,
                   const char *label, sw_error **err);
int bld_do_workdir(struct build *b, struct stage *st, const struct instr *in, double started,
                   sw_error **err);
int bld_do_command(struct build *b, struct stage *st, const struct instr *in, const char *key,
                   const char *label, sw_error **err);
int bld_do_shell(struct build *b, struct stage *st, const struct instr *in, sw_error **err);
int bld_do_set_of(struct build *b, struct stage *st, const struct instr *in, const char *key,
                  const char *label, sw_error **err);
int bld_do_healthcheck(struct build *b, struct stage *st, const struct instr *in, sw_error **err);
int bld_do_onbuild(struct build *b, struct stage *st, const struct instr *in, sw_error **err);

/* ---- build_from.c: FROM and base images */

int bld_load_base_image(struct build *b, const char *ref_text, const char *platform,
                        struct bld_image *out, char **stored_ref, sw_error **err);
int bld_do_from(struct build *b, struct stage *st, const struct instr *in, sw_error **err);

#endif
