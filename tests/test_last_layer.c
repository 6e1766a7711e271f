/* The full-batch last-layer solver (train/last_layer.h) against the minimizers an
 * independent solver finds (scipy L-BFGS-B on torch's BCE; tests/golden/last_layer.safetensors
 * from scripts/golden_last_layer.py): from the spec's initial weights, FISTA must reach
 * the minimum value to 1e-6 relative and the minimizer to 2e-3 (float32 arithmetic),
 * with the L1 term's zeros (and, when own-class weights are kept >= 0, the bound's zeros)
 * exactly zero; and a call must never raise the objective. */
#include "check.h"
#include "golden_io.h"
#include "train/last_layer.h"
#include "util/error.h"

static void run_case(const char *path, const char *name, int C, int K) {
    char nm[64];
    size_t nS, nY, nw, nW0, nl1, nnn, nF, nW;
    const int P = C * K;
#define LOAD(var, suffix, count)                                    \
    snprintf(nm, sizeof nm, "%s.%s", name, suffix);                 \
    float *var = golden_load(path, nm, &count);
    LOAD(S, "S", nS) LOAD(Yf, "Y", nY) LOAD(w, "w", nw) LOAD(W0, "W0", nW0)
    LOAD(l1, "l1", nl1) LOAD(nn, "nonneg_own", nnn) LOAD(Fref, "F", nF) LOAD(Wref, "W", nW)
#undef LOAD
    long N = (long)(nS / P);
    uint8_t *Y = malloc(nY + 1);
    int ok = S && Yf && w && W0 && l1 && nn && Fref && Wref && Y && nw == (size_t)C &&
             nW == (size_t)C * P && nY == (size_t)N * C;
    CHECK_MSG(ok, "%s: golden case %s missing or misshapen (rerun the script)", path, name);
    if (ok) {
        for (size_t i = 0; i < nY; i++) Y[i] = Yf[i] != 0.0f;
        pe_error e = {{0}};
        int nonneg = nn[0] != 0.0f;
        double f_prev = INFINITY, f = 0, bce = 0, l1_sum = 0;
        int monotone = 1;
        for (int call = 0; call < 40; call++) { /* 40 x 1000 steps, momentum restarted */
            CHECK(pe_last_layer_fista(W0, S, Y, N, C, K, w, l1[0], nonneg, 1000, &f, &bce,
                                      &l1_sum, &e) == 0);
            if (f > f_prev + 1e-7 * fabs(f_prev)) monotone = 0;
            f_prev = f;
        }
        double werr = 0.0, wmax = 0.0;
        int zeros_ref = 0, zeros_missed = 0, own_negative = 0;
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++) {
                size_t i = (size_t)c * P + p;
                werr = fmax(werr, fabs(W0[i] - Wref[i]));
                wmax = fmax(wmax, fabs(Wref[i]));
                if ((p / K != c || nonneg) && fabs(Wref[i]) < 1e-6) {
                    zeros_ref++;
                    zeros_missed += W0[i] != 0.0f;
                }
                own_negative += nonneg && p / K == c && W0[i] < 0.0f;
            }
        printf("%-6s N %ld C %d K %d l1 %g own >= 0: %d: objective %.10f (reference %.10f), max "
               "|W - W_ref| %.2g (max |W_ref| %.2g), zeros %d (missed %d)\n",
               name, N, C, K, l1[0], nonneg, f, Fref[0], werr, wmax, zeros_ref, zeros_missed);
        CHECK_CLOSE(f, Fref[0], 0.0, 1e-6);
        CHECK_CLOSE(f, bce + l1[0] * l1_sum, 1e-12, 1e-12);
        CHECK_MSG(werr <= 2e-3 * fmax(1.0, wmax), "%s: W off by %.3g", name, werr);
        CHECK_MSG(zeros_missed == 0, "%s: %d entries the L1 term zeroes are not 0", name,
                  zeros_missed);
        CHECK_MSG(monotone, "%s: a call raised the objective", name);
        CHECK_MSG(own_negative == 0, "%s: %d own-class weights below 0", name, own_negative);
        if (l1[0] > 0) CHECK_MSG(zeros_ref > 0, "%s: the case exercises no zero", name);
    }
    free(S), free(Yf), free(w), free(W0), free(l1), free(nn), free(Fref), free(Wref), free(Y);
}

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/last_layer.safetensors", PE_SOURCE_DIR);
    run_case(path, "l1", 5, 3);
    run_case(path, "none", 4, 2);
    run_case(path, "nonneg", 4, 3);
    TEST_END();
}
