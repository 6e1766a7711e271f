/* The 1D ResNet-18 + prototype head (or linear head): tensor table, init,
 * forward and backward. See net.h for the layout. */
#include "model/net.h"

#include <cblas.h>
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/backbone.h"
#include "model/infer.h"
#include "nn/nwc.h"
#include "util/error.h"
#include "util/rng.h"


pe_net_config pe_net_config_default(pe_head_kind head) {
    pe_net_config c = {.head = head, .n_classes = PE_NUM_CLASSES, .protos_per_class = 5,
                       .base_width = 64, .latent_dim = 512, .in_leads = PE_NUM_LEADS,
                       .in_len = PE_NUM_SAMPLES};
    return c;
}

/* ---- tensor table ---------------------------------------------------------- */

typedef struct {
    pe_net *net;
    int cap;
    int failed;
} table_builder;

static size_t add_tensor(table_builder *tb, const char *name, pe_tensor_kind kind,
                         pe_param_group group, int decay, int ndim, int64_t d0, int64_t d1,
                         int64_t d2) {
    pe_net *net = tb->net;
    if (net->n_tensors == tb->cap) {
        tb->cap = tb->cap ? tb->cap * 2 : 64;
        pe_tensor_info *nt = realloc(net->tensors, (size_t)tb->cap * sizeof *nt);
        if (!nt) {
            tb->failed = 1;
            return 0;
        }
        net->tensors = nt;
    }
    pe_tensor_info *t = &net->tensors[net->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->group = group;
    t->decay = decay;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d2;
    t->numel = (size_t)d0 * (ndim > 1 ? (size_t)d1 : 1) * (ndim > 2 ? (size_t)d2 : 1);
    size_t *counter = kind == PE_T_PARAM ? &net->n_params : &net->n_buffers;
    t->offset = *counter;
    *counter += t->numel;
    return t->offset;
}

/* Registers conv "<conv_name>.weight" and BN "<bn_name>.{weight,bias,running_*}". */
static void add_convbn(table_builder *tb, pe_convbn *cb, const char *conv_name,
                       const char *bn_name, int cin, int cout, int k, int stride, int pad,
                       int lin) {
    char n[96];
    cb->shape = pe_conv1d_make_shape(0, cin, cout, lin, k, stride, pad);
    snprintf(n, sizeof n, "%s.weight", conv_name);
    cb->w = add_tensor(tb, n, PE_T_PARAM, PE_GROUP_BACKBONE, 1, 3, cout, cin, k);
    snprintf(n, sizeof n, "%s.weight", bn_name);
    cb->gamma = add_tensor(tb, n, PE_T_PARAM, PE_GROUP_BACKBONE, 1, 1, cout, 0, 0);
    snprintf(n, sizeof n, "%s.bias", bn_name);
    cb->beta = add_tensor(tb, n, PE_T_PARAM, PE_GROUP_BACKBONE, 1, 1, cout, 0, 0);
    snprintf(n, sizeof n, "%s.running_mean", bn_name);
    cb->rmean = add_tensor(tb, n, PE_T_BUFFER, PE_GROUP_BACKBONE, 0, 1, cout, 0, 0);
    snprintf(n, sizeof n, "%s.running_var", bn_name);
    cb->rvar = add_tensor(tb, n, PE_T_BUFFER, PE_GROUP_BACKBONE, 0, 1, cout, 0, 0);
}

static void build_table(pe_net *net, table_builder *tb) {
    const pe_net_config *c = &net->cfg;
    int w = c->base_width;
    add_convbn(tb, &net->stem, "feature_extractor.conv1", "feature_extractor.bn1", c->in_leads, w,
               7, 2, 3, c->in_len);
    int L = pe_conv1d_out_len(net->stem.shape.Lout, 3, 2, 1); /* after max pool */
    int cin = w;
    for (int s = 0; s < 4; s++) {
        int cout = w << s;
        for (int j = 0; j < 2; j++) {
            pe_block *b = &net->blocks[2 * s + j];
            int stride = (s > 0 && j == 0) ? 2 : 1;
            char cn[96], bn[96];
            snprintf(cn, sizeof cn, "feature_extractor.layer%d.%d.conv1", s + 1, j);
            snprintf(bn, sizeof bn, "feature_extractor.layer%d.%d.bn1", s + 1, j);
            add_convbn(tb, &b->c1, cn, bn, cin, cout, 3, stride, 1, L);
            int Lout = b->c1.shape.Lout;
            snprintf(cn, sizeof cn, "feature_extractor.layer%d.%d.conv2", s + 1, j);
            snprintf(bn, sizeof bn, "feature_extractor.layer%d.%d.bn2", s + 1, j);
            add_convbn(tb, &b->c2, cn, bn, cout, cout, 3, 1, 1, Lout);
            b->has_down = stride != 1 || cin != cout;
            if (b->has_down) {
                snprintf(cn, sizeof cn, "feature_extractor.layer%d.%d.downsample.0", s + 1, j);
                snprintf(bn, sizeof bn, "feature_extractor.layer%d.%d.downsample.1", s + 1, j);
                add_convbn(tb, &b->down, cn, bn, cin, cout, 1, stride, 0, L);
            }
            cin = cout;
            L = Lout;
        }
    }
    net->feat_dim = cin;
    int F = cin, D = c->latent_dim, C = c->n_classes;
    if (c->head == PE_HEAD_PROTO) {
        int P = c->protos_per_class * C;
        net->n_protos = P;
        net->addon_w0 = add_tensor(tb, "add_on_layers.0.weight", PE_T_PARAM, PE_GROUP_ADDON, 1, 2, D, F, 0);
        net->addon_b0 = add_tensor(tb, "add_on_layers.0.bias", PE_T_PARAM, PE_GROUP_ADDON, 1, 1, D, 0, 0);
        net->addon_w2 = add_tensor(tb, "add_on_layers.2.weight", PE_T_PARAM, PE_GROUP_ADDON, 1, 2, D, D, 0);
        net->addon_b2 = add_tensor(tb, "add_on_layers.2.bias", PE_T_PARAM, PE_GROUP_ADDON, 1, 1, D, 0, 0);
        net->protos = add_tensor(tb, "prototype_vectors", PE_T_PARAM, PE_GROUP_PROTOS, 1, 2, P, D, 0);
        net->last_w = add_tensor(tb, "classifier.weight", PE_T_PARAM, PE_GROUP_LAST, 0, 2, C, P, 0);
        net->class_identity = add_tensor(tb, "prototype_class_identity", PE_T_BUFFER,
                                         PE_GROUP_LAST, 0, 2, P, C, 0);
    } else {
        net->fc_w = add_tensor(tb, "fc.weight", PE_T_PARAM, PE_GROUP_LAST, 1, 2, C, F, 0);
        net->fc_b = add_tensor(tb, "fc.bias", PE_T_PARAM, PE_GROUP_LAST, 1, 1, C, 0, 0);
    }
}

/* ---- initialization (PyTorch defaults) ------------------------------------- */

/* kaiming_uniform_(a=sqrt(5)) and the bias rule both give U(-1/sqrt(fan_in), +). */
static void init_uniform(float *p, size_t n, int fan_in, pe_rng *r) {
    double bound = 1.0 / sqrt((double)fan_in);
    for (size_t i = 0; i < n; i++) p[i] = (float)((2.0 * pe_rng_uniform(r) - 1.0) * bound);
}

static void init_params(pe_net *net, uint64_t seed) {
    pe_rng r;
    pe_rng_seed(&r, seed);
    for (int i = 0; i < net->n_tensors; i++) {
        const pe_tensor_info *t = &net->tensors[i];
        float *p = pe_net_data(net, t);
        const char *suffix = strrchr(t->name, '.');
        int is_bn = strstr(t->name, ".bn") != NULL || strstr(t->name, "downsample.1") != NULL;
        if (t->kind == PE_T_BUFFER) {
            float v = (suffix && !strcmp(suffix, ".running_var")) ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) p[j] = v;
        } else if (is_bn) {
            float v = !strcmp(suffix, ".weight") ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) p[j] = v;
        } else if (!strcmp(t->name, "prototype_vectors")) {
            for (size_t j = 0; j < t->numel; j++) p[j] = (float)pe_rng_normal(&r);
        } else if (!strcmp(t->name, "classifier.weight")) {
            /* set below by pe_net_reset_last_layer */
        } else if (t->ndim >= 2) { /* conv (Cout, Cin, K) or linear (Out, In) weight */
            int fan_in = (int)(t->shape[1] * (t->ndim == 3 ? t->shape[2] : 1));
            init_uniform(p, t->numel, fan_in, &r);
        } else { /* linear bias: fan_in of the matching weight, the previous tensor */
            const pe_tensor_info *w = &net->tensors[i - 1];
            init_uniform(p, t->numel, (int)w->shape[1], &r);
        }
    }
    if (net->cfg.head == PE_HEAD_PROTO) {
        int P = net->n_protos, C = net->cfg.n_classes, K = net->cfg.protos_per_class;
        float *ident = net->buffers + net->class_identity;
        for (int p = 0; p < P; p++)
            for (int c = 0; c < C; c++) ident[p * C + c] = (p / K == c) ? 1.0f : 0.0f;
        pe_net_reset_last_layer(net);
    }
}

