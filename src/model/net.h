/* The network of spec section 3: a 1D ResNet-18 backbone, then either the
 * prototype head (add-on -> cosine similarity to prototypes -> last layer) or,
 * for the plain baseline, a Linear head.
 *
 * The net owns three flat buffers: parameters (trainable), their gradients, and
 * "buffers" (BN running statistics, the class identity), plus the activations
 * of one batch of up to max_batch records. Every tensor is listed in a table with
 * its PyTorch state_dict name, so model files use the authors' names. */
#ifndef PE_MODEL_NET_H
#define PE_MODEL_NET_H

#include <stddef.h>
#include <stdint.h>

#include "nn/dnnl_backend.h"
#include "nn/nn.h"
#include "protoecg.h"

typedef enum { PE_HEAD_PROTO = 0, PE_HEAD_LINEAR = 1 } pe_head_kind;

/* Arithmetic of the oneDNN convolutions. bf16: inputs and weights of every conv
 * rounded to bfloat16, accumulation and everything else (master weights, BN,
 * losses, optimizer) in float32. int8: inference only (pe_net_infer), post-training
 * quantized with the net's calibration (pe_int8_calib; training stays float32).
 * The plain-C reference path is always float32. */
typedef enum {
    PE_PREC_FP32 = PE_PRECISION_FP32,
    PE_PREC_BF16 = PE_PRECISION_BF16,
    PE_PREC_INT8 = PE_PRECISION_INT8
} pe_precision;

/* Version of the int8 calibration (metadata "int8_calibration" of model files). */
#define PE_INT8_CALIB_VERSION 1

/* Calibration of the int8 inference path: the range r of each activation tensor of
 * the fused plan (model/infer.h), measured on the fp32 eval-mode backbone. A tensor
 * after a ReLU is stored as u8 q = round(x * 255 / r) (clamped to 0..255), the
 * downsample output (signed, no ReLU) as s8 q = round(x * 127 / r) (-128..127).
 * Weights are quantized per output channel from the folded weights at plan build. */
typedef struct {
    int valid;            /* 0: not calibrated (int8 is then unavailable) */
    int n_records;        /* calibration set size (informational) */
    double percentile;    /* of |x| per tensor; 100 = max abs */
    float stem;           /* stem conv + BN + ReLU (and max pool) output */
    float c1[8];          /* each block's conv1 + BN + ReLU output */
    float down[8];        /* downsample conv + BN output (blocks with one; else 0) */
    float out[8];         /* block output (after the residual ReLU) */
} pe_int8_calib;

typedef struct pe_infer pe_infer; /* model/infer.h */

typedef struct {
    pe_head_kind head;
    int n_classes;        /* C = 16 */
    int protos_per_class; /* K = 5 (P = K*C) */
    int base_width;       /* 64: stage widths 64/128/256/512 */
    int latent_dim;       /* D = 512, the add-on width */
    int in_leads;         /* 12 */
    int in_len;           /* 1000 */
} pe_net_config;

pe_net_config pe_net_config_default(pe_head_kind head);

/* The shortest input (in_len) the network takes: its stem, max pool and three strided
 * stages leave at least one sample for the global average pooling. */
#define PE_NET_MIN_LEN 16

/* Parameter groups, for freezing by stage. */
typedef enum {
    PE_GROUP_BACKBONE = 0,
    PE_GROUP_ADDON = 1,
    PE_GROUP_PROTOS = 2,
    PE_GROUP_LAST = 3, /* classifier.weight, or fc.* for the baseline */
    PE_NUM_GROUPS = 4
} pe_param_group;

typedef enum { PE_T_PARAM = 0, PE_T_BUFFER = 1 } pe_tensor_kind;

typedef struct {
    char name[96];
    pe_tensor_kind kind;
    pe_param_group group;  /* for parameters */
    int ndim;
    int64_t shape[3];
    size_t offset;         /* into params (and grads) or buffers */
    size_t numel;
    int decay;             /* 1 if weight decay applies */
} pe_tensor_info;

