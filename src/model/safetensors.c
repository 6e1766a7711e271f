/* safetensors reader (strict validation, conversion on read) and atomic writer. */
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

/* Largest header we accept (the reference implementation's limit is 100 MB). */
#define ST_MAX_HEADER (100u * 1000u * 1000u)

static const struct {
    const char *name;
    int size;
} st_dtypes[] = {
    [PE_ST_BOOL] = {"BOOL", 1}, [PE_ST_U8] = {"U8", 1},     [PE_ST_I8] = {"I8", 1},
    [PE_ST_I16] = {"I16", 2},   [PE_ST_U16] = {"U16", 2},   [PE_ST_I32] = {"I32", 4},
    [PE_ST_U32] = {"U32", 4},   [PE_ST_I64] = {"I64", 8},   [PE_ST_U64] = {"U64", 8},
    [PE_ST_F16] = {"F16", 2},   [PE_ST_BF16] = {"BF16", 2}, [PE_ST_F32] = {"F32", 4},
    [PE_ST_F64] = {"F64", 8},
};
#define ST_NDTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

const char *pe_st_dtype_name(pe_st_dtype dt) {
    return (int)dt >= 0 && (int)dt < ST_NDTYPES ? st_dtypes[dt].name : "?";
}

/* ---- scalar conversions ---- */

uint16_t pe_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float pe_bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* IEEE half -> float (exact). */
static float f16_to_f32(uint16_t h) {
    int s = h >> 15, ex = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v;
    if (ex == 0) v = ldexpf((float)m, -24);                       /* zero / subnormal */
    else if (ex == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400), ex - 25);
    return s ? -v : v;
}

/* "[16, 80]" into buf. */
static const char *shape_str(char *buf, size_t n, const int64_t *shape, int ndim) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* numel of a shape, or -1 on overflow / negative dims. */
static int64_t shape_numel(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n)) return -1;
    }
    return n;
}

/* ================================ reader ================================ */

typedef struct {
    pe_st_tensor t;
    uint64_t begin, end; /* byte range in the data section */
} st_entry;

struct pe_st_file {
    char *path;
    char *buf; /* the whole file */
    const unsigned char *data;
    uint64_t data_len;
    st_entry *ents; /* sorted by name */
    int n;
    char **meta; /* key0, value0, key1, value1, ... */
    int n_meta;
};

void pe_st_close(pe_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free((char *)f->ents[i].t.name);
    for (int i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->meta);
    free(f->ents);
    free(f->buf);
    free(f->path);
    free(f);
}