void pe_net_reset_last_layer(pe_net *net) {
    if (net->cfg.head != PE_HEAD_PROTO) return;
    int P = net->n_protos, C = net->cfg.n_classes;
    const float *ident = net->buffers + net->class_identity;
    float *W = net->params + net->last_w;
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++) W[c * P + p] = ident[p * C + c] > 0.5f ? 1.0f : -0.5f;
}

/* ---- allocation ------------------------------------------------------------- */

/* Every activation buffer is recorded in this list so pe_net_free can release it. */
#define MAX_OWNED 256
typedef struct {
    float *ptr[MAX_OWNED];
    int n;
    int n_init; /* those of pe_net_init (outputs of a forward); the rest come with use */
} owned_list;

static float *owned_alloc(owned_list *o, size_t n) {
    if (o->n == MAX_OWNED) return NULL;
    float *p = calloc(n ? n : 1, sizeof(float));
    o->ptr[o->n++] = p;
    return p;
}

/* Allocates the backbone activations kept for backward and the backward scratch
 * for max_batch records; called by the first pe_net_forward. */
static int alloc_training_acts(pe_net *net, pe_error *e) {
    owned_list *o = net->owned;
    const pe_net_config *cfg = &net->cfg;
    int B = net->max_batch;
    int ok = 1;
#define ALLOC_CB(cb)                                                                   \
    do {                                                                               \
        size_t n_ = (size_t)B * (cb).shape.Cout * (cb).shape.Lout;                     \
        (cb).conv_out = owned_alloc(o, n_);                                            \
        (cb).bn_out = net->dnnl ? NULL : owned_alloc(o, n_);                           \
        (cb).mean = owned_alloc(o, (size_t)(cb).shape.Cout);                           \
        (cb).rstd = owned_alloc(o, (size_t)(cb).shape.Cout);                           \
        ok = ok && (cb).conv_out && ((cb).bn_out || net->dnnl) && (cb).mean && (cb).rstd; \
    } while (0)
    if (net->dnnl) {
        net->x_nwc = owned_alloc(o, (size_t)B * cfg->in_leads * cfg->in_len);
        /* doubles, as twice the floats */
        net->nwc_work = (double *)owned_alloc(o, 2 * pe_nwc_work_len(net->feat_dim));
        ok = ok && net->x_nwc && net->nwc_work;
    }
    ALLOC_CB(net->stem);
    size_t stem_n = (size_t)B * net->stem.shape.Cout * net->stem.shape.Lout;
    net->stem_relu = owned_alloc(o, stem_n);
    int Lp = pe_conv1d_out_len(net->stem.shape.Lout, 3, 2, 1);
    size_t pool_n = (size_t)B * net->stem.shape.Cout * Lp;
    net->pool_out = owned_alloc(o, pool_n);
    net->pool_arg = (int32_t *)owned_alloc(o, pool_n);
    ok = ok && net->stem_relu && net->pool_out && net->pool_arg;
    size_t max_act = stem_n;
    for (int i = 0; i < 8; i++) {
        pe_block *b = &net->blocks[i];
        ALLOC_CB(b->c1);
        ALLOC_CB(b->c2);
        if (b->has_down) ALLOC_CB(b->down);
        size_t bn = (size_t)B * b->c1.shape.Cout * b->c1.shape.Lout;
        b->relu1 = owned_alloc(o, bn);
        b->out = owned_alloc(o, bn);
        ok = ok && b->relu1 && b->out;
    }
#undef ALLOC_CB
    net->scratch_len = max_act;
    for (int i = 0; i < 5; i++) {
        net->scratch[i] = owned_alloc(o, max_act);
        ok = ok && net->scratch[i];
    }
    if (!ok) return pe_fail(e, "out of memory allocating activations for batch %d", B);
    net->acts_ready = 1;
    return 0;
}

