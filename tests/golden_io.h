/* A tiny safetensors reader for tests: golden_load(path, name, &n) returns the named
 * tensor as a malloc'd float array of n values (F32 as is; F64, I32, I64 converted),
 * or NULL with a message on stderr. The file is re-read on every call: fine for the
 * small golden files under tests/golden/. The library's real reader lives elsewhere. */
#ifndef PE_TESTS_GOLDEN_IO_H
#define PE_TESTS_GOLDEN_IO_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file; NULL on error. */
static inline unsigned char *golden_read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static inline float *golden_load(const char *path, const char *name, size_t *n) {
    size_t len = 0;
    unsigned char *data = golden_read_all(path, &len);
    float *out = NULL;
    cJSON *hdr = NULL;
    if (!data) {
        fprintf(stderr, "golden_load: cannot read %s\n", path);
        return NULL;
    }
    uint64_t hlen = 0;
    if (len < 8) goto bad;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i]; /* little endian */
    if (hlen > len - 8) goto bad;
    hdr = cJSON_ParseWithLength((const char *)data + 8, (size_t)hlen);
    if (!hdr) goto bad;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(hdr, name);
    if (!cJSON_IsObject(t)) {
        fprintf(stderr, "golden_load: %s: no tensor '%s'\n", path, name);
        goto fail;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
        cJSON_GetArraySize(offs) != 2)
        goto bad;
    size_t count = 1, esize;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        if (!cJSON_IsNumber(dim) || dim->valuedouble < 0) goto bad;
        count *= (size_t)dim->valuedouble;
    }
    const char *d = dt->valuestring;
    if (!strcmp(d, "F32") || !strcmp(d, "I32")) esize = 4;
    else if (!strcmp(d, "F64") || !strcmp(d, "I64")) esize = 8;
    else {
        fprintf(stderr, "golden_load: %s: tensor '%s' has unsupported dtype %s\n", path, name, d);
        goto fail;
    }
    double s0 = cJSON_GetArrayItem(offs, 0)->valuedouble;
    double s1 = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (s0 < 0 || s1 < s0 || (uint64_t)s1 > len - 8 - hlen || (size_t)(s1 - s0) != count * esize)
        goto bad;
    const unsigned char *p = data + 8 + hlen + (size_t)s0;
    out = malloc((count ? count : 1) * sizeof *out);
    if (!out) goto fail;
    for (size_t i = 0; i < count; i++) { /* memcpy: the data may be unaligned */
        if (!strcmp(d, "F32")) {
            float v;
            memcpy(&v, p + 4 * i, 4);
            out[i] = v;
        } else if (!strcmp(d, "F64")) {
            double v;
            memcpy(&v, p + 8 * i, 8);
            out[i] = (float)v;
        } else if (!strcmp(d, "I32")) {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            out[i] = (float)v;
        } else {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            out[i] = (float)v;
        }
    }
    *n = count;
    cJSON_Delete(hdr);
    free(data);
    return out;
bad:
    fprintf(stderr, "golden_load: %s: malformed safetensors file (tensor '%s')\n", path, name);
fail:
    cJSON_Delete(hdr);
    free(data);
    return NULL;
}

#endif