/* A JSON number that is a non-negative integer exactly representable as a double. */
static int json_uint(const cJSON *it, uint64_t *out) {
    if (!cJSON_IsNumber(it)) return -1;
    double d = it->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_metadata(pe_st_file *f, const cJSON *md, pe_error *e) {
    if (!cJSON_IsObject(md)) return pe_fail(e, "%s: __metadata__ is not an object", f->path);
    int n = cJSON_GetArraySize(md);
    f->meta = calloc((size_t)(2 * n + 1), sizeof *f->meta);
    if (!f->meta) return pe_fail(e, "%s: out of memory", f->path);
    for (const cJSON *kv = md->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return pe_fail(e, "%s: __metadata__ value of \"%s\" is not a string", f->path,
                           kv->string);
        for (int i = 0; i < f->n_meta; i++)
            if (!strcmp(f->meta[2 * i], kv->string))
                return pe_fail(e, "%s: duplicate __metadata__ key \"%s\"", f->path, kv->string);
        f->meta[2 * f->n_meta] = strdup(kv->string);
        f->meta[2 * f->n_meta + 1] = strdup(kv->valuestring);
        f->n_meta++;
        if (!f->meta[2 * f->n_meta - 2] || !f->meta[2 * f->n_meta - 1])
            return pe_fail(e, "%s: out of memory", f->path);
    }
    return 0;
}

/* Parses one header entry {"dtype","shape","data_offsets"} into en. */
static int parse_entry(pe_st_file *f, const cJSON *it, st_entry *en, pe_error *e) {
    const char *nm = it->string;
    if (!cJSON_IsObject(it))
        return pe_fail(e, "%s: tensor %s: entry is not an object", f->path, nm);
    const cJSON *dt = NULL, *sh = NULL, *off = NULL;
    for (const cJSON *c = it->child; c; c = c->next) {
        const cJSON **slot = !strcmp(c->string, "dtype")          ? &dt
                             : !strcmp(c->string, "shape")        ? &sh
                             : !strcmp(c->string, "data_offsets") ? &off
                                                                  : NULL;
        if (!slot) return pe_fail(e, "%s: tensor %s: unknown field \"%s\"", f->path, nm, c->string);
        if (*slot)
            return pe_fail(e, "%s: tensor %s: duplicate field \"%s\"", f->path, nm, c->string);
        *slot = c;
    }
    if (!dt || !sh || !off)
        return pe_fail(e, "%s: tensor %s: missing field \"%s\"", f->path, nm,
                       !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt)) return pe_fail(e, "%s: tensor %s: dtype is not a string", f->path, nm);
    int d = 0;
    while (d < ST_NDTYPES && strcmp(st_dtypes[d].name, dt->valuestring)) d++;
    if (d == ST_NDTYPES)
        return pe_fail(e, "%s: tensor %s: unsupported dtype \"%.32s\"", f->path, nm,
                       dt->valuestring);
    en->t.dtype = (pe_st_dtype)d;

    if (!cJSON_IsArray(sh)) return pe_fail(e, "%s: tensor %s: shape is not an array", f->path, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > PE_ST_MAX_DIMS)
        return pe_fail(e, "%s: tensor %s: %d dimensions (at most %d supported)", f->path, nm, nd,
                       PE_ST_MAX_DIMS);
    en->t.ndim = 0;
    for (const cJSON *c = sh->child; c; c = c->next) {
        uint64_t v;
        if (json_uint(c, &v))
            return pe_fail(e, "%s: tensor %s: shape entries must be non-negative integers",
                           f->path, nm);
        en->t.shape[en->t.ndim++] = (int64_t)v;
    }
    en->t.numel = shape_numel(en->t.shape, en->t.ndim);
    int64_t nbytes;
    if (en->t.numel < 0 || __builtin_mul_overflow(en->t.numel, st_dtypes[d].size, &nbytes))
        return pe_fail(e, "%s: tensor %s: shape too large", f->path, nm);

    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        json_uint(off->child, &en->begin) || json_uint(off->child->next, &en->end) ||
        en->begin > en->end)
        return pe_fail(e, "%s: tensor %s: data_offsets must be [begin, end] with 0 <= begin <= end",
                       f->path, nm);
    if (en->end > f->data_len)
        return pe_fail(e, "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
                       "] beyond the data section (%" PRIu64 " bytes): truncated file?",
                       f->path, nm, en->begin, en->end, f->data_len);
    char sb[160];
    if (en->end - en->begin != (uint64_t)nbytes)
        return pe_fail(e, "%s: tensor %s: %" PRIu64 " data bytes but shape %s of %s needs %" PRId64,
                       f->path, nm, en->end - en->begin,
                       shape_str(sb, sizeof sb, en->t.shape, en->t.ndim), st_dtypes[d].name,
                       nbytes);
    en->t.name = strdup(nm);
    if (!en->t.name) return pe_fail(e, "%s: out of memory", f->path);
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->t.name, ((const st_entry *)b)->t.name);
}