int pe_net_init(pe_net *net, const pe_net_config *cfg, int max_batch, uint64_t seed, int use_dnnl,
                pe_error *e) {
    memset(net, 0, sizeof *net);
    net->cfg = *cfg;
    net->max_batch = max_batch;
    if (max_batch < 1 || cfg->base_width < 1 || cfg->latent_dim < 1 || cfg->n_classes < 1 ||
        cfg->protos_per_class < 1 || cfg->in_leads < 1 || cfg->in_len < PE_NET_MIN_LEN)
        return pe_fail(e, "invalid network configuration");
    table_builder tb = {.net = net};
    build_table(net, &tb);
    if (tb.failed) {
        pe_net_free(net);
        return pe_fail(e, "out of memory building the tensor table");
    }
    net->params = calloc(net->n_params, sizeof(float));
    net->grads = calloc(net->n_params, sizeof(float));
    net->buffers = calloc(net->n_buffers ? net->n_buffers : 1, sizeof(float));
    owned_list *o = calloc(1, sizeof *o);
    net->owned = o;
    if (!net->params || !net->grads || !net->buffers || !o) {
        pe_net_free(net);
        return pe_fail(e, "out of memory allocating %zu parameters", net->n_params);
    }
    /* outputs of a forward and the head's gradients (the backbone activations come with
     * the first pe_net_forward) */
    int B = max_batch;
    int F = net->feat_dim, D = cfg->latent_dim, C = cfg->n_classes, P = net->n_protos;
    net->h = owned_alloc(o, (size_t)B * F);
    net->dh = owned_alloc(o, (size_t)B * F);
    net->logits = owned_alloc(o, (size_t)B * C);
    int ok = net->h && net->dh && net->logits;
    if (cfg->head == PE_HEAD_PROTO) {
        net->a1 = owned_alloc(o, (size_t)B * D);
        net->a1r = owned_alloc(o, (size_t)B * D);
        net->a2 = owned_alloc(o, (size_t)B * D);
        net->z = owned_alloc(o, (size_t)B * D);
        net->znorm = owned_alloc(o, (size_t)B);
        net->pnorm = owned_alloc(o, (size_t)P);
        net->sim = owned_alloc(o, (size_t)B * P);
        net->dz = owned_alloc(o, (size_t)B * D);
        net->da = owned_alloc(o, (size_t)B * D);
        net->dsim_buf = owned_alloc(o, (size_t)B * P);
        ok = ok && net->a1 && net->a1r && net->a2 && net->z && net->znorm && net->pnorm &&
             net->sim && net->dz && net->da && net->dsim_buf;
    }
    if (!ok) {
        pe_net_free(net);
        return pe_fail(e, "out of memory allocating outputs for batch %d", max_batch);
    }
    /* The library parallelizes with OpenMP; OpenBLAS's own thread pool (used only by the
     * small GEMMs of the head) would spin-wait on the same cores, so it runs on one
     * thread (a process-wide OpenBLAS setting). */
    openblas_set_num_threads(1);
    if (use_dnnl) {
        net->dnnl = pe_dnnl_create(e);
        if (!net->dnnl) {
            pe_net_free(net);
            return -1;
        }
    }
    o->n_init = o->n;
    init_params(net, seed);
    return 0;
}

