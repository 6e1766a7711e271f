/* Fused eval-mode backbone on oneDNN (see infer.h for the design).
 *
 * A plan is a list of steps (oneDNN primitives with their arguments) executed in
 * order on one stream. Activation arguments are memory objects without storage
 * whose handles are bound to the engine's shared buffers at each run:
 *   SLOT_X        the caller's input x (B, leads, len), f32 ncw
 *   SLOT_IN       x reordered into the stem's layout/precision (when needed)
 *   SLOT_A..C     three ping-pong activation buffers
 *   SLOT_SCRATCH  the primitives' scratchpad (user mode, one shared buffer)
 * Buffer use through the network:
 *   stem: X|IN -> A;  maxpool: A -> cur
 *   identity block: c1 cur -> t;  c2 t -> cur (sum post-op: cur holds the shortcut)
 *   down block:     c1 cur -> t;  down cur -> d;  c2 t -> d (sum: d holds the shortcut);
 *                   the output is d
 *   int8: stem X|IN -> A (f32); maxpool A -> C (f32); quantizing reorder C -> B (u8),
 *         placed before block 0's c1 (which chooses the u8 layout); the down conv writes
 *         s8 into d, the buffer c2 writes u8 into (sum_v2 with data type s8)
 * Weights and biases live in the engine's per-convolution stores (allocated by oneDNN
 * in the layout the first plan's convolution chose; later plans ask for that layout),
 * or in a plan when its convolution wants another layout; fold() writes them. */
#include "model/infer.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model/backbone.h"
#include "model/safetensors.h"
#include "util/error.h"

enum { SLOT_X, SLOT_IN, SLOT_A, SLOT_B, SLOT_C, SLOT_SCRATCH, NUM_SLOTS };
enum { POST_NONE, POST_RELU, POST_SUM_RELU, NUM_POST };

#define MAX_ARGS 6
#define MAX_STEPS 48
#define MAX_CONVS 24
#define MAX_PLANS 4

typedef struct {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[MAX_ARGS];
    int slot[MAX_ARGS]; /* buffer slot bound to each argument; SLOT_OWN: storage of its
                           own; SLOT_SHARED: a memory object owned by the engine */
} step;

enum { SLOT_OWN = -1, SLOT_SHARED = -2 };

/* Folded weights and bias of one convolution in the layout its primitive reads. Plans
 * of one precision share them when they choose the same weights layout (the usual
 * case: the layout depends on the channels, not the batch). */
typedef struct {
    dnnl_memory_t wei, bias; /* NULL until the first plan creates them */
    int folded_version;
} weight_store;

/* A folded convolution: where its weights and BN live in the net, and the weight and
 * bias memory its primitive reads (shared store, or the plan's own). */
typedef struct {
    pe_conv1d_shape shape;
    size_t w, gamma, beta, rmean, rvar;
    float s_src;         /* int8 convolution: real value of one src step; 0: float conv */
    dnnl_memory_t wei, bias;
    int *folded_version; /* the store's, or own_version */
    int own_version;
} fold_rec;

/* Quantization of an int8 convolution (u8 src, s8 weights per output channel, f32 bias
 * in the accumulator's units): real value of one step of src, dst and the shortcut the
 * sum post-op reads (0: no sum), and the dst and shortcut data types. */
typedef struct {
    float s_src, s_dst, s_sum;
    dnnl_data_type_t dst_dt, sum_dt;
} qconv;

typedef struct {
    int B, nthreads;
    pe_precision prec;
    step steps[MAX_STEPS];
    int n_steps;
    fold_rec convs[MAX_CONVS];
    int n_convs;
    size_t need[NUM_SLOTS];   /* bytes of each slot this plan uses */
    dnnl_memory_desc_t out_md; /* layout of the last block's output */
    int out_slot;
    float out_scale;          /* real value of one unit of the output (int8: u8 step) */
    int folded_version;       /* pe_infer.version when the weights were last folded */
    unsigned long last_use;
} plan;

struct pe_infer {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr[NUM_POST]; /* user scratchpad + post-ops */
    dnnl_primitive_attr_t plain_attr;     /* user scratchpad, for reorders */
    plan *plans[MAX_PLANS];
    int n_plans;
    weight_store ws[3][MAX_CONVS]; /* [precision][conv index in build order] */
    void *buf[NUM_SLOTS];
    size_t buf_size[NUM_SLOTS];
    int version;
    unsigned long clock;
};

#define DNNL_TRY(call)                                                                       \
    do {                                                                                     \
        dnnl_status_t st_ = (call);                                                          \
        if (st_ != dnnl_success)                                                             \
            return pe_fail(e, "infer.c:%d: %s failed: %s", __LINE__, #call,                  \
                           dnnl_status2str(st_));                                            \
    } while (0)

/* ---- engine ------------------------------------------------------------------- */

