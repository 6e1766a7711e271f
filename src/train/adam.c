#include "train/adam.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"

int pe_adam_init(pe_adam *a, size_t n_params, float lr, float weight_decay, pe_error *e) {
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->weight_decay = weight_decay;
    a->step = 0;
    a->n = n_params;
    a->m = calloc(n_params, sizeof(float));
    a->v = calloc(n_params, sizeof(float));
    if (!a->m || !a->v) {
        pe_adam_free(a);
        return pe_fail(e, "out of memory for optimizer state");
    }
    return 0;
}

void pe_adam_free(pe_adam *a) {
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void pe_adam_step(pe_adam *a, pe_net *net, const float lr_scale[PE_NUM_GROUPS]) {
    a->step++;
    double bc1 = 1.0 - pow(a->beta1, (double)a->step);
    double bc2 = 1.0 - pow(a->beta2, (double)a->step);
    float base_step = (float)(a->lr / bc1);
    float sqrt_bc2 = (float)sqrt(bc2);
    float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    for (int t = 0; t < net->n_tensors; t++) {
        const pe_tensor_info *ti = &net->tensors[t];
        if (ti->kind != PE_T_PARAM || lr_scale[ti->group] == 0.0f) continue;
        float step_size = base_step * lr_scale[ti->group];
        float wd = ti->decay ? a->weight_decay : 0.0f;
        float *p = net->params + ti->offset, *g = net->grads + ti->offset;
        float *m = a->m + ti->offset, *v = a->v + ti->offset;
#pragma omp parallel for if (ti->numel > 65536)
        for (size_t i = 0; i < ti->numel; i++) {
            float gi = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            float denom = sqrtf(v[i]) / sqrt_bc2 + eps;
            p[i] -= step_size * m[i] / denom;
        }
    }
}
