/* Polyphase resampling against scipy.signal.resample_poly / firwin golden values
 * (scripts/golden_resample.py), and the mapping of lead names to the PTB-XL order. */
#include "check.h"
#include "golden_json.h"
#include "data/resample.h"
#include "util/fileio.h"

#include <cjson/cJSON.h>

static cJSON *item(const cJSON *o, const char *key) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) fprintf(stderr, "golden: missing key \"%s\"\n", key);
    return it;
}

/* Copies a JSON number array into a malloc'd double array; *n receives its length. */
static double *doubles(const cJSON *arr, long *n) {
    *n = cJSON_GetArraySize(arr);
    double *v = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *v);
    long i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) v[i++] = it->valuedouble;
    return v;
}

static void test_firwin(const cJSON *g) {
    long n = 0;
    double *ref = doubles(item(g, "h"), &n);
    int numtaps = item(g, "numtaps")->valueint;
    CHECK(n == numtaps);
    double *h = malloc((size_t)numtaps * sizeof *h), err = 0, sum = 0;
    pe_firwin_kaiser(numtaps, item(g, "cutoff")->valuedouble, item(g, "beta")->valuedouble, h);
    for (long i = 0; i < n && i < numtaps; i++) {
        CHECK_CLOSE(h[i], ref[i], 1e-13, 0);
        err = fmax(err, fabs(h[i] - ref[i]));
        sum += h[i];
    }
    CHECK_CLOSE(sum, 1.0, 1e-13, 0);
    printf("firwin(%d): max |C - scipy| = %.3g\n", numtaps, err);
    free(h), free(ref);
}

static void test_cases(const cJSON *cases) {
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, cases) {
        const char *name = item(c, "name")->valuestring;
        int up = item(c, "up")->valueint, down = item(c, "down")->valueint;
        long n = 0, n_ref = 0, ny = -1;
        double *xd = doubles(item(c, "x"), &n), *ref = doubles(item(c, "y"), &n_ref);
        float *x = malloc((size_t)n * sizeof *x);
        for (long i = 0; i < n; i++) x[i] = (float)xd[i];
        long cap = pe_resample_poly_len(n, up, down);
        CHECK_MSG(cap == n_ref, "%s: length %ld, scipy %ld", name, cap, n_ref);
        float *y = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *y);
        pe_error e = {{0}};
        int rc = pe_resample_poly(x, n, up, down, y, &ny, &e);
        CHECK_MSG(rc == 0, "%s: %s", name, e.msg);
        CHECK(ny == n_ref);
        double err = 0, scale = 0;
        for (long i = 0; rc == 0 && i < n_ref && i < ny; i++) {
            CHECK_MSG(fabs(y[i] - ref[i]) <= 1e-6, "%s: y[%ld] = %.9g, scipy %.9g", name, i,
                      y[i], ref[i]);
            err = fmax(err, fabs(y[i] - ref[i]));
            scale = fmax(scale, fabs(ref[i]));
        }
        printf("%-18s %d:%d  n=%5ld -> %5ld  max|y|=%.3g  max |C - scipy| = %.3g\n", name, up,
               down, n, ny, scale, err);
        free(x), free(xd), free(ref), free(y);
        count++;
    }
    CHECK(count >= 6);
}

static void test_resample_errors(void) {
    pe_error e = {{0}};
    float x[4] = {1, 2, 3, 4}, y[8];
    long ny = 0;
    CHECK(pe_resample_poly(x, 4, 0, 5, y, &ny, &e) == -1);
    CHECK_CONTAINS(e.msg, "up (0)");
    CHECK(pe_resample_poly(x, 0, 1, 5, y, &ny, &e) == -1);
    CHECK_CONTAINS(e.msg, "length 0");
    CHECK(pe_resample_poly_len(5000, 1, 5) == 1000);
    CHECK(pe_resample_poly_len(137, 1, 5) == 28);
    CHECK(pe_resample_poly_len(7, 2, 3) == 5);
    CHECK(pe_resample_poly_len(-1, 1, 5) == -1);
    /* up == down after gcd reduction: an exact copy, as in scipy */
    CHECK(pe_resample_poly(x, 4, 3, 3, y, &ny, &e) == 0 && ny == 4 && !memcmp(x, y, sizeof x));
}

static void test_lead_order(void) {
    pe_error e = {{0}};
    int map[PE_NUM_LEADS];
    const char *std[PE_NUM_LEADS] = {"I", "II", "III", "aVR", "aVL", "aVF",
                                     "V1", "V2", "V3", "V4", "V5", "V6"};
    /* PTB-XL header spelling (AVR ...) maps to the identity */
    const char *ptb[PE_NUM_LEADS] = {"I", "II", "III", "AVR", "AVL", "AVF",
                                     "V1", "V2", "V3", "V4", "V5", "V6"};
    CHECK(pe_lead_order(ptb, PE_NUM_LEADS, map, &e) == 0);
    for (int k = 0; k < PE_NUM_LEADS; k++) CHECK(map[k] == k);

    /* shuffled, lower case, blanks, plus a non-standard extra lead which is ignored */
    const char *shuf[13] = {"v3", " avf", "ii", "V6 ", "i", "aVl", "MLII", "iii",
                            "v1", "AvR", "v5", "v2", "v4"};
    CHECK(pe_lead_order(shuf, 13, map, &e) == 0);
    for (int k = 0; k < PE_NUM_LEADS; k++) {
        CHECK_MSG(map[k] >= 0 && map[k] < 13, "lead %s unmapped", std[k]);
        if (map[k] < 0 || map[k] >= 13) continue;
        /* the name found for the k-th lead is that lead, spelled differently */
        char a[8] = "", b[8] = "";
        sscanf(shuf[map[k]], "%7s", a);
        snprintf(b, sizeof b, "%s", std[k]);
        CHECK_MSG(strcasecmp(a, b) == 0, "map[%d] -> \"%s\", expected %s", k, shuf[map[k]],
                  std[k]);
    }
    CHECK(map[0] == 4 && map[3] == 9 && map[11] == 3);

    /* missing leads are named */
    const char *miss[10] = {"I", "II", "III", "aVR", "aVF", "V1", "V2", "V4", "V5", "V6"};
    CHECK(pe_lead_order(miss, 10, map, &e) == -1);
    CHECK_CONTAINS(e.msg, "missing: aVL, V3");
    CHECK(map[0] == -1);

    /* a duplicated lead is named */
    const char *dup[13] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3",
                           "V4", "V5", "V6", "v2"};
    CHECK(pe_lead_order(dup, 13, map, &e) == -1);
    CHECK_CONTAINS(e.msg, "more than once: V2");

    /* a 1-lead Holter-like record: all but II missing */
    const char *one[1] = {"MLII"};
    CHECK(pe_lead_order(one, 1, map, &e) == -1);
    CHECK_CONTAINS(e.msg, "missing: I, II, III");
    CHECK_CONTAINS(e.msg, "MLII");
}

int main(void) {
    cJSON *root = golden_json_load("resample.json");
    if (!root) TEST_END();
    test_firwin(item(root, "firwin"));
    test_cases(item(root, "cases"));
    cJSON_Delete(root);
    test_resample_errors();
    test_lead_order();
    TEST_END();
}