/* One convolution followed by batch norm. */
typedef struct {
    pe_conv1d_shape shape;       /* B is set per call */
    size_t w, gamma, beta;       /* offsets into params */
    size_t rmean, rvar;          /* offsets into buffers */
    float *conv_out, *bn_out;    /* (B, Cout, Lout); bn_out NULL on the oneDNN path */
    float *mean, *rstd;          /* (Cout) saved by training-mode BN */
    const float *in;             /* (B, Cin, Lin), set by forward */
} pe_convbn;

/* A BasicBlock: c1 -> ReLU -> c2 (+ shortcut: down or identity) -> ReLU. */
typedef struct {
    pe_convbn c1, c2, down;
    int has_down;
    float *relu1; /* (B, Cout, Lout) */
    float *out;   /* (B, Cout, Lout) */
} pe_block;

typedef struct {
    pe_net_config cfg;
    int max_batch;
    int B;        /* batch of the last forward */
    int training; /* mode of the last forward */

    pe_tensor_info *tensors;
    int n_tensors;
    float *params, *grads; /* n_params each */
    size_t n_params;
    float *buffers;
    size_t n_buffers;
    int64_t num_batches_tracked; /* shared by every BN layer */

    /* backbone (activations (B, C, L); (B, L, C) on the oneDNN path, see backbone.h) */
    float *x_nwc;       /* (B, len, leads): the input, channels-last (oneDNN path) */
    double *nwc_work;   /* reduction workspace of the oneDNN path (nn/nwc.h) */
    pe_convbn stem;
    float *stem_relu;   /* (B, w, 500) */
    float *pool_out;    /* (B, w, 250) */
    int32_t *pool_arg;  /* (B, w, 250) */
    pe_block blocks[8];
    int feat_dim;       /* 8w */
    float *h;           /* (B, F) pooled features */

    /* prototype head */
    size_t addon_w0, addon_b0, addon_w2, addon_b2, protos, last_w; /* param offsets */
    size_t class_identity;                                          /* buffer offset (P, C) */
    int n_protos;                                                   /* P */
    float *a1, *a1r, *a2, *z; /* (B, D) */
    float *znorm, *pnorm;     /* (B), (P) */
    float *sim;               /* (B, P) */
    /* linear head */
    size_t fc_w, fc_b;
    float *logits;            /* (B, C) */

    /* backward scratch: 5 buffers of the largest activation size */
    float *scratch[5];
    size_t scratch_len;
    float *dh, *dz, *da, *dsim_buf; /* (B,F), (B,D), (B,D), (B,P) */

    pe_dnnl *dnnl;          /* NULL: plain-C reference convolution */
    pe_precision precision; /* conv arithmetic of the oneDNN paths (see pe_net_set_precision) */
    pe_int8_calib int8;     /* activation ranges of the int8 inference path (model file) */
    pe_infer *infer;        /* fused eval-mode engine of pe_net_infer, created on first use */
    int last_infer;         /* the last forward was pe_net_infer (no saved activations) */
    int acts_ready;         /* training activations allocated (on the first pe_net_forward) */
    void *owned;            /* list of activation allocations, released by pe_net_free */
    int shares_weights;     /* params, grads and buffers are another net's (pe_net_init_view) */
} pe_net;

/* Allocates a net for batches of up to max_batch records and initializes the
 * parameters as PyTorch's defaults do (seeded). use_dnnl selects the oneDNN conv.
 * The activations saved for backward are allocated by the first pe_net_forward, so a
 * net used only through pe_net_infer never holds them. Precision starts as fp32.
 * Sets OpenBLAS (process-wide) to one thread: the library's parallelism is OpenMP. */
int pe_net_init(pe_net *net, const pe_net_config *cfg, int max_batch, uint64_t seed, int use_dnnl,
                pe_error *e);
void pe_net_free(pe_net *net);
/* A net for inputs of in_len samples that uses base's parameters, gradients and BN
 * buffers (the same tensors: the backbone does not depend on the input length, and its
 * global average pooling makes the features comparable): its forward and backward train
 * base, which keeps owning the weights (free the view first). For training on crops. */
int pe_net_init_view(pe_net *view, const pe_net *base, int in_len, int max_batch, pe_error *e);
/* Releases what the net allocated on first use, the training activations with the
 * backward scratch (pe_net_forward) and the fused inference engine (pe_net_infer),
 * keeping parameters, buffers and outputs; a later forward builds them again. For a net
 * that is done training (the plain network after the pretraining). */