pe_infer *pe_infer_create(pe_error *e) {
    pe_infer *inf = calloc(1, sizeof *inf);
    if (!inf) {
        pe_fail(e, "infer: out of memory");
        return NULL;
    }
    dnnl_status_t st = dnnl_engine_create(&inf->engine, dnnl_cpu, 0);
    if (st == dnnl_success)
        st = dnnl_stream_create(&inf->stream, inf->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&inf->plain_attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_scratchpad_mode(inf->plain_attr, dnnl_scratchpad_mode_user);
    for (int k = 0; k < NUM_POST && st == dnnl_success; k++) {
        dnnl_post_ops_t po = NULL;
        st = dnnl_primitive_attr_create(&inf->attr[k]);
        if (st == dnnl_success)
            st = dnnl_primitive_attr_set_scratchpad_mode(inf->attr[k], dnnl_scratchpad_mode_user);
        if (st == dnnl_success && k != POST_NONE) {
            st = dnnl_post_ops_create(&po);
            if (st == dnnl_success && k == POST_SUM_RELU) st = dnnl_post_ops_append_sum(po, 1.0f);
            if (st == dnnl_success)
                st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
            if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(inf->attr[k], po);
            if (po) dnnl_post_ops_destroy(po);
        }
    }
    if (st != dnnl_success) {
        pe_fail(e, "infer: cannot create the oneDNN engine: %s", dnnl_status2str(st));
        pe_infer_destroy(inf);
        return NULL;
    }
    return inf;
}

static void plan_destroy(plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_steps; i++) {
        step *s = &p->steps[i];
        if (s->prim) dnnl_primitive_destroy(s->prim);
        for (int a = 0; a < s->nargs; a++)
            if (s->args[a].memory && s->slot[a] != SLOT_SHARED)
                dnnl_memory_destroy(s->args[a].memory);
    }
    free(p);
}

void pe_infer_destroy(pe_infer *inf) {
    if (!inf) return;
    for (int i = 0; i < inf->n_plans; i++) plan_destroy(inf->plans[i]);
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < MAX_CONVS; k++) {
            if (inf->ws[d][k].wei) dnnl_memory_destroy(inf->ws[d][k].wei);
            if (inf->ws[d][k].bias) dnnl_memory_destroy(inf->ws[d][k].bias);
        }
    for (int s = 0; s < NUM_SLOTS; s++) free(inf->buf[s]);
    for (int k = 0; k < NUM_POST; k++)
        if (inf->attr[k]) dnnl_primitive_attr_destroy(inf->attr[k]);
    if (inf->plain_attr) dnnl_primitive_attr_destroy(inf->plain_attr);
    if (inf->stream) dnnl_stream_destroy(inf->stream);
    if (inf->engine) dnnl_engine_destroy(inf->engine);
    free(inf);
}

void pe_infer_invalidate(pe_infer *inf) {
    if (inf) inf->version++;
}

int pe_infer_plan_count(const pe_infer *inf) { return inf ? inf->n_plans : 0; }

int pe_infer_private_weight_count(const pe_infer *inf) {
    int n = 0;
    for (int i = 0; inf && i < inf->n_plans; i++)
        for (int k = 0; k < inf->plans[i]->n_convs; k++)
            n += inf->plans[i]->convs[k].folded_version == &inf->plans[i]->convs[k].own_version;
    return n;
}

/* ---- plan building ------------------------------------------------------------ */

/* Starts a step for primitive descriptor pd (the primitive is created now). */
static step *step_new(plan *p, const_dnnl_primitive_desc_t pd, pe_error *e) {
    if (p->n_steps == MAX_STEPS) {
        pe_fail(e, "infer: too many steps");
        return NULL;
    }
    step *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof *s);
    dnnl_status_t st = dnnl_primitive_create(&s->prim, pd);
    if (st != dnnl_success) {
        pe_fail(e, "infer: creating a primitive failed: %s", dnnl_status2str(st));
        return NULL;
    }
    return s;
}

/* Adds argument `arg` with layout md to step s: bound to buffer `slot` at run time,
 * or (SLOT_OWN) with its own storage allocated by oneDNN. */
static dnnl_memory_t step_arg(pe_infer *inf, plan *p, step *s, int arg,
                              const dnnl_memory_desc_t *md, int slot, pe_error *e) {
    dnnl_memory_t m = NULL;
    dnnl_status_t st = dnnl_memory_create(&m, md, inf->engine,
                                          slot < 0 ? DNNL_MEMORY_ALLOCATE : DNNL_MEMORY_NONE);
    if (st != dnnl_success) {
        pe_fail(e, "infer: creating a memory object failed: %s", dnnl_status2str(st));
        return NULL;
    }
    s->args[s->nargs] = (dnnl_exec_arg_t){arg, m};
    s->slot[s->nargs++] = slot;
    if (slot >= 0) {
        size_t sz = dnnl_memory_desc_get_size(md);
        if (sz > p->need[slot]) p->need[slot] = sz;
    }
    return m;
}

