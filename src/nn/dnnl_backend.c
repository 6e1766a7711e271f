/* oneDNN (2.6, C API) fast path for the 1D convolution of nn.h.
 *
 * One cache entry per (shape, thread count) holds the convolution primitives
 * (forward, backward data, backward weights) created with format_tag_any, so
 * oneDNN picks its preferred (usually channel-blocked) layouts, plus the reorders
 * between those layouts and the plain PyTorch layouts of the caller:
 *   in / din (B, Cin, Lin) ncw,  w / dw (Cout, Cin, K) oiw,  out / dout (B, Cout, Lout) ncw.
 * A reorder exists only where the chosen layout differs from the plain one, except
 * for din and dw: their oneDNN result always goes through a scratch buffer and is
 * added into the caller's buffer by a reorder with a "sum" post-op (one pass that
 * both converts the layout and accumulates, per the nn.h contract).
 *
 * Temporary buffers (reordered operands, oneDNN scratchpads) are owned by the
 * context, shared by all entries and only grown when a new entry is created, so a
 * warm call allocates nothing. The thread count (omp_get_max_threads() of the
 * calling thread) is part of the key because oneDNN sizes its work split when a
 * primitive is created.
 *
 * Padding: oneDNN checks Lout == (Lin + pad_l + pad_r - K) / stride + 1 (floor), so
 * pad_r = (Lout - 1) * stride + K - Lin - pad, which is <= pad. When that is negative
 * (e.g. a 1x1 stride-2 conv on an even length, where the last input sample is
 * unused) pad_r = 0 satisfies the same floor equation and is used instead. */
#include "nn/dnnl_backend.h"

#include "util/error.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Context-owned temporary buffers, one per role, shared by all cache entries. */
enum { SLOT_SRC, SLOT_W, SLOT_DST, SLOT_DSRC, SLOT_DDST2, SLOT_SCRATCH, NUM_SLOTS };

/* How an argument meets the caller's buffer. */
enum {
    ARG_IN,  /* input: reordered user->prim only if the layouts differ */
    ARG_OUT, /* output, overwriting: written in place, or prim->user reorder if they differ */
    ARG_ACC  /* output, accumulated: computed into a slot, added by a reorder with sum */
};

/* One primitive argument: the plain user layout, the primitive's layout and the
 * reorder between them (NULL when they are equal and the user buffer is used as is). */
typedef struct {
    dnnl_memory_t user;    /* user layout, handle set per call */
    dnnl_memory_t prim;    /* primitive layout in ctx slot `slot`, handle set per call */
    dnnl_primitive_t reorder; /* user->prim (inputs) or prim->user with sum (gradients) */
    dnnl_memory_desc_t prim_md;
    int slot;
    int mode; /* ARG_IN, ARG_OUT or ARG_ACC */
} pe_dnnl_arg;

/* A primitive with its own (user-mode) scratchpad memory object. */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t scratch; /* handle = ctx slot SLOT_SCRATCH */
} pe_dnnl_prim;

#define KEY_LEN 11

typedef struct {
    int key[KEY_LEN]; /* B, Cin, Cout, Lin, K, stride, pad, nthreads, nwc, bf16, din_overwrite */
    dnnl_primitive_desc_t fwd_pd; /* kept as the hint for the backward primitives */
    pe_dnnl_prim fwd;
    pe_dnnl_arg f_src, f_w, f_dst;
    int have_bwd;
    pe_dnnl_prim bwd_data, bwd_w;
    pe_dnnl_arg bd_ddst, bd_w, bd_dsrc;
    pe_dnnl_arg bw_src, bw_ddst, bw_dw;
    int bw_ddst_shared; /* backward weights reads diff_dst from bd_ddst's buffer */
} pe_dnnl_entry;

struct pe_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr;     /* scratchpad mode user */
    dnnl_primitive_attr_t sum_attr; /* scratchpad mode user + sum post-op (accumulate) */
    pe_dnnl_entry **entries;
    int n_entries, cap_entries;
    void *buf[NUM_SLOTS];
    size_t buf_size[NUM_SLOTS];
    pe_dnnl_mode mode;
};

