/* The fused inference engine (pe_net_infer, src/model/infer.c) against the
 * eval-mode pe_net_forward of the same net (the unfused path whose every layer is
 * checked against PyTorch in test_model_torch / test_nn_torch) on real PTB-XL
 * records: logits, similarities, z and h to 1e-4 relative, full-size prototype
 * network with non-trivial BN (gamma, beta and running statistics from training-
 * mode passes over the records), batches 1, 3 and 8, 1 and 2 threads; refolding
 * after a weight change; the linear-head baseline; the plain-C fallback; backward
 * after pe_net_infer is refused; released work (pe_net_release_work) built again;
 * bf16 (emulated by oneDNN where the CPU lacks it)
 * within 2e-2 of fp32. PE_TEST_QUICK=1 runs fewer cases. */
#include "check.h"
#include "nets.h"
#include "records.h"
#include "model/infer.h"
#include "model/net.h"
#include "util/rng.h"

#include <omp.h>

#define NREC 8
#define REC_LEN (PE_NUM_LEADS * PE_NUM_SAMPLES)

static pe_error err;

typedef struct {
    float *logits, *sim, *z, *h;
} outputs;

static void save(const pe_net *net, int B, outputs *o) {
    int C = net->cfg.n_classes, P = net->n_protos, D = net->cfg.latent_dim, F = net->feat_dim;
    o->logits = malloc((size_t)B * C * sizeof(float));
    memcpy(o->logits, net->logits, (size_t)B * C * sizeof(float));
    o->h = malloc((size_t)B * F * sizeof(float));
    memcpy(o->h, net->h, (size_t)B * F * sizeof(float));
    o->sim = o->z = NULL;
    if (net->cfg.head == PE_HEAD_PROTO) {
        o->sim = malloc((size_t)B * P * sizeof(float));
        memcpy(o->sim, net->sim, (size_t)B * P * sizeof(float));
        o->z = malloc((size_t)B * D * sizeof(float));
        memcpy(o->z, net->z, (size_t)B * D * sizeof(float));
    }
}

static void outputs_free(outputs *o) { free(o->logits), free(o->sim), free(o->z), free(o->h); }

/* Compares the net's current outputs with o (first B records). */
static void compare(const pe_net *net, const outputs *o, int B, double tol, const char *what) {
    int C = net->cfg.n_classes, P = net->n_protos, D = net->cfg.latent_dim, F = net->feat_dim;
    double rl = max_rel_err(net->logits, o->logits, (size_t)B * C);
    CHECK_MSG(rl <= tol, "%s: logits relative error %.3g > %.1g", what, rl, tol);
    double rh = max_rel_err(net->h, o->h, (size_t)B * F), rs = 0, rz = 0;
    CHECK_MSG(rh <= tol, "%s: h relative error %.3g > %.1g", what, rh, tol);
    if (net->cfg.head == PE_HEAD_PROTO) {
        rs = max_rel_err(net->sim, o->sim, (size_t)B * P);
        CHECK_MSG(rs <= tol, "%s: similarities relative error %.3g > %.1g", what, rs, tol);
        rz = max_rel_err(net->z, o->z, (size_t)B * D);
        CHECK_MSG(rz <= tol, "%s: z relative error %.3g > %.1g", what, rz, tol);
    }
    printf("%-48s rel. error logits %.2g  sim %.2g  z %.2g  h %.2g\n", what, rl, rs, rz, rh);
}

