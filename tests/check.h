/* A minimal test harness: CHECK macros count failures; main returns the count.
 * A test that needs the shared PTB-XL data calls pe_test_data_dir() and exits 77
 * (ctest's SKIP) with a clear message when it is absent. */
#ifndef PE_TESTS_CHECK_H
#define PE_TESTS_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                            \
    do {                                                                         \
        double ca_ = (double)(a), cb_ = (double)(b);                             \
        if (!(fabs(ca_ - cb_) <= (atol) + (rtol)*fabs(cb_)) || isnan(ca_)) {     \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s=%.9g vs %s=%.9g\n",   \
                    __FILE__, __LINE__, #a, ca_, #b, cb_);                        \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

/* Error string must contain the given substring. */
#define CHECK_CONTAINS(str, sub)                                                 \
    CHECK_MSG(strstr((str), (sub)) != NULL, "\"%s\" does not contain \"%s\"", (str), (sub))

#define TEST_SKIP 77

/* Directory of the shared PTB-XL subset: $PROTOECG_PTBXL, else
 * ../shared/data/ptbxl relative to the source tree. Returns NULL if absent. */
static inline const char *pe_test_data_dir(void) {
    const char *env = getenv("PROTOECG_PTBXL");
    static char buf[4096];
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        snprintf(buf, sizeof buf, "%s/../shared/data/ptbxl", PE_SOURCE_DIR);
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/ptbxl_database.csv", buf);
    struct stat st;
    return stat(probe, &st) == 0 ? buf : NULL;
}

#define REQUIRE_DATA(var)                                                        \
    const char *var = pe_test_data_dir();                                        \
    if (!var) {                                                                  \
        printf("SKIP: PTB-XL data not found at ../shared/data/ptbxl "            \
               "(set PROTOECG_PTBXL to a PTB-XL directory)\n");                  \
        return TEST_SKIP;                                                        \
    }

/* max|a - ref| / max|ref| over n floats (max|a - ref| when ref is all zero; inf on NaN). */
static inline double max_rel_err(const float *a, const float *ref, size_t n) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (isnan(d)) return INFINITY;
        md = d > md ? d : md;
        mr = fabs(ref[i]) > mr ? fabs(ref[i]) : mr;
    }
    return mr > 0 ? md / mr : md;
}

/* float -> nearest bfloat16 (ties to even) -> float, as oneDNN's reorder rounds: the
 * tests' own reference, independent of the library's conversion. */
static inline float ref_round_bf16(float x) {
    union {
        float f;
        uint32_t u;
    } c = {x};
    c.u = (c.u + 0x7fffu + ((c.u >> 16) & 1u)) & 0xffff0000u;
    return c.f;
}

#define TEST_END()                                                               \
    do {                                                                         \
        if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures); \
        return check_failures ? 1 : 0;                                           \
    } while (0)

#endif