#define DNNL_TRY(call)                                                                       \
    do {                                                                                     \
        dnnl_status_t st_ = (call);                                                          \
        if (st_ != dnnl_success)                                                             \
            return pe_fail(e, "dnnl_backend.c:%d: %s failed: %s", __LINE__, #call,           \
                           dnnl_status2str(st_));                                            \
    } while (0)

/* ---- context --------------------------------------------------------------- */

pe_dnnl *pe_dnnl_create(pe_error *e) {
    pe_dnnl *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        pe_fail(e, "dnnl_backend: out of memory creating the context");
        return NULL;
    }
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_engine_create(&ctx->engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&ctx->attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(ctx->attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&ctx->sum_attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_scratchpad_mode(ctx->sum_attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_post_ops_create(&po);
    if (st == dnnl_success) st = dnnl_post_ops_append_sum(po, 1.0f);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(ctx->sum_attr, po);
    if (po) dnnl_post_ops_destroy(po);
    if (st != dnnl_success) {
        pe_fail(e, "dnnl_backend: cannot create the oneDNN CPU engine/stream: %s",
                dnnl_status2str(st));
        pe_dnnl_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static void arg_destroy(pe_dnnl_arg *a) {
    if (a->user) dnnl_memory_destroy(a->user);
    if (a->prim) dnnl_memory_destroy(a->prim);
    if (a->reorder) dnnl_primitive_destroy(a->reorder);
    memset(a, 0, sizeof *a);
}

static void prim_destroy(pe_dnnl_prim *p) {
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->scratch) dnnl_memory_destroy(p->scratch);
    memset(p, 0, sizeof *p);
}

static void entry_destroy(pe_dnnl_entry *en) {
    if (!en) return;
    if (en->fwd_pd) dnnl_primitive_desc_destroy(en->fwd_pd);
    prim_destroy(&en->fwd);
    prim_destroy(&en->bwd_data);
    prim_destroy(&en->bwd_w);
    pe_dnnl_arg *args[] = {&en->f_src, &en->f_w, &en->f_dst, &en->bd_ddst, &en->bd_w,
                           &en->bd_dsrc, &en->bw_src, &en->bw_ddst, &en->bw_dw};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) arg_destroy(args[i]);
    free(en);
}

void pe_dnnl_destroy(pe_dnnl *ctx) {
    if (!ctx) return;
    for (int i = 0; i < ctx->n_entries; i++) entry_destroy(ctx->entries[i]);
    free(ctx->entries);
    for (int i = 0; i < NUM_SLOTS; i++) free(ctx->buf[i]);
    if (ctx->attr) dnnl_primitive_attr_destroy(ctx->attr);
    if (ctx->sum_attr) dnnl_primitive_attr_destroy(ctx->sum_attr);
    if (ctx->stream) dnnl_stream_destroy(ctx->stream);
    if (ctx->engine) dnnl_engine_destroy(ctx->engine);
    free(ctx);
}

int pe_dnnl_cache_size(const pe_dnnl *ctx) { return ctx ? ctx->n_entries : 0; }

void pe_dnnl_set_mode(pe_dnnl *ctx, pe_dnnl_mode mode) {
    if (ctx) ctx->mode = mode;
}

pe_dnnl_mode pe_dnnl_get_mode(const pe_dnnl *ctx) {
    pe_dnnl_mode m = {0, 0, 0};
    return ctx ? ctx->mode : m;
}

/* Makes ctx slot `slot` at least `size` bytes (64-byte aligned; contents are
 * temporary, so the old buffer is simply replaced). Only called on cache misses. */
static int slot_reserve(pe_dnnl *ctx, int slot, size_t size, pe_error *e) {
    if (size <= ctx->buf_size[slot]) return 0;
    size_t sz = (size + 63) / 64 * 64;
    void *p = aligned_alloc(64, sz);
    if (!p) return pe_fail(e, "dnnl_backend: out of memory (%zu bytes of scratch)", sz);
    free(ctx->buf[slot]);
    ctx->buf[slot] = p;
    ctx->buf_size[slot] = sz;
    return 0;
}

/* ---- creation of a cache entry --------------------------------------------- */

/* Creates the primitive of pd with a scratchpad memory object backed by ctx. */
static int prim_create(pe_dnnl *ctx, pe_dnnl_prim *p, const_dnnl_primitive_desc_t pd,
                       pe_error *e) {
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0) {
        if (slot_reserve(ctx, SLOT_SCRATCH, dnnl_memory_desc_get_size(smd), e)) return -1;
        DNNL_TRY(dnnl_memory_create(&p->scratch, smd, ctx->engine, DNNL_MEMORY_NONE));
    }
    DNNL_TRY(dnnl_primitive_create(&p->prim, pd));
    return 0;
}

/* Sets up argument a: user layout `user_md`, primitive layout queried from pd, and
 * the reorder between them according to mode (ARG_IN, ARG_OUT, ARG_ACC). */
static int arg_create(pe_dnnl *ctx, pe_dnnl_arg *a, const dnnl_memory_desc_t *user_md,
                      const_dnnl_primitive_desc_t pd, dnnl_query_t what, int slot, int mode,
                      pe_error *e) {
    const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(pd, what, 0);
    if (!pmd) return pe_fail(e, "dnnl_backend: primitive has no memory descriptor %d", (int)what);
    a->prim_md = *pmd;
    a->slot = slot;
    a->mode = mode;
    DNNL_TRY(dnnl_memory_create(&a->user, user_md, ctx->engine, DNNL_MEMORY_NONE));
    if (mode != ARG_ACC && dnnl_memory_desc_equal(user_md, pmd)) return 0;
    if (slot_reserve(ctx, slot, dnnl_memory_desc_get_size(pmd), e)) return -1;
    DNNL_TRY(dnnl_memory_create(&a->prim, pmd, ctx->engine, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_t rpd = NULL;
    if (mode == ARG_IN)
        DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, user_md, ctx->engine, pmd, ctx->engine,
                                                    ctx->attr));
    else
        DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, pmd, ctx->engine, user_md, ctx->engine,
                                                    mode == ARG_ACC ? ctx->sum_attr : ctx->attr));
    /* Reorders here need no scratchpad in practice; refuse if one ever does. */
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0) {
        dnnl_primitive_desc_destroy(rpd);
        return pe_fail(e, "dnnl_backend: reorder needs a scratchpad (unsupported)");
    }
    dnnl_status_t st = dnnl_primitive_create(&a->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != dnnl_success)
        return pe_fail(e, "dnnl_backend: creating a reorder failed: %s", dnnl_status2str(st));
    return 0;
}