static int cmp_offset(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile the data section: no overlap, no gap, nothing after the last. */
static int check_layout(pe_st_file *f, pe_error *e) {
    const st_entry **by = malloc((size_t)(f->n + 1) * sizeof *by);
    if (!by) return pe_fail(e, "%s: out of memory", f->path);
    for (int i = 0; i < f->n; i++) by[i] = &f->ents[i];
    qsort(by, (size_t)f->n, sizeof *by, cmp_offset);
    uint64_t pos = 0;
    int rc = 0;
    for (int i = 0; i < f->n && !rc; i++) {
        if (by[i]->begin < pos)
            rc = pe_fail(e, "%s: tensors %s and %s overlap in the data section", f->path,
                         by[i - 1]->t.name, by[i]->t.name);
        else if (by[i]->begin > pos)
            rc = pe_fail(e, "%s: gap of %" PRIu64 " bytes in the data section before tensor %s",
                         f->path, by[i]->begin - pos, by[i]->t.name);
        pos = by[i]->end;
    }
    if (!rc && pos != f->data_len)
        rc = pe_fail(e, "%s: %" PRIu64 " bytes in the data section after the last tensor",
                     f->path, f->data_len - pos);
    free(by);
    return rc;
}

/* Validates buf (len bytes, owned by f from now on) and fills f. */
static int st_parse(pe_st_file *f, size_t len, pe_error *e) {
    if (len < 8)
        return pe_fail(e, "%s: not a safetensors file: %zu bytes, need at least 8", f->path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (unsigned char)f->buf[i];
    if (hlen > len - 8)
        return pe_fail(e, "%s: header length %" PRIu64 " exceeds the file (%zu bytes after the "
                       "length field): truncated file?", f->path, hlen, len - 8);
    if (hlen > ST_MAX_HEADER)
        return pe_fail(e, "%s: header length %" PRIu64 " is unreasonably large", f->path, hlen);
    if (hlen < 2 || f->buf[8] != '{')
        return pe_fail(e, "%s: header is not a JSON object", f->path);
    f->data = (const unsigned char *)f->buf + 8 + hlen;
    f->data_len = len - 8 - hlen;

    char *h = malloc(hlen + 1); /* NUL-terminated copy for cJSON */
    if (!h) return pe_fail(e, "%s: out of memory", f->path);
    memcpy(h, f->buf + 8, hlen);
    h[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, hlen, &end, 0);
    int rc = 0;
    if (!root) {
        rc = pe_fail(e, "%s: header is not valid JSON (error near byte %ld of %" PRIu64 ")",
                     f->path, end ? (long)(end - h) : -1L, hlen);
        goto done;
    }
    for (const char *p = end; p < h + hlen; p++) {
        if (!*p || !strchr(" \t\r\n", *p)) {
            rc = pe_fail(e, "%s: header is not valid JSON (trailing bytes at %ld)", f->path,
                         (long)(p - h));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = pe_fail(e, "%s: header is not a JSON object", f->path);
        goto done;
    }
    int n = cJSON_GetArraySize(root);
    f->ents = calloc((size_t)n + 1, sizeof *f->ents);
    if (!f->ents) {
        rc = pe_fail(e, "%s: out of memory", f->path);
        goto done;
    }
    int seen_meta = 0;
    for (const cJSON *it = root->child; it && !rc; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) {
            rc = seen_meta++ ? pe_fail(e, "%s: duplicate __metadata__", f->path)
                             : parse_metadata(f, it, e);
        } else {
            rc = parse_entry(f, it, &f->ents[f->n], e);
            if (!rc) f->n++;
        }
    }
    if (rc) goto done;
    qsort(f->ents, (size_t)f->n, sizeof *f->ents, cmp_name);
    for (int i = 1; i < f->n && !rc; i++)
        if (!strcmp(f->ents[i - 1].t.name, f->ents[i].t.name))
            rc = pe_fail(e, "%s: duplicate tensor %s", f->path, f->ents[i].t.name);
    if (!rc) rc = check_layout(f, e);
done:
    cJSON_Delete(root);
    free(h);
    return rc;
}

/* Takes ownership of buf. */
static pe_st_file *st_open_buffer(char *buf, size_t len, const char *name, pe_error *e) {
    pe_st_file *f = calloc(1, sizeof *f);
    char *path = strdup(name ? name : "(memory)");
    if (!f || !path) {
        free(f);
        free(path);
        free(buf);
        pe_fail(e, "%s: out of memory", name ? name : "(memory)");
        return NULL;
    }
    f->buf = buf;
    f->path = path;
    if (st_parse(f, len, e)) {
        pe_st_close(f);
        return NULL;
    }
    return f;
}

pe_st_file *pe_st_open(const char *path, pe_error *e) {
    size_t len = 0;
    char *buf = pe_read_file(path, &len, e);
    return buf ? st_open_buffer(buf, len, path, e) : NULL;
}

pe_st_file *pe_st_open_memory(const void *data, size_t len, const char *name, pe_error *e) {
    char *buf = malloc(len + 1);
    if (!buf) {
        pe_fail(e, "%s: out of memory", name ? name : "(memory)");
        return NULL;
    }
    if (len) memcpy(buf, data, len);
    return st_open_buffer(buf, len, name, e);
}

const char *pe_st_path(const pe_st_file *f) { return f->path; }

const char *pe_st_metadata(const pe_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

int pe_st_count(const pe_st_file *f) { return f->n; }

const pe_st_tensor *pe_st_at(const pe_st_file *f, int i) {
    return i >= 0 && i < f->n ? &f->ents[i].t : NULL;
}

const char *pe_st_name(const pe_st_file *f, int i) {
    return i >= 0 && i < f->n ? f->ents[i].t.name : NULL;
}

static const st_entry *find_entry(const pe_st_file *f, const char *name) {
    st_entry key = {.t.name = name};
    return bsearch(&key, f->ents, (size_t)f->n, sizeof *f->ents, cmp_name);
}

const pe_st_tensor *pe_st_find(const pe_st_file *f, const char *name) {
    const st_entry *en = find_entry(f, name);
    return en ? &en->t : NULL;
}

/* Finds name and checks its shape against the expected one. */
static const st_entry *lookup(const pe_st_file *f, const char *name, const int64_t *shape,
                              int ndim, pe_error *e) {
    const st_entry *en = find_entry(f, name);
    if (!en) {
        pe_fail(e, "%s: missing tensor %s", f->path, name);
        return NULL;
    }
    if (shape && (ndim != en->t.ndim || memcmp(shape, en->t.shape, (size_t)ndim * sizeof *shape))) {
        char a[160], b[160];
        pe_fail(e, "%s: tensor %s: expected shape %s, got %s", f->path, name,
                shape_str(a, sizeof a, shape, ndim < 0 ? 0 : ndim),
                shape_str(b, sizeof b, en->t.shape, en->t.ndim));
        return NULL;
    }
    return en;
}

int pe_st_read_f32(const pe_st_file *f, const char *name, float *dst,
                   const int64_t *expect_shape, int expect_ndim, pe_error *e) {
    const st_entry *en = lookup(f, name, expect_shape, expect_ndim, e);
    if (!en) return -1;
    const unsigned char *p = f->data + en->begin;
    int64_t n = en->t.numel;
    switch (en->t.dtype) {
    case PE_ST_F32:
        if (n) memcpy(dst, p, (size_t)n * 4);
        break;
    case PE_ST_F64:
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
        }
        break;
    case PE_ST_BF16:
    case PE_ST_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, p + 2 * i, 2);
            dst[i] = en->t.dtype == PE_ST_BF16 ? pe_bf16_to_f32(v) : f16_to_f32(v);
        }
        break;
    default:
        return pe_fail(e, "%s: tensor %s: dtype %s is not a floating-point type", f->path, name,
                       st_dtypes[en->t.dtype].name);
    }
    return 0;
}

