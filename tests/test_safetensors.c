/* safetensors reader/writer: round trip, golden files written by Python
 * (scripts/golden_safetensors.py: numpy writer, torch-converted state_dict), strict
 * validation of bad files (each message names the file), and random corruption. */
#include "check.h"
#include "model/modelfile.h"
#include "model/safetensors.h"
#include "util/fileio.h"
#include "util/rng.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <stdint.h>
#include <unistd.h>

static char tmp_prefix[128];

static const char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s%s", tmp_prefix, name);
    return buf;
}

static const char *golden(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/tests/golden/%s", PE_SOURCE_DIR, name);
    return buf;
}

/* Writes [len][header padded to 8][data] to path; ' in header becomes " (readability). */
static void make_file(const char *path, const char *header, const void *data, size_t dlen) {
    size_t hl = strlen(header), padded = (hl + 7) / 8 * 8;
    size_t total = 8 + padded + dlen;
    unsigned char *b = calloc(1, total);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    for (size_t i = 0; i < hl; i++) b[8 + i] = header[i] == '\'' ? '"' : (unsigned char)header[i];
    memset(b + 8 + hl, ' ', padded - hl);
    if (dlen) memcpy(b + 8 + padded, data, dlen);
    pe_error e;
    CHECK(pe_write_file_atomic(path, b, total, &e) == 0);
    free(b);
}

/* Opening must fail with a message that names the file and contains `what`. */
static void expect_open_fail(const char *path, const char *what) {
    pe_error e = {{0}};
    pe_st_file *f = pe_st_open(path, &e);
    CHECK_MSG(f == NULL, "%s opened but should fail with \"%s\"", path, what);
    pe_st_close(f);
    CHECK_CONTAINS(e.msg, path);
    CHECK_CONTAINS(e.msg, what);
}