/* Adds argument `arg` bound to memory object m owned by the engine. */
static void step_shared(step *s, int arg, dnnl_memory_t m) {
    s->args[s->nargs] = (dnnl_exec_arg_t){arg, m};
    s->slot[s->nargs++] = SLOT_SHARED;
}

/* Adds the scratchpad argument of pd to s if it needs one. */
static int step_scratch(pe_infer *inf, plan *p, step *s, const_dnnl_primitive_desc_t pd,
                        pe_error *e) {
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (!smd || dnnl_memory_desc_get_size(smd) == 0) return 0;
    return step_arg(inf, p, s, DNNL_ARG_SCRATCHPAD, smd, SLOT_SCRATCH, e) ? 0 : -1;
}

/* Adds the step of a one-input, one-output primitive (reorder, pooling) with its
 * scratchpad; takes ownership of pd. */
static int add_io_step(pe_infer *inf, plan *p, dnnl_primitive_desc_t pd, int in_arg,
                       const dnnl_memory_desc_t *in_md, int in_slot, int out_arg,
                       const dnnl_memory_desc_t *out_md, int out_slot, pe_error *e) {
    step *s = step_new(p, pd, e);
    int rc = s && step_arg(inf, p, s, in_arg, in_md, in_slot, e) &&
                     step_arg(inf, p, s, out_arg, out_md, out_slot, e) &&
                     step_scratch(inf, p, s, pd, e) == 0
                 ? 0
                 : -1;
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* Adds a reorder step from (src_md, src_slot) to (dst_md, dst_slot); scale != 1
 * multiplies on the way (quantization: the reorder rounds to nearest and saturates). */
static int add_reorder(pe_infer *inf, plan *p, const dnnl_memory_desc_t *src_md, int src_slot,
                       const dnnl_memory_desc_t *dst_md, int dst_slot, float scale, pe_error *e) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = inf->plain_attr;
    if (scale != 1.0f) {
        DNNL_TRY(dnnl_primitive_attr_clone(&attr, inf->plain_attr));
        dnnl_status_t st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale);
        if (st == dnnl_success)
            st = dnnl_reorder_primitive_desc_create(&pd, src_md, inf->engine, dst_md, inf->engine,
                                                    attr);
        dnnl_primitive_attr_destroy(attr);
        if (st != dnnl_success)
            return pe_fail(e, "infer: creating a quantizing reorder failed: %s",
                           dnnl_status2str(st));
    } else {
        DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, src_md, inf->engine, dst_md, inf->engine,
                                                    attr));
    }
    return add_io_step(inf, p, pd, DNNL_ARG_FROM, src_md, src_slot, DNNL_ARG_TO, dst_md,
                       dst_slot, e);
}

static int init_md(dnnl_memory_desc_t *md, int64_t d0, int64_t d1, int64_t d2,
                   dnnl_data_type_t dt, dnnl_format_tag_t tag, pe_error *e) {
    dnnl_dims_t dims = {d0, d1, d2};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(md, 3, dims, dt, tag));
    return 0;
}

/* ---- folding ------------------------------------------------------------------ */

/* w (Cout, Cin*K) and bias (Cout) of f's convolution with its BN folded in
 * (pe_batchnorm_eval_affine's scale and shift). */
static void fold_conv(const pe_net *net, const fold_rec *f, float *w, float *bias) {
    const pe_conv1d_shape *s = &f->shape;
    const float *w0 = net->params + f->w;
    float scale[s->Cout];
    pe_batchnorm_eval_affine(scale, bias, net->params + f->gamma, net->params + f->beta,
                             net->buffers + f->rmean, net->buffers + f->rvar, s->Cout, PE_BN_EPS);
    size_t row = (size_t)s->Cin * s->K;
    for (int co = 0; co < s->Cout; co++)
        for (size_t j = 0; j < row; j++) w[co * row + j] = w0[co * row + j] * scale[co];
}

/* Per output channel: the real value of one s8 step of the folded weights w (Cout, row),
 * max |w| / 127 (1 for an all-zero row), and, if q is not NULL, the quantized weights
 * round(w / step) (nearest, ties to even) in place of w, as int8. */
static void quantize_weights(float *w, int Cout, size_t row, float *step, int8_t *q) {
    for (int co = 0; co < Cout; co++) {
        float m = 0.0f;
        for (size_t j = 0; j < row; j++) m = fmaxf(m, fabsf(w[co * row + j]));
        step[co] = m > 0.0f ? m / 127.0f : 1.0f;
        for (size_t j = 0; q && j < row; j++) {
            float v = nearbyintf(w[co * row + j] / step[co]);
            q[co * row + j] = (int8_t)fminf(127.0f, fmaxf(-127.0f, v));
        }
    }
}

