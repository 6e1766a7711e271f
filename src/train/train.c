/* The training procedure: phases, epochs, evaluation, checkpoints and resume.
 *
 * A run is a list of phases; each reads the previous phase's output model file
 * and writes its own into RUNDIR:
 *   [pretrain]  plain ResNet-18 (backbone + fc)  -> pretrain.safetensors
 *   joint<r>    backbone + add-on + prototypes   -> joint<r>.safetensors
 *   [warmup<r>] add-on + prototypes only         -> warmup<r>.safetensors
 *   project<r>  prototypes onto training latents -> projected<r>.safetensors
 *   last        last layer only                  -> model.safetensors
 * or, for the baseline, the single phase `baseline` -> baseline.safetensors.
 * After every epoch RUNDIR/checkpoint.safetensors (weights, optimizer state and the
 * run state as metadata, train/checkpoint.c) is written atomically; --resume continues
 * from it. Shuffling is seeded by (seed, phase, epoch), so a resumed run repeats an
 * uninterrupted one. */
#include "train/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/preprocess.h"
#include "eval/metrics.h"
#include "model/safetensors.h"
#include "train/adam.h"
#include "train/checkpoint.h"
#include "train/kmeans.h"
#include "train/last_layer.h"
#include "train/project.h"
#include "train/schedule.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/rng.h"

#define C_ PE_NUM_CLASSES

/* ---- configuration ------------------------------------------------------------ */

pe_train_config pe_train_config_authors(void) {
    pe_train_config c = {
        .base_width = 64, .latent_dim = 512, .protos_per_class = 5, .batch_size = 32,
        .lr = 1e-3f, .lr_last = 1e-3f, .weight_decay = 0.0f,
        .epochs_pretrain = 0, .epochs_joint = 50, .epochs_warmup = 0, .epochs_last = 50,
        .plateau_patience = 5, .plateau_factor = 0.5f, .early_stop_patience = 10, .rounds = 1,
        .lw = pe_loss_weights_default(), .warmup_clst = 0.0f, .warmup_last = 0, .last_keep_start = 1,
        .warmup_proto_lr = 1.0f, .warmup_addon_lr = 1.0f, .warmup_projected = 0, .proto_init_latent = 0, .pos_weight_power = 1.0f, .weighted_sampler = 0,
        .augment = 0, .aug_shift = 1, .aug_scale = 0.1f, .aug_noise = 0.05f,
        .mixup = 0.0f, .crop = 0, .ema = 0.0f, .aux_statements = 0, .aux_weight = 1.0f, .seed = 42, .threads = 0, .use_dnnl = 1, .precision = PE_PREC_FP32, .quiet = 0};
    return c;
}

/* protoecg's defaults, each chosen on the validation fold (fold 9) of the shared subset
 * (see REPORT.md and docs/results/tuning/): a plain ResNet-18 is trained first (20
 * epochs, cosine learning-rate decay, the kept weights an exponential moving average
 * with decay 0.995 per step) and its backbone kept (really loaded); the
 * prototype head (add-on, prototypes and last layer, the last layer at lr_last with
 * its L1 term) is then trained on the frozen backbone (warm-up), the add-on started as
 * a standardization of the backbone's features (gain 3) and learning at lr / 10 (both
 * chosen by the cross-validation: a random add-on at the full rate saturated its
 * sigmoid and lost the features' information, held out 0.880 against 0.891 for the
 * plain network; this start and rate: 0.891), with a clustering term
 * of weight 0.1, its last 3 epochs with the prototypes held on training latents, then
 * projected (a no-op by then), and the last layer is refit full batch towards the
 * minimum of its convex objective (FISTA, 1000 steps an epoch, the best validation epoch
 * kept; own-class weights >= 0) with the spec's L1 weight 1e-4 (in the warm-up too),
 * chosen by two-fold cross-validation inside the training folds (scripts/cv_last_layer)
 * over 1e-6 .. 1e-4: weaker L1 scored higher on the validation fold but lower on the
 * held-out training folds (rate classes such as STACH worst).
 * BCE pos_weight is the square root of the spec's class weight: the full weights (up to
 * ~2,400 for classes with one training positive) made training unstable. */
pe_train_config pe_train_config_default(void) {
    pe_train_config c = pe_train_config_authors();
    c.epochs_pretrain = 20;
    c.lr_cosine = 1;
    c.ema = 0.995f;
    c.epochs_joint = 0;
    c.epochs_warmup = 6;
    c.warmup_clst = 0.1f;
    c.warmup_proto_lr = 10.0f;
    c.addon_init_gain = 3.0f;
    c.warmup_addon_lr = 0.1f;
    c.warmup_projected = 3;
    c.warmup_last = 1;
    c.epochs_last = 100;
    c.last_fista_iters = 1000;
    c.lr_last = 1e-2f;
    c.early_stop_patience = 6;
    c.pos_weight_power = 0.5f;
    c.augment = 1;
    return c;
}

char *pe_train_config_json(const pe_train_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "base_width", c->base_width);
    cJSON_AddNumberToObject(o, "latent_dim", c->latent_dim);
    cJSON_AddNumberToObject(o, "protos_per_class", c->protos_per_class);
    cJSON_AddNumberToObject(o, "batch_size", c->batch_size);
    cJSON_AddNumberToObject(o, "lr", c->lr);
    cJSON_AddNumberToObject(o, "lr_last", c->lr_last);
    cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(o, "epochs_pretrain", c->epochs_pretrain);
    cJSON_AddNumberToObject(o, "epochs_joint", c->epochs_joint);
    cJSON_AddNumberToObject(o, "epochs_warmup", c->epochs_warmup);
    cJSON_AddNumberToObject(o, "epochs_last", c->epochs_last);
    cJSON_AddNumberToObject(o, "last_fista_iters", c->last_fista_iters);
    cJSON_AddBoolToObject(o, "last_keep_start", c->last_keep_start);
    cJSON_AddBoolToObject(o, "lr_cosine", c->lr_cosine);
    cJSON_AddNumberToObject(o, "plateau_patience", c->plateau_patience);
    cJSON_AddNumberToObject(o, "plateau_factor", c->plateau_factor);
    cJSON_AddNumberToObject(o, "early_stop_patience", c->early_stop_patience);
    cJSON_AddNumberToObject(o, "rounds", c->rounds);
    cJSON *lw = cJSON_AddObjectToObject(o, "loss_weights");
    cJSON_AddNumberToObject(lw, "clst", c->lw.clst);
    cJSON_AddNumberToObject(lw, "sep", c->lw.sep);
    cJSON_AddNumberToObject(lw, "div", c->lw.div);
    cJSON_AddNumberToObject(lw, "cnt", c->lw.cnt);
    cJSON_AddNumberToObject(lw, "l1", c->lw.l1);
    cJSON_AddNumberToObject(o, "warmup_clst", c->warmup_clst);
    cJSON_AddNumberToObject(o, "proto_init_latent", c->proto_init_latent);
    cJSON_AddNumberToObject(o, "addon_init_gain", c->addon_init_gain);
    cJSON_AddBoolToObject(o, "warmup_last", c->warmup_last);
    cJSON_AddNumberToObject(o, "warmup_proto_lr", c->warmup_proto_lr);
    cJSON_AddNumberToObject(o, "warmup_addon_lr", c->warmup_addon_lr);
    cJSON_AddNumberToObject(o, "warmup_backbone_lr", c->warmup_backbone_lr);
    cJSON_AddNumberToObject(o, "warmup_projected", c->warmup_projected);
    cJSON_AddNumberToObject(o, "pos_weight_power", c->pos_weight_power);
    cJSON_AddBoolToObject(o, "weighted_sampler", c->weighted_sampler);
    cJSON_AddBoolToObject(o, "augment", c->augment);
    cJSON_AddBoolToObject(o, "aug_shift", c->aug_shift);
    cJSON_AddNumberToObject(o, "aug_scale", c->aug_scale);
    cJSON_AddNumberToObject(o, "aug_noise", c->aug_noise);
    cJSON_AddNumberToObject(o, "mixup", c->mixup);
    cJSON_AddNumberToObject(o, "crop", c->crop);
    cJSON_AddNumberToObject(o, "ema", c->ema);
    cJSON_AddNumberToObject(o, "aux_statements", c->aux_statements);
    cJSON_AddNumberToObject(o, "aux_weight", c->aux_weight);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "threads", c->threads);
    cJSON_AddStringToObject(o, "precision", pe_precision_name(c->precision));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* ---- phases -------------------------------------------------------------------- */

typedef enum { PH_PRETRAIN, PH_BASELINE, PH_JOINT, PH_WARMUP, PH_PROJECT, PH_LAST } phase_kind;