static void test_roundtrip(void) {
    pe_error e = {{0}};
    char path[256];
    tmp_path(path, sizeof path, "rt.safetensors");
    float w[6] = {1.5f, -2.25f, 0.0f, 1e-30f, 3e30f, -0.0f};
    /* BF16 rounding cases with hand-derived results (round to nearest, ties to even). */
    float bsrc[7] = {1.0f, 1.0f + ldexpf(1, -8), 1.0f + 3 * ldexpf(1, -8),
                     1.0f + ldexpf(1, -8) + ldexpf(1, -23), -(1.0f + 3 * ldexpf(1, -8)),
                     FLT_MAX, 3.14159265f};
    float bexp[7] = {1.0f, 1.0f, 1.015625f, 1.0078125f, -1.015625f, INFINITY, 3.140625f};
    int64_t iv[4] = {INT64_MIN, -1, 0, INT64_MAX};
    float scalar = 42.0f;
    int64_t sw[2] = {2, 3}, sb[1] = {7}, si[1] = {4};

    pe_st_writer *w_ = pe_st_writer_new();
    CHECK(w_ != NULL);
    CHECK(pe_st_add_i64(w_, "z.count", iv, si, 1, &e) == 0);
    CHECK(pe_st_add_f32(w_, "m.weight", w, sw, 2, &e) == 0);
    CHECK(pe_st_add_bf16(w_, "b.half", bsrc, sb, 1, &e) == 0);
    CHECK(pe_st_add_f32(w_, "a.scalar", &scalar, NULL, 0, &e) == 0);
    CHECK(pe_st_add_f32(w_, "m.weight", w, sw, 2, &e) == -1);
    CHECK_CONTAINS(e.msg, "duplicate tensor m.weight");
    CHECK(pe_st_add_f32(w_, "__metadata__", w, sw, 2, &e) == -1);
    CHECK(pe_st_set_metadata(w_, "format", "old", &e) == 0);
    CHECK(pe_st_set_metadata(w_, "format", "protoecg", &e) == 0);
    CHECK(pe_st_set_metadata(w_, "classes", "AFIB,SR", &e) == 0);
    CHECK(pe_st_write(w_, path, &e) == 0);
    CHECK(pe_st_write(w_, "/nonexistent/dir/m.safetensors", &e) == -1);
    CHECK_CONTAINS(e.msg, "/nonexistent/dir/m.safetensors");
    pe_st_writer_free(w_);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(!pe_path_exists(tmp)); /* the temp file was renamed into place */

    pe_st_file *f = pe_st_open(path, &e);
    CHECK_MSG(f != NULL, "%s", e.msg);
    if (!f) return;
    CHECK(pe_st_count(f) == 4);
    const char *order[4] = {"a.scalar", "b.half", "m.weight", "z.count"};
    for (int i = 0; i < 4; i++) CHECK(pe_st_name(f, i) && !strcmp(pe_st_name(f, i), order[i]));
    CHECK(pe_st_name(f, 4) == NULL);
    CHECK(!strcmp(pe_st_metadata(f, "format"), "protoecg"));
    CHECK(!strcmp(pe_st_metadata(f, "classes"), "AFIB,SR"));
    CHECK(pe_st_metadata(f, "nope") == NULL);

    float rw[6], rb[7], rs = 0;
    int64_t ri[4];
    CHECK(pe_st_read_f32(f, "m.weight", rw, sw, 2, &e) == 0);
    CHECK(!memcmp(rw, w, sizeof w));
    CHECK(pe_st_read_f32(f, "b.half", rb, sb, 1, &e) == 0);
    for (int i = 0; i < 7; i++)
        CHECK_MSG(rb[i] == bexp[i], "bf16[%d] = %.9g, want %.9g", i, rb[i], bexp[i]);
    const pe_st_tensor *t = pe_st_find(f, "b.half");
    CHECK(t && t->dtype == PE_ST_BF16 && t->ndim == 1 && t->shape[0] == 7 && t->numel == 7);
    CHECK(pe_st_read_f32(f, "a.scalar", &rs, NULL, 0, &e) == 0 && rs == 42.0f);
    CHECK(pe_st_find(f, "a.scalar")->ndim == 0);
    CHECK(pe_st_read_i64(f, "z.count", ri, si, 1, &e) == 0);
    CHECK(!memcmp(ri, iv, sizeof iv));

    /* errors of the typed readers */
    int64_t wrong[2] = {3, 2};
    CHECK(pe_st_read_f32(f, "m.weight", rw, wrong, 2, &e) == -1);
    CHECK_CONTAINS(e.msg, path);
    CHECK_CONTAINS(e.msg, "tensor m.weight: expected shape [3, 2], got [2, 3]");
    CHECK(pe_st_read_f32(f, "m.weight", rw, sw, 1, &e) == -1);
    CHECK_CONTAINS(e.msg, "expected shape [2], got [2, 3]");
    CHECK(pe_st_read_f32(f, "nope.weight", rw, sw, 2, &e) == -1);
    CHECK_CONTAINS(e.msg, path);
    CHECK_CONTAINS(e.msg, "missing tensor nope.weight");
    CHECK(pe_st_find(f, "nope.weight") == NULL);
    CHECK(pe_st_read_f32(f, "z.count", rw, si, 1, &e) == -1);
    CHECK_CONTAINS(e.msg, "I64 is not a floating-point type");
    CHECK(pe_st_read_i64(f, "m.weight", ri, sw, 2, &e) == -1);
    CHECK_CONTAINS(e.msg, "F32 is not an integer type");
    pe_st_close(f);
    unlink(path);
}

/* tiny.safetensors (numpy writer): values, BF16 rounding vs Python/torch, byte-identical
 * rewrite by the C writer. */