/* The caller's f32 memory descriptors (ncw or nwc), the descriptors requested from
 * the primitives, and the geometry. Requested: in nwc mode the activations keep the
 * caller's layout (no reorder); in ncw mode oneDNN picks ("any"). Inputs of the
 * arithmetic (src, weights, diff_dst) are bf16 in bf16 mode; results stay f32. */
typedef struct {
    dnnl_memory_desc_t src, w, dst;             /* user, f32 */
    dnnl_memory_desc_t q_src, q_w, q_dst;       /* requested inputs (src, weights, diff_dst) */
    dnnl_memory_desc_t q_out_src, q_out_dst, q_out_w; /* requested f32 results */
    dnnl_dims_t strides, pad_l, pad_r;
} pe_dnnl_descs;

static int make_descs(const pe_dnnl *ctx, pe_dnnl_descs *d, const pe_conv1d_shape *s,
                      pe_error *e) {
    int pad_r = (s->Lout - 1) * s->stride + s->K - s->Lin - s->pad;
    dnnl_dims_t src_dims = {s->B, s->Cin, s->Lin};
    dnnl_dims_t w_dims = {s->Cout, s->Cin, s->K};
    dnnl_dims_t dst_dims = {s->B, s->Cout, s->Lout};
    dnnl_format_tag_t act = ctx->mode.nwc ? dnnl_nwc : dnnl_ncw;
    dnnl_format_tag_t q_act = ctx->mode.nwc ? dnnl_nwc : dnnl_format_tag_any;
    dnnl_data_type_t in = ctx->mode.bf16 ? dnnl_bf16 : dnnl_f32;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->src, 3, src_dims, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->w, 3, w_dims, dnnl_f32, dnnl_oiw));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->dst, 3, dst_dims, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->q_src, 3, src_dims, in, q_act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->q_w, 3, w_dims, in, dnnl_format_tag_any));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->q_dst, 3, dst_dims, in, q_act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->q_out_src, 3, src_dims, dnnl_f32, q_act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->q_out_dst, 3, dst_dims, dnnl_f32, q_act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&d->q_out_w, 3, w_dims, dnnl_f32, dnnl_format_tag_any));
    d->strides[0] = s->stride;
    d->pad_l[0] = s->pad;
    d->pad_r[0] = pad_r < 0 ? 0 : pad_r;
    return 0;
}