int pe_st_read_i64(const pe_st_file *f, const char *name, int64_t *dst,
                   const int64_t *expect_shape, int expect_ndim, pe_error *e) {
    const st_entry *en = lookup(f, name, expect_shape, expect_ndim, e);
    if (!en) return -1;
    const unsigned char *p = f->data + en->begin;
    pe_st_dtype dt = en->t.dtype;
    if (dt == PE_ST_F16 || dt == PE_ST_BF16 || dt == PE_ST_F32 || dt == PE_ST_F64)
        return pe_fail(e, "%s: tensor %s: dtype %s is not an integer type", f->path, name,
                       st_dtypes[dt].name);
    int sz = st_dtypes[dt].size;
    for (int64_t i = 0; i < en->t.numel; i++) {
        const unsigned char *q = p + (size_t)i * (size_t)sz;
        union { uint8_t u8; int8_t i8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
                int64_t i64; uint64_t u64; } v;
        memcpy(&v, q, (size_t)sz);
        switch (dt) {
        case PE_ST_BOOL: dst[i] = v.u8 != 0; break;
        case PE_ST_U8: dst[i] = v.u8; break;
        case PE_ST_I8: dst[i] = v.i8; break;
        case PE_ST_I16: dst[i] = v.i16; break;
        case PE_ST_U16: dst[i] = v.u16; break;
        case PE_ST_I32: dst[i] = v.i32; break;
        case PE_ST_U32: dst[i] = v.u32; break;
        case PE_ST_I64: dst[i] = v.i64; break;
        default:
            if (v.u64 > (uint64_t)INT64_MAX)
                return pe_fail(e, "%s: tensor %s: U64 value %" PRIu64 " does not fit int64",
                               f->path, name, v.u64);
            dst[i] = (int64_t)v.u64;
        }
    }
    return 0;
}