static void test_golden_tiny(void) {
    pe_error e = {{0}};
    char gp[512], path[256];
    pe_st_file *f = pe_st_open(golden(gp, sizeof gp, "tiny.safetensors"), &e);
    CHECK_MSG(f != NULL, "%s", e.msg);
    if (!f) return;
    CHECK(pe_st_count(f) == 6);
    CHECK(!strcmp(pe_st_metadata(f, "format"), "protoecg"));
    CHECK(!strcmp(pe_st_metadata(f, "format_version"), "1"));
    CHECK(!strcmp(pe_st_metadata(f, "note"), "quote \" backslash \\ tab \t newline \n end"));

    int64_t s23[2] = {2, 3}, s14[1] = {14}, s4[1] = {4}, s04[2] = {0, 4};
    float a[6], bf[14], src[14], sc = 0, em[1];
    int64_t c[4];
    CHECK(pe_st_read_f32(f, "a.weight", a, s23, 2, &e) == 0);
    for (int i = 0; i < 6; i++) CHECK(a[i] == i * 0.25f - 1.0f);
    CHECK(pe_st_read_f32(f, "bf16.src", src, s14, 1, &e) == 0);
    CHECK(pe_st_read_f32(f, "bf16", bf, s14, 1, &e) == 0);
    for (int i = 0; i < 14; i++) {
        uint32_t u;
        memcpy(&u, &bf[i], 4);
        CHECK_MSG((u >> 16) == pe_f32_to_bf16(src[i]) && (u & 0xffff) == 0,
                  "bf16[%d]: python %04x, C %04x", i, u >> 16, pe_f32_to_bf16(src[i]));
    }
    CHECK(pe_st_read_i64(f, "c.i64", c, s4, 1, &e) == 0);
    CHECK(c[0] == -((int64_t)1 << 40) && c[1] == 0 && c[2] == 7 && c[3] == INT64_MAX);
    CHECK(pe_st_read_f32(f, "scalar", &sc, NULL, 0, &e) == 0 && sc == 3.5f);
    CHECK(pe_st_read_f32(f, "empty", em, s04, 2, &e) == 0);

    /* The C writer must produce the same bytes as the Python reference writer. */
    pe_st_writer *w = pe_st_writer_new();
    CHECK(pe_st_add_bf16(w, "bf16", src, s14, 1, &e) == 0);
    CHECK(pe_st_add_f32(w, "scalar", &sc, NULL, 0, &e) == 0);
    CHECK(pe_st_add_f32(w, "empty", em, s04, 2, &e) == 0);
    CHECK(pe_st_add_i64(w, "c.i64", c, s4, 1, &e) == 0);
    CHECK(pe_st_add_f32(w, "a.weight", a, s23, 2, &e) == 0);
    CHECK(pe_st_add_f32(w, "bf16.src", src, s14, 1, &e) == 0);
    CHECK(pe_st_set_metadata(w, "note", pe_st_metadata(f, "note"), &e) == 0);
    CHECK(pe_st_set_metadata(w, "format_version", "1", &e) == 0);
    CHECK(pe_st_set_metadata(w, "format", "protoecg", &e) == 0);
    CHECK(pe_st_write(w, tmp_path(path, sizeof path, "tiny_c.safetensors"), &e) == 0);
    pe_st_writer_free(w);
    size_t n1 = 0, n2 = 0;
    char *b1 = pe_read_file(gp, &n1, &e), *b2 = pe_read_file(path, &n2, &e);
    CHECK_MSG(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "C writer output differs from %s", gp);
    free(b1);
    free(b2);
    unlink(path);
    pe_st_close(f);
}

/* tiny_dtypes.safetensors: conversions from F64, F16, I32, U8. */
static void test_golden_dtypes(void) {
    pe_error e = {{0}};
    char gp[512];
    pe_st_file *f = pe_st_open(golden(gp, sizeof gp, "tiny_dtypes.safetensors"), &e);
    CHECK_MSG(f != NULL, "%s", e.msg);
    if (!f) return;
    CHECK(!strcmp(pe_st_metadata(f, "kind"), "dtypes"));
    float d[4], h[6], href[6];
    double dref[4] = {1.0 / 3.0, -2.5, 1e-40, 3e38};
    CHECK(pe_st_read_f32(f, "f64", d, (int64_t[]){4}, 1, &e) == 0);
    for (int i = 0; i < 4; i++) CHECK(d[i] == (float)dref[i]);
    CHECK(pe_st_read_f32(f, "f16", h, (int64_t[]){6}, 1, &e) == 0);
    CHECK(pe_st_read_f32(f, "f16.ref", href, (int64_t[]){6}, 1, &e) == 0);
    for (int i = 0; i < 6; i++)
        CHECK_MSG(h[i] == href[i], "f16[%d] %.9g vs numpy %.9g", i, h[i], href[i]);
    int64_t i32[2], u8[3];
    CHECK(pe_st_read_i64(f, "i32", i32, (int64_t[]){1, 2}, 2, &e) == 0);
    CHECK(i32[0] == -5 && i32[1] == 2147483647);
    CHECK(pe_st_read_i64(f, "u8", u8, (int64_t[]){3}, 1, &e) == 0);
    CHECK(u8[0] == 0 && u8[1] == 255 && u8[2] == 7);
    CHECK(pe_st_read_f32(f, "i32", d, NULL, 0, &e) == -1);
    CHECK_CONTAINS(e.msg, "I32 is not a floating-point type");
    pe_st_close(f);
}

/* tiny_torch.safetensors (converted from a torch state_dict by convert_torch.py) against
 * the tensors dumped from torch directly into tiny_torch.json. */
