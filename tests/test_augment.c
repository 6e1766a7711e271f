/* Training-batch augmentation (shift, gain, noise, mixup, crops), the Gamma/Beta sampler
 * behind mixup and the cosine learning-rate schedule, checked against their
 * definitions and closed-form moments. */
#include "check.h"
#include "data/dataset.h"
#include "train/schedule.h"
#include "util/rng.h"

enum { B = 6, LEADS = 3, N = 200 };

static void fill(float *x) {
    pe_rng r;
    pe_rng_seed(&r, 5);
    for (int i = 0; i < B * LEADS * N; i++) x[i] = (float)pe_rng_normal(&r);
}

/* The circular shift d of record b: lead 0 of y is lead 0 of x rotated by d. */
static int find_shift(const float *x, const float *y, int b) {
    const float *u = x + (size_t)b * LEADS * N, *v = y + (size_t)b * LEADS * N;
    for (int d = 0; d < N; d++) {
        int ok = 1;
        for (int t = 0; t < N && ok; t++) ok = v[(t + d) % N] == u[t];
        if (ok) return d;
    }
    return -1;
}

/* Sample mean and variance of n draws of f. */
static void moments(double (*f)(pe_rng *, double, double), double a, double b, int n,
                    double *mean, double *var, double *below) {
    pe_rng r;
    pe_rng_seed(&r, 11);
    double s = 0, s2 = 0;
    long nb = 0;
    for (int i = 0; i < n; i++) {
        double v = f(&r, a, b);
        s += v, s2 += v * v, nb += v < 0.25;
    }
    *mean = s / n, *var = s2 / n - *mean * *mean, *below = (double)nb / n;
}

static double gamma_draw(pe_rng *r, double a, double b) { return (void)b, pe_rng_gamma(r, a); }

static void check_samplers(void) {
    enum { ND = 40000 };
    double m, v, p;
    /* Gamma(k, 1): mean k, variance k; sd of the mean estimate sqrt(k / ND) */
    const double shapes[] = {0.2, 0.7, 1.0, 2.5};
    for (int i = 0; i < 4; i++) {
        double k = shapes[i];
        moments(gamma_draw, k, 0, ND, &m, &v, &p);
        CHECK_MSG(fabs(m - k) < 5 * sqrt(k / ND), "gamma(%g) mean %g", k, m);
        CHECK_MSG(fabs(v - k) < 0.08 * k + 0.01, "gamma(%g) variance %g", k, v);
    }
    /* Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)); Beta(2, 2) has the CDF
     * 3x^2 - 2x^3, so P(X < 1/4) = 0.15625 */
    const double as[] = {0.2, 0.4, 2.0};
    for (int i = 0; i < 3; i++) {
        double a = as[i], var = 1.0 / (4.0 * (2.0 * a + 1.0));
        moments(pe_rng_beta, a, a, ND, &m, &v, &p);
        CHECK_MSG(fabs(m - 0.5) < 5 * sqrt(var / ND), "beta(%g) mean %g", a, m);
        CHECK_MSG(fabs(v - var) < 0.03 * var, "beta(%g) variance %g, want %g", a, v, var);
        if (a == 2.0) CHECK_MSG(fabs(p - 0.15625) < 0.01, "beta(2,2) P(X<1/4) = %g", p);
    }
}

/* Mixup: every record is lambda x_b + (1 - lambda) x_pi(b) for one lambda and a
 * permutation pi, and y_mix_b = y_pi(b). Labels are one-hot by record, so pi can be
 * read off y_mix. */
static void check_mixup(const float *x) {
    enum { C = 8 };
    static float y[B * LEADS * N];
    uint8_t lab[B * C] = {0}, lab_mix[B * C];
    for (int b = 0; b < B; b++) lab[b * C + b] = 1;
    memcpy(y, x, sizeof y);
    pe_rng r;
    pe_rng_seed(&r, 9);
    double lambda = pe_mixup_batch(y, lab, lab_mix, B, (size_t)LEADS * N, C, 0.4, &r);
    CHECK(lambda >= 0 && lambda <= 1);
    int seen[B] = {0}, moved = 0;
    for (int b = 0; b < B; b++) {
        int j = -1;
        for (int c = 0; c < C; c++)
            if (lab_mix[b * C + c]) j = c;
        CHECK_MSG(j >= 0 && j < B && !seen[j], "y_mix of record %d is not a permuted label", b);
        if (j < 0 || j >= B || seen[j]) continue;
        seen[j] = 1, moved += j != b;
        for (int i = 0; i < LEADS * N; i++) {
            size_t k = (size_t)b * LEADS * N + i, kj = (size_t)j * LEADS * N + i;
            CHECK_CLOSE(y[k], lambda * x[k] + (1 - lambda) * x[kj], 1e-6, 1e-5);
        }
    }
    CHECK(moved > 0);
}

/* Crops: each record's window is one contiguous piece of it, the same for every lead, and
 * over many draws every start in [0, N - len] occurs and no other; len = N copies. */