typedef struct {
    phase_kind kind;
    char name[32];  /* output file stem and metrics label */
    int epochs;
} phase;

#define MAX_PHASES 64

static int build_phases(const pe_train_config *c, pe_stage stage, phase *ph) {
    int n = 0;
    if (stage == PE_STAGE_BASELINE) {
        ph[n++] = (phase){PH_BASELINE, "baseline", c->epochs_joint};
        return n;
    }
    if (c->epochs_pretrain > 0) ph[n++] = (phase){PH_PRETRAIN, "pretrain", c->epochs_pretrain};
    for (int r = 1; r <= c->rounds && n < MAX_PHASES - 4; r++) {
        if (c->epochs_joint > 0) { /* 0: no joint stage (warm-up straight on the pretrained backbone) */
            ph[n] = (phase){PH_JOINT, "", c->epochs_joint};
            snprintf(ph[n++].name, 32, "joint%d", r);
        }
        if (c->epochs_warmup > 0) {
            ph[n] = (phase){PH_WARMUP, "", c->epochs_warmup};
            snprintf(ph[n++].name, 32, "warmup%d", r);
        }
        ph[n] = (phase){PH_PROJECT, "", 0};
        snprintf(ph[n++].name, 32, "projected%d", r);
    }
    ph[n++] = (phase){PH_LAST, "model", c->epochs_last};
    return n;
}

static int phase_in_stage(phase_kind k, pe_stage s) {
    switch (s) {
    case PE_STAGE_ALL: return 1;
    case PE_STAGE_PRETRAIN: return k == PH_PRETRAIN;
    case PE_STAGE_JOINT: return k == PH_JOINT || k == PH_WARMUP;
    case PE_STAGE_PROJECT: return k == PH_PROJECT;
    case PE_STAGE_LAST: return k == PH_LAST;
    case PE_STAGE_BASELINE: return k == PH_BASELINE;
    }
    return 0;
}

/* ---- the trainer ------------------------------------------------------------------ */

typedef struct {
    const pe_train_config *cfg;
    const pe_cache *cache;
    const char *dir;
    char ckpt[4096]; /* dir/checkpoint.safetensors */
    pe_split_view split[3];
    uint8_t *y[3];          /* labels per split (n, C) */
    float class_w[C_];      /* BCE pos_weight */
    float J[C_ * C_];       /* Jaccard co-occurrence of training labels */
    pe_sampler sampler;
    int has_sampler;
    pe_net crop_net; /* cfg->crop: a view of the model's net for crop-length inputs */
    int has_crop_net;
    float *xc;       /* (batch, leads, crop) */
    /* batch buffers */
    float *x;
    uint8_t *yb, *yb_mix; /* labels of the batch; of the records mixed in (mixup) */
    long *order;
    float *dlogits, *dsim;
    double *scratch;
    int32_t *train_ids; /* ecg_id of each training record (n_train) */
    double *znorm;      /* |z| of each training latent (n_train), projection's scratch */
    float *H, *Z, *Ztmp; /* training features of the current backbone (NULL: none or
                            stale; train_features), latents, scratch */
    FILE *metrics;
    long seq;
    /* auxiliary statements of the pretraining (cfg->aux_statements; A = 0: none) */
    int A;
    uint8_t *yaux;    /* (n_train, A) */
    float *aux_w;     /* (A) BCE pos_weight, as the classes' */
    uint8_t *ybaux;   /* (batch, A) of the batch */
    pe_model wide;    /* the pretraining's plain network with 16 + A outputs */
} trainer;

static const char *split_name[3] = {"train", "val", "test"};

static void path_in(char *out, size_t n, const char *dir, const char *stem, const char *ext) {
    snprintf(out, n, "%s/%s%s", dir, stem, ext);
}

/* w[i] <- w[i]^power: the BCE pos_weights from the spec's class weights. */
static void raise_weights(float *w, int n, float power) {
    if (power != 1.0f)
        for (int i = 0; i < n; i++) w[i] = powf(w[i], power);
}

/* The training records' auxiliary labels and their BCE weights. */
static int aux_init(trainer *t, const pe_aux_labels *aux, pe_error *e) {
    long n = t->split[0].n;
    int A = t->A = aux->n;
    size_t B = (size_t)t->cfg->batch_size;
    t->yaux = malloc((size_t)n * A);
    t->aux_w = malloc((size_t)A * sizeof(float));
    t->ybaux = malloc(B * A);
    long *counts = malloc((size_t)A * sizeof(long));
    if (!t->yaux || !t->aux_w || !t->ybaux || !counts) {
        free(counts);
        return pe_fail(e, "out of memory for the auxiliary statements");
    }
    for (long j = 0; j < n; j++)
        memcpy(t->yaux + (size_t)j * A, aux->labels + (size_t)t->split[0].idx[j] * A, A);
    int n_empty;
    pe_class_weights(t->yaux, n, A, t->aux_w, counts, &n_empty);
    free(counts);
    raise_weights(t->aux_w, A, t->cfg->pos_weight_power);
    return 0;
}

static int trainer_init(trainer *t, const pe_train_config *cfg, const pe_cache *cache,
                        const pe_aux_labels *aux, const char *dir, pe_error *e) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->cache = cache;
    path_in(t->ckpt, sizeof t->ckpt, dir, "checkpoint", ".safetensors");
    t->dir = dir;
    for (int s = 0; s < 3; s++) {
        if (pe_split_view_init(&t->split[s], cache, (pe_split)s, e)) return -1;
        t->y[s] = pe_split_labels(&t->split[s]);
        if (!t->y[s]) return pe_fail(e, "out of memory");
        if (t->split[s].n == 0)
            return pe_fail(e, "the %s split is empty (%s needs folds 1-8, 9 and 10)", split_name[s],
                           "training");
    }
    long counts[C_];
    int n_empty = 0;
    pe_class_weights(t->y[0], t->split[0].n, C_, t->class_w, counts, &n_empty);
    long total = 0;
    for (int c = 0; c < C_; c++) total += counts[c];
    if (total == 0)
        return pe_fail(e, "no training record carries any of the 16 rhythm labels: nothing to learn");
    for (int c = 0; c < C_; c++)
        if (counts[c] == 0)
            fprintf(stderr, "warning: class %s has no training positive; its BCE weight is 0\n",
                    pe_class_names[c]);
    pe_jaccard(t->J, t->y[0], t->split[0].n, C_);
    if (cfg->weighted_sampler) { /* the sampler draws by the spec's weights */
        if (pe_sampler_init(&t->sampler, t->y[0], t->split[0].n, C_, t->class_w, e)) return -1;
        t->has_sampler = 1;
    }
    raise_weights(t->class_w, C_, cfg->pos_weight_power);
    if (cfg->crop != 0 && (cfg->crop < PE_NET_MIN_LEN || cfg->crop > (int)cache->h.n_samples))
        return pe_fail(e, "a crop of %d samples: it must be 0 (none) or %d to the records' %d",
                       cfg->crop, PE_NET_MIN_LEN, (int)cache->h.n_samples);
    size_t B = (size_t)cfg->batch_size, rec = (size_t)cache->h.n_leads * cache->h.n_samples;
    int P = cfg->protos_per_class * C_;
    long nmax = t->split[0].n > t->split[1].n ? t->split[0].n : t->split[1].n;
    size_t rows = nmax > (long)B ? (size_t)nmax : B; /* of a split's pass, or of a batch */
    t->x = malloc(B * rec * sizeof(float));
    t->yb = malloc(B * C_);
    t->yb_mix = malloc(B * C_);
    t->order = malloc((size_t)(nmax + B) * sizeof(long));
    /* auxiliary outputs of the pretraining's head (0: none) */
    int A = aux && aux->n > 0 && cfg->epochs_pretrain > 0 ? aux->n : 0;
    /* dlogits: of a split (n, 16), or of a batch of the pretraining's wide head */
    size_t n_dlogits = rows * C_;
    if (n_dlogits < B * (size_t)(C_ + A)) n_dlogits = B * (size_t)(C_ + A);
    t->dlogits = malloc(n_dlogits * sizeof(float));
    t->dsim = malloc(rows * (size_t)P * sizeof(float));
    t->scratch = malloc(pe_loss_proto_scratch_len(P, cfg->latent_dim) * sizeof(double));
    t->train_ids = malloc((size_t)t->split[0].n * sizeof(int32_t));
    t->znorm = malloc((size_t)t->split[0].n * sizeof(double));
    if (!t->x || !t->yb || !t->yb_mix || !t->order || !t->dlogits || !t->dsim || !t->scratch ||
        !t->train_ids || !t->znorm)
        return pe_fail(e, "out of memory for training buffers");
    for (long j = 0; j < t->split[0].n; j++) t->train_ids[j] = cache->ecg_id[t->split[0].idx[j]];
    if (A > 0) {
        if (aux->n_records != (long)cache->h.n_records)
            return pe_fail(e, "auxiliary statements: %ld records, the cache has %u",
                           aux->n_records, cache->h.n_records);
        if (cfg->mixup > 0)
            return pe_fail(e, "mixup and auxiliary statements cannot be combined");
        return aux_init(t, aux, e);
    }
    return 0;
}