/* The attributes of int8 convolution f: user scratchpad, output scales per output
 * channel (s_src * s_w[c] / s_dst: accumulator units -> dst steps), and the post-ops
 * (sum of the shortcut scaled by s_sum / s_dst, then ReLU). */
static int int8_attr(pe_infer *inf, const pe_net *net, const fold_rec *f, const qconv *q,
                     int post, dnnl_primitive_attr_t *attr, pe_error *e) {
    const pe_conv1d_shape *s = &f->shape;
    size_t row = (size_t)s->Cin * s->K;
    float *w = malloc(((size_t)s->Cout * row + 3 * (size_t)s->Cout) * sizeof(float));
    if (!w) return pe_fail(e, "infer: out of memory");
    float *bias = w + (size_t)s->Cout * row, *step = bias + s->Cout, *oscale = step + s->Cout;
    fold_conv(net, f, w, bias);
    quantize_weights(w, s->Cout, row, step, NULL);
    for (int c = 0; c < s->Cout; c++) oscale[c] = q->s_src * step[c] / q->s_dst;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t st = dnnl_primitive_attr_clone(attr, inf->plain_attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_output_scales(*attr, s->Cout, 1 << 1, oscale);
    if (st == dnnl_success && post != POST_NONE) {
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success && post == POST_SUM_RELU)
            st = dnnl_post_ops_append_sum_v2(po, q->s_sum / q->s_dst, q->sum_dt);
        if (st == dnnl_success)
            st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
        if (po) dnnl_post_ops_destroy(po);
    }
    free(w);
    if (st != dnnl_success)
        return pe_fail(e, "infer: int8 convolution attributes: %s", dnnl_status2str(st));
    return 0;
}

/* ---- plan building (continued) ------------------------------------------------ */

/* Adds the fused conv (+ folded BN bias) (+ post-ops) of cb to the plan.
 * src_md NULL: the stem, reading the caller's x (reordered into SLOT_IN when the
 * convolution wants another layout or data type). dst_md NULL: layout chosen by
 * oneDNN. The output layout is written to *out_md. q: an int8 convolution (NULL:
 * the plan's float type). */