static void test_golden_torch(void) {
    pe_error e = {{0}};
    char gp[512], jp[512];
    pe_st_file *f = pe_st_open(golden(gp, sizeof gp, "tiny_torch.safetensors"), &e);
    char *js = pe_read_file(golden(jp, sizeof jp, "tiny_torch.json"), NULL, &e);
    cJSON *ref = js ? cJSON_Parse(js) : NULL;
    CHECK_MSG(f && ref, "%s", e.msg);
    if (f && ref) {
        CHECK(!strcmp(pe_st_metadata(f, "format"), PE_MODEL_FORMAT));
        CHECK(!strcmp(pe_st_metadata(f, "converted_from"), "tiny_torch.pt"));
        CHECK(pe_st_count(f) == cJSON_GetArraySize(ref));
        for (const cJSON *it = ref->child; it; it = it->next) {
            const cJSON *shape = cJSON_GetObjectItem(it, "shape");
            const cJSON *vals = cJSON_GetObjectItem(it, "values");
            int ndim = cJSON_GetArraySize(shape), n = cJSON_GetArraySize(vals);
            int64_t sh[PE_ST_MAX_DIMS];
            for (int d = 0; d < ndim; d++)
                sh[d] = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble;
            int is_int = !strcmp(cJSON_GetObjectItem(it, "dtype")->valuestring, "I64");
            float *fv = malloc((size_t)(n + 1) * sizeof *fv);
            int64_t *iv = malloc((size_t)(n + 1) * sizeof *iv);
            int rc = is_int ? pe_st_read_i64(f, it->string, iv, sh, ndim, &e)
                            : pe_st_read_f32(f, it->string, fv, sh, ndim, &e);
            CHECK_MSG(rc == 0, "%s", e.msg);
            const cJSON *v = vals->child;
            for (int i = 0; rc == 0 && i < n; i++, v = v->next)
                CHECK_MSG(is_int ? iv[i] == (int64_t)v->valuedouble
                                 : fv[i] == (float)v->valuedouble,
                          "%s[%d]", it->string, i);
            free(fv);
            free(iv);
        }
        /* (P, D, 1) prototypes were squeezed; the k=1 conv weight was not. */
        CHECK(pe_st_find(f, "prototype_vectors")->ndim == 2);
        CHECK(pe_st_find(f, "feature_extractor.layer2.0.downsample.0.weight")->ndim == 3);
    }
    cJSON_Delete(ref);
    free(js);
    pe_st_close(f);
}