static int entry_create_fwd(pe_dnnl *ctx, pe_dnnl_entry *en, const pe_conv1d_shape *s,
                            pe_error *e) {
    pe_dnnl_descs d;
    if (make_descs(ctx, &d, s, e)) return -1;
    dnnl_convolution_desc_t cd;
    DNNL_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                                &d.q_src, &d.q_w, NULL, &d.q_out_dst, d.strides,
                                                d.pad_l, d.pad_r));
    DNNL_TRY(dnnl_primitive_desc_create(&en->fwd_pd, &cd, ctx->attr, ctx->engine, NULL));
    if (prim_create(ctx, &en->fwd, en->fwd_pd, e)) return -1;
    if (arg_create(ctx, &en->f_src, &d.src, en->fwd_pd, dnnl_query_src_md, SLOT_SRC, ARG_IN, e) ||
        arg_create(ctx, &en->f_w, &d.w, en->fwd_pd, dnnl_query_weights_md, SLOT_W, ARG_IN, e) ||
        arg_create(ctx, &en->f_dst, &d.dst, en->fwd_pd, dnnl_query_dst_md, SLOT_DST, ARG_OUT, e))
        return -1;
    return 0;
}

static int entry_create_bwd_(pe_dnnl *ctx, pe_dnnl_entry *en, const pe_conv1d_shape *s,
                             pe_error *e) {
    pe_dnnl_descs d;
    if (make_descs(ctx, &d, s, e)) return -1;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    int rc = 0;

    /* backward data: dout (B,Cout,Lout), w (Cout,Cin,K) -> din (B,Cin,Lin) */
    DNNL_TRY(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &d.q_out_src,
                                                      &d.q_w, &d.q_dst, d.strides, d.pad_l,
                                                      d.pad_r));
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, ctx->attr, ctx->engine, en->fwd_pd));
    rc = prim_create(ctx, &en->bwd_data, pd, e) ||
         arg_create(ctx, &en->bd_ddst, &d.dst, pd, dnnl_query_diff_dst_md, SLOT_DST, ARG_IN, e) ||
         arg_create(ctx, &en->bd_w, &d.w, pd, dnnl_query_weights_md, SLOT_W, ARG_IN, e) ||
         arg_create(ctx, &en->bd_dsrc, &d.src, pd, dnnl_query_diff_src_md, SLOT_DSRC,
                    ctx->mode.din_overwrite ? ARG_OUT : ARG_ACC, e);
    dnnl_primitive_desc_destroy(pd);
    if (rc) return -1;

    /* backward weights: in (B,Cin,Lin), dout (B,Cout,Lout) -> dw (Cout,Cin,K) */
    DNNL_TRY(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &d.q_src,
                                                         &d.q_out_w, NULL, &d.q_dst, d.strides,
                                                         d.pad_l, d.pad_r));
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &cd, ctx->attr, ctx->engine, en->fwd_pd));
    const dnnl_memory_desc_t *ddmd = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
    en->bw_ddst_shared = ddmd && dnnl_memory_desc_equal(ddmd, &en->bd_ddst.prim_md);
    /* The weights slot is free again once backward data has run. */
    rc = prim_create(ctx, &en->bwd_w, pd, e) ||
         arg_create(ctx, &en->bw_src, &d.src, pd, dnnl_query_src_md, SLOT_SRC, ARG_IN, e) ||
         arg_create(ctx, &en->bw_ddst, &d.dst, pd, dnnl_query_diff_dst_md, SLOT_DDST2, ARG_IN, e) ||
         arg_create(ctx, &en->bw_dw, &d.w, pd, dnnl_query_diff_weights_md, SLOT_W, ARG_ACC, e);
    dnnl_primitive_desc_destroy(pd);
    if (rc) return -1;
    en->have_bwd = 1;
    return 0;
}