static int add_conv(pe_infer *inf, plan *p, const pe_net *net, const pe_convbn *cb,
                    const dnnl_memory_desc_t *src_md, int src_slot,
                    const dnnl_memory_desc_t *dst_md, int dst_slot, int post, const qconv *q,
                    dnnl_memory_desc_t *out_md, pe_error *e) {
    const pe_conv1d_shape *sh = &cb->shape;
    dnnl_data_type_t dt = p->prec == PE_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t any_src, any_w, any_dst, bias_md;
    if (init_md(&any_src, p->B, sh->Cin, sh->Lin, q ? dnnl_u8 : dt, dnnl_format_tag_any, e) ||
        init_md(&any_w, sh->Cout, sh->Cin, sh->K, q ? dnnl_s8 : dt, dnnl_format_tag_any, e) ||
        init_md(&any_dst, p->B, sh->Cout, sh->Lout, q ? q->dst_dt : dt, dnnl_format_tag_any, e))
        return -1;
    dnnl_dims_t bdims = {sh->Cout};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias_md, 1, bdims, dnnl_f32, dnnl_a));
    int pad_r = (sh->Lout - 1) * sh->stride + sh->K - sh->Lin - sh->pad;
    dnnl_dims_t strides = {sh->stride}, pad_l = {sh->pad}, pad_rr = {pad_r < 0 ? 0 : pad_r};
    if (p->n_convs == MAX_CONVS) return pe_fail(e, "infer: too many convolutions");
    weight_store *store = &inf->ws[p->prec][p->n_convs];
    fold_rec *f = &p->convs[p->n_convs];
    f->shape = *sh;
    f->w = cb->w, f->gamma = cb->gamma, f->beta = cb->beta;
    f->rmean = cb->rmean, f->rvar = cb->rvar;
    f->s_src = q ? q->s_src : 0.0f;
    dnnl_primitive_attr_t attr = inf->attr[post];
    if (q && int8_attr(inf, net, f, q, post, &attr, e)) return -1;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_success;
    if (store->wei) { /* ask for the stored weights layout first */
        const dnnl_memory_desc_t *smd = NULL;
        st = dnnl_memory_get_memory_desc(store->wei, &smd);
        if (st == dnnl_success)
            st = dnnl_convolution_forward_desc_init(
                &cd, dnnl_forward_inference, dnnl_convolution_direct, src_md ? src_md : &any_src,
                smd, &bias_md, dst_md ? dst_md : &any_dst, strides, pad_l, pad_rr);
        if (st != dnnl_success ||
            dnnl_primitive_desc_create(&pd, &cd, attr, inf->engine, NULL) != dnnl_success)
            pd = NULL;
    }
    if (!pd) {
        st = dnnl_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, dnnl_convolution_direct, src_md ? src_md : &any_src,
            &any_w, &bias_md, dst_md ? dst_md : &any_dst, strides, pad_l, pad_rr);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, attr, inf->engine, NULL);
    }
    if (q) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success)
        return pe_fail(e, "infer: creating the %s convolution %d->%d (k%d s%d) failed: %s",
                       q ? "int8" : pe_precision_name(p->prec), sh->Cin, sh->Cout, sh->K,
                       sh->stride, dnnl_status2str(st));
    const dnnl_memory_desc_t *psrc = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *pw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *pdst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int rc = 0;
    if (!src_md) { /* stem: x is f32 ncw; reorder into the conv's layout if it differs */
        dnnl_memory_desc_t x_md;
        rc = init_md(&x_md, p->B, sh->Cin, sh->Lin, dnnl_f32, dnnl_ncw, e);
        if (rc == 0 && dnnl_memory_desc_equal(&x_md, psrc)) {
            src_slot = SLOT_X;
        } else if (rc == 0) {
            src_slot = SLOT_IN;
            rc = add_reorder(inf, p, &x_md, SLOT_X, psrc, SLOT_IN, 1.0f, e);
        }
    }
    if (rc == 0 && !store->wei) { /* the first plan of this precision creates the store */
        st = dnnl_memory_create(&store->wei, pw, inf->engine, DNNL_MEMORY_ALLOCATE);
        if (st == dnnl_success)
            st = dnnl_memory_create(&store->bias, &bias_md, inf->engine, DNNL_MEMORY_ALLOCATE);
        if (st != dnnl_success) {
            rc = pe_fail(e, "infer: allocating folded weights failed: %s", dnnl_status2str(st));
        } else {
            store->folded_version = inf->version - 1;
        }
    }
    int shared = 0;
    if (rc == 0) {
        const dnnl_memory_desc_t *smd = NULL;
        shared = dnnl_memory_get_memory_desc(store->wei, &smd) == dnnl_success &&
                 dnnl_memory_desc_equal(smd, pw);
    }
    step *s = rc == 0 ? step_new(p, pd, e) : NULL;
    if (s) {
        f->own_version = inf->version - 1;
        f->folded_version = shared ? &store->folded_version : &f->own_version;
        rc = !step_arg(inf, p, s, DNNL_ARG_SRC, psrc, src_slot, e);
        if (rc == 0 && shared) {
            step_shared(s, DNNL_ARG_WEIGHTS, f->wei = store->wei);
            step_shared(s, DNNL_ARG_BIAS, f->bias = store->bias);
        } else if (rc == 0) { /* another layout: weights of the plan's own */
            rc = !(f->wei = step_arg(inf, p, s, DNNL_ARG_WEIGHTS, pw, SLOT_OWN, e)) ||
                 !(f->bias = step_arg(inf, p, s, DNNL_ARG_BIAS, &bias_md, SLOT_OWN, e));
        }
        rc = rc || !step_arg(inf, p, s, DNNL_ARG_DST, pdst, dst_slot, e) ||
             step_scratch(inf, p, s, pd, e);
        if (rc == 0) p->n_convs++;
        *out_md = *pdst;
    } else {
        rc = -1;
    }
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* Adds the stem's max pool (kernel 3, stride 2, pad 1) from (src_md, src_slot). */
static int add_maxpool(pe_infer *inf, plan *p, const dnnl_memory_desc_t *src_md, int src_slot,
                       int C, int Lin, int dst_slot, dnnl_memory_desc_t *out_md, pe_error *e) {
    int Lout = pe_conv1d_out_len(Lin, 3, 2, 1);
    dnnl_memory_desc_t any_dst;
    if (init_md(&any_dst, p->B, C, Lout, src_md->data_type, dnnl_format_tag_any, e))
        return -1;
    int pad_r = (Lout - 1) * 2 + 3 - Lin - 1;
    dnnl_dims_t strides = {2}, kernel = {3}, pad_l = {1}, pad_rr = {pad_r < 0 ? 0 : pad_r};
    dnnl_pooling_desc_t pdesc;
    DNNL_TRY(dnnl_pooling_forward_desc_init(&pdesc, dnnl_forward_inference, dnnl_pooling_max,
                                            src_md, &any_dst, strides, kernel, pad_l, pad_rr));
    dnnl_primitive_desc_t pd = NULL;
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &pdesc, inf->plain_attr, inf->engine, NULL));
    const dnnl_memory_desc_t *pdst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    *out_md = *pdst;
    return add_io_step(inf, p, pd, DNNL_ARG_SRC, src_md, src_slot, DNNL_ARG_DST, pdst, dst_slot,
                       e);
}

/* The three activation slots other than `cur`, in order. */
static void other_slots(int cur, int *a, int *b) {
    int o[2], n = 0;
    for (int s = SLOT_A; s <= SLOT_C; s++)
        if (s != cur) o[n++] = s;
    *a = o[0];
    *b = o[1];
}

