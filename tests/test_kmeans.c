/* pe_kmeans_cosine (train --proto-init-kmeans): on rows drawn around three orthogonal
 * unit directions (noise 0.1 per coordinate) with k = 3 it must recover the three groups
 * (every row assigned with its group, each centre within cos 0.99 of its group's
 * direction); its centres must be unit vectors and the normalized mean of their rows
 * (Lloyd's fixed point, recomputed here in double); the same seed must give the same
 * centres; with k above the number of rows the centres repeat the rows (normalized);
 * no rows or no clusters are refused with a message. */
#include "check.h"
#include "train/kmeans.h"
#include "util/error.h"
#include "util/rng.h"

#define D 16
#define PER 40
#define N (3 * PER)

int main(void) {
    pe_error e = {{0}};
    pe_rng r;
    pe_rng_seed(&r, 7);
    static float X[N * D], centres[3 * D], again[3 * D];
    int group[N], assign[N];
    for (int i = 0; i < N; i++) { /* group g around e_g, scaled (cosine ignores norm) */
        group[i] = (int)pe_rng_below(&r, 3);
        double scale = 0.5 + pe_rng_uniform(&r);
        for (int d = 0; d < D; d++)
            X[i * D + d] = (float)(scale * ((d == group[i]) + 0.1 * pe_rng_normal(&r)));
    }
    pe_rng_seed(&r, 42);
    CHECK_MSG(pe_kmeans_cosine(X, N, D, 3, 100, &r, centres, assign, &e) == 0, "%s", e.msg);
    /* the clusters are the groups, up to a relabelling */
    int map[3] = {-1, -1, -1}, bad = 0;
    for (int i = 0; i < N; i++) {
        if (map[group[i]] < 0) map[group[i]] = assign[i];
        bad += map[group[i]] != assign[i];
    }
    CHECK_MSG(bad == 0, "%d rows assigned apart from their group", bad);
    CHECK(map[0] != map[1] && map[1] != map[2] && map[0] != map[2]);
    for (int g = 0; g < 3; g++)
        if (map[g] >= 0) CHECK_MSG(centres[map[g] * D + g] > 0.99f, "centre of group %d: cos %g", g,
                                   centres[map[g] * D + g]);
    /* unit centres, each the normalized mean of its rows */
    for (int j = 0; j < 3; j++) {
        double mean[D] = {0}, norm = 0, cnorm = 0;
        for (int i = 0; i < N; i++) {
            if (assign[i] != j) continue;
            double rn = 0;
            for (int d = 0; d < D; d++) rn += (double)X[i * D + d] * X[i * D + d];
            for (int d = 0; d < D; d++) mean[d] += X[i * D + d] / sqrt(rn);
        }
        for (int d = 0; d < D; d++) norm += mean[d] * mean[d], cnorm += (double)centres[j * D + d] * centres[j * D + d];
        CHECK_CLOSE(cnorm, 1.0, 1e-5, 0);
        for (int d = 0; d < D; d++) CHECK_CLOSE(centres[j * D + d], mean[d] / sqrt(norm), 1e-5, 0);
    }
    /* same seed, same centres */
    pe_rng_seed(&r, 42);
    CHECK(pe_kmeans_cosine(X, N, D, 3, 100, &r, again, NULL, &e) == 0);
    CHECK(memcmp(centres, again, sizeof centres) == 0);
    /* k > n: the centres repeat the (normalized) rows */
    float few[2 * D], many[5 * D];
    for (int d = 0; d < D; d++) few[d] = (float)(d == 0) * 2.0f, few[D + d] = (float)(d == 1) * 3.0f;
    CHECK(pe_kmeans_cosine(few, 2, D, 5, 100, &r, many, NULL, &e) == 0);
    int seen0 = 0, seen1 = 0, other = 0;
    for (int j = 0; j < 5; j++) {
        seen0 += many[j * D] == 1.0f, seen1 += many[j * D + 1] == 1.0f;
        other += !(many[j * D] == 1.0f || many[j * D + 1] == 1.0f);
    }
    CHECK_MSG(seen0 >= 1 && seen1 >= 1 && other == 0, "centres %d on row 0, %d on row 1, %d elsewhere",
              seen0, seen1, other);
    /* refused */
    CHECK(pe_kmeans_cosine(X, 0, D, 3, 100, &r, centres, NULL, &e) != 0 && strstr(e.msg, "k-means"));
    CHECK(pe_kmeans_cosine(X, N, D, 0, 100, &r, centres, NULL, &e) != 0);
    TEST_END();
}
