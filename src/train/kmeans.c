#include "train/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void normalize(float *v, int D) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)v[d] * v[d];
    float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
    for (int d = 0; d < D; d++) v[d] *= inv;
}

static double dot(const float *a, const float *b, int D) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)a[d] * b[d];
    return s;
}

/* Index of the centre (k, D) of highest cosine with the unit row x (lowest on ties). */
static int nearest(const float *x, const float *centres, int k, int D) {
    int arg = 0;
    double best = -INFINITY;
    for (int j = 0; j < k; j++) {
        double c = dot(x, centres + (size_t)j * D, D);
        if (c > best) best = c, arg = j;
    }
    return arg;
}

int pe_kmeans_cosine(const float *X, long n, int D, int k, int iters, pe_rng *r,
                     float *centres, int *assign, pe_error *e) {
    if (n < 1 || k < 1 || D < 1) return pe_fail(e, "k-means: %ld rows, %d clusters", n, k);
    float *U = malloc((size_t)n * D * sizeof(float));
    double *dist = malloc((size_t)n * sizeof(double));
    int *a = malloc((size_t)n * sizeof(int));
    double *sum = malloc((size_t)D * sizeof(double));
    if (!U || !dist || !a || !sum) {
        free(U), free(dist), free(a), free(sum);
        return pe_fail(e, "out of memory for k-means");
    }
    for (long i = 0; i < n; i++) {
        memcpy(U + (size_t)i * D, X + (size_t)i * D, (size_t)D * sizeof(float));
        normalize(U + (size_t)i * D, D);
    }
    /* k-means++ seeding; with k > n the centres cycle the rows */
    memcpy(centres, U + (size_t)pe_rng_below(r, (uint64_t)n) * D, (size_t)D * sizeof(float));
    for (long i = 0; i < n; i++) dist[i] = 1.0 - dot(U + (size_t)i * D, centres, D);
    for (int j = 1; j < k; j++) {
        double total = 0;
        for (long i = 0; i < n; i++) total += fmax(dist[i], 0.0);
        long pick = (long)(j % n);
        if (total > 1e-12 && j < n) {
            double u = pe_rng_uniform(r) * total;
            for (pick = 0; pick < n - 1; pick++) {
                u -= fmax(dist[pick], 0.0);
                if (u < 0) break;
            }
        }
        float *cj = centres + (size_t)j * D;
        memcpy(cj, U + (size_t)pick * D, (size_t)D * sizeof(float));
        for (long i = 0; i < n; i++) dist[i] = fmin(dist[i], 1.0 - dot(U + (size_t)i * D, cj, D));
    }
    /* Lloyd steps */
    for (long i = 0; i < n; i++) a[i] = -1;
    for (int it = 0; it < iters; it++) {
        int changed = 0;
        for (long i = 0; i < n; i++) {
            int j = nearest(U + (size_t)i * D, centres, k, D);
            changed |= j != a[i];
            a[i] = j;
        }
        if (!changed) break;
        for (int j = 0; j < k; j++) {
            long count = 0;
            memset(sum, 0, (size_t)D * sizeof(double));
            for (long i = 0; i < n; i++)
                if (a[i] == j) {
                    count++;
                    for (int d = 0; d < D; d++) sum[d] += U[(size_t)i * D + d];
                }
            if (!count) continue; /* an empty cluster keeps its centre */
            float *cj = centres + (size_t)j * D;
            for (int d = 0; d < D; d++) cj[d] = (float)sum[d];
            normalize(cj, D);
        }
    }
    if (assign)
        for (long i = 0; i < n; i++) assign[i] = nearest(U + (size_t)i * D, centres, k, D);
    free(U), free(dist), free(a), free(sum);
    return 0;
}