/* The crop-length view of the model's net and its batch (made again on demand). */
static void release_crop_net(trainer *t) {
    if (t->has_crop_net) pe_net_free(&t->crop_net);
    t->has_crop_net = 0;
    free(t->xc);
    t->xc = NULL;
}

static void trainer_free(trainer *t) {
    for (int s = 0; s < 3; s++) {
        pe_split_view_free(&t->split[s]);
        free(t->y[s]);
    }
    if (t->has_sampler) pe_sampler_free(&t->sampler);
    release_crop_net(t);
    free(t->x), free(t->yb), free(t->yb_mix), free(t->order), free(t->dlogits), free(t->dsim), free(t->scratch);
    free(t->train_ids), free(t->znorm);
    free(t->H), free(t->Z), free(t->Ztmp);
    free(t->yaux), free(t->aux_w), free(t->ybaux);
    if (t->A) pe_model_free(&t->wide);
    if (t->metrics) fclose(t->metrics);
}

/* ---- evaluation ------------------------------------------------------------------ */

int pe_predict_split(pe_net *net, const pe_split_view *v, float *logits, float *sims, float *z,
                     float *h, pe_error *e) {
    const pe_cache *c = v->cache;
    size_t rec = (size_t)c->h.n_leads * c->h.n_samples;
    int Bmax = net->max_batch, C = net->cfg.n_classes, P = net->n_protos, D = net->cfg.latent_dim;
    int F = net->feat_dim;
    float *x = malloc((size_t)Bmax * rec * sizeof(float));
    uint8_t *y = malloc((size_t)Bmax * C);
    long *order = malloc((size_t)Bmax * sizeof(long));
    int rc = (x && y && order) ? 0 : pe_fail(e, "out of memory");
    pe_net_weights_changed(net); /* params/buffers may have been replaced since the last pass */
    for (long i = 0; rc == 0 && i < v->n; i += Bmax) {
        int B = (int)(v->n - i < Bmax ? v->n - i : Bmax);
        for (int b = 0; b < B; b++) order[b] = i + b;
        pe_gather_batch(v, order, B, x, y);
        rc = pe_net_infer(net, x, B, e);
        if (rc) break;
        if (logits) memcpy(logits + (size_t)i * C, net->logits, (size_t)B * C * sizeof(float));
        if (h) memcpy(h + (size_t)i * F, net->h, (size_t)B * F * sizeof(float));
        if (sims && net->sim) memcpy(sims + (size_t)i * P, net->sim, (size_t)B * P * sizeof(float));
        if (z && net->z) memcpy(z + (size_t)i * D, net->z, (size_t)B * D * sizeof(float));
    }
    free(x), free(y), free(order);
    return rc;
}

int pe_calibrate_int8_split(pe_net *net, const pe_split_view *v, int n, double percentile,
                            pe_error *e) {
    if (v->n < 1) return pe_fail(e, "int8 calibration: the split is empty");
    if (n > v->n) n = (int)v->n;
    size_t rec = (size_t)v->cache->h.n_leads * v->cache->h.n_samples;
    float *x = malloc((size_t)n * rec * sizeof(float));
    uint8_t *y = malloc((size_t)n * PE_NUM_CLASSES);
    long *order = malloc((size_t)n * sizeof(long));
    int rc = (x && y && order) ? 0 : pe_fail(e, "int8 calibration: out of memory");
    if (rc == 0) {
        for (int i = 0; i < n; i++) order[i] = (long)((double)i * (double)v->n / n);
        pe_gather_batch(v, order, n, x, y);
        rc = pe_net_calibrate_int8(net, x, n, percentile, e);
    }
    free(x), free(y), free(order);
    return rc;
}

typedef struct {
    double loss;  /* BCE with pos_weight */
    double auroc; /* macro over defined classes */
} split_eval;

static void sigmoid_inplace(float *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + expf(-v[i]));
}

/* BCE and macro-AUROC of logits (n, C) against the split's labels. */
static int score_logits(const trainer *t, int s, float *logits, split_eval *out, pe_error *e) {
    long n = t->split[s].n;
    out->loss = pe_loss_bce(NULL, logits, t->y[s], t->class_w, (int)n, C_, 1.0);
    sigmoid_inplace(logits, (size_t)n * C_);
    pe_auroc_report r;
    if (pe_macro_auroc(t->y[s], logits, (size_t)n, C_, &r, e)) return -1;
    out->auroc = r.macro;
    pe_auroc_report_free(&r);
    return 0;
}

static int eval_split(trainer *t, pe_net *net, int s, split_eval *out, pe_error *e) {
    int Cn = net->cfg.n_classes; /* 16, or 16 + A in the pretraining with statements */
    float *logits = malloc((size_t)t->split[s].n * Cn * sizeof(float));
    if (!logits) return pe_fail(e, "out of memory");
    int rc = pe_predict_split(net, &t->split[s], logits, NULL, NULL, NULL, e);
    if (rc == 0 && Cn > C_) /* scored on the rhythm outputs, the first 16 */
        for (long i = 0; i < t->split[s].n; i++)
            memmove(logits + (size_t)i * C_, logits + (size_t)i * Cn, C_ * sizeof(float));
    if (rc == 0) rc = score_logits(t, s, logits, out, e);
    free(logits);
    return rc;
}

/* ---- one epoch of training ------------------------------------------------------- */

static double reproject(trainer *t, pe_model *m);

typedef struct {
    double loss, bce, clst, sep, div, cnt, l1, aux;
    long steps;
} loss_terms;

static void epoch_order(const trainer *t, int phase_idx, int epoch, long *order) {
    pe_rng r;
    pe_rng_seed(&r, t->cfg->seed * 1000003ULL + (uint64_t)phase_idx * 7919ULL + (uint64_t)epoch);
    long n = t->split[0].n;
    if (t->has_sampler) {
        pe_sampler_draw(&t->sampler, &r, order, n);
        return;
    }
    for (long i = 0; i < n; i++) order[i] = i;
    pe_rng_shuffle(&r, order, n);
}

static void add_terms(loss_terms *a, const loss_terms *b) {
    a->loss += b->loss, a->bce += b->bce, a->clst += b->clst, a->sep += b->sep;
    a->div += b->div, a->cnt += b->cnt, a->l1 += b->l1, a->aux += b->aux, a->steps += b->steps;
}

static void mean_terms(loss_terms *a) {
    if (a->steps == 0) return;
    double s = (double)a->steps;
    a->loss /= s, a->bce /= s, a->clst /= s, a->sep /= s, a->div /= s, a->cnt /= s, a->l1 /= s;
    a->aux /= s;
}

/* The pretraining's loss with auxiliary statements, logits (B, 16 + A): the classes' BCE
 * (mean over B x 16) plus aux_weight times the statements' BCE (mean over B x A), each
 * with its pos_weight; gradients into t->dlogits (B, 16 + A). */
static void aux_batch_loss(trainer *t, const pe_net *net, int B, loss_terms *lt) {
    int A = t->A, Cn = C_ + A;
    memset(t->dlogits, 0, (size_t)B * Cn * sizeof(float));
    lt->bce = pe_loss_bce_ld(t->dlogits, net->logits, Cn, t->yb, t->class_w, B, C_, 1.0);
    lt->aux = pe_loss_bce_ld(t->dlogits + C_, net->logits + C_, Cn, t->ybaux, t->aux_w, B, A,
                             t->cfg->aux_weight);
    lt->loss = lt->bce + t->cfg->aux_weight * lt->aux;
}

/* The loss of one batch in net (after forward) and its gradients: dlogits into
 * t->dlogits, dsim into t->dsim, prototype terms straight into the net's grads.
 * proto_terms: 0 = BCE only, 1 = all terms, 2 = warm-up (no diversity/contrastive).
 * lambda < 1: a mixup batch, BCE = lambda BCE(yb) + (1 - lambda) BCE(yb_mix). */