/* pe_net_infer vs pe_net_forward(eval) at batch B on the first B records. */
static void check_batch(pe_net *net, const float *x, int B, const char *what) {
    int rc = pe_net_forward(net, x, B, 0, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    outputs ref;
    save(net, B, &ref);
    rc = pe_net_infer(net, x, B, &err);
    CHECK_MSG(rc == 0, "%s: %s", what, err.msg);
    char label[128];
    snprintf(label, sizeof label, "%s, batch %d, %d thread(s)", what, B, omp_get_max_threads());
    compare(net, &ref, B, 1e-4, label);
    outputs_free(&ref);
}

static void test_proto(const float *x, int quick) {
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    pe_net net;
    int rc = pe_net_init(&net, &cfg, NREC, 11, 1, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    test_make_bn_nontrivial(&net, x, NREC, 5);
    int threads[2] = {1, 2};
    for (int t = 0; t < (quick ? 1 : 2); t++) {
        omp_set_num_threads(threads[t]);
        check_batch(&net, x, NREC, "prototype net");
        check_batch(&net, x, 1, "prototype net");
        if (!quick) check_batch(&net, x, 3, "prototype net");
    }
    omp_set_num_threads(1);
    CHECK(pe_infer_plan_count(net.infer) >= 2);
    printf("plans %d, convolutions with private weights %d\n", pe_infer_plan_count(net.infer),
           pe_infer_private_weight_count(net.infer));
    CHECK(pe_infer_private_weight_count(net.infer) < 20 * pe_infer_plan_count(net.infer));

    /* backward after pe_net_infer is refused */
    float dl[NREC * PE_NUM_CLASSES] = {0};
    CHECK(pe_net_infer(&net, x, 2, &err) == 0);
    CHECK(pe_net_backward(&net, dl, NULL, 1, &err) == -1);
    CHECK_CONTAINS(err.msg, "pe_net_infer");

    /* a direct weight change is seen after pe_net_weights_changed */
    const pe_tensor_info *w = pe_net_find(&net, "feature_extractor.layer3.0.conv1.weight");
    const pe_tensor_info *rv = pe_net_find(&net, "feature_extractor.layer2.1.bn2.running_var");
    CHECK(w && rv);
    if (w && rv) {
        CHECK(pe_net_infer(&net, x, NREC, &err) == 0); /* the plan exists and is folded */
        float *pw = pe_net_data(&net, w), *pv = pe_net_data(&net, rv);
        for (size_t j = 0; j < w->numel; j++) pw[j] *= (j % 3) ? 1.5f : -0.5f;
        for (size_t j = 0; j < rv->numel; j++) pv[j] *= 2.0f;
        pe_net_weights_changed(&net);
        check_batch(&net, x, NREC, "after a weight change");
    }
    /* a training step's BN update is seen without a call */
    CHECK(pe_net_infer(&net, x, NREC, &err) == 0);
    CHECK(pe_net_forward(&net, x, NREC, 1, &err) == 0);
    check_batch(&net, x, NREC, "after a training-mode forward");

    /* pe_net_release_work: nothing is left for backward, and a forward and the fused
     * engine built again give the outputs of before */
    CHECK(pe_net_forward(&net, x, NREC, 0, &err) == 0);
    outputs kept;
    save(&net, NREC, &kept);
    pe_net_release_work(&net);
    CHECK(net.infer == NULL && !net.acts_ready);
    CHECK(pe_net_backward(&net, dl, NULL, 1, &err) == -1);
    CHECK(pe_net_forward(&net, x, NREC, 0, &err) == 0);
    compare(&net, &kept, NREC, 0.0, "forward after pe_net_release_work");
    outputs_free(&kept);
    check_batch(&net, x, NREC, "fused engine after pe_net_release_work");

    /* bf16 (emulated where the CPU lacks it) is close to fp32 */
    CHECK(pe_net_forward(&net, x, NREC, 0, &err) == 0);
    outputs ref;
    save(&net, NREC, &ref);
    net.precision = PE_PREC_BF16; /* forced: pe_net_set_precision would refuse emulation */
    rc = pe_net_infer(&net, x, NREC, &err);
    CHECK_MSG(rc == 0, "bf16: %s", err.msg);
    compare(&net, &ref, NREC, 2e-2, "bf16 inference vs fp32");
    double r = max_rel_err(net.logits, ref.logits, NREC * PE_NUM_CLASSES);
    CHECK_MSG(r > 1e-7, "bf16 logits equal fp32 ones (%.3g): bf16 not in effect", r);
    outputs_free(&ref);
    pe_net_free(&net);
}

static void test_linear(const float *x) {
    pe_net_config cfg = pe_net_config_default(PE_HEAD_LINEAR);
    cfg.base_width = 16; /* narrow: channel counts below the 16-wide blocks too */
    pe_net net;
    int rc = pe_net_init(&net, &cfg, NREC, 3, 1, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    test_make_bn_nontrivial(&net, x, NREC, 9);
    check_batch(&net, x, NREC, "linear head, width 16");
    pe_net_free(&net);
}

static void test_plain_c(const float *x) {
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    cfg.base_width = 8;
    pe_net net;
    int rc = pe_net_init(&net, &cfg, 2, 3, 0, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(pe_net_forward(&net, x, 2, 0, &err) == 0);
    outputs ref;
    save(&net, 2, &ref);
    CHECK(pe_net_infer(&net, x, 2, &err) == 0);
    compare(&net, &ref, 2, 0.0, "plain C fallback");
    CHECK(net.infer == NULL);
    const char *note = NULL;
    CHECK(pe_net_set_precision(&net, PE_PREC_BF16, &note) == PE_PREC_FP32);
    CHECK(note != NULL);
    outputs_free(&ref);
    pe_net_free(&net);
}

int main(void) {
    REQUIRE_DATA(dir);
    int quick = getenv("PE_TEST_QUICK") != NULL;
    float *x = malloc((size_t)NREC * REC_LEN * sizeof(float));
    int got = test_read_records(dir, NREC, x);
    CHECK_MSG(got == NREC, "read %d of %d records: %s", got, NREC, err.msg);
    if (got == NREC) {
        test_proto(x, quick);
        test_linear(x);
        test_plain_c(x);
    }
    printf("bf16 native on this CPU: %s\n", pe_bf16_native() ? "yes" : "no (emulated)");
    free(x);
    TEST_END();
}