/* Moves the steps from index `from` to the end in front of the steps from index `at`
 * (the plan builds some steps before the ones that must run first). */
static void move_steps_before(plan *p, int at, int from) {
    step tmp[MAX_STEPS];
    int n_first = from - at, n_moved = p->n_steps - from;
    memcpy(tmp, &p->steps[at], (size_t)n_first * sizeof *tmp);
    memmove(&p->steps[at], &p->steps[from], (size_t)n_moved * sizeof *tmp);
    memcpy(&p->steps[at + n_moved], tmp, (size_t)n_first * sizeof *tmp);
}

/* Whether md is a layout the pooling below reads directly: plain or one inner
 * block over the channels (nCw16c, nCw8c, ...), f32, bf16 or u8. */
static int gap_readable(const dnnl_memory_desc_t *md) {
    if (md->format_kind != dnnl_blocked || md->ndims != 3) return 0;
    if (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16 && md->data_type != dnnl_u8)
        return 0;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    if (bd->inner_nblks == 0) return 1;
    return bd->inner_nblks == 1 && bd->inner_idxs[0] == 1;
}

/* Real value of one u8 / s8 step of an activation of range r (pe_int8_calib). */
static float u8_step(float r) { return r / 255.0f; }
static float s8_step(float r) { return r / 127.0f; }

static int plan_build(pe_infer *inf, plan *p, const pe_net *net, pe_error *e) {
    dnnl_memory_desc_t md, pool_md;
    const pe_convbn *stem = &net->stem;
    const int q8 = p->prec == PE_PREC_INT8;
    const pe_int8_calib *cal = &net->int8;
    /* the stem stays float (its input is the signed ECG, 12 channels) */
    if (add_conv(inf, p, net, stem, NULL, SLOT_X, NULL, SLOT_A, POST_RELU, NULL, &md, e))
        return -1;
    int cur = SLOT_B;
    if (add_maxpool(inf, p, &md, SLOT_A, stem->shape.Cout, stem->shape.Lout, q8 ? SLOT_C : cur,
                    &pool_md, e))
        return -1;
    md = pool_md;
    float s_in = u8_step(cal->stem); /* int8: step of the block input */
    for (int i = 0; i < 8; i++) {
        const pe_block *blk = &net->blocks[i];
        int t, d;
        other_slots(cur, &t, &d);
        dnnl_memory_desc_t t_md, out_md;
        const float s_c1 = u8_step(cal->c1[i]), s_out = u8_step(cal->out[i]);
        const qconv q1 = {s_in, s_c1, 0.0f, dnnl_u8, dnnl_u8};
        int before = p->n_steps;
        if (q8 && i == 0) { /* the first c1 chooses its u8 src layout */
            dnnl_memory_desc_t any_u8;
            if (init_md(&any_u8, p->B, blk->c1.shape.Cin, blk->c1.shape.Lin, dnnl_u8,
                        dnnl_format_tag_any, e))
                return -1;
            md = any_u8;
        }
        if (add_conv(inf, p, net, &blk->c1, &md, cur, NULL, t, POST_RELU, q8 ? &q1 : NULL, &t_md,
                     e))
            return -1;
        if (q8 && i == 0) { /* quantize the pooled stem output into it, before c1 */
            const dnnl_memory_desc_t *src = NULL;
            DNNL_TRY(dnnl_memory_get_memory_desc(p->steps[before].args[0].memory, &src));
            md = *src;
            int from = p->n_steps;
            if (add_reorder(inf, p, &pool_md, SLOT_C, &md, cur, 1.0f / s_in, e)) return -1;
            move_steps_before(p, before, from);
        }
        if (blk->has_down) {
            /* the shortcut must be in c2's output layout: build c2 first (its output
             * layout chosen by oneDNN), then the downsample conv writing that layout;
             * the steps run in the order down, c2. int8: the shortcut is s8 (signed). */
            const float s_d = s8_step(cal->down[i]);
            const qconv q2 = {s_c1, s_out, s_d, dnnl_u8, dnnl_s8};
            const qconv qd = {s_in, s_d, 0.0f, dnnl_s8, dnnl_s8};
            dnnl_memory_desc_t c2_md, d_md;
            int from = p->n_steps;
            if (add_conv(inf, p, net, &blk->c2, &t_md, t, NULL, d, POST_SUM_RELU,
                         q8 ? &q2 : NULL, &c2_md, e))
                return -1;
            int n_c2 = p->n_steps - from;
            dnnl_memory_desc_t want = c2_md;
            if (q8) want.data_type = dnnl_s8; /* same layout, signed */
            if (add_conv(inf, p, net, &blk->down, &md, cur, &want, d, POST_NONE,
                         q8 ? &qd : NULL, &d_md, e))
                return -1;
            move_steps_before(p, from, from + n_c2);
            md = c2_md;
            cur = d;
        } else {
            const qconv q2 = {s_c1, s_out, s_in, dnnl_u8, dnnl_u8};
            if (add_conv(inf, p, net, &blk->c2, &t_md, t, &md, cur, POST_SUM_RELU,
                         q8 ? &q2 : NULL, &out_md, e))
                return -1;
            md = out_md;
        }
        s_in = s_out;
    }
    if (!gap_readable(&md)) { /* unusual layout: reorder to plain f32 for the pooling */
        dnnl_memory_desc_t plain;
        int t, d;
        other_slots(cur, &t, &d);
        if (init_md(&plain, p->B, md.dims[1], md.dims[2], dnnl_f32, dnnl_ncw, e) ||
            add_reorder(inf, p, &md, cur, &plain, t, 1.0f, e))
            return -1;
        md = plain;
        cur = t;
    }
    p->out_md = md;
    p->out_slot = cur;
    p->out_scale = q8 ? s_in : 1.0f;
    return 0;
}

