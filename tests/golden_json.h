/* Loading the JSON golden files of tests/golden/ (written by scripts/golden_*.py).
 * Include after check.h. */
#ifndef PE_TESTS_GOLDEN_JSON_H
#define PE_TESTS_GOLDEN_JSON_H

#include <cjson/cJSON.h>

#include "util/fileio.h"

/* Parses tests/golden/<name>; on failure records a CHECK failure and returns NULL. */
static inline cJSON *golden_json_load(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/%s", PE_SOURCE_DIR, name);
    pe_error e = {{0}};
    size_t len = 0;
    char *txt = pe_read_file(path, &len, &e);
    CHECK_MSG(txt != NULL, "%s", e.msg);
    if (!txt) return NULL;
    cJSON *root = cJSON_ParseWithLength(txt, len);
    free(txt);
    CHECK_MSG(root != NULL, "%s: not valid JSON", path);
    return root;
}

/* Copies the JSON number array `key` of obj into a malloc'd double array. */
static inline double *json_doubles(const cJSON *obj, const char *key, int *len) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
    int n = cJSON_GetArraySize(arr);
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) v[i++] = it->valuedouble;
    *len = n;
    return v;
}

#endif