static loss_terms batch_loss(trainer *t, pe_net *net, int B, double w_clst, int proto_terms,
                             double lambda) {
    const pe_train_config *cfg = t->cfg;
    loss_terms lt = {0};
    lt.steps = 1;
    if (net->cfg.n_classes > C_) { /* the pretraining with auxiliary statements */
        aux_batch_loss(t, net, B, &lt);
        return lt;
    }
    memset(t->dlogits, 0, (size_t)B * C_ * sizeof(float));
    lt.bce = lambda * pe_loss_bce(t->dlogits, net->logits, t->yb, t->class_w, B, C_, lambda);
    if (lambda < 1.0)
        lt.bce += (1.0 - lambda) * pe_loss_bce(t->dlogits, net->logits, t->yb_mix, t->class_w,
                                               B, C_, 1.0 - lambda);
    lt.loss = lt.bce;
    if (net->cfg.head == PE_HEAD_PROTO && proto_terms) {
        int K = net->cfg.protos_per_class, P = net->n_protos, D = net->cfg.latent_dim;
        float *protos = net->params + net->protos, *dprotos = net->grads + net->protos;
        memset(t->dsim, 0, (size_t)B * P * sizeof(float));
        lt.clst = pe_loss_clst(t->dsim, net->sim, t->yb, B, C_, K, w_clst);
        lt.sep = pe_loss_sep(t->dsim, net->sim, t->yb, B, C_, K, cfg->lw.sep);
        double w_div = proto_terms == 2 ? 0.0 : cfg->lw.div;
        double w_cnt = proto_terms == 2 ? 0.0 : cfg->lw.cnt;
        lt.div = pe_loss_div(dprotos, protos, P, D, t->scratch, w_div);
        lt.cnt = pe_loss_cnt(dprotos, protos, t->J, C_, K, D, t->scratch, w_cnt);
        lt.loss += w_clst * lt.clst + cfg->lw.sep * lt.sep + w_div * lt.div + w_cnt * lt.cnt;
        if (proto_terms == 2 && cfg->warmup_last) { /* the last layer trains: its L1 term too */
            lt.l1 = pe_loss_l1(net->grads + net->last_w, net->params + net->last_w, C_, K,
                               cfg->lw.l1);
            lt.loss += cfg->lw.l1 * lt.l1;
        }
    }
    return lt;
}


/* ema <- d ema + (1 - d) w for params and buffers (BN running statistics), with the
 * decay warmed up over the first steps, d = min(decay, (1 + step) / (10 + step)), so
 * the average soon forgets the initial weights. */
static void ema_update(pe_phase_bufs *pb, const pe_net *net, double decay) {
    double step = (double)pb->opt.step, d = fmin(decay, (1.0 + step) / (10.0 + step));
    const float a = (float)d, b = (float)(1.0 - d);
    for (size_t i = 0; i < net->n_params; i++) pb->ema_p[i] = a * pb->ema_p[i] + b * net->params[i];
    for (size_t i = 0; i < net->n_buffers; i++)
        pb->ema_b[i] = a * pb->ema_b[i] + b * net->buffers[i];
}

/* Copies the net's weights (params and buffers) into p, b / from p, b into the net. */
static void weights_to(float *p, float *b, const pe_net *net) {
    memcpy(p, net->params, net->n_params * sizeof(float));
    memcpy(b, net->buffers, net->n_buffers * sizeof(float));
}

static void weights_from(pe_net *net, const float *p, const float *b) {
    memcpy(net->params, p, net->n_params * sizeof(float));
    memcpy(net->buffers, b, net->n_buffers * sizeof(float));
}

/* Exchanges the net's weights with the average (to evaluate it, and back). */
static void ema_swap(pe_phase_bufs *pb, pe_net *net) {
    for (size_t i = 0; i < net->n_params; i++) {
        float v = net->params[i];
        net->params[i] = pb->ema_p[i], pb->ema_p[i] = v;
    }
    for (size_t i = 0; i < net->n_buffers; i++) {
        float v = net->buffers[i];
        net->buffers[i] = pb->ema_b[i], pb->ema_b[i] = v;
    }
    pe_net_weights_changed(net);
}

/* With cfg->crop, a plain-network batch trains on a random window of each record of
 * t->x (into t->xc) through a crop-length view of net (made on first use) that shares
 * its weights: *fnet and *x become the view and the crops. */
static int crop_batch(trainer *t, pe_net *net, int B, pe_rng *aug, pe_net **fnet,
                      const float **x, pe_error *e) {
    int leads = (int)t->cache->h.n_leads, len = t->cfg->crop;
    if (!t->has_crop_net) {
        if (!t->xc) t->xc = malloc((size_t)t->cfg->batch_size * leads * len * sizeof(float));
        if (!t->xc) return pe_fail(e, "out of memory for crops");
        if (pe_net_init_view(&t->crop_net, net, len, t->cfg->batch_size, e)) return -1;
        t->has_crop_net = 1;
    }
    pe_crop_batch(t->x, B, leads, (int)t->cache->h.n_samples, len, t->xc, aug);
    t->crop_net.num_batches_tracked = net->num_batches_tracked;
    *fnet = &t->crop_net;
    *x = t->xc;
    return 0;
}

static int train_epoch(trainer *t, pe_model *m, phase_kind kind, int phase_idx, int epoch,
                       int freeze_protos, pe_phase_bufs *pb, const char *label, loss_terms *out,
                       pe_error *e) {
    const pe_train_config *cfg = t->cfg;
    pe_net *net = &m->net;
    float groups[PE_NUM_GROUPS] = {1, 1, 1, 1};
    if (kind == PH_JOINT) groups[PE_GROUP_LAST] = 0;
    if (kind == PH_WARMUP) { /* backbone frozen (or slow); the last layer learns at lr_last */
        groups[PE_GROUP_BACKBONE] = cfg->warmup_backbone_lr;
        groups[PE_GROUP_ADDON] = cfg->warmup_addon_lr;
        groups[PE_GROUP_PROTOS] = freeze_protos ? 0.0f : cfg->warmup_proto_lr;
        groups[PE_GROUP_LAST] = cfg->warmup_last ? cfg->lr_last / cfg->lr : 0.0f;
    }
    int frozen_backbone = kind == PH_WARMUP && cfg->warmup_backbone_lr == 0;
    double w_clst = kind == PH_WARMUP ? cfg->warmup_clst : cfg->lw.clst;
    long n = t->split[0].n;
    int Bs = cfg->batch_size;
    epoch_order(t, phase_idx, epoch, t->order);
    pe_rng aug;
    pe_rng_seed(&aug, t->cfg->seed * 6364136223846793005ULL + (uint64_t)phase_idx * 104729ULL +
                          (uint64_t)epoch);
    memset(out, 0, sizeof *out);
    pe_progress pg;
    pe_progress_start(&pg, label, n, cfg->quiet);
    if (frozen_backbone) pe_net_weights_changed(net); /* the best weights may have been restored */
    for (long i = 0; i < n; i += Bs) {
        int B = (int)(n - i < Bs ? n - i : Bs);
        if (B < 2) break; /* batch norm needs 2 records; a last batch of 1 is dropped */
        pe_gather_batch(&t->split[0], t->order + i, B, t->x, t->yb);
        if (net->cfg.n_classes > C_) /* the auxiliary statements' labels of the batch */
            for (int b = 0; b < B; b++)
                memcpy(t->ybaux + (size_t)b * t->A, t->yaux + (size_t)t->order[i + b] * t->A, t->A);
        if (cfg->augment)
            pe_augment_batch(t->x, B, (int)t->cache->h.n_leads, (int)t->cache->h.n_samples,
                             cfg->aug_shift, cfg->aug_scale, cfg->aug_noise, &aug);
        int terms = (kind == PH_PRETRAIN || kind == PH_BASELINE) ? 0 : kind == PH_WARMUP ? 2 : 1;
        double lambda = 1.0; /* mixup only where the loss is BCE alone */
        if (cfg->mixup > 0 && terms == 0) {
            lambda = pe_mixup_batch(t->x, t->yb, t->yb_mix, B,
                                    (size_t)t->cache->h.n_leads * t->cache->h.n_samples, C_,
                                    cfg->mixup, &aug);
            if (lambda < 0) return pe_fail(e, "out of memory for mixup");
        }
        pe_net *fnet = net; /* the net the batch goes through (a crop-length view of net) */
        const float *x = t->x;
        if (cfg->crop > 0 && terms == 0 && crop_batch(t, net, B, &aug, &fnet, &x, e)) return -1;
        pe_net_zero_grad(net);
        if (frozen_backbone ? pe_net_infer(net, x, B, e) : pe_net_forward(fnet, x, B, 1, e))
            return -1;
        loss_terms lt = batch_loss(t, fnet, B, w_clst, terms, lambda);
        if (!isfinite(lt.loss))
            return pe_fail(e, "%s: training diverged (loss %g) at epoch %d", label, lt.loss,
                           epoch + 1);
        if (pe_net_backward(fnet, t->dlogits, net->cfg.head == PE_HEAD_PROTO ? t->dsim : NULL,
                            !frozen_backbone, e))
            return -1;
        net->num_batches_tracked = fnet->num_batches_tracked;
        pe_adam_step(&pb->opt, net, groups);
        if (pb->ema_p) ema_update(pb, net, cfg->ema);
        if (freeze_protos) reproject(t, m); /* prototypes stay on training latents */
        add_terms(out, &lt);
        char extra[64];
        snprintf(extra, sizeof extra, "loss %.4f", out->loss / (double)out->steps);
        pe_progress_update(&pg, i + B, extra);
    }
    mean_terms(out);
    char extra[64];
    snprintf(extra, sizeof extra, "loss %.4f", out->loss);
    pe_progress_end(&pg, extra);
    if (!frozen_backbone) { /* the backbone moved: its cached features are stale */
        free(t->H);
        t->H = NULL;
    }
    return 0;
}

