/* protoecg bench: training and inference speed of the engine on random input,
 * with the full-size prototype network (spec section 3). bench/compare runs this
 * and the PyTorch counterpart (bench/torch_bench.py) side by side. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/losses.h"
#include "model/net.h"
#include "train/adam.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/rng.h"

static void usage(FILE *f) {
    fprintf(f, "usage: protoecg bench [--threads N] [--steps N] [--json FILE] [--reference-conv]\n"
               "  training steps at batch 32 (N threads), inference at batch 256 (N threads),\n"
               "  single-record inference on 1 thread; samples/s, ms and peak RSS\n");
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void fill_random(float *x, size_t n, pe_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)pe_rng_normal(r);
}

/* Seconds per call of one training step (forward, BCE + prototype losses, backward, Adam). */
static int bench_train(int steps, int use_dnnl, double *sec_per_step, pe_error *e) {
    const int B = 32, C = PE_NUM_CLASSES;
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    pe_net net;
    if (pe_net_init(&net, &cfg, B, 1, use_dnnl, e)) return -1;
    pe_adam opt;
    int P = net.n_protos, D = cfg.latent_dim, K = cfg.protos_per_class;
    float *x = malloc((size_t)B * 12 * 1000 * sizeof(float));
    float *dlogits = malloc((size_t)B * C * sizeof(float)), *dsim = malloc((size_t)B * P * sizeof(float));
    uint8_t *y = calloc((size_t)B * C, 1);
    double *scratch = malloc(pe_loss_proto_scratch_len(P, D) * sizeof(double));
    float J[PE_NUM_CLASSES * PE_NUM_CLASSES];
    pe_rng r;
    pe_rng_seed(&r, 7);
    fill_random(x, (size_t)B * 12 * 1000, &r);
    for (int b = 0; b < B; b++) y[b * C + b % C] = 1;
    pe_jaccard(J, y, B, C);
    int rc = pe_adam_init(&opt, net.n_params, 1e-3f, 0, e);
    const float groups[PE_NUM_GROUPS] = {1, 1, 1, 0};
    double t0 = 0;
    for (int s = -2; rc == 0 && s < steps; s++) { /* 2 warm-up steps */
        if (s == 0) t0 = pe_now();
        pe_net_zero_grad(&net);
        rc = pe_net_forward(&net, x, B, 1, e);
        if (rc) break;
        memset(dlogits, 0, (size_t)B * C * sizeof(float));
        memset(dsim, 0, (size_t)B * P * sizeof(float));
        pe_loss_bce(dlogits, net.logits, y, NULL, B, C, 1.0);
        pe_loss_clst(dsim, net.sim, y, B, C, K, 0.004);
        pe_loss_sep(dsim, net.sim, y, B, C, K, 0.0004);
        pe_loss_div(net.grads + net.protos, net.params + net.protos, P, D, scratch, 250);
        pe_loss_cnt(net.grads + net.protos, net.params + net.protos, J, C, K, D, scratch, 300);
        rc = pe_net_backward(&net, dlogits, dsim, 1, e);
        pe_adam_step(&opt, &net, groups);
    }
    *sec_per_step = (pe_now() - t0) / steps;
    pe_adam_free(&opt);
    free(x), free(dlogits), free(dsim), free(y), free(scratch);
    pe_net_free(&net);
    return rc;
}

/* Seconds per eval-mode forward of a batch of B. */
static int bench_infer(int B, int reps, int use_dnnl, double *sec, pe_error *e) {
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    pe_net net;
    if (pe_net_init(&net, &cfg, B, 1, use_dnnl, e)) return -1;
    float *x = malloc((size_t)B * 12 * 1000 * sizeof(float));
    pe_rng r;
    pe_rng_seed(&r, 8);
    fill_random(x, (size_t)B * 12 * 1000, &r);
    int rc = 0;
    double best = 1e30;
    for (int s = -2; rc == 0 && s < reps; s++) {
        double t0 = pe_now();
        rc = pe_net_forward(&net, x, B, 0, e);
        double dt = pe_now() - t0;
        if (s >= 0 && dt < best) best = dt;
    }
    *sec = best;
    free(x);
    pe_net_free(&net);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *json = NULL, *v;
    int threads = omp_get_max_threads(), steps = 10, use_dnnl = 1;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--json", &json)) continue;
        if (arg_value(argc, argv, &i, "--threads", &v)) {
            if (arg_int("--threads", v, 1, 1024, &threads)) return 2;
        } else if (arg_value(argc, argv, &i, "--steps", &v)) {
            if (arg_int("--steps", v, 1, 100000, &steps)) return 2;
        } else if (!strcmp(argv[i], "--reference-conv")) {
            use_dnnl = 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "protoecg bench: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    pe_error e = {{0}};
    double train_s, batch_s, single_s;
    omp_set_num_threads(threads);
    int rc = bench_train(steps, use_dnnl, &train_s, &e);
    if (rc == 0) rc = bench_infer(256, 3, use_dnnl, &batch_s, &e);
    omp_set_num_threads(1);
    if (rc == 0) rc = bench_infer(1, 50, use_dnnl, &single_s, &e);
    if (rc) {
        fprintf(stderr, "protoecg bench: %s\n", e.msg);
        return 1;
    }
    double rss = peak_rss_mb();
    printf("protoecg bench (fp32, %s conv)\n", use_dnnl ? "oneDNN" : "reference");
    printf("  training, batch 32, %d thread(s):   %8.1f samples/s  (%.1f ms/step)\n", threads,
           32 / train_s, 1e3 * train_s);
    printf("  inference, batch 256, %d thread(s): %8.1f samples/s  (%.1f ms/batch)\n", threads,
           256 / batch_s, 1e3 * batch_s);
    printf("  inference, 1 record, 1 thread:     %8.2f ms\n", 1e3 * single_s);
    printf("  peak RSS:                          %8.1f MB\n", rss);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "engine", "protoecg");
        cJSON_AddStringToObject(o, "precision", "fp32");
        cJSON_AddNumberToObject(o, "threads", threads);
        cJSON_AddNumberToObject(o, "train_samples_per_s", 32 / train_s);
        cJSON_AddNumberToObject(o, "train_ms_per_step", 1e3 * train_s);
        cJSON_AddNumberToObject(o, "infer_batch_samples_per_s", 256 / batch_s);
        cJSON_AddNumberToObject(o, "infer_single_ms", 1e3 * single_s);
        cJSON_AddNumberToObject(o, "peak_rss_mb", rss);
        char *s = cJSON_Print(o);
        cJSON_Delete(o);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
        if (rc) fprintf(stderr, "protoecg bench: %s\n", e.msg);
    }
    return rc ? 1 : 0;
}