/* ---- weights ------------------------------------------------------------------ */

/* Writes the BN-folded weights and biases of every convolution of p from net; int8
 * convolutions get s8 weights (per output channel steps) and the bias in accumulator
 * units (bias / (s_src * s_w)). */
static int fold(pe_infer *inf, plan *p, const pe_net *net, pe_error *e) {
    size_t max_w = 0;
    int max_c = 0;
    for (int i = 0; i < p->n_convs; i++) {
        const pe_conv1d_shape *s = &p->convs[i].shape;
        size_t n = (size_t)s->Cout * s->Cin * s->K;
        if (n > max_w) max_w = n;
        if (s->Cout > max_c) max_c = s->Cout;
    }
    float *tmp = malloc(max_w * sizeof(float) + (size_t)max_c * sizeof(float) + max_w);
    if (!tmp) return pe_fail(e, "infer: out of memory folding the weights");
    float *step = tmp + max_w;
    int8_t *qw = (int8_t *)(step + max_c);
    int rc = 0;
    for (int i = 0; rc == 0 && i < p->n_convs; i++) {
        const fold_rec *f = &p->convs[i];
        if (*f->folded_version == inf->version) continue; /* a shared store already done */
        const pe_conv1d_shape *s = &f->shape;
        float *bias = NULL;
        if (dnnl_memory_get_data_handle(f->bias, (void **)&bias) != dnnl_success || !bias) {
            rc = pe_fail(e, "infer: bias memory has no storage");
            break;
        }
        fold_conv(net, f, tmp, bias);
        const int q8 = f->s_src > 0.0f;
        if (q8) {
            quantize_weights(tmp, s->Cout, (size_t)s->Cin * s->K, step, qw);
            for (int co = 0; co < s->Cout; co++) bias[co] /= f->s_src * step[co];
        }
        dnnl_memory_desc_t plain;
        const dnnl_memory_desc_t *wmd = NULL;
        dnnl_memory_t user = NULL;
        dnnl_primitive_desc_t rpd = NULL;
        dnnl_primitive_t r = NULL;
        rc = init_md(&plain, s->Cout, s->Cin, s->K, q8 ? dnnl_s8 : dnnl_f32, dnnl_oiw, e);
        dnnl_status_t st = rc ? dnnl_runtime_error : dnnl_memory_get_memory_desc(f->wei, &wmd);
        if (st == dnnl_success)
            st = dnnl_memory_create(&user, &plain, inf->engine, q8 ? (void *)qw : (void *)tmp);
        if (st == dnnl_success)
            st = dnnl_reorder_primitive_desc_create(&rpd, &plain, inf->engine, wmd, inf->engine,
                                                    NULL);
        if (st == dnnl_success) st = dnnl_primitive_create(&r, rpd);
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, f->wei}};
        if (st == dnnl_success) st = dnnl_primitive_execute(r, inf->stream, 2, args);
        if (st == dnnl_success) st = dnnl_stream_wait(inf->stream);
        if (r) dnnl_primitive_destroy(r);
        if (rpd) dnnl_primitive_desc_destroy(rpd);
        if (user) dnnl_memory_destroy(user);
        if (rc == 0 && st != dnnl_success)
            rc = pe_fail(e, "infer: reordering folded weights failed: %s", dnnl_status2str(st));
        if (rc == 0) *f->folded_version = inf->version;
    }
    free(tmp);
    if (rc == 0) p->folded_version = inf->version;
    return rc;
}

/* ---- running ------------------------------------------------------------------ */