/* ---- logs and results ------------------------------------------------------------ */

static void log_epoch(trainer *t, const char *phase_name, int epoch, float lr,
                      const loss_terms *lt, const split_eval *val, double secs) {
    if (!t->metrics) return;
    fprintf(t->metrics,
            "{\"seq\":%ld,\"phase\":\"%s\",\"epoch\":%d,\"lr\":%.6g,\"train\":{\"loss\":%.6g,"
            "\"bce\":%.6g,\"clst\":%.6g,\"sep\":%.6g,\"div\":%.6g,\"cnt\":%.6g,\"l1\":%.6g,"
            "\"aux\":%.6g},"
            "\"val\":{\"loss\":%.6g,\"macro_auroc\":%.6g},\"seconds\":%.3f}\n",
            t->seq + 1, phase_name, epoch, lr, lt->loss, lt->bce, lt->clst, lt->sep, lt->div,
            lt->cnt, lt->l1, lt->aux, val->loss, isnan(val->auroc) ? -1.0 : val->auroc, secs);
    fflush(t->metrics);
}

/* Keeps the lines of metrics.jsonl with seq <= max_seq and, if drop_phase is given,
 * not of a phase for which drop_phase(name) is true: after an interrupted run, or before
 * a single stage is run again. */
static int filter_metrics(const char *path, long max_seq, int (*drop_phase)(const char *, void *),
                          void *ctx, pe_error *e) {
    if (!pe_path_exists(path)) return 0;
    size_t len;
    char *txt = pe_read_file(path, &len, e);
    if (!txt) return -1;
    char *out = malloc(len + 1);
    size_t o = 0;
    if (!out) {
        free(txt);
        return pe_fail(e, "out of memory");
    }
    for (char *line = txt; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line + 1) : strlen(line);
        const char *sq = strstr(line, "\"seq\":"), *ph = strstr(line, "\"phase\":\"");
        char name[64] = "";
        if (ph && ph < line + ll) sscanf(ph + 9, "%63[^\"]", name);
        int keep = nl && sq && sq < line + ll && atol(sq + 6) <= max_seq &&
                   !(drop_phase && drop_phase(name, ctx));
        if (keep) {
            memcpy(out + o, line, ll);
            o += ll;
        }
        line += ll;
    }
    int rc = pe_write_file_atomic(path, out, o, e);
    free(txt);
    free(out);
    return rc;
}

typedef struct {
    const phase *ph;
    int n;
    pe_stage stage;
} stage_phases;

/* 1 if `name` is one of the phases the stage runs. */
static int phase_of_stage(const char *name, void *ctx) {
    const stage_phases *sp = ctx;
    for (int i = 0; i < sp->n; i++)
        if (phase_in_stage(sp->ph[i].kind, sp->stage) && !strcmp(sp->ph[i].name, name)) return 1;
    return 0;
}

/* The highest "seq" in metrics.jsonl (0 if absent), so a single-stage run appends after
 * the lines of the stages before it. */
static long last_metrics_seq(const char *path) {
    char *txt = pe_path_exists(path) ? pe_read_file(path, NULL, NULL) : NULL;
    long best = 0;
    for (const char *p = txt; p && (p = strstr(p, "\"seq\":")); p += 6)
        if (atol(p + 6) > best) best = atol(p + 6);
    free(txt);
    return best;
}

/* results.json: { "<phase>": {"val_macro_auroc", "test_macro_auroc", "seconds", ...}, ... } */
static int record_result(const trainer *t, const char *phase_name, const split_eval *val,
                         const split_eval *test, double secs, double extra_value,
                         const char *extra_key, pe_error *e) {
    char path[4096];
    path_in(path, sizeof path, t->dir, "results", ".json");
    cJSON *root = NULL;
    if (pe_path_exists(path)) {
        char *txt = pe_read_file(path, NULL, e);
        if (txt) root = cJSON_Parse(txt);
        free(txt);
    }
    if (!root) root = cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(root, phase_name);
    cJSON *o = cJSON_AddObjectToObject(root, phase_name);
    cJSON_AddNumberToObject(o, "val_macro_auroc", val->auroc);
    cJSON_AddNumberToObject(o, "test_macro_auroc", test->auroc);
    cJSON_AddNumberToObject(o, "val_loss", val->loss);
    cJSON_AddNumberToObject(o, "seconds", secs);
    if (extra_key) cJSON_AddNumberToObject(o, extra_key, extra_value);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = s ? pe_write_file_atomic(path, s, strlen(s), e) : pe_fail(e, "out of memory");
    free(s);
    return rc;
}

/* ---- the last layer on cached similarities ------------------------------------------ */

static int compute_sims(trainer *t, pe_net *net, float *sims[3], pe_error *e) {
    for (int s = 0; s < 3; s++) {
        sims[s] = malloc((size_t)t->split[s].n * net->n_protos * sizeof(float));
        if (!sims[s]) return pe_fail(e, "out of memory");
        if (pe_predict_split(net, &t->split[s], NULL, sims[s], NULL, NULL, e)) return -1;
    }
    return 0;
}

static int eval_last(trainer *t, pe_net *net, float *const sims[3], int s, split_eval *out,
                     pe_error *e) {
    long n = t->split[s].n;
    float *logits = malloc((size_t)n * C_ * sizeof(float));
    if (!logits) return pe_fail(e, "out of memory");
    pe_linear_forward(logits, sims[s], net->params + net->last_w, NULL, (int)n, net->n_protos, C_);
    int rc = score_logits(t, s, logits, out, e);
    free(logits);
    return rc;
}

/* A pass of minibatch Adam at lr_last over the shuffled training similarities (the
 * authors' last-layer training; --last-fista-iters 0). */
static void last_epoch_adam(trainer *t, pe_net *net, const float *sims, int phase_idx,
                            int epoch, pe_adam *opt, loss_terms *out) {
    int P = net->n_protos, K = net->cfg.protos_per_class, Bs = t->cfg->batch_size;
    long n = t->split[0].n;
    const float groups[PE_NUM_GROUPS] = {0, 0, 0, 1};
    float *W = net->params + net->last_w, *dW = net->grads + net->last_w;
    float *sb = t->x; /* (B, P) batch of similarities */
    epoch_order(t, phase_idx, epoch, t->order);
    for (long i = 0; i < n; i += Bs) {
        int B = (int)(n - i < Bs ? n - i : Bs);
        for (int b = 0; b < B; b++) {
            long r = t->order[i + b];
            memcpy(sb + (size_t)b * P, sims + (size_t)r * P, (size_t)P * sizeof(float));
            memcpy(t->yb + (size_t)b * C_, t->y[0] + (size_t)r * C_, C_);
        }
        pe_linear_forward(net->logits, sb, W, NULL, B, P, C_);
        memset(dW, 0, (size_t)C_ * P * sizeof(float));
        memset(t->dlogits, 0, (size_t)B * C_ * sizeof(float));
        loss_terms lt = {0};
        lt.steps = 1;
        lt.bce = pe_loss_bce(t->dlogits, net->logits, t->yb, t->class_w, B, C_, 1.0);
        lt.l1 = pe_loss_l1(dW, W, C_, K, t->cfg->lw.l1);
        lt.loss = lt.bce + t->cfg->lw.l1 * lt.l1;
        pe_linear_backward(NULL, dW, NULL, t->dlogits, sb, W, B, P, C_);
        pe_adam_step(opt, net, groups);
        add_terms(out, &lt);
    }
    mean_terms(out);
}

/* One epoch of the last layer: last_fista_iters full-batch FISTA steps (last_layer.h),
 * or, with 0, a pass of minibatch Adam. */