/* Creates the backward primitives of en; on failure releases whatever was made. */
static int entry_create_bwd(pe_dnnl *ctx, pe_dnnl_entry *en, const pe_conv1d_shape *s,
                            pe_error *e) {
    if (entry_create_bwd_(ctx, en, s, e) == 0) return 0;
    prim_destroy(&en->bwd_data);
    prim_destroy(&en->bwd_w);
    pe_dnnl_arg *args[] = {&en->bd_ddst, &en->bd_w, &en->bd_dsrc, &en->bw_src, &en->bw_ddst,
                           &en->bw_dw};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) arg_destroy(args[i]);
    return -1;
}

static int check_shape(const pe_conv1d_shape *s, pe_error *e) {
    if (s->B < 1 || s->Cin < 1 || s->Cout < 1 || s->Lin < 1 || s->K < 1 || s->stride < 1 ||
        s->pad < 0 || s->Lin + 2 * s->pad < s->K ||
        s->Lout != (s->Lin + 2 * s->pad - s->K) / s->stride + 1)
        return pe_fail(e,
                       "dnnl_backend: invalid conv1d shape B=%d Cin=%d Cout=%d Lin=%d Lout=%d "
                       "K=%d stride=%d pad=%d",
                       s->B, s->Cin, s->Cout, s->Lin, s->Lout, s->K, s->stride, s->pad);
    return 0;
}

/* Returns the entry for shape s and the current thread count, creating its
 * forward primitives on a miss (backward ones on the first backward call). */
static pe_dnnl_entry *entry_get(pe_dnnl *ctx, const pe_conv1d_shape *s, pe_error *e) {
    if (!ctx) {
        pe_fail(e, "dnnl_backend: NULL context");
        return NULL;
    }
    if (check_shape(s, e)) return NULL;
    int key[KEY_LEN] = {s->B, s->Cin, s->Cout, s->Lin, s->K, s->stride, s->pad,
                        omp_get_max_threads(), ctx->mode.nwc, ctx->mode.bf16,
                        ctx->mode.din_overwrite};
    for (int i = 0; i < ctx->n_entries; i++)
        if (!memcmp(ctx->entries[i]->key, key, sizeof key)) return ctx->entries[i];
    if (ctx->n_entries == ctx->cap_entries) {
        int cap = ctx->cap_entries ? 2 * ctx->cap_entries : 16;
        pe_dnnl_entry **p = realloc(ctx->entries, (size_t)cap * sizeof *p);
        if (!p) {
            pe_fail(e, "dnnl_backend: out of memory growing the primitive cache");
            return NULL;
        }
        ctx->entries = p;
        ctx->cap_entries = cap;
    }
    pe_dnnl_entry *en = calloc(1, sizeof *en);
    if (!en) {
        pe_fail(e, "dnnl_backend: out of memory creating a cache entry");
        return NULL;
    }
    memcpy(en->key, key, sizeof key);
    if (entry_create_fwd(ctx, en, s, e)) {
        entry_destroy(en);
        return NULL;
    }
    ctx->entries[ctx->n_entries++] = en;
    return en;
}

/* ---- execution --------------------------------------------------------------- */

static int set_handle(dnnl_memory_t m, void *p, pe_error *e) {
    DNNL_TRY(dnnl_memory_set_data_handle(m, p));
    return 0;
}

static int run(pe_dnnl *ctx, dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args,
               pe_error *e) {
    DNNL_TRY(dnnl_primitive_execute(p, ctx->stream, nargs, args));
    return 0;
}

/* Binds input argument a to user data `ptr`, reordering it into its slot if needed;
 * returns the memory object to pass to the primitive (NULL on error). */
static dnnl_memory_t bind_input(pe_dnnl *ctx, pe_dnnl_arg *a, const float *ptr, pe_error *e) {
    if (set_handle(a->user, (void *)ptr, e)) return NULL;
    if (!a->reorder) return a->user;
    if (set_handle(a->prim, ctx->buf[a->slot], e)) return NULL;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->prim}};
    if (run(ctx, a->reorder, 2, args, e)) return NULL;
    return a->prim;
}