/* Grows shared slot buffers to the plan's needs (contents are temporary). */
static int reserve(pe_infer *inf, const plan *p, pe_error *e) {
    for (int s = SLOT_IN; s < NUM_SLOTS; s++) {
        if (p->need[s] <= inf->buf_size[s]) continue;
        size_t sz = (p->need[s] + 63) / 64 * 64;
        void *q = aligned_alloc(64, sz);
        if (!q) return pe_fail(e, "infer: out of memory (%zu bytes of activations)", sz);
        free(inf->buf[s]);
        inf->buf[s] = q;
        inf->buf_size[s] = sz;
    }
    return 0;
}

static plan *plan_get(pe_infer *inf, const pe_net *net, int B, pe_error *e) {
    int nt = omp_get_max_threads();
    pe_precision prec = net->precision;
    inf->clock++;
    for (int i = 0; i < inf->n_plans; i++) {
        plan *p = inf->plans[i];
        if (p->B == B && p->nthreads == nt && p->prec == prec) {
            if (prec == PE_PREC_INT8 && p->folded_version != inf->version) {
                /* the int8 primitives hold scales of the old weights: rebuild */
                plan_destroy(p);
                inf->plans[i] = inf->plans[--inf->n_plans];
                break;
            }
            p->last_use = inf->clock;
            return p;
        }
    }
    plan *p = calloc(1, sizeof *p);
    if (!p) {
        pe_fail(e, "infer: out of memory");
        return NULL;
    }
    p->B = B, p->nthreads = nt, p->prec = prec;
    p->folded_version = inf->version - 1;
    p->last_use = inf->clock;
    if (plan_build(inf, p, net, e) || reserve(inf, p, e)) {
        plan_destroy(p);
        return NULL;
    }
    if (inf->n_plans == MAX_PLANS) { /* evict the least recently used plan */
        int old = 0;
        for (int i = 1; i < inf->n_plans; i++)
            if (inf->plans[i]->last_use < inf->plans[old]->last_use) old = i;
        plan_destroy(inf->plans[old]);
        inf->plans[old] = inf->plans[--inf->n_plans];
    }
    inf->plans[inf->n_plans++] = p;
    return p;
}

/* h (B, C) = mean over time of the plan's output, read in its (blocked) layout. */
static void gap_blocked(const plan *p, const void *data, float *h) {
    const dnnl_memory_desc_t *md = &p->out_md;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    const int B = (int)md->dims[0], C = (int)md->dims[1], L = (int)md->dims[2];
    const int blk = bd->inner_nblks ? (int)bd->inner_blks[0] : 1;
    const int64_t sn = bd->strides[0], sc = bd->strides[1], sl = bd->strides[2];
    const int is_bf16 = md->data_type == dnnl_bf16, is_u8 = md->data_type == dnnl_u8;
    const int64_t off0 = md->offset0;
    const double unit = p->out_scale; /* real value of one unit of the data */
#pragma omp parallel for schedule(static) if (B > 1)
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++) {
            /* element (b, c, l) sits at b*sn + (c/blk)*sc + l*sl + c%blk */
            int64_t base = off0 + b * sn + (int64_t)(c / blk) * sc + c % blk;
            double sum = 0.0;
            if (is_bf16) {
                const uint16_t *x = (const uint16_t *)data + base;
                for (int l = 0; l < L; l++) sum += pe_bf16_to_f32(x[l * sl]);
            } else if (is_u8) {
                const uint8_t *x = (const uint8_t *)data + base;
                int64_t isum = 0;
                for (int l = 0; l < L; l++) isum += x[l * sl];
                sum = (double)isum;
            } else {
                const float *x = (const float *)data + base;
                for (int l = 0; l < L; l++) sum += x[l * sl];
            }
            h[(size_t)b * C + c] = (float)(sum * unit / L);
        }
    }
}

int pe_infer_backbone(pe_infer *inf, const pe_net *net, const float *x, int B, float *h,
                      pe_error *e) {
    if (!inf) return pe_fail(e, "infer: NULL engine");
    if (B < 1) return pe_fail(e, "infer: batch of %d records", B);
    if (net->precision == PE_PREC_INT8 && !net->int8.valid)
        return pe_fail(e, "infer: int8 inference needs an int8 calibration of the model");
    plan *p = plan_get(inf, net, B, e);
    if (!p) return -1;
    if (p->folded_version != inf->version && fold(inf, p, net, e)) return -1;
    void *bind[NUM_SLOTS];
    memcpy(bind, inf->buf, sizeof bind);
    bind[SLOT_X] = (void *)x;
    for (int i = 0; i < p->n_steps; i++) {
        step *s = &p->steps[i];
        for (int a = 0; a < s->nargs; a++)
            if (s->slot[a] >= 0)
                DNNL_TRY(dnnl_memory_set_data_handle(s->args[a].memory, bind[s->slot[a]]));
        DNNL_TRY(dnnl_primitive_execute(s->prim, inf->stream, s->nargs, s->args));
    }
    DNNL_TRY(dnnl_stream_wait(inf->stream));
    gap_blocked(p, inf->buf[p->out_slot], h);
    return 0;
}
