#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int pe_split_view_init(pe_split_view *v, const pe_cache *c, pe_split split, pe_error *e) {
    v->cache = c;
    v->n = 0;
    v->idx = malloc(((size_t)c->h.n_records + 1) * sizeof(long));
    if (!v->idx) return pe_fail(e, "out of memory");
    for (long i = 0; i < (long)c->h.n_records; i++)
        if (pe_split_of_fold(c->fold[i]) == split) v->idx[v->n++] = i;
    return 0;
}

void pe_split_view_free(pe_split_view *v) {
    free(v->idx);
    v->idx = NULL;
    v->n = 0;
}

void pe_gather_batch(const pe_split_view *v, const long *order, int B, float *x, uint8_t *y) {
    const pe_cache *c = v->cache;
    size_t rec = (size_t)c->h.n_leads * c->h.n_samples;
    for (int b = 0; b < B; b++) {
        long i = v->idx[order[b]];
        memcpy(x + (size_t)b * rec, pe_cache_signal(c, i), rec * sizeof(float));
        memcpy(y + (size_t)b * c->h.n_classes, c->labels + (size_t)i * c->h.n_classes,
               c->h.n_classes);
    }
}

uint8_t *pe_split_labels(const pe_split_view *v) {
    size_t C = v->cache->h.n_classes;
    uint8_t *y = malloc((size_t)v->n * C + 1);
    if (!y) return NULL;
    for (long j = 0; j < v->n; j++) memcpy(y + j * C, v->cache->labels + (size_t)v->idx[j] * C, C);
    return y;
}

void pe_augment_batch(float *x, int B, int leads, int samples, int shift, float scale,
                      float noise, pe_rng *r) {
    float *tmp = malloc((size_t)samples * sizeof(float));
    if (!tmp) return;
    for (int b = 0; b < B; b++) {
        int d = shift ? (int)pe_rng_below(r, (uint64_t)samples) : 0;
        float gain = 1.0f + scale * (float)(2.0 * pe_rng_uniform(r) - 1.0);
        for (int l = 0; l < leads; l++) {
            float *v = x + ((size_t)b * leads + l) * samples;
            for (int t = 0; t < samples; t++) tmp[(t + d) % samples] = v[t];
            for (int t = 0; t < samples; t++)
                v[t] = gain * tmp[t] + (noise > 0 ? noise * (float)pe_rng_normal(r) : 0.0f);
        }
    }
    free(tmp);
}

void pe_crop_batch(const float *x, int B, int leads, int samples, int len, float *out,
                   pe_rng *r) {
    for (int b = 0; b < B; b++) {
        /* floor(u (n + 1)), not pe_rng_below: the draws of the runs in the tuning log */
        int start = (int)(pe_rng_uniform(r) * (samples - len + 1));
        if (start > samples - len) start = samples - len;
        for (int l = 0; l < leads; l++)
            memcpy(out + ((size_t)b * leads + l) * len, x + ((size_t)b * leads + l) * samples + start,
                   (size_t)len * sizeof(float));
    }
}

double pe_mixup_batch(float *x, const uint8_t *y, uint8_t *y_mix, int B, size_t n, int C,
                      double alpha, pe_rng *r) {
    float *mixed = malloc((size_t)B * n * sizeof(float));
    long *perm = malloc((size_t)B * sizeof(long));
    if (!mixed || !perm) {
        free(mixed), free(perm);
        return -1.0;
    }
    double lambda = pe_rng_beta(r, alpha, alpha);
    for (int b = 0; b < B; b++) perm[b] = b;
    pe_rng_shuffle(r, perm, B);
    const float l = (float)lambda, m = (float)(1.0 - lambda);
    for (int b = 0; b < B; b++) {
        const float *xa = x + (size_t)b * n, *xb = x + (size_t)perm[b] * n;
        for (size_t i = 0; i < n; i++) mixed[(size_t)b * n + i] = l * xa[i] + m * xb[i];
        memcpy(y_mix + (size_t)b * C, y + (size_t)perm[b] * C, (size_t)C);
    }
    memcpy(x, mixed, (size_t)B * n * sizeof(float));
    free(mixed), free(perm);
    return lambda;
}
