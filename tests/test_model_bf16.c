/* Model files with bfloat16 parameters (pe_model_save(..., bf16 = 1), `protoecg
 * convert --bf16-weights`): the file is about half the size of the float32 one;
 * every parameter loads back as its float32 value rounded to nearest-even bf16 (an
 * independent rounding written here), BN statistics and metadata bit-exactly; and on
 * real PTB-XL records the bf16 model's probabilities stay within 1e-2 of the float32
 * model's (logits within 2e-2 relative). */
#include "check.h"
#include "records.h"
#include "model/modelfile.h"
#include "util/rng.h"

#include <sys/stat.h>
#include <unistd.h>

#define NREC 8
#define REC_LEN (PE_NUM_LEADS * PE_NUM_SAMPLES)

static pe_error err;

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(void) {
    REQUIRE_DATA(dir);
    float *x = malloc((size_t)NREC * REC_LEN * sizeof(float));
    CHECK(test_read_records(dir, NREC, x) == NREC);
    char p32[128], p16[128];
    snprintf(p32, sizeof p32, "/tmp/pe_test_bf16_%ld_fp32.safetensors", (long)getpid());
    snprintf(p16, sizeof p16, "/tmp/pe_test_bf16_%ld_bf16.safetensors", (long)getpid());

    /* a full-size model with BN statistics from training-mode passes over the records */
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    pe_model m;
    CHECK_MSG(pe_model_init(&m, &cfg, NREC, 4, 1, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 2; k++) CHECK(pe_net_forward(&m.net, x, NREC, 1, &err) == 0);
    CHECK_MSG(pe_model_save(&m, p32, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(pe_model_save(&m, p16, 1, &err) == 0, "%s", err.msg);
    long s32 = file_size(p32), s16 = file_size(p16);
    printf("model file: fp32 %ld bytes, bf16 %ld bytes (%.3f)\n", s32, s16, (double)s16 / s32);
    CHECK_MSG(s16 > 0 && s16 <= 0.52 * s32, "bf16 file %ld bytes vs fp32 %ld", s16, s32);

    pe_model a, b;
    CHECK_MSG(pe_model_load(&a, p32, NREC, 1, &err) == 0, "%s", err.msg);
    CHECK_MSG(pe_model_load(&b, p16, NREC, 1, &err) == 0, "%s", err.msg);
    size_t bad = 0;
    for (size_t i = 0; i < b.net.n_params; i++)
        bad += b.net.params[i] != ref_round_bf16(m.net.params[i]);
    CHECK_MSG(bad == 0, "%zu parameters differ from their bf16 rounding", bad);
    CHECK(!memcmp(b.net.buffers, m.net.buffers, m.net.n_buffers * sizeof(float)));
    CHECK(b.net.num_batches_tracked == m.net.num_batches_tracked);

    /* predictions on real records */
    CHECK(pe_net_infer(&a.net, x, NREC, &err) == 0);
    CHECK(pe_net_infer(&b.net, x, NREC, &err) == 0);
    double dmax = 0, lmax = 0, lref = 0;
    for (int i = 0; i < NREC * PE_NUM_CLASSES; i++) {
        double pa = 1 / (1 + exp(-a.net.logits[i])), pb = 1 / (1 + exp(-b.net.logits[i]));
        dmax = fmax(dmax, fabs(pa - pb));
        lmax = fmax(lmax, fabs(a.net.logits[i] - b.net.logits[i]));
        lref = fmax(lref, fabs(a.net.logits[i]));
    }
    printf("bf16 weights vs fp32: max |probability difference| %.2g, logits %.2g relative\n",
           dmax, lmax / lref);
    CHECK_MSG(dmax <= 1e-2, "probabilities differ by %.3g", dmax);
    CHECK_MSG(lmax <= 2e-2 * lref, "logits differ by %.3g (max |logit| %.3g)", lmax, lref);
    pe_model_free(&a), pe_model_free(&b), pe_model_free(&m);
    unlink(p32), unlink(p16);
    free(x);
    TEST_END();
}