static int train_epoch_last(trainer *t, pe_net *net, float *const sims[3], int phase_idx,
                            int epoch, pe_adam *opt, loss_terms *out, pe_error *e) {
    memset(out, 0, sizeof *out);
    if (t->cfg->last_fista_iters <= 0) {
        last_epoch_adam(t, net, sims[0], phase_idx, epoch, opt, out);
        return 0;
    }
    out->steps = 1;
    return pe_last_layer_fista(net->params + net->last_w, sims[0], t->y[0], t->split[0].n, C_,
                               net->cfg.protos_per_class, t->class_w, t->cfg->lw.l1, 1,
                               t->cfg->last_fista_iters, &out->loss, &out->bce, &out->l1, e);
}

/* ---- projection --------------------------------------------------------------------- */

/* The training records with latents z (n_train, D), as projection's pool. */
static pe_latent_pool train_pool(const trainer *t, const float *z, int D) {
    return (pe_latent_pool){.n = t->split[0].n, .D = D, .z = z, .y = t->y[0], .ecg_id = t->train_ids};
}

/* Projection (spec section 5.2) in eval mode over the training split. */
static int project(trainer *t, pe_model *m, double *mean_sim, pe_error *e) {
    pe_net *net = &m->net;
    long n = t->split[0].n;
    float *z = malloc((size_t)n * net->cfg.latent_dim * sizeof(float));
    int rc = z ? pe_predict_split(net, &t->split[0], NULL, NULL, z, NULL, e)
               : pe_fail(e, "out of memory");
    pe_latent_pool pool = train_pool(t, z, net->cfg.latent_dim);
    if (rc == 0)
        *mean_sim = pe_project_prototypes(net->params + net->protos, net->cfg.protos_per_class,
                                          &pool, m->sources, t->znorm, 0, 1);
    free(z);
    return rc;
}

/* Pooled backbone features h (n_train, F) of the training records, eval mode, into
 * t->H (dropped by train_epoch when the backbone learns): with the backbone frozen, the
 * latents of every training record are add-on(h), cheap to redo. */
static int train_features(trainer *t, pe_net *net, pe_error *e) {
    long n = t->split[0].n;
    int F = net->feat_dim, D = net->cfg.latent_dim;
    free(t->H), free(t->Z), free(t->Ztmp);
    t->H = malloc((size_t)n * F * sizeof(float));
    t->Z = malloc((size_t)n * D * sizeof(float));
    t->Ztmp = malloc((size_t)n * D * sizeof(float));
    if (!t->H || !t->Z || !t->Ztmp) return pe_fail(e, "out of memory");
    return pe_predict_split(net, &t->split[0], NULL, NULL, NULL, t->H, e);
}

/* The add-on started on the training features (addon_init_gain > 0; model/net.h) of
 * the backbone just loaded; they stay cached for the warm-up's projected epochs. */
static int init_addon_from_features(trainer *t, pe_model *m, pe_error *e) {
    int rc = train_features(t, &m->net, e);
    if (rc == 0)
        rc = pe_net_addon_standardize(&m->net, t->H, t->split[0].n, t->cfg->addon_init_gain, e);
    return rc;
}

/* The latents of the training records into t->Z from the cached features t->H
 * (train_features): z = sigmoid(W2 relu(W0 h + b0) + b2). */
static void cached_latents(trainer *t, const pe_net *net) {
    const float *p = net->params;
    int n = (int)t->split[0].n, F = net->feat_dim, D = net->cfg.latent_dim;
    pe_linear_forward(t->Ztmp, t->H, p + net->addon_w0, p + net->addon_b0, n, F, D);
    pe_relu_forward(t->Ztmp, t->Ztmp, (size_t)n * D);
    pe_linear_forward(t->Z, t->Ztmp, p + net->addon_w2, p + net->addon_b2, n, D, D);
    pe_sigmoid_forward(t->Z, t->Z, (size_t)n * D);
}

/* Projection from the cached features (the warm-up's projected epochs). */
static double reproject(trainer *t, pe_model *m) {
    cached_latents(t, &m->net);
    pe_latent_pool pool = train_pool(t, t->Z, m->net.cfg.latent_dim);
    return pe_project_prototypes(m->net.params + m->net.protos, m->net.cfg.protos_per_class, &pool,
                                 m->sources, t->znorm, 1, 0);
}

/* Starts the K prototypes of each class c on the latents z of its training records:
 * proto_init_latent 1: the latents of K of them drawn at random (seeded; distinct records
 * while there are enough); 2: the centres of a spherical k-means (K clusters, cosine;
 * train/kmeans.h) of those latents, so the class's prototypes start spread over them and
 * projection moves each onto the record nearest its centre. Classes without a training
 * positive keep their N(0,1) prototypes. */
static int init_protos_from_latents(trainer *t, pe_model *m, pe_error *e) {
    pe_net *net = &m->net;
    long n = t->split[0].n;
    int D = net->cfg.latent_dim, K = net->cfg.protos_per_class, kmeans = t->cfg->proto_init_latent == 2;
    int rc = t->H ? 0 : train_features(t, net, e); /* the add-on's start may have cached them */
    float *zc = kmeans ? malloc((size_t)n * D * sizeof(float)) : NULL;
    long *pos = malloc((size_t)(n + 1) * sizeof(long));
    if (rc == 0 && (!pos || (kmeans && !zc))) rc = pe_fail(e, "out of memory");
    if (rc == 0) cached_latents(t, net);
    const float *z = t->Z;
    pe_rng r;
    pe_rng_seed(&r, t->cfg->seed ^ (kmeans ? 0x6b6d65616e73ULL : 0x70726f746fULL));
    for (int c = 0; rc == 0 && c < C_; c++) {
        float *protos = net->params + net->protos + (size_t)c * K * D;
        long np = 0;
        for (long j = 0; j < n; j++)
            if (t->y[0][j * C_ + c]) pos[np++] = j;
        if (np == 0) continue;
        if (kmeans) {
            for (long i = 0; i < np; i++)
                memcpy(zc + (size_t)i * D, z + (size_t)pos[i] * D, (size_t)D * sizeof(float));
            rc = pe_kmeans_cosine(zc, np, D, K, 100, &r, protos, NULL, e);
            continue;
        }
        pe_rng_shuffle(&r, pos, np); /* then take the first K (cycling) */
        for (int k = 0; k < K; k++)
            memcpy(protos + (size_t)k * D, z + (size_t)pos[k % np] * D, (size_t)D * sizeof(float));
    }
    free(zc), free(pos);
    return rc;
}

/* ---- phases -------------------------------------------------------------------------- */

/* Loads an earlier phase's model file into m (same network shape). */
static int load_phase_output(const trainer *t, pe_model *m, const char *stem, pe_error *e) {
    char path[4096];
    path_in(path, sizeof path, t->dir, stem, ".safetensors");
    pe_model tmp;
    if (pe_model_load(&tmp, path, 1, 0, e)) return -1;
    int rc = 0;
    if (tmp.net.n_params != m->net.n_params || tmp.net.cfg.head != m->net.cfg.head)
        rc = pe_fail(e, "%s: network shape differs from this run's configuration", path);
    if (rc == 0) {
        pe_net_copy_weights(&m->net, &tmp.net);
        if (m->sources && tmp.sources)
            memcpy(m->sources, tmp.sources, (size_t)m->net.n_protos * sizeof *m->sources);
    }
    pe_model_free(&tmp);
    return rc;
}

/* Copies the backbone of a pretrained plain ResNet-18 file into m. */
static int load_pretrained_backbone(const trainer *t, pe_model *m, const char *stem, pe_error *e) {
    char path[4096];
    path_in(path, sizeof path, t->dir, stem, ".safetensors");
    pe_model tmp;
    if (pe_model_load(&tmp, path, 1, 0, e)) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < m->net.n_tensors; i++) {
        const pe_tensor_info *ti = &m->net.tensors[i];
        if (ti->group != PE_GROUP_BACKBONE) continue;
        const pe_tensor_info *src = pe_net_find(&tmp.net, ti->name);
        if (!src || src->numel != ti->numel)
            rc = pe_fail(e, "%s: pretrained backbone lacks %s", path, ti->name);
        else
            memcpy(pe_net_data(&m->net, ti), pe_net_data(&tmp.net, src), ti->numel * sizeof(float));
    }
    if (rc == 0) m->net.num_batches_tracked = tmp.net.num_batches_tracked;
    pe_model_free(&tmp);
    return rc;
}

/* Writes a phase's model, calibrated for int8 inference on training records (so
 * every model file of a run, model.safetensors included, runs --precision int8). */
