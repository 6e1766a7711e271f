/* The cache reader's validation (data/cache.c): a well-formed cache file, written here
 * byte by byte after docs/formats.md, opens with its arrays where the header puts them;
 * a bad magic, another version, a truncated file, bad shapes and array offsets or sizes
 * outside the file (including ones whose sums overflow 64 bits) are refused, each with
 * a message naming the file and the problem. No shared data needed. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "data/cache.h"

enum { N = 3, LEADS = 12, SAMPLES = 8 };

/* A valid cache image of N records: ecg_id 10+i, fold i+1, label i on, signal values k. */
static size_t make_image(unsigned char *buf, size_t cap) {
    pe_cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PE_CACHE_MAGIC, 8);
    h.version = PE_CACHE_VERSION;
    h.n_records = N, h.n_leads = LEADS, h.n_samples = SAMPLES, h.n_classes = PE_NUM_CLASSES;
    h.filter_order = 1, h.cutoff_hz = 0.5f, h.fs = 100.0f;
    size_t a = (sizeof h + 63) / 64 * 64;
    h.off_ecg_id = a, h.off_fold = a + 64, h.off_labels = a + 128, h.off_signals = a + 192;
    h.file_size = h.off_signals + (size_t)N * LEADS * SAMPLES * sizeof(float);
    if (h.file_size > cap) return 0;
    memset(buf, 0, h.file_size);
    memcpy(buf, &h, sizeof h);
    for (int i = 0; i < N; i++) {
        int32_t id = 10 + i, fold = i + 1;
        memcpy(buf + h.off_ecg_id + 4 * i, &id, 4);
        memcpy(buf + h.off_fold + 4 * i, &fold, 4);
        buf[h.off_labels + (size_t)i * PE_NUM_CLASSES + i] = 1;
    }
    for (int k = 0; k < N * LEADS * SAMPLES; k++) {
        float v = (float)k;
        memcpy(buf + h.off_signals + 4 * (size_t)k, &v, 4);
    }
    return h.file_size;
}

static void write_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(buf, 1, len, f) == len);
        fclose(f);
    }
}

/* Opens the image with one header field changed by edit(); expects refusal with why. */
static void expect_refused(const char *path, const unsigned char *img, size_t len,
                           void (*edit)(pe_cache_header *), const char *why) {
    unsigned char *b = malloc(len);
    CHECK(b != NULL);
    if (!b) return;
    memcpy(b, img, len);
    pe_cache_header h;
    memcpy(&h, b, sizeof h);
    edit(&h);
    memcpy(b, &h, sizeof h);
    write_file(path, b, len);
    free(b);
    pe_cache c;
    pe_error e = {{0}};
    CHECK_MSG(pe_cache_open(path, &c, &e) != 0, "a cache with %s was opened", why);
    CHECK_CONTAINS(e.msg, path);
    CHECK_CONTAINS(e.msg, why);
    CHECK(c.map == NULL);
}

static void bad_magic(pe_cache_header *h) { h->magic[0] = 'X'; }
static void version2(pe_cache_header *h) { h->version = PE_CACHE_VERSION + 1; }
static void leads13(pe_cache_header *h) { h->n_leads = 13; }
static void sig_far(pe_cache_header *h) { h->off_signals += 64; }
/* offsets whose sum with the array's size wraps around 2^64 */
static void sig_wraps(pe_cache_header *h) { h->off_signals = UINT64_MAX - 63; }
static void ids_wrap(pe_cache_header *h) { h->off_ecg_id = UINT64_MAX - 63; }
static void labels_wrap(pe_cache_header *h) { h->off_labels = UINT64_MAX - 15; }
/* a record size whose product with the record count overflows 64 bits */
static void huge_records(pe_cache_header *h) {
    h->n_records = UINT32_MAX, h->n_samples = UINT32_MAX;
}

int main(void) {
    static unsigned char img[1 << 16];
    size_t len = make_image(img, sizeof img);
    CHECK(len > 0);
    char path[256];
    snprintf(path, sizeof path, "/tmp/pe_test_cache_%ld.bin", (long)getpid());

    write_file(path, img, len);
    pe_cache c;
    pe_error e = {{0}};
    CHECK_MSG(pe_cache_open(path, &c, &e) == 0, "%s", e.msg);
    if (c.map) {
        CHECK(c.h.n_records == N && c.h.n_leads == LEADS && c.h.n_samples == SAMPLES);
        for (int i = 0; i < N; i++) {
            CHECK(c.ecg_id[i] == 10 + i && c.fold[i] == i + 1);
            CHECK(c.labels[(size_t)i * PE_NUM_CLASSES + i] == 1);
        }
        CHECK(c.signals[N * LEADS * SAMPLES - 1] == (float)(N * LEADS * SAMPLES - 1));
        pe_cache_close(&c);
    }

    expect_refused(path, img, len, bad_magic, "bad magic");
    expect_refused(path, img, len, version2, "another format version");
    expect_refused(path, img, len, leads13, "bad shapes");
    expect_refused(path, img, len, sig_far, "array offsets outside the file");
    expect_refused(path, img, len, sig_wraps, "array offsets outside the file");
    expect_refused(path, img, len, ids_wrap, "array offsets outside the file");
    expect_refused(path, img, len, labels_wrap, "array offsets outside the file");
    expect_refused(path, img, len, huge_records, "array offsets outside the file");

    write_file(path, img, len - 4); /* truncated: the size differs from the header's */
    CHECK(pe_cache_open(path, &c, &e) != 0);
    CHECK_CONTAINS(e.msg, "truncated");
    write_file(path, img, 10);
    CHECK(pe_cache_open(path, &c, &e) != 0);
    CHECK_CONTAINS(e.msg, "too short");
    unlink(path);
    TEST_END();
}