int pe_net_init_view(pe_net *view, const pe_net *base, int in_len, int max_batch, pe_error *e) {
    pe_net_config cfg = base->cfg;
    cfg.in_len = in_len;
    /* a net of its own, whose freshly initialized weights then give way to base's */
    if (pe_net_init(view, &cfg, max_batch, 0, base->dnnl != NULL, e)) return -1;
    if (view->n_params != base->n_params || view->n_buffers != base->n_buffers) {
        pe_net_free(view);
        return pe_fail(e, "a view of %d samples has other tensors than its base", in_len);
    }
    free(view->params), free(view->grads), free(view->buffers);
    view->params = base->params, view->grads = base->grads, view->buffers = base->buffers;
    view->shares_weights = 1;
    view->num_batches_tracked = base->num_batches_tracked;
    pe_net_set_precision(view, base->precision, NULL);
    return 0;
}

void pe_net_release_work(pe_net *net) {
    owned_list *o = net->owned;
    if (o) {
        for (int i = o->n_init; i < o->n; i++) free(o->ptr[i]);
        o->n = o->n_init;
    }
    net->acts_ready = 0; /* the next pe_net_forward allocates them again */
    pe_infer_destroy(net->infer);
    net->infer = NULL;
    net->last_infer = 0;
}

void pe_net_free(pe_net *net) {
    owned_list *o = net->owned;
    if (o) {
        for (int i = 0; i < o->n; i++) free(o->ptr[i]);
        free(o);
    }
    if (net->dnnl) pe_dnnl_destroy(net->dnnl);
    pe_infer_destroy(net->infer);
    free(net->tensors);
    if (!net->shares_weights) {
        free(net->params);
        free(net->grads);
        free(net->buffers);
    }
    memset(net, 0, sizeof *net);
}

