/* protoecg: an interpretable ECG rhythm classifier (the rhythm branch of
 * ProtoECGNet) as a C library. See docs/ and README.md.
 *
 * Every fallible call takes a pe_error* and returns non-zero (or NULL) on
 * failure, with a message naming the file and what is wrong. */
#ifndef PROTOECG_H
#define PROTOECG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PE_VERSION_STRING "0.1.0"

typedef struct {
    char msg[1024];
} pe_error;

/* The 16 rhythm labels in model order (spec section 1). */
#define PE_NUM_CLASSES 16
#define PE_NUM_LEADS 12
#define PE_NUM_SAMPLES 1000
#define PE_SAMPLING_HZ 100
extern const char *const pe_class_names[PE_NUM_CLASSES];


/* ---- explanations --------------------------------------------------------- */

#define PE_MAX_TOP 16

/* One prototype's part in a class's logit: logit_c = sum_p W[c][p] * s_p. */
typedef struct {
    int prototype;          /* index p (class p / K) */
    int proto_class;        /* class the prototype belongs to */
    float similarity;       /* cosine s_p between the record's latent and the prototype */
    float weight;           /* last-layer weight W[c][p] */
    float contribution;     /* weight * similarity */
    int source_ecg_id;      /* training record the prototype was projected onto (-1: none) */
    uint8_t source_labels[PE_NUM_CLASSES]; /* that record's labels */
    float source_similarity; /* cosine at projection time */
} pe_proto_evidence;

/* Why the model gave class `class_idx` its probability. */
typedef struct {
    int class_idx;
    float probability, logit;
    int predicted;           /* probability >= threshold */
    float contrib_own;       /* sum of contributions of the class's own prototypes */
    float contrib_other;     /* sum over the other classes' prototypes (W = -0.5 init) */
    int n_top;
    pe_proto_evidence top[PE_MAX_TOP]; /* own-class prototypes by similarity, descending */
} pe_class_explanation;

#ifdef __cplusplus
}
#endif

#endif