static int save_phase_output(const trainer *t, pe_model *m, const char *stem, pe_error *e) {
    char path[4096];
    path_in(path, sizeof path, t->dir, stem, ".safetensors");
    if (pe_calibrate_int8_split(&m->net, &t->split[0], PE_INT8_CALIB_RECORDS,
                                PE_INT8_PERCENTILE, e))
        return -1;
    return pe_model_save(m, path, 0, e);
}

/* The buffers of a phase (best epoch, weight average, optimizer) and its schedule state:
 * fresh at the phase's start, or from the checkpoint when resumed inside it
 * (s->epoch > 0). */
static int phase_begin(trainer *t, pe_net *net, const phase *ph, int ema, pe_phase_bufs *pb,
                       pe_run_state *s, pe_error *e) {
    const pe_train_config *cfg = t->cfg;
    int last = ph->kind == PH_LAST;
    size_t np = net->n_params * sizeof(float), nb = (net->n_buffers + 1) * sizeof(float);
    pb->best_p = malloc(np), pb->best_b = malloc(nb);
    if (ema) pb->ema_p = malloc(np), pb->ema_b = malloc(nb);
    if (!pb->best_p || !pb->best_b || (ema && (!pb->ema_p || !pb->ema_b)))
        return pe_fail(e, "out of memory");
    pe_adam *opt = &pb->opt;
    /* the full-batch last layer keeps no optimizer state: only the rate is tracked (and
     * logged), and the checkpoint holds no Adam moments (train/checkpoint.h) */
    int rc = 0;
    if (last && cfg->last_fista_iters > 0) opt->lr = cfg->lr_last;
    else rc = pe_adam_init(opt, net->n_params, last ? cfg->lr_last : cfg->lr,
                           last ? 0.0f : cfg->weight_decay, e);
    if (rc) return rc;
    weights_to(pb->best_p, pb->best_b, net);
    if (ema) weights_to(pb->ema_p, pb->ema_b, net);
    if (s->epoch > 0) {
        rc = pe_checkpoint_load_tensors(t->ckpt, net, pb, e);
        opt->step = s->adam_step;
        net->num_batches_tracked = s->nbt;
        /* the checkpoint's state holds the counters only: settings come from cfg */
        s->plateau.factor = cfg->plateau_factor;
        s->plateau.patience = cfg->plateau_patience;
        s->stop.patience = cfg->early_stop_patience;
    } else {
        s->lr = opt->lr;
        s->plateau = (pe_plateau){cfg->plateau_factor, cfg->plateau_patience, INFINITY, 0};
        s->stop = (pe_early_stop){cfg->early_stop_patience, -INFINITY, -1, 0};
        s->best_nbt = net->num_batches_tracked;
    }
    opt->lr = s->lr;
    return rc;
}

/* One epoch of a phase trained by minibatches (all but the last layer), then its
 * validation score (of the weight average, which stays swapped in, when ema). */
static int minibatch_epoch(trainer *t, pe_model *m, const phase *ph, int pi, int ep, int ema,
                           pe_phase_bufs *pb, int *projected, loss_terms *lt, split_eval *val,
                           pe_error *e) {
    const pe_train_config *cfg = t->cfg;
    char label[48];
    snprintf(label, sizeof label, "%s %d/%d", ph->name, ep + 1, ph->epochs);
    /* in the last warm-up epochs the prototypes are projected onto the training latents
     * after every step: the add-on learns to work with real latents */
    *projected = ph->kind == PH_WARMUP && ep >= ph->epochs - cfg->warmup_projected;
    int rc = 0;
    if (*projected) {
        if (!t->H) rc = train_features(t, &m->net, e);
        if (rc) return rc;
        double proj_cos = reproject(t, m);
        if (!cfg->quiet)
            fprintf(stderr, "%s: prototypes kept on training latents this epoch (mean cosine "
                            "at its start %.4f)\n", ph->name, proj_cos);
    }
    rc = train_epoch(t, m, ph->kind, pi, ep, *projected, pb, label, lt, e);
    if (rc == 0 && ema) ema_swap(pb, &m->net); /* evaluate (and keep) the average */
    return rc ? rc : eval_split(t, &m->net, 1, val, e);
}

/* Epoch loop of a training phase with a cosine or plateau schedule, early stopping and
 * best keeping; resumes inside the phase when s->epoch > 0. */
static int run_epochs(trainer *t, pe_model *m, const phase *ph, int pi, pe_run_state *s,
                      pe_error *e) {
    const pe_train_config *cfg = t->cfg;
    pe_net *net = &m->net;
    int last = ph->kind == PH_LAST;
    int plain = ph->kind == PH_PRETRAIN || ph->kind == PH_BASELINE;
    int ema = cfg->ema > 0 && plain; /* the weight average (--ema): plain-network phases */
    int cosine = cfg->lr_cosine && (plain || ph->kind == PH_JOINT);
    float *sims[3] = {NULL, NULL, NULL};
    pe_phase_bufs pb = {0};
    pe_adam *opt = &pb.opt;
    int rc = phase_begin(t, net, ph, ema, &pb, s, e);
    if (rc == 0 && last) rc = compute_sims(t, net, sims, e);
    if (rc == 0 && last && s->epoch == 0 && cfg->last_keep_start) {
        /* the incoming last layer (trained in the warm-up) is the one to beat: the
         * stage keeps it unless an epoch scores higher on validation */
        split_eval v0;
        rc = eval_last(t, net, sims, 1, &v0, e);
        if (rc == 0) pe_early_stop_step(&s->stop, isnan(v0.auroc) ? -1.0 : v0.auroc, -1);
    }
    for (int ep = s->epoch; rc == 0 && ep < ph->epochs; ep++) {
        double t0 = pe_now();
        if (cosine) s->lr = opt->lr = pe_cosine_lr(cfg->lr, ep, ph->epochs);
        loss_terms lt;
        split_eval val;
        int projected = 0;
        if (last) {
            rc = train_epoch_last(t, net, sims, pi, ep, opt, &lt, e);
            if (rc == 0) rc = eval_last(t, net, sims, 1, &val, e);
        } else {
            rc = minibatch_epoch(t, m, ph, pi, ep, ema, &pb, &projected, &lt, &val, e);
        }
        if (rc) break;
        float lr_used = s->lr;
        if (!cosine) s->lr = opt->lr = pe_plateau_step(&s->plateau, val.loss, s->lr);
        double metric = isnan(val.auroc) ? -1.0 : val.auroc;
        /* with projected warm-up epochs, only those may become the kept (best) epoch */
        int eligible = !(ph->kind == PH_WARMUP && cfg->warmup_projected > 0 && !projected);
        if (eligible && pe_early_stop_step(&s->stop, metric, ep)) {
            weights_to(pb.best_p, pb.best_b, net);
            s->best_nbt = net->num_batches_tracked;
        }
        if (ema) ema_swap(&pb, net); /* training goes on from the raw weights */
        double secs = pe_now() - t0;
        log_epoch(t, ph->name, ep + 1, lr_used, &lt, &val, secs);
        if (!cfg->quiet)
            fprintf(stderr, "%-12s epoch %3d  loss %.4f  val loss %.4f  val macro-AUROC %.4f%s  (%.1f s)\n",
                    ph->name, ep + 1, lt.loss, val.loss, val.auroc,
                    s->stop.best_epoch == ep ? " *" : "", secs);
        s->epoch = ep + 1;
        s->seq = ++t->seq;
        s->adam_step = opt->step;
        s->nbt = net->num_batches_tracked;
        rc = pe_checkpoint_save(t->ckpt, net, &pb, s, e);
        if (rc == 0 && !cosine && pe_early_stop_done(&s->stop)) {
            if (!cfg->quiet)
                fprintf(stderr, "%s: early stop (no val improvement for %d epochs)\n", ph->name,
                        s->stop.patience);
            break;
        }
    }
    if (rc == 0 && last && ph->epochs > 0 && s->stop.best_epoch < 0 && !cfg->quiet)
        fprintf(stderr, "%s: no epoch beat the incoming last layer on validation (%.4f); "
                        "kept it\n", ph->name, s->stop.best);
    if (rc == 0) { /* keep the best epoch */
        weights_from(net, pb.best_p, pb.best_b);
        net->num_batches_tracked = s->best_nbt;
    }
    for (int k = 0; k < 3; k++) free(sims[k]);
    pe_adam_free(opt);
    free(pb.best_p), free(pb.best_b), free(pb.ema_p), free(pb.ema_b);
    return rc;
}

static int write_config(const trainer *t, pe_error *e) {
    char path[4096];
    path_in(path, sizeof path, t->dir, "config", ".json");
    char *s = pe_train_config_json(t->cfg);
    int rc = s ? pe_write_file_atomic(path, s, strlen(s), e) : pe_fail(e, "out of memory");
    free(s);
    return rc;
}