void pe_net_release_work(pe_net *net);

/* x (B, leads, len) -> net->logits (B, C); also net->sim (B, P), net->z (B, D), net->h.
 * Keeps every activation for pe_net_backward (training or eval-mode batch norm). */
int pe_net_forward(pe_net *net, const float *x, int B, int training, pe_error *e);

/* Eval-mode forward for inference: the same outputs as pe_net_forward(net, x, B, 0, e)
 * (logits, sim, z, h) through the fused oneDNN engine of model/infer.h (BN folded
 * into the convolutions, blocked layouts, no saved activations; net->precision).
 * Without oneDNN (use_dnnl = 0) it is pe_net_forward in eval mode. The folded
 * weights are cached: after changing params or buffers other than through
 * pe_net_forward(training = 1), pe_net_copy_weights or pe_model_load, call
 * pe_net_weights_changed. pe_net_backward cannot follow pe_net_infer. */
int pe_net_infer(pe_net *net, const float *x, int B, pe_error *e);
/* Tells pe_net_infer that params or buffers were modified (refold before the next run). */
void pe_net_weights_changed(pe_net *net);

/* Sets the add-on (prototype head) to a per-feature standardization of the backbone
 * features h (n, feat_dim) squashed by its sigmoid: W0 = I, b0 = 0 (h >= 0 after the
 * last ReLU and the pooling, so the ReLU passes it), W2 = diag(gain / std_d), b2 =
 * -gain mean_d / std_d (population statistics over the n records; a feature with std
 * <= 1e-6 gets W2 = b2 = 0, z_d = 1/2): z_d = sigmoid(gain (h_d - mean_d) / std_d). z then holds all of h's information,
 * unsaturated, where PyTorch's random init starts by mixing it. Needs latent_dim =
 * feat_dim (else an error naming both). */
int pe_net_addon_standardize(pe_net *net, const float *h, long n, float gain, pe_error *e);

/* Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX, per oneDNN's ISA
 * detection); elsewhere oneDNN emulates bf16 with float32 instructions, slower than fp32. */
int pe_bf16_native(void);
/* Sets the conv arithmetic: fp32, bf16 when the CPU has native bf16, or int8 (inference
 * only) when the net has an int8 calibration; otherwise fp32, and *note, if not NULL,
 * gets a one-line explanation. Needs the oneDNN path for bf16 and int8. Returns the
 * precision in effect. */
pe_precision pe_net_set_precision(pe_net *net, pe_precision want, const char **note);

/* Calibrates the int8 inference path on n records x (n, leads, len) (standardized as
 * the model expects): runs the fp32 eval-mode backbone (pe_net_forward, batches of up
 * to max_batch) and sets net->int8 to the given percentile (0 < p <= 100; 100 = max)
 * of |x| per activation tensor. Refolds the int8 plans on the next pe_net_infer. */
int pe_net_calibrate_int8(pe_net *net, const float *x, int n, double percentile, pe_error *e);
/* The default percentile of pe_net_calibrate_int8, chosen by agreement with fp32 on the
 * validation split (bench/README.md): max abs ranges are set by rare outliers (stem
 * output max 180 vs 15 at 99.99 %) and waste most of the 8 bits. */
#define PE_INT8_PERCENTILE 99.99

/* "fp32" / "bf16" / "int8"; parse returns -1 for anything else. */
const char *pe_precision_name(pe_precision p);
int pe_precision_parse(const char *s, pe_precision *p);

/* Accumulates parameter gradients from dlogits (B, C) and, for the prototype
 * head, an extra dsim (B, P) (may be NULL). backbone_too = 0 stops at the head
 * (frozen backbone). Uses the activations of the last forward. */
int pe_net_backward(pe_net *net, const float *dlogits, const float *dsim, int backbone_too,
                    pe_error *e);

void pe_net_zero_grad(pe_net *net);

/* Finds a tensor by its state_dict name; NULL if absent. */
const pe_tensor_info *pe_net_find(const pe_net *net, const char *name);
/* Pointer to a tensor's data (params or buffers). */
float *pe_net_data(const pe_net *net, const pe_tensor_info *t);

/* Resets the last layer to its init: 1 on own class, -0.5 elsewhere. */
void pe_net_reset_last_layer(pe_net *net);

#endif
