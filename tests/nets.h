/* Networks with realistic batch norm for engine tests. Include after check.h. */
#ifndef PE_TESTS_NETS_H
#define PE_TESTS_NETS_H

#include "model/modelfile.h"
#include "model/net.h"
#include "util/rng.h"

#include <unistd.h>

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

/* A small prototype model (width 8, latent 32, K prototypes per class, random weights)
 * for API tests that need a model file but not a trained one. */
static inline void test_tiny_proto_model(pe_model *m, int K, uint64_t seed) {
    pe_error e = {{0}};
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    cfg.base_width = 8;
    cfg.latent_dim = 32;
    cfg.protos_per_class = K;
    int rc = pe_model_init(m, &cfg, 1, seed, 0, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
}

/* m saved to a per-process temporary file (its name into path, for unlink) and loaded
 * back as a classifier. */
static inline pe_classifier *test_save_and_load(const pe_model *m, const char *tag, char *path,
                                                size_t path_len) {
    pe_error e = {{0}};
    snprintf(path, path_len, "/tmp/pe_test_%s_%ld.safetensors", tag, (long)getpid());
    int rc = pe_model_save(m, path, 0, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    pe_classifier *c = pe_classifier_load(path, &e);
    CHECK_MSG(c != NULL, "%s", e.msg);
    return c;
}

#endif