static void test_bad_inputs(void) {
    char p[256];
    float data[8] = {0};
    expect_open_fail("/nonexistent/model.safetensors", "cannot open");

    pe_write_file_atomic(tmp_path(p, sizeof p, "empty.st"), "", 0, NULL); /* 0 bytes */
    expect_open_fail(p, "need at least 8");
    pe_write_file_atomic(tmp_path(p, sizeof p, "short.st"), "\x10\0\0\0\0", 5, NULL);
    expect_open_fail(p, "need at least 8");
    /* a valid file cut inside its header */
    make_file(tmp_path(p, sizeof p, "cut.st"),
              "{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}", data, 8);
    {
        size_t n = 0;
        char *b = pe_read_file(p, &n, NULL);
        pe_write_file_atomic(p, b, 30, NULL);
        free(b);
    }
    expect_open_fail(p, "header length 56 exceeds the file (22 bytes");
    pe_write_file_atomic(tmp_path(p, sizeof p, "huge.st"), "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10,
                         NULL);
    expect_open_fail(p, "header length 18446744073709551615 exceeds the file");

    struct {
        const char *file, *header, *what;
        size_t dlen;
    } cases[] = {
        {"json.st", "{'a':{'dtype':", "header is not valid JSON", 0},
        {"array.st", "[1,2]", "header is not a JSON object", 0},
        {"trail.st", "{} x", "trailing bytes", 0},
        {"beyond.st", "{'a':{'dtype':'F32','shape':[4],'data_offsets':[0,16]}}",
         "tensor a: data_offsets [0, 16] beyond the data section (8 bytes)", 8},
        {"size.st", "{'a':{'dtype':'F32','shape':[2,3],'data_offsets':[0,20]}}",
         "tensor a: 20 data bytes but shape [2, 3] of F32 needs 24", 20},
        {"dtype.st", "{'a':{'dtype':'F8_E5M2','shape':[2],'data_offsets':[0,2]}}",
         "tensor a: unsupported dtype \"F8_E5M2\"", 2},
        {"overlap.st", "{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},"
                       "'b':{'dtype':'F32','shape':[2],'data_offsets':[4,12]}}",
         "tensors a and b overlap", 12},
        {"gap.st", "{'a':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
         "gap of 4 bytes in the data section before tensor a", 8},
        {"extra.st", "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
         "4 bytes in the data section after the last tensor", 8},
        {"neg.st", "{'a':{'dtype':'F32','shape':[-1],'data_offsets':[0,0]}}",
         "tensor a: shape entries must be non-negative integers", 0},
        {"frac.st", "{'a':{'dtype':'F32','shape':[1.5],'data_offsets':[0,0]}}",
         "shape entries must be non-negative integers", 0},
        {"order.st", "{'a':{'dtype':'F32','shape':[0],'data_offsets':[8,0]}}",
         "data_offsets must be [begin, end]", 8},
        {"nofield.st", "{'a':{'dtype':'F32','shape':[0]}}",
         "tensor a: missing field \"data_offsets\"", 0},
        {"unk.st", "{'a':{'dtype':'F32','shape':[0],'data_offsets':[0,0],'x':1}}",
         "tensor a: unknown field \"x\"", 0},
        {"dup.st", "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                   "'a':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
         "duplicate tensor a", 8},
        {"meta.st", "{'__metadata__':{'k':1}}", "__metadata__ value of \"k\" is not a string", 0},
        {"meta2.st", "{'__metadata__':[]}", "__metadata__ is not an object", 0},
        {"big.st", "{'a':{'dtype':'F64','shape':[4294967296,4294967296],"
                   "'data_offsets':[0,0]}}",
         "tensor a: shape too large", 0},
        {"dims.st", "{'a':{'dtype':'U8','shape':[1,1,1,1,1,1,1,1,1],'data_offsets':[0,1]}}",
         "9 dimensions", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_file(tmp_path(p, sizeof p, cases[i].file), cases[i].header, data, cases[i].dlen);
        expect_open_fail(p, cases[i].what);
        unlink(p);
    }
    const char *files[] = {"empty.st", "short.st", "cut.st", "huge.st"};
    for (int i = 0; i < 4; i++) unlink(tmp_path(p, sizeof p, files[i]));

    /* A valid minimal file: empty header object, no data. */
    pe_error e = {{0}};
    make_file(tmp_path(p, sizeof p, "min.st"), "{}", NULL, 0);
    pe_st_file *f = pe_st_open(p, &e);
    CHECK_MSG(f && pe_st_count(f) == 0, "%s", e.msg);
    pe_st_close(f);
    unlink(p);
}

/* Random corruption of a valid file must never crash (ASan/UBSan check memory). */
static void test_corruption(void) {
    pe_error e = {{0}};
    char gp[512];
    size_t n = 0;
    golden(gp, sizeof gp, "tiny.safetensors");
    unsigned char *orig = (unsigned char *)pe_read_file(gp, &n, &e);
    CHECK(orig != NULL);
    if (!orig) return;
    unsigned char *buf = malloc(n);
    pe_rng r;
    pe_rng_seed(&r, 7);
    int iters = getenv("PE_TEST_QUICK") ? 500 : 3000, opened = 0;
    for (int it = 0; it < iters; it++) {
        memcpy(buf, orig, n);
        size_t len = n;
        int k = 1 + (int)pe_rng_below(&r, 4);
        for (int j = 0; j < k; j++) {
            /* mostly corrupt the header (the data section accepts any bytes) */
            size_t pos = pe_rng_below(&r, 8 + (uint64_t)(n - 8) / 2);
            buf[pos] = (unsigned char)pe_rng_u64(&r);
        }
        if (pe_rng_below(&r, 4) == 0) len = pe_rng_below(&r, n);
        pe_st_file *f = pe_st_open_memory(buf, len, "fuzz", &e);
        if (!f) {
            CHECK_CONTAINS(e.msg, "fuzz");
            continue;
        }
        opened++;
        for (int i = 0; i < pe_st_count(f); i++) {
            const pe_st_tensor *t = pe_st_at(f, i);
            void *dst = malloc((size_t)t->numel * 8 + 8);
            if (pe_st_read_f32(f, t->name, dst, t->shape, t->ndim, &e))
                pe_st_read_i64(f, t->name, dst, t->shape, t->ndim, &e);
            free(dst);
        }
        pe_st_close(f);
    }
    printf("corruption: %d of %d mutated files still valid\n", opened, iters);
    free(buf);
    free(orig);
}

int main(void) {
    snprintf(tmp_prefix, sizeof tmp_prefix, "/tmp/pe_test_st_%ld_", (long)getpid());
    test_roundtrip();
    test_golden_tiny();
    test_golden_dtypes();
    test_golden_torch();
    test_bad_inputs();
    test_corruption();
    TEST_END();
}