static void set_preproc(pe_model *m, const pe_cache *c, const pe_train_config *cfg) {
    m->pre.filter_order = (int)c->h.filter_order;
    m->pre.cutoff_hz = c->h.cutoff_hz;
    m->pre.fs = c->h.fs;
    m->pre.standardized = (int)c->h.standardized;
    memcpy(m->pre.mean, c->h.mean, sizeof m->pre.mean);
    memcpy(m->pre.std, c->h.std, sizeof m->pre.std);
    free(m->config_json);
    m->config_json = pe_train_config_json(cfg);
}

/* The plain network of the 16 classes from the pretraining's wide one: every tensor
 * (the linear head's rows 0-15, the classes, come first in fc.weight and fc.bias). */
static void keep_rhythm_outputs(pe_net *net, const pe_net *wide) {
    for (int i = 0; i < net->n_tensors; i++) {
        const pe_tensor_info *ti = &net->tensors[i];
        memcpy(pe_net_data(net, ti), pe_net_data(wide, pe_net_find(wide, ti->name)),
               ti->numel * sizeof(float));
    }
    net->num_batches_tracked = wide->num_batches_tracked;
    pe_net_weights_changed(net);
}

static int run_phase(trainer *t, pe_model *pm, pe_model *bm, const phase *ph, const phase *prev,
                     int pi, pe_run_state *s, pe_error *e) {
    double t0 = pe_now();
    int plain = ph->kind == PH_PRETRAIN || ph->kind == PH_BASELINE;
    pe_model *m = plain ? bm : pm;
    int rc = 0;
    int after_pretrain = prev && prev->kind == PH_PRETRAIN && !plain;
    if (s->epoch == 0 && prev) {
        if (after_pretrain)
            rc = load_pretrained_backbone(t, m, prev->name, e);
        else if (!plain)
            rc = load_phase_output(t, m, prev->name, e);
    }
    int fresh_head = s->epoch == 0 && !plain && (!prev || after_pretrain);
    if (rc == 0 && fresh_head && t->cfg->addon_init_gain > 0)
        rc = init_addon_from_features(t, m, e);
    if (rc == 0 && fresh_head && t->cfg->proto_init_latent) {
        rc = init_protos_from_latents(t, m, e);
    } else if (rc == 0 && s->epoch > 0 && prev && !plain && !after_pretrain) {
        /* resumed inside the phase: run_epochs takes the weights from the checkpoint, but
         * the prototypes' sources (not in the checkpoint) come from the previous phase */
        rc = load_phase_output(t, m, prev->name, e);
    }
    double proj_sim = NAN;
    if (rc == 0) {
        if (ph->kind == PH_PROJECT) {
            rc = project(t, m, &proj_sim, e);
            if (rc == 0 && !t->cfg->quiet)
                fprintf(stderr, "%s: prototypes projected; mean cosine to their new latent "
                                "before the move %.4f\n", ph->name, proj_sim);
        } else if (ph->kind == PH_PRETRAIN && t->A > 0) {
            rc = run_epochs(t, &t->wide, ph, pi, s, e);
            if (rc == 0) keep_rhythm_outputs(&m->net, &t->wide.net);
            pe_net_release_work(&t->wide.net);
        } else {
            rc = run_epochs(t, m, ph, pi, s, e);
        }
    }
    if (rc == 0) rc = save_phase_output(t, m, ph->name, e);
    split_eval val, test;
    if (rc == 0) rc = eval_split(t, &m->net, 1, &val, e);
    if (rc == 0) rc = eval_split(t, &m->net, 2, &test, e);
    double secs = pe_now() - t0;
    if (rc == 0)
        rc = record_result(t, ph->name, &val, &test, secs, proj_sim,
                           ph->kind == PH_PROJECT ? "mean_projection_cosine" : NULL, e);
    if (rc == 0)
        printf("%-12s val macro-AUROC %.4f  test macro-AUROC %.4f  (%.1f s)\n", ph->name,
               val.auroc, test.auroc, secs);
    fflush(stdout);
    /* the plain network is done: its activations, inference engine and crop-length view
     * are not kept through the prototype network's phases (built again should it run
     * once more) */
    if (plain) {
        pe_net_release_work(&bm->net);
        release_crop_net(t);
    }
    return rc;
}

int pe_train_run(const pe_train_config *cfg, const pe_cache *cache, const pe_aux_labels *aux,
                 const char *run_dir, pe_stage stage, int resume, pe_error *e) {
    if (mkdir(run_dir, 0755) != 0 && errno != EEXIST)
        return pe_fail(e, "%s: cannot create run directory: %s", run_dir, strerror(errno));
    if (cfg->batch_size < 2) return pe_fail(e, "batch size must be at least 2 (batch norm)");
    trainer t;
    pe_model pm, bm;
    memset(&pm, 0, sizeof pm);
    memset(&bm, 0, sizeof bm);
    int rc = trainer_init(&t, cfg, cache, aux, run_dir, e);
    phase ph[MAX_PHASES];
    int n_ph = build_phases(cfg, stage, ph);
    pe_run_state s;
    memset(&s, 0, sizeof s);
    char mpath[4096];
    path_in(mpath, sizeof mpath, run_dir, "metrics", ".jsonl");
    if (rc == 0 && resume) {
        rc = pe_checkpoint_read_state(t.ckpt, &s, e);
        if (rc == 0) rc = filter_metrics(mpath, s.seq, NULL, NULL, e);
        if (rc == 0 && s.phase >= n_ph && !cfg->quiet)
            fprintf(stderr, "%s: the run is already complete\n", run_dir);
    } else if (rc == 0 && pe_path_exists(t.ckpt) && stage == PE_STAGE_ALL) {
        rc = pe_fail(e, "%s already holds a training run: continue it with --resume, or choose "
                        "another --out", run_dir);
    }
    if (rc == 0 && !resume && stage != PE_STAGE_ALL) {
        /* a single stage starts at its first phase; earlier phases' files must exist */
        while (s.phase < n_ph && !phase_in_stage(ph[s.phase].kind, stage)) s.phase++;
    }
    if (rc == 0 && !resume && stage != PE_STAGE_ALL) {
        /* a single stage run again replaces its earlier lines and appends after the rest */
        stage_phases sp = {ph, n_ph, stage};
        rc = filter_metrics(mpath, LONG_MAX, phase_of_stage, &sp, e);
        t.seq = last_metrics_seq(mpath);
    } else {
        t.seq = s.seq;
    }
    if (rc == 0) rc = write_config(&t, e);
    if (rc == 0) {
        t.metrics = fopen(mpath, "a");
        if (!t.metrics) rc = pe_fail(e, "%s: cannot open: %s", mpath, strerror(errno));
    }
    pe_net_config pc = pe_net_config_default(PE_HEAD_PROTO);
    pc.base_width = cfg->base_width;
    pc.latent_dim = cfg->latent_dim;
    pc.protos_per_class = cfg->protos_per_class;
    pe_net_config bc = pc;
    bc.head = PE_HEAD_LINEAR;
    if (rc == 0) rc = pe_model_init(&pm, &pc, cfg->batch_size, cfg->seed, cfg->use_dnnl, e);
    if (rc == 0) rc = pe_model_init(&bm, &bc, cfg->batch_size, cfg->seed, cfg->use_dnnl, e);
    if (rc == 0 && t.A > 0) {
        pe_net_config wc = bc;
        wc.n_classes = C_ + t.A;
        rc = pe_model_init(&t.wide, &wc, cfg->batch_size, cfg->seed, cfg->use_dnnl, e);
    }
    if (rc == 0) set_preproc(&pm, cache, cfg), set_preproc(&bm, cache, cfg);
    if (rc == 0 && cfg->precision != PE_PREC_FP32) {
        const char *note = NULL;
        pe_net_set_precision(&pm.net, cfg->precision, &note);
        pe_net_set_precision(&bm.net, cfg->precision, NULL);
        if (t.A > 0) pe_net_set_precision(&t.wide.net, cfg->precision, NULL);
        if (note) fprintf(stderr, "train: %s\n", note);
    }
    for (int i = s.phase; rc == 0 && i < n_ph; i++) {
        if (!phase_in_stage(ph[i].kind, stage)) break;
        rc = run_phase(&t, &pm, &bm, &ph[i], i > 0 ? &ph[i - 1] : NULL, i, &s, e);
        if (rc) break;
        s.phase = i + 1;
        s.epoch = 0;
        rc = pe_checkpoint_save(t.ckpt, NULL, NULL, &s, e);
    }
    pe_model_free(&pm);
    pe_model_free(&bm);
    trainer_free(&t);
    return rc;
}