const pe_tensor_info *pe_net_find(const pe_net *net, const char *name) {
    for (int i = 0; i < net->n_tensors; i++)
        if (!strcmp(net->tensors[i].name, name)) return &net->tensors[i];
    return NULL;
}

float *pe_net_data(const pe_net *net, const pe_tensor_info *t) {
    return (t->kind == PE_T_PARAM ? net->params : net->buffers) + t->offset;
}

void pe_net_zero_grad(pe_net *net) { memset(net->grads, 0, net->n_params * sizeof(float)); }

/* ---- forward / backward ----------------------------------------------------- */

/* Prototype head: h (B,F) -> a1 = W0 h + b0 -> ReLU -> a2 = W2 a1r + b2 -> z = sigmoid
 * (B,D) -> sim = cos(z, prototypes) (B,P) -> logits = sim W^T (B,C). */
static void proto_head_forward(pe_net *net, int B) {
    const float *p = net->params;
    int F = net->feat_dim, D = net->cfg.latent_dim, P = net->n_protos, C = net->cfg.n_classes;
    pe_linear_forward(net->a1, net->h, p + net->addon_w0, p + net->addon_b0, B, F, D);
    pe_relu_forward(net->a1r, net->a1, (size_t)B * D);
    pe_linear_forward(net->a2, net->a1r, p + net->addon_w2, p + net->addon_b2, B, D, D);
    pe_sigmoid_forward(net->z, net->a2, (size_t)B * D);
    pe_cosine_forward(net->sim, net->znorm, net->pnorm, net->z, p + net->protos, B, P, D);
    pe_linear_forward(net->logits, net->sim, p + net->last_w, NULL, B, P, C);
}

