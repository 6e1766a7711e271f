/* Projection (spec section 5.2): each prototype moves onto the latent of the training
 * record of its class that it is most similar to, so that it *is* a real training ECG.
 * Used by the projection stage and, after every step, by the warm-up's projected epochs. */
#ifndef PE_TRAIN_PROJECT_H
#define PE_TRAIN_PROJECT_H

#include <stdint.h>

#include "model/modelfile.h"

/* The records a prototype may be projected onto. */
typedef struct {
    long n;                /* records, in ascending ecg_id */
    int D;                 /* latent size */
    const float *z;        /* (n, D) their latents */
    const uint8_t *y;      /* (n, PE_NUM_CLASSES) their labels */
    const int32_t *ecg_id; /* (n) */
} pe_latent_pool;

/* protos (P, D), prototype p of class p / K (P = K * PE_NUM_CLASSES). For each p in
 * order, among the pool's records positive for its class, the one of highest cosine
 * with prototype p (norms clamped at 1e-12, accumulated in double; scanned in pool order,
 * strict > so a tie keeps the first) replaces it; src[p] gets that record's ecg_id,
 * labels and the cosine. distinct = 1 (the warm-up's projected epochs, so that a class's
 * prototypes stay on different ECGs) skips records an earlier prototype of the same class
 * took, unless the class has no more records than prototypes so far (then they share).
 * A class without a positive leaves its prototypes as they are, with ecg_id -1 (and a
 * warning on stderr if warn). znorm: scratch of n doubles. Returns the mean cosine over
 * the projected prototypes (NaN if none). */
double pe_project_prototypes(float *protos, int K, const pe_latent_pool *pool,
                             pe_proto_source *src, double *znorm, int distinct, int warn);

#endif
