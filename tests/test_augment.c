/* Training-batch augmentation (shift, gain, noise) and the cosine learning-rate
 * schedule, checked against their definitions. */
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
    TEST_END();
}