/* ================================ writer ================================ */

typedef struct {
    char *name;
    pe_st_dtype dtype;
    int ndim;
    int64_t shape[PE_ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} w_entry;

struct pe_st_writer {
    w_entry *ents;
    int n, cap;
    char **meta; /* key0, value0, ... */
    int n_meta, cap_meta;
};

pe_st_writer *pe_st_writer_new(void) { return calloc(1, sizeof(pe_st_writer)); }

void pe_st_writer_free(pe_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->ents[i].name);
        free(w->ents[i].data);
    }
    for (int i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->ents);
    free(w->meta);
    free(w);
}

/* Appends an entry with room for the data; returns it (data uninitialized) or NULL. */
static w_entry *w_add(pe_st_writer *w, const char *name, pe_st_dtype dt, const int64_t *shape,
                      int ndim, pe_error *e) {
    if (!name || !strcmp(name, "__metadata__")) {
        pe_fail(e, "safetensors writer: invalid tensor name %s", name ? name : "(null)");
        return NULL;
    }
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->ents[i].name, name)) {
            pe_fail(e, "safetensors writer: duplicate tensor %s", name);
            return NULL;
        }
    int64_t numel = ndim >= 0 && ndim <= PE_ST_MAX_DIMS ? shape_numel(shape, ndim) : -1;
    int64_t nbytes;
    if (numel < 0 || __builtin_mul_overflow(numel, st_dtypes[dt].size, &nbytes)) {
        pe_fail(e, "safetensors writer: tensor %s: invalid shape (ndim %d)", name, ndim);
        return NULL;
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        w_entry *ne = realloc(w->ents, (size_t)cap * sizeof *ne);
        if (!ne) {
            pe_fail(e, "safetensors writer: out of memory");
            return NULL;
        }
        w->ents = ne;
        w->cap = cap;
    }
    w_entry *en = &w->ents[w->n];
    memset(en, 0, sizeof *en);
    en->name = strdup(name);
    en->data = malloc(nbytes ? (size_t)nbytes : 1);
    if (!en->name || !en->data) {
        free(en->name);
        free(en->data);
        pe_fail(e, "safetensors writer: out of memory");
        return NULL;
    }
    en->dtype = dt;
    en->ndim = ndim;
    if (ndim) memcpy(en->shape, shape, (size_t)ndim * sizeof *shape);
    en->nbytes = (size_t)nbytes;
    w->n++;
    return en;
}

int pe_st_add_f32(pe_st_writer *w, const char *name, const float *data, const int64_t *shape,
                  int ndim, pe_error *e) {
    w_entry *en = w_add(w, name, PE_ST_F32, shape, ndim, e);
    if (!en) return -1;
    if (en->nbytes) memcpy(en->data, data, en->nbytes);
    return 0;
}

int pe_st_add_bf16(pe_st_writer *w, const char *name, const float *data, const int64_t *shape,
                   int ndim, pe_error *e) {
    w_entry *en = w_add(w, name, PE_ST_BF16, shape, ndim, e);
    if (!en) return -1;
    uint16_t *out = en->data;
    for (size_t i = 0; i < en->nbytes / 2; i++) out[i] = pe_f32_to_bf16(data[i]);
    return 0;
}

int pe_st_add_i64(pe_st_writer *w, const char *name, const int64_t *data, const int64_t *shape,
                  int ndim, pe_error *e) {
    w_entry *en = w_add(w, name, PE_ST_I64, shape, ndim, e);
    if (!en) return -1;
    if (en->nbytes) memcpy(en->data, data, en->nbytes);
    return 0;
}