/* Binds output argument a to user data `ptr`: returns the memory object the primitive
 * writes (the user buffer itself, or a's slot when a reorder must follow). */
static dnnl_memory_t bind_output(pe_dnnl *ctx, pe_dnnl_arg *a, float *ptr, pe_error *e) {
    if (set_handle(a->user, ptr, e)) return NULL;
    if (!a->reorder) return a->user;
    if (set_handle(a->prim, ctx->buf[a->slot], e)) return NULL;
    return a->prim;
}

/* After the primitive: reorders a's slot into the user buffer (overwriting for
 * ARG_OUT, adding for ARG_ACC) when a has a reorder. */
static int finish_output(pe_dnnl *ctx, pe_dnnl_arg *a, pe_error *e) {
    if (!a->reorder) return 0;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, a->prim}, {DNNL_ARG_TO, a->user}};
    return run(ctx, a->reorder, 2, args, e);
}

static int exec_prim(pe_dnnl *ctx, pe_dnnl_prim *p, int nargs, dnnl_exec_arg_t *args,
                     pe_error *e) {
    if (p->scratch) {
        if (set_handle(p->scratch, ctx->buf[SLOT_SCRATCH], e)) return -1;
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
    }
    return run(ctx, p->prim, nargs, args, e);
}

int pe_dnnl_conv1d_forward(pe_dnnl *ctx, float *out, const float *in, const float *w,
                           const pe_conv1d_shape *s, pe_error *e) {
    pe_dnnl_entry *en = entry_get(ctx, s, e);
    if (!en) return -1;
    dnnl_memory_t src = bind_input(ctx, &en->f_src, in, e);
    if (!src) return -1;
    dnnl_memory_t wm = bind_input(ctx, &en->f_w, w, e);
    if (!wm) return -1;
    dnnl_memory_t dst = bind_output(ctx, &en->f_dst, out, e);
    if (!dst) return -1;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dst}};
    if (exec_prim(ctx, &en->fwd, 3, args, e)) return -1;
    if (finish_output(ctx, &en->f_dst, e)) return -1;
    DNNL_TRY(dnnl_stream_wait(ctx->stream));
    return 0;
}

int pe_dnnl_conv1d_backward(pe_dnnl *ctx, float *din, float *dw, const float *dout,
                            const float *in, const float *w, const pe_conv1d_shape *s,
                            pe_error *e) {
    pe_dnnl_entry *en = entry_get(ctx, s, e);
    if (!en) return -1;
    if (!en->have_bwd && entry_create_bwd(ctx, en, s, e)) return -1;
    dnnl_memory_t ddst = NULL;
    if (din) {
        /* din += conv_backward_data(dout, w) */
        ddst = bind_input(ctx, &en->bd_ddst, dout, e);
        if (!ddst) return -1;
        dnnl_memory_t wm = bind_input(ctx, &en->bd_w, w, e);
        if (!wm) return -1;
        dnnl_memory_t dsrc = bind_output(ctx, &en->bd_dsrc, din, e);
        if (!dsrc) return -1;
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dsrc}};
        if (exec_prim(ctx, &en->bwd_data, 3, args, e)) return -1;
        if (finish_output(ctx, &en->bd_dsrc, e)) return -1;
    }
    if (dw) {
        /* dw += conv_backward_weights(in, dout) */
        dnnl_memory_t src = bind_input(ctx, &en->bw_src, in, e);
        if (!src) return -1;
        if (!(ddst && en->bw_ddst_shared)) ddst = bind_input(ctx, &en->bw_ddst, dout, e);
        if (!ddst) return -1;
        dnnl_memory_t dwm = bind_output(ctx, &en->bw_dw, dw, e);
        if (!dwm) return -1;
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwm}};
        if (exec_prim(ctx, &en->bwd_w, 3, args, e)) return -1;
        if (finish_output(ctx, &en->bw_dw, e)) return -1;
    }
    DNNL_TRY(dnnl_stream_wait(ctx->stream));
    return 0;
}
