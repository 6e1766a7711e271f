/* Networks with realistic batch norm for engine tests. Include after check.h. */
#ifndef PE_TESTS_NETS_H
#define PE_TESTS_NETS_H

#include "model/net.h"
#include "util/rng.h"

/* Random BN affine parameters (gamma in [0.5, 1.5), beta ~ N(0, 0.2^2)), then running
 * statistics from three training-mode passes over the n records x. */
static inline void test_make_bn_nontrivial(pe_net *net, const float *x, int n, uint64_t seed) {
    pe_rng r;
    pe_rng_seed(&r, seed);
    for (int i = 0; i < net->n_tensors; i++) {
        const pe_tensor_info *t = &net->tensors[i];
        int is_bn = strstr(t->name, ".bn") || strstr(t->name, "downsample.1");
        if (!is_bn || t->kind != PE_T_PARAM) continue;
        float *p = pe_net_data(net, t);
        int gamma = strstr(t->name, ".weight") != NULL;
        for (size_t j = 0; j < t->numel; j++)
            p[j] = gamma ? (float)(0.5 + pe_rng_uniform(&r)) : (float)(0.2 * pe_rng_normal(&r));
    }
    for (int k = 0; k < 3; k++) {
        pe_error e;
        int rc = pe_net_forward(net, x, n, 1, &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
    }
}

#endif
