#include "train/project.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define C_ PE_NUM_CLASSES

double pe_project_prototypes(float *protos, int K, const pe_latent_pool *pool,
                             pe_proto_source *src, double *znorm, int distinct, int warn) {
    long n = pool->n;
    int D = pool->D, P = K * C_;
    const float *z = pool->z;
    const uint8_t *y = pool->y;
    for (long j = 0; j < n; j++) { /* each latent's norm once, not once per prototype */
        const float *zj = z + (size_t)j * D;
        double zn = 0;
        for (int d = 0; d < D; d++) zn += (double)zj[d] * zj[d];
        znorm[j] = fmax(sqrt(zn), 1e-12);
    }
    double sum = 0;
    int counted = 0;
    for (int p = 0; p < P; p++) {
        int c = p / K;
        float *proto = protos + (size_t)p * D;
        double pn = 0;
        for (int d = 0; d < D; d++) pn += (double)proto[d] * proto[d];
        pn = fmax(sqrt(pn), 1e-12);
        double best = -INFINITY;
        long arg = -1;
        long np_c = 0; /* records of class c */
        for (long j = 0; distinct && j < n; j++) np_c += y[j * C_ + c];
        for (long j = 0; j < n; j++) {
            if (!y[j * C_ + c]) continue;
            int taken = 0;
            for (int q = c * K; distinct && q < p; q++) taken |= src[q].ecg_id == pool->ecg_id[j];
            if (taken && np_c > p - c * K) continue; /* all taken (fewer records than K): share */
            const float *zj = z + (size_t)j * D;
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)zj[d] * proto[d];
            double cs = dot / (znorm[j] * pn);
            if (cs > best) best = cs, arg = j;
        }
        if (arg < 0) {
            if (warn)
                fprintf(stderr, "warning: prototype %d (%s): no training record of its class; "
                                "left unprojected\n", p, pe_class_names[c]);
            src[p].ecg_id = -1;
            continue;
        }
        memcpy(proto, z + (size_t)arg * D, (size_t)D * sizeof(float));
        src[p].ecg_id = pool->ecg_id[arg];
        src[p].similarity = (float)best;
        memcpy(src[p].labels, y + arg * C_, C_);
        sum += best;
        counted++;
    }
    return counted ? sum / counted : NAN;
}
