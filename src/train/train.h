/* The ProtoECGNet training procedure (spec section 5): backbone pretraining
 * (optional), joint training, prototype projection, last-layer training, and the
 * plain ResNet-18 baseline. Writes RUNDIR/metrics.jsonl, checkpoints and models;
 * an interrupted run resumes from its last complete epoch. */
#ifndef PE_TRAIN_TRAIN_H
#define PE_TRAIN_TRAIN_H

#include <stdint.h>

#include "data/dataset.h"
#include "data/statements.h"
#include "model/losses.h"
#include "model/modelfile.h"

typedef struct {
    /* network */
    int base_width, latent_dim, protos_per_class;
    /* optimization */
    int batch_size;
    float lr, lr_last, weight_decay;
    int epochs_pretrain;  /* plain backbone pretraining loaded into joint (0 = off) */
    int epochs_joint;
    int epochs_warmup;    /* prototype warm-up before projection: add-on + prototypes only */
    int epochs_last;
    int last_fista_iters; /* last-layer stage: full-batch FISTA steps per epoch
                             (train/last_layer.h); 0 = minibatch Adam at lr_last */
    int last_keep_start;  /* the last-layer stage keeps its incoming layer (the warm-up's)
                             unless one of its epochs scores higher on validation */
    int lr_cosine;        /* backbone phases (pretrain, joint, baseline): cosine decay of the
                             lr over the phase's epochs, no early stop (else plateau) */
    int plateau_patience; /* ReduceLROnPlateau on validation loss */
    float plateau_factor;
    int early_stop_patience; /* on validation macro-AUROC */
    int rounds;           /* joint + projection rounds */
    pe_loss_weights lw;
    float warmup_clst;    /* clustering weight during the warm-up */
    int warmup_last;      /* the last layer also trains (at lr_last, with L1) in the warm-up */
    float warmup_proto_lr; /* prototype learning rate in the warm-up, as a multiple of lr */
    float warmup_addon_lr; /* add-on learning rate in the warm-up, as a multiple of lr */
    float warmup_backbone_lr; /* backbone learning rate in the warm-up, as a multiple of lr
                                 (0: the backbone stays frozen) */
    int warmup_projected;  /* the last N warm-up epochs start with a projection and keep the
                              prototypes fixed on those training latents */
    int proto_init_latent; /* 1: prototypes start as latents of random training records
                              of their class; 2: at the k-means centres (cosine) of the
                              class's training latents; 0: N(0,1), the authors' init */
    float addon_init_gain; /* > 0: the add-on starts as z_d = sigmoid(gain (h_d - mean_d) /
                              std_d) over the training features (W0 = I, W2 diagonal);
                              0: PyTorch's init, as the authors */
    float pos_weight_power; /* BCE pos_weight = w_c^power (1 = the spec's (T - n_c) / n_c) */
    int weighted_sampler;
    int augment;          /* random gain and noise (and circular shift) on training batches */
    int aug_shift;        /* the circular time shift */
    float aug_scale, aug_noise;
    float mixup;          /* mixup alpha in the plain-network phases (0: off) */
    int crop;             /* the plain-network phases train on random windows of this many
                             samples of each record (0: the whole record); evaluation and
                             the head stages always read whole records */
    float ema;            /* decay of a weight average evaluated and kept in the
                             plain-network phases (0: off) */
    int aux_statements;   /* the pretraining also learns PTB-XL's other SCP statements
                             with at least this many training positives and the
                             diagnostic superclasses (data/statements.h; 0: off) */
    float aux_weight;     /* weight of their BCE (mean over their outputs) */
    uint64_t seed;
    int threads;
    int use_dnnl;
    pe_precision precision; /* conv arithmetic (model/net.h); bf16 only where native */
    int quiet;
} pe_train_config;

/* protoecg's defaults, chosen on the validation fold. */
pe_train_config pe_train_config_default(void);
/* The authors' settings (spec section 5). */
pe_train_config pe_train_config_authors(void);

/* Serializes the config (JSON text, malloc'd). */
char *pe_train_config_json(const pe_train_config *c);

typedef enum {
    PE_STAGE_ALL = 0,
    PE_STAGE_PRETRAIN,
    PE_STAGE_JOINT,
    PE_STAGE_PROJECT,
    PE_STAGE_LAST,
    PE_STAGE_BASELINE
} pe_stage;

/* Runs the prototype model's stages (or the baseline) on a prepared cache,
 * writing into run_dir. resume = 1 continues from run_dir/checkpoint.safetensors.
 * aux: the auxiliary statements of the cache's records (cfg->aux_statements > 0; the
 * pretraining's linear head then has 16 + aux->n outputs, and pretrain.safetensors keeps
 * the 16 rhythm outputs), else NULL. */
int pe_train_run(const pe_train_config *cfg, const pe_cache *cache, const pe_aux_labels *aux,
                 const char *run_dir, pe_stage stage, int resume, pe_error *e);

/* Eval-mode pass over a split; each output is optional (NULL): logits (n, C), sims (n, P),
 * z (n, D) and the pooled backbone features h (n, F). */
int pe_predict_split(pe_net *net, const pe_split_view *v, float *logits, float *sims, float *z,
                     float *h, pe_error *e);

/* Records of a split used to calibrate int8 inference (pe_calibrate_int8_split). */
#define PE_INT8_CALIB_RECORDS 256

/* Calibrates net's int8 inference (pe_net_calibrate_int8 at the given percentile) on n
 * records of the split (standardized as the net expects), evenly spaced over it
 * (deterministic; all of them when the split has n or fewer). */
int pe_calibrate_int8_split(pe_net *net, const pe_split_view *v, int n, double percentile,
                            pe_error *e);

#endif