int pe_st_set_metadata(pe_st_writer *w, const char *key, const char *value, pe_error *e) {
    char *v = strdup(value);
    if (!v) return pe_fail(e, "safetensors writer: out of memory");
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta[2 * i], key)) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return 0;
        }
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 8;
        char **nm = realloc(w->meta, (size_t)(2 * cap) * sizeof *nm);
        if (!nm) {
            free(v);
            return pe_fail(e, "safetensors writer: out of memory");
        }
        w->meta = nm;
        w->cap_meta = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return pe_fail(e, "safetensors writer: out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return 0;
}

/* A growable string for the header. */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->n + n + 1 > cap) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_put(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

/* A JSON string literal, escaped as Python's json.dumps does (UTF-8 passed through). */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sb_put(b, "\\\""); break;
        case '\\': sb_put(b, "\\\\"); break;
        case '\n': sb_put(b, "\\n"); break;
        case '\r': sb_put(b, "\\r"); break;
        case '\t': sb_put(b, "\\t"); break;
        case '\b': sb_put(b, "\\b"); break;
        case '\f': sb_put(b, "\\f"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                sb_put(b, esc);
            } else {
                sb_putn(b, (const char *)p, 1);
            }
        }
    }
    sb_put(b, "\"");
}

static int cmp_went(const void *a, const void *b) {
    return strcmp((*(const w_entry *const *)a)->name, (*(const w_entry *const *)b)->name);
}

static int cmp_meta(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

int pe_st_write(const pe_st_writer *w, const char *path, pe_error *e) {
    const w_entry **ord = malloc((size_t)(w->n + 1) * sizeof *ord);
    char *const **mord = malloc((size_t)(w->n_meta + 1) * sizeof *mord);
    sbuf h = {0};
    int rc = 0;
    if (!ord || !mord) {
        rc = pe_fail(e, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < w->n; i++) ord[i] = &w->ents[i];
    for (int i = 0; i < w->n_meta; i++) mord[i] = &w->meta[2 * i];
    qsort(ord, (size_t)w->n, sizeof *ord, cmp_went);
    qsort(mord, (size_t)w->n_meta, sizeof *mord, cmp_meta);

    /* header: {"__metadata__":{...},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},..} */
    sb_put(&h, "{");
    if (w->n_meta) {
        sb_put(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_put(&h, ",");
            sb_json_str(&h, mord[i][0]);
            sb_put(&h, ":");
            sb_json_str(&h, mord[i][1]);
        }
        sb_put(&h, "}");
    }
    uint64_t off = 0;
    char num[64];
    for (int i = 0; i < w->n; i++) {
        const w_entry *en = ord[i];
        if (i || w->n_meta) sb_put(&h, ",");
        sb_json_str(&h, en->name);
        sb_put(&h, ":{\"dtype\":\"");
        sb_put(&h, st_dtypes[en->dtype].name);
        sb_put(&h, "\",\"shape\":[");
        for (int d = 0; d < en->ndim; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", en->shape[d]);
            sb_put(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off,
                 off + en->nbytes);
        sb_put(&h, num);
        off += en->nbytes;
    }
    sb_put(&h, "}");
    while (!h.oom && h.n % 8) sb_put(&h, " ");
    if (h.oom) {
        rc = pe_fail(e, "%s: out of memory", path);
        goto done;
    }

    pe_atomic_file af;
    if (pe_atomic_open(&af, path, e)) {
        rc = -1;
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    int bad = fwrite(len8, 1, 8, af.f) != 8 || fwrite(h.s, 1, h.n, af.f) != h.n;
    for (int i = 0; i < w->n && !bad; i++)
        bad = ord[i]->nbytes && fwrite(ord[i]->data, 1, ord[i]->nbytes, af.f) != ord[i]->nbytes;
    if (bad) {
        pe_atomic_abort(&af);
        rc = pe_fail(e, "%s: write failed", path);
    } else {
        rc = pe_atomic_commit(&af, e);
    }
done:
    free(h.s);
    free(ord);
    free(mord);
    return rc;
}