/* The head on the pooled features h (B,F): prototypes, or the baseline's fc -> logits. */
static void head_forward(pe_net *net, int B) {
    if (net->cfg.head == PE_HEAD_PROTO)
        proto_head_forward(net, B);
    else
        pe_linear_forward(net->logits, net->h, net->params + net->fc_w, net->params + net->fc_b, B,
                          net->feat_dim, net->cfg.n_classes);
}

/* dlogits (B,C) [+ dsim (B,P)] -> parameter gradients of the head, and dh (B,F). */
static void proto_head_backward(pe_net *net, const float *dlogits, const float *dsim, int B) {
    const float *p = net->params;
    float *g = net->grads;
    int F = net->feat_dim, D = net->cfg.latent_dim, P = net->n_protos, C = net->cfg.n_classes;
    size_t nd = (size_t)B * D;
    memset(net->dsim_buf, 0, (size_t)B * P * sizeof(float));
    pe_linear_backward(net->dsim_buf, g + net->last_w, NULL, dlogits, net->sim, p + net->last_w, B,
                       P, C);
    if (dsim)
        for (size_t i = 0; i < (size_t)B * P; i++) net->dsim_buf[i] += dsim[i];
    memset(net->dz, 0, nd * sizeof(float));
    pe_cosine_backward(net->dz, g + net->protos, net->dsim_buf, net->sim, net->z, p + net->protos,
                       net->znorm, net->pnorm, B, P, D);
    memset(net->da, 0, nd * sizeof(float));
    pe_sigmoid_backward(net->da, net->dz, net->z, nd); /* da = d a2 */
    memset(net->dz, 0, nd * sizeof(float));
    pe_linear_backward(net->dz, g + net->addon_w2, g + net->addon_b2, net->da, net->a1r,
                       p + net->addon_w2, B, D, D); /* dz = d a1r */
    memset(net->da, 0, nd * sizeof(float));
    pe_relu_backward(net->da, net->dz, net->a1r, nd); /* da = d a1 */
    memset(net->dh, 0, (size_t)B * F * sizeof(float));
    pe_linear_backward(net->dh, g + net->addon_w0, g + net->addon_b0, net->da, net->h,
                       p + net->addon_w0, B, F, D);
}

int pe_net_forward(pe_net *net, const float *x, int B, int training, pe_error *e) {
    if (B < 1 || B > net->max_batch)
        return pe_fail(e, "batch of %d records does not fit this network (max %d)", B,
                       net->max_batch);
    if (training && B < 2) return pe_fail(e, "training-mode batch norm needs a batch of 2 or more");
    if (!net->acts_ready && alloc_training_acts(net, e)) return -1;
    net->B = B;
    net->training = training;
    net->last_infer = 0;
    if (training) pe_infer_invalidate(net->infer); /* BN statistics (and soon weights) change */
    if (pe_backbone_forward(net, x, B, training, e)) return -1;
    head_forward(net, B);
    return 0;
}

int pe_net_infer(pe_net *net, const float *x, int B, pe_error *e) {
    if (!net->dnnl) return pe_net_forward(net, x, B, 0, e);
    if (B < 1 || B > net->max_batch)
        return pe_fail(e, "batch of %d records does not fit this network (max %d)", B,
                       net->max_batch);
    if (!net->infer && !(net->infer = pe_infer_create(e))) return -1;
    net->last_infer = 1; /* from here on the saved activations do not match */
    if (pe_infer_backbone(net->infer, net, x, B, net->h, e)) return -1;
    net->B = B;
    net->training = 0;
    head_forward(net, B);
    return 0;
}

void pe_net_weights_changed(pe_net *net) { pe_infer_invalidate(net->infer); }