static void check_crop(const float *x) {
    enum { LEN = 190 }; /* 11 possible starts */
    static float y[B * LEADS * LEN];
    int seen[N - LEN + 1] = {0};
    pe_rng r;
    pe_rng_seed(&r, 21);
    for (int draw = 0; draw < 50; draw++) {
        pe_crop_batch(x, B, LEADS, N, LEN, y, &r);
        for (int b = 0; b < B; b++) {
            const float *u = x + (size_t)b * LEADS * N, *v = y + (size_t)b * LEADS * LEN;
            int start = -1;
            for (int s = 0; s <= N - LEN && start < 0; s++)
                if (!memcmp(v, u + s, LEN * sizeof(float))) start = s;
            CHECK_MSG(start >= 0, "record %d: the crop is not a window of lead 0", b);
            if (start < 0) return;
            seen[start]++;
            for (int l = 1; l < LEADS; l++)
                CHECK(!memcmp(v + (size_t)l * LEN, u + (size_t)l * N + start, LEN * sizeof(float)));
        }
    }
    for (int s = 0; s <= N - LEN; s++) CHECK_MSG(seen[s] > 0, "start %d never drawn", s);
    static float whole[B * LEADS * N];
    pe_crop_batch(x, B, LEADS, N, N, whole, &r);
    CHECK(!memcmp(whole, x, sizeof whole));
}

int main(void) {
    static float x[B * LEADS * N], y[B * LEADS * N];
    fill(x);
    pe_rng r;

    /* nothing asked: the batch is unchanged */
    memcpy(y, x, sizeof x);
    pe_rng_seed(&r, 1);
    pe_augment_batch(y, B, LEADS, N, 0, 0.0f, 0.0f, &r);
    CHECK(!memcmp(x, y, sizeof x));

    /* shift only: every lead of a record rotated by the same amount, some record moved */
    memcpy(y, x, sizeof x);
    pe_rng_seed(&r, 2);
    pe_augment_batch(y, B, LEADS, N, 1, 0.0f, 0.0f, &r);
    int moved = 0;
    for (int b = 0; b < B; b++) {
        int d = find_shift(x, y, b);
        CHECK_MSG(d >= 0, "record %d is not a rotation", b);
        moved += d > 0;
        for (int l = 1; l < LEADS && d >= 0; l++)
            for (int t = 0; t < N; t++)
                CHECK(y[((size_t)b * LEADS + l) * N + (t + d) % N] == x[((size_t)b * LEADS + l) * N + t]);
    }
    CHECK(moved > 0);

    /* gain only, no shift: each record scaled by one factor within [0.8, 1.2] */
    memcpy(y, x, sizeof x);
    pe_rng_seed(&r, 3);
    pe_augment_batch(y, B, LEADS, N, 0, 0.2f, 0.0f, &r);
    for (int b = 0; b < B; b++) {
        const float *u = x + (size_t)b * LEADS * N, *v = y + (size_t)b * LEADS * N;
        float g = v[0] / u[0];
        CHECK(g >= 0.8f && g <= 1.2f);
        for (int i = 0; i < LEADS * N; i++) CHECK_CLOSE(v[i], g * u[i], 1e-6, 1e-5);
    }

    /* noise only: the residual has the asked standard deviation and no mean */
    memcpy(y, x, sizeof x);
    pe_rng_seed(&r, 4);
    pe_augment_batch(y, B, LEADS, N, 0, 0.0f, 0.5f, &r);
    double s = 0, s2 = 0;
    for (int i = 0; i < B * LEADS * N; i++) {
        double d = (double)y[i] - x[i];
        s += d, s2 += d * d;
    }
    double n = B * LEADS * N, mean = s / n, sd = sqrt(s2 / n - mean * mean);
    CHECK_CLOSE(sd, 0.5, 0.03, 0);  /* 3,600 draws: sd of the estimate ~0.006 */
    CHECK_CLOSE(mean, 0.0, 0.04, 0);

    /* cosine: lr at the first epoch, lr/100 at the last, the midpoint halfway, decreasing */
    CHECK_CLOSE(pe_cosine_lr(1e-3f, 0, 21), 1e-3, 0, 1e-6);
    CHECK_CLOSE(pe_cosine_lr(1e-3f, 20, 21), 1e-5, 0, 1e-5);
    CHECK_CLOSE(pe_cosine_lr(1e-3f, 10, 21), 0.5 * (1e-3 + 1e-5), 0, 1e-5);
    for (int ep = 1; ep < 21; ep++) CHECK(pe_cosine_lr(1e-3f, ep, 21) < pe_cosine_lr(1e-3f, ep - 1, 21));
    CHECK_CLOSE(pe_cosine_lr(2e-3f, 0, 1), 2e-3, 0, 1e-6); /* one epoch: the full lr */

    check_samplers();
    check_mixup(x);
    check_crop(x);
    TEST_END();
}
