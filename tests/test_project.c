/* pe_project_prototypes (spec section 5.2) against numpy (scripts/golden_project.py,
 * tests/golden/project.json): for distinct = 0 and 1, every prototype's source ecg_id
 * (-1 for the class without positives), its cosine and the mean cosine; each projected
 * prototype equal, bit for bit, to its source record's latent, and its labels copied; a
 * class's prototypes shared in distinct mode when it has fewer records than K; the tie
 * between two identical latents going to the first. */
#include "check.h"
#include "golden_json.h"
#include "train/project.h"

#define C_ PE_NUM_CLASSES

int main(void) {
    cJSON *g = golden_json_load("project.json");
    if (!g) return check_failures;
    int n = cJSON_GetObjectItem(g, "n")->valueint, D = cJSON_GetObjectItem(g, "D")->valueint;
    int K = cJSON_GetObjectItem(g, "K")->valueint, P = K * C_, len;
    double *zd = json_doubles(g, "z", &len), *yd = json_doubles(g, "y", &len);
    double *idd = json_doubles(g, "ecg_id", &len), *pd = json_doubles(g, "protos", &len);
    float *z = malloc((size_t)n * D * sizeof(float)), *protos = malloc((size_t)P * D * sizeof(float));
    uint8_t *y = malloc((size_t)n * C_);
    int32_t *ids = malloc((size_t)n * sizeof(int32_t));
    double *znorm = malloc((size_t)n * sizeof(double));
    pe_proto_source *src = calloc((size_t)P, sizeof *src);
    for (int i = 0; i < n * D; i++) z[i] = (float)zd[i];
    for (int i = 0; i < n * C_; i++) y[i] = (uint8_t)yd[i];
    for (int i = 0; i < n; i++) ids[i] = (int32_t)idd[i];
    pe_latent_pool pool = {.n = n, .D = D, .z = z, .y = y, .ecg_id = ids};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
        int distinct = cJSON_GetObjectItem(c, "distinct")->valueint, m;
        for (int i = 0; i < P * D; i++) protos[i] = (float)pd[i];
        for (int p = 0; p < P; p++) src[p].ecg_id = 12345; /* stale sources from an earlier call */
        double mean = pe_project_prototypes(protos, K, &pool, src, znorm, distinct, 0);
        CHECK_CLOSE(mean, cJSON_GetObjectItem(c, "mean")->valuedouble, 1e-12, 0);
        double *want = json_doubles(c, "ecg_id", &m);
        const cJSON *sims = cJSON_GetObjectItem(c, "similarity");
        CHECK(m == P);
        for (int p = 0; p < P && p < m; p++) {
            CHECK_MSG(src[p].ecg_id == (int)want[p], "distinct %d, prototype %d: source %d, numpy %d",
                      distinct, p, src[p].ecg_id, (int)want[p]);
            if (src[p].ecg_id < 0) { /* left as it was */
                for (int d = 0; d < D; d++) CHECK(protos[p * D + d] == (float)pd[p * D + d]);
                continue;
            }
            CHECK_CLOSE(src[p].similarity, cJSON_GetArrayItem(sims, p)->valuedouble, 1e-6, 0);
            int j = 0;
            while (j < n && ids[j] != src[p].ecg_id) j++;
            CHECK(j < n && y[j * C_ + p / K]); /* a record of the prototype's class */
            if (j == n) continue;
            CHECK(memcmp(protos + (size_t)p * D, z + (size_t)j * D, (size_t)D * sizeof(float)) == 0);
            CHECK(memcmp(src[p].labels, y + (size_t)j * C_, C_) == 0);
        }
        free(want);
    }
    free(zd), free(yd), free(idd), free(pd), free(z), free(protos), free(y), free(ids), free(znorm);
    free(src);
    cJSON_Delete(g);
    return check_failures;
}