int pe_net_addon_standardize(pe_net *net, const float *h, long n, float gain, pe_error *e) {
    int F = net->feat_dim, D = net->cfg.latent_dim;
    if (net->cfg.head != PE_HEAD_PROTO || F != D)
        return pe_fail(e, "the add-on can start as a standardization only with a prototype "
                          "head whose latent size equals the feature width (%d, not %d)", F, D);
    if (n < 1) return pe_fail(e, "no records to standardize the add-on on");
    float *p = net->params;
    for (int d = 0; d < F; d++) {
        double s = 0, ss = 0;
        for (long j = 0; j < n; j++) s += h[(size_t)j * F + d];
        double mean = s / (double)n;
        for (long j = 0; j < n; j++) {
            double v = h[(size_t)j * F + d] - mean;
            ss += v * v;
        }
        double sd = sqrt(ss / (double)n);
        /* a feature constant over the records carries nothing: z_d = 1/2 for any input
         * (a floored std would turn its first nonzero value into a saturated z) */
        double scale = sd > 1e-6 ? gain / sd : 0.0;
        for (int k = 0; k < F; k++) {
            p[net->addon_w0 + (size_t)d * F + k] = k == d ? 1.0f : 0.0f;
            p[net->addon_w2 + (size_t)d * F + k] = k == d ? (float)scale : 0.0f;
        }
        p[net->addon_b0 + d] = 0.0f;
        p[net->addon_b2 + d] = (float)(-scale * mean);
    }
    pe_net_weights_changed(net);
    return 0;
}

int pe_net_backward(pe_net *net, const float *dlogits, const float *dsim, int backbone_too,
                    pe_error *e) {
    int B = net->B;
    if (B < 1) return pe_fail(e, "pe_net_backward before any forward");
    if (backbone_too && (net->last_infer || !net->acts_ready))
        return pe_fail(e, "pe_net_backward into the backbone needs the activations of a "
                          "pe_net_forward (the last forward was pe_net_infer)");
    if (net->cfg.head == PE_HEAD_PROTO) {
        proto_head_backward(net, dlogits, dsim, B);
    } else {
        memset(net->dh, 0, (size_t)B * net->feat_dim * sizeof(float));
        pe_linear_backward(net->dh, net->grads + net->fc_w, net->grads + net->fc_b, dlogits,
                           net->h, net->params + net->fc_w, B, net->feat_dim, net->cfg.n_classes);
    }
    return backbone_too ? pe_backbone_backward(net, net->dh, B, e) : 0;
}

/* ---- precision ----------------------------------------------------------------- */

int pe_bf16_native(void) {
    /* the ISA values are bit sets; avx512_core_bf16 (and avx512_core_amx, a superset)
     * contain every bit of dnnl_cpu_isa_avx512_core_bf16 */
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    unsigned want = (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    return (isa & want) == want;
}

pe_precision pe_net_set_precision(pe_net *net, pe_precision want, const char **note) {
    if (note) *note = NULL;
    pe_precision got = PE_PREC_FP32;
    if (want == PE_PREC_BF16) {
        if (!net->dnnl) {
            if (note) *note = "bf16 needs the oneDNN convolutions; using fp32";
        } else if (!pe_bf16_native()) {
            if (note)
                *note = "this CPU has no native bf16 (AVX512-BF16/AMX): oneDNN would only "
                        "emulate it, slower than fp32; using fp32";
        } else {
            got = PE_PREC_BF16;
        }
    } else if (want == PE_PREC_INT8) {
        if (!net->dnnl) {
            if (note) *note = "int8 needs the oneDNN convolutions; using fp32";
        } else if (!net->int8.valid) {
            if (note)
                *note = "the model has no int8 calibration (protoecg calibrate adds one); "
                        "using fp32";
        } else {
            got = PE_PREC_INT8;
        }
    }
    if (got != net->precision) pe_infer_invalidate(net->infer);
    net->precision = got;
    return got;
}

const char *pe_precision_name(pe_precision p) {
    return p == PE_PREC_BF16 ? "bf16" : p == PE_PREC_INT8 ? "int8" : "fp32";
}

int pe_precision_parse(const char *s, pe_precision *p) {
    if (!strcmp(s, "fp32") || !strcmp(s, "f32")) *p = PE_PREC_FP32;
    else if (!strcmp(s, "bf16")) *p = PE_PREC_BF16;
    else if (!strcmp(s, "int8")) *p = PE_PREC_INT8;
    else return -1;
    return 0;
}
