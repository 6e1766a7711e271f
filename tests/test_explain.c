/* Explanations add up: for real records, the own + other prototype contributions
 * equal the logit (1e-5), the listed contributions are weight x similarity, the own
 * prototypes are listed by contribution (with their rank by similarity) and the other
 * classes' by absolute contribution, each list led by the largest of all, and the
 * similarities and probabilities equal an independent forward pass of the same
 * preprocessed input. A model loaded from the file's bytes in memory classifies
 * exactly as from the file; a truncated buffer is refused. */
#include "check.h"
#include "api/internal.h"
#include "nets.h"
#include "protoecg.h"
#include "util/fileio.h"

int main(void) {
    REQUIRE_DATA(dir);
    pe_error e = {{0}};
    pe_model m;
    test_tiny_proto_model(&m, 3, 123);
    /* a last layer that is not the init pattern, so every term matters */
    for (int i = 0; i < 16 * m.net.n_protos; i++) m.net.params[m.net.last_w + i] += 0.01f * (float)(i % 7);
    /* an own-class weight of 0 and a large one (the full-batch last layer's bound leaves
     * zeros), so the order by contribution differs from the order by similarity */
    for (int k = 0; k < 16; k++) {
        m.net.params[m.net.last_w + k * m.net.n_protos + k * 3] = 0.0f;
        m.net.params[m.net.last_w + k * m.net.n_protos + k * 3 + 2] = 3.0f;
    }
    for (int p = 0; p < m.net.n_protos; p++) m.sources[p].ecg_id = 1000 + p;
    char path[256];
    pe_classifier *c = test_save_and_load(&m, "explain", path, sizeof path);
    const char *records[] = {"records100/00000/00001_lr", "records100/00000/00452_lr",
                             "records100/02000/02045_lr"};
    int reordered = 0;
    for (int r = 0; c && r < 3; r++) {
        char rec[8192];
        snprintf(rec, sizeof rec, "%s/%s", dir, records[r]);
        float *sig = NULL, probs[16], probs2[16];
        int nl;
        long ns;
        double fs;
        CHECK_MSG(pe_record_read(rec, &sig, &nl, &ns, &fs, &e) == 0, "%s", e.msg);
        pe_class_explanation ex[16];
        CHECK(pe_explain(c, sig, nl, ns, fs, 4, probs, ex, &e) == 0);
        CHECK(pe_classify(c, sig, nl, ns, fs, probs2, &e) == 0);
        /* independent pass: preprocess, forward the model m (same weights) */
        float x[12 * 1000];
        CHECK(pe_preprocess(c, sig, nl, ns, fs, x, &e) == 0);
        CHECK(pe_net_forward(&m.net, x, 1, 0, &e) == 0);
        const float *W = m.net.params + m.net.last_w, *sim = m.net.sim;
        int P = m.net.n_protos, K = m.net.cfg.protos_per_class;
        for (int k = 0; k < 16; k++) {
            CHECK_CLOSE(probs[k], probs2[k], 0, 0);
            CHECK_CLOSE(ex[k].logit, m.net.logits[k], 1e-5, 1e-5);
            CHECK_CLOSE(ex[k].contrib_own + ex[k].contrib_other, ex[k].logit, 1e-5, 0);
            CHECK(ex[k].n_top == K); /* top 4 of a class's 3 */
            CHECK(ex[k].n_other == 4);
            for (int t = 0; t < ex[k].n_top + ex[k].n_other; t++) {
                int own = t < ex[k].n_top;
                const pe_proto_evidence *ev = own ? &ex[k].top[t] : &ex[k].other[t - ex[k].n_top];
                CHECK((ev->prototype / K == k) == own);
                CHECK(ev->proto_class == ev->prototype / K);
                CHECK_CLOSE(ev->similarity, sim[ev->prototype], 1e-6, 1e-6);
                CHECK_CLOSE(ev->weight, W[k * P + ev->prototype], 0, 0);
                CHECK_CLOSE(ev->contribution, ev->weight * ev->similarity, 1e-7, 1e-6);
                CHECK(ev->source_ecg_id == 1000 + ev->prototype);
                int rank = 1, q0 = ev->proto_class * K;
                for (int q = q0; q < q0 + K; q++) rank += sim[q] > sim[ev->prototype];
                CHECK(ev->similarity_rank == rank);
            }
            for (int t = 1; t < ex[k].n_top; t++)
                CHECK(ex[k].top[t].contribution <= ex[k].top[t - 1].contribution);
            for (int t = 1; t < ex[k].n_other; t++)
                CHECK(fabsf(ex[k].other[t].contribution) <= fabsf(ex[k].other[t - 1].contribution));
            /* each list starts with the largest contribution of its kind */
            for (int p = 0; p < P; p++) {
                float cp = W[k * P + p] * sim[p];
                if (p / K == k) CHECK(cp <= ex[k].top[0].contribution + 1e-6f);
                else CHECK(fabsf(cp) <= fabsf(ex[k].other[0].contribution) + 1e-6f);
            }
            reordered += ex[k].top[0].similarity_rank != 1;
        }
        free(sig);
    }
    /* the zero weights make the most similar prototype not the first listed somewhere,
     * else this test could not tell the two orders apart */
    CHECK(reordered > 0);
    /* a record with another lead count is refused with a clear message */
    float six[6 * 1000] = {0}, probs[16];
    CHECK(c && pe_classify(c, six, 6, 1000, 100, probs, &e) != 0);
    CHECK_CONTAINS(e.msg, "6 leads");
    float nan_sig[12 * 1000] = {0};
    nan_sig[5] = NAN;
    CHECK(c && pe_classify(c, nan_sig, 12, 1000, 100, probs, &e) != 0);
    CHECK_CONTAINS(e.msg, "non-finite");
    CHECK(c && pe_classify(c, nan_sig, 12, 1000, 250.5, probs, &e) != 0);
    CHECK_CONTAINS(e.msg, "250.5 Hz");
    /* the same model loaded from the file's bytes gives the same probabilities, bit for
     * bit; a truncated buffer is refused with its name and what is wrong */
    size_t len = 0;
    char *bytes = pe_read_file(path, &len, &e);
    CHECK_MSG(bytes != NULL, "%s", e.msg);
    pe_classifier *cm = bytes ? pe_classifier_load_memory(bytes, len, "firmware-model", &e) : NULL;
    CHECK_MSG(cm != NULL, "%s", e.msg);
    if (c && cm) {
        char rec[8192];
        snprintf(rec, sizeof rec, "%s/%s", dir, records[1]);
        float *sig = NULL, pf[16], pm[16];
        int nl;
        long ns;
        double fs;
        CHECK_MSG(pe_record_read(rec, &sig, &nl, &ns, &fs, &e) == 0, "%s", e.msg);
        CHECK(sig && pe_classify(c, sig, nl, ns, fs, pf, &e) == 0);
        CHECK(sig && pe_classify(cm, sig, nl, ns, fs, pm, &e) == 0);
        for (int k = 0; sig && k < 16; k++) CHECK_CLOSE(pm[k], pf[k], 0, 0);
        free(sig);
    }
    CHECK(bytes && pe_classifier_load_memory(bytes, len / 2, "firmware-model", &e) == NULL);
    CHECK_CONTAINS(e.msg, "firmware-model");
    CHECK_CONTAINS(e.msg, "truncated");
    CHECK(pe_classifier_load_memory(NULL, 10, NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "(memory)");
    pe_classifier_free(cm);
    free(bytes);
    pe_classifier_free(c);
    pe_model_free(&m);
    unlink(path);
    TEST_END();
}
