/* WFDB header parsing and format-16 reading.
 * - synthetic records written here (byte offset, several files, odd sizes, defaults);
 * - bad inputs, each with a message naming the file;
 * - real PTB-XL records compared with their .dat bytes read independently (plain fread),
 *   and the header of 00001_lr checked by hand against its text;
 * - every record of the shared subset read once (timed). */
#include "check.h"
#include "data/ptbxl.h"
#include "data/wfdb.h"
#include "util/fileio.h"

#include <math.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

/* Writes data to tmpdir/name. */
static void put_file(const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void put_text(const char *name, const char *text) { put_file(name, text, strlen(text)); }

/* Writes int16 samples little-endian after `offset` filler bytes. */
static void put_int16(const char *name, const int16_t *v, size_t n, size_t offset) {
    unsigned char *b = malloc(offset + 2 * n + 1);
    memset(b, 0xAB, offset);
    for (size_t i = 0; i < n; i++) {
        b[offset + 2 * i] = (unsigned char)((uint16_t)v[i] & 0xFF);
        b[offset + 2 * i + 1] = (unsigned char)((uint16_t)v[i] >> 8);
    }
    put_file(name, b, offset + 2 * n);
    free(b);
}

/* Reads a whole .dat file with plain fread as little-endian int16 values. */
static int16_t *read_int16(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char buf[2];
    size_t cap = 1024;
    int16_t *v = malloc(cap * sizeof *v);
    *n = 0;
    while (fread(buf, 1, 2, f) == 2) {
        if (*n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = (int16_t)(uint16_t)(buf[0] | (buf[1] << 8));
    }
    fclose(f);
    return v;
}

/* pe_wfdb_read of tmpdir/name; returns 0/-1 and always leaves h empty on failure. */
static int read_tmp(const char *name, pe_wfdb_header *h, float **sig, pe_error *e) {
    char rec[512];
    snprintf(rec, sizeof rec, "%s/%s", tmpdir, name);
    int rc = pe_wfdb_read(rec, h, sig, e);
    if (rc) CHECK(*sig == NULL && h->signals == NULL && h->n_signals == 0);
    return rc;
}

/* Expects pe_wfdb_read(name) to fail with a message containing sub1 and sub2. */
static void expect_fail(const char *name, const char *sub1, const char *sub2) {
    pe_wfdb_header h;
    float *sig;
    pe_error e = {{0}};
    int rc = read_tmp(name, &h, &sig, &e);
    CHECK_MSG(rc == -1, "reading %s should fail", name);
    if (rc == 0) {
        pe_wfdb_header_free(&h);
        free(sig);
        return;
    }
    printf("expected error: %s\n", e.msg);
    CHECK_CONTAINS(e.msg, sub1);
    CHECK_CONTAINS(e.msg, sub2);
}

static int sum16(const int16_t *v, size_t n, size_t stride) {
    uint16_t s = 0;
    for (size_t i = 0; i < n; i++) s = (uint16_t)(s + (uint16_t)v[i * stride]);
    return s;
}

/* 3 signals x 7 samples: two share syn_a.dat after a 24-byte prefix ("16+24"), one in
 * syn_b.dat with every optional field left out; CRLF and LF line ends, a comment. */
static void test_synthetic(void) {
    const int16_t a0[7] = {-32767, 32767, 0, -1, 1, 1234, -4321};
    const int16_t a1[7] = {7, -7, 30000, 30000, -2, -2, 5};
    const int16_t b0[7] = {100, 200, -300, 400, -500, 600, 700};
    int16_t inter[14];
    for (int t = 0; t < 7; t++) inter[2 * t] = a0[t], inter[2 * t + 1] = a1[t];
    put_int16("syn_a.dat", inter, 14, 24);
    put_int16("syn_b.dat", b0, 7, 0);
    /* Checksum of lead 0 written unsigned, of lead 1 as a signed 16-bit number. */
    int cs0 = sum16(a0, 7, 1), cs1 = (int16_t)(uint16_t)sum16(a1, 7, 1);
    CHECK(cs1 < 0); /* the signed representation is really exercised */
    char hea[1024];
    snprintf(hea, sizeof hea,
             "syn 3 250/1000(5) 7 10:20:30 01/02/2003\r\n"
             "# a comment line\n"
             "syn_a.dat 16+24 200.0(-3)/uV 12 -3 %d %d 0 lead A  with spaces \r\n"
             "\n"
             "syn_a.dat 16+24 50(10)/mV 16 0 %d %d 0 B\n"
             "syn_b.dat 16\n",
             a0[0], cs0, a1[0], cs1);
    put_text("syn.hea", hea);

    pe_wfdb_header h;
    float *sig = NULL;
    pe_error e = {{0}};
    int rc = read_tmp("syn", &h, &sig, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) return;
    CHECK(!strcmp(h.record_name, "syn"));
    CHECK(h.n_signals == 3 && h.n_samples == 7);
    CHECK(h.fs == 250.0 && h.counter_freq == 1000.0 && h.base_counter == 5.0);
    CHECK(!strcmp(h.base_time, "10:20:30") && !strcmp(h.base_date, "01/02/2003"));
    const pe_wfdb_signal *s = h.signals;
    CHECK(!strcmp(s[0].file_name, "syn_a.dat") && s[0].format == 16 && s[0].byte_offset == 24);
    CHECK(s[0].gain == 200.0 && s[0].baseline == -3.0 && !strcmp(s[0].units, "uV"));
    CHECK(s[0].adc_resolution == 12 && s[0].adc_zero == -3 && s[0].initial_value == a0[0]);
    CHECK(s[0].has_checksum && s[0].checksum == cs0 && s[0].block_size == 0);
    CHECK(!strcmp(s[0].description, "lead A  with spaces"));
    CHECK(s[1].gain == 50.0 && s[1].baseline == 10.0 && s[1].checksum == cs1);
    CHECK(!strcmp(s[1].description, "B"));
    /* WFDB defaults for the bare line. */
    CHECK(!strcmp(s[2].file_name, "syn_b.dat") && s[2].byte_offset == 0);
    CHECK(s[2].gain == 200.0 && s[2].baseline == 0.0 && !strcmp(s[2].units, "mV"));
    CHECK(s[2].adc_resolution == 12 && s[2].adc_zero == 0 && s[2].initial_value == 0);
    CHECK(!s[2].has_checksum && !s[2].has_initial_value);
    CHECK(!strcmp(s[2].description, "record syn, signal 2"));
    for (int t = 0; t < 7; t++) {
        CHECK(sig[0 * 7 + t] == (float)((a0[t] - -3.0) / 200.0));
        CHECK(sig[1 * 7 + t] == (float)((a1[t] - 10.0) / 50.0));
        CHECK(sig[2 * 7 + t] == (float)(b0[t] / 200.0));
    }
    pe_wfdb_header_free(&h);
    free(sig);

    /* n_samples absent: inferred from the file size (3 frames of 2 signals). */
    const int16_t n3[6] = {1, 2, 3, 4, 5, 6};
    put_int16("nos.dat", n3, 6, 0);
    put_text("nos.hea", "nos 2\nnos.dat 16 1\nnos.dat 16 2\n");
    rc = read_tmp("nos", &h, &sig, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK(h.n_samples == 3 && h.fs == 250.0);
        CHECK(sig[0] == 1.0f && sig[2] == 5.0f && sig[3] == 1.0f && sig[5] == 3.0f);
        pe_wfdb_header_free(&h);
        free(sig);
    }

    /* Gain 0 means 200; the parse function works on text that is not NUL-terminated. */
    const char txt[] = "r 1 100 5\nr.dat 16 0(4) 16 4 4 99 0 X\nGARBAGE";
    rc = pe_wfdb_parse_header(txt, sizeof txt - 1 - 7, "mem.hea", &h, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK(h.signals[0].gain == 200.0 && h.signals[0].baseline == 4.0);
        CHECK(h.signals[0].checksum == 99 && !strcmp(h.signals[0].description, "X"));
        pe_wfdb_header_free(&h);
    }
}

static void test_bad_inputs(void) {
    const int16_t v[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    pe_wfdb_header h;
    float *sig;
    pe_error e = {{0}};

    expect_fail("no_such_record", "no_such_record.hea", "cannot open");

    put_text("m.hea", "m 1 100 4\nm_missing.dat 16 1000 16 0\n");
    expect_fail("m", "m_missing.dat", "cannot open");

    put_text("t.hea", "t 2 100 5\nt.dat 16\nt.dat 16\n");
    put_int16("t.dat", v, 9, 0);
    expect_fail("t", "t.dat", "truncated");
    put_text("t2.hea", "t2 2 100 5\nt2.dat 16+24\nt2.dat 16+24\n");
    put_int16("t2.dat", v, 10, 22); /* 10 samples but the offset eats 2 bytes too many */
    expect_fail("t2", "t2.dat", "truncated");

    /* Absurd lengths fail on the file size, before any allocation. */
    put_text("big.hea", "big 2 100 1000000000000\nt.dat 16\nt.dat 16\n");
    expect_fail("big", "t.dat", "truncated");
    put_text("huge.hea", "huge 2 100 9223372036854775807\nt.dat 16\nt.dat 16\n");
    expect_fail("huge", "huge.hea", "too large");

    put_text("w.hea", "w 3 100 4\nw.dat 16\nw.dat 16\n");
    expect_fail("w", "w.hea", "declares 3 signals but has 2");
    put_text("w2.hea", "w2 1 100 4\nw2.dat 16\nw2.dat 16\n");
    expect_fail("w2", "w2.hea:3", "unexpected line");

    /* Lead 1 samples are 2,4,6,8,10: sum 30; initial 2. */
    put_int16("c.dat", v, 10, 0);
    put_text("c.hea", "c 2 100 5\nc.dat 16 1000 16 0 1 25 0 I\nc.dat 16 1000 16 0 2 31 0 II\n");
    expect_fail("c", "c.dat", "lead 1 (II): checksum mismatch");
    put_text("i.hea", "i 2 100 5\nc.dat 16 1000 16 0 1 25 0 I\nc.dat 16 1000 16 0 3 30 0 II\n");
    expect_fail("i", "c.dat", "lead 1 (II): first sample 2 differs from the header's initial");
    /* The same record with correct values reads fine (the failures above are real). */
    put_text("ok.hea", "ok 2 100 5\nc.dat 16 1000 16 0 1 25 0 I\nc.dat 16 1000 16 0 2 30 0 II\n");
    CHECK_MSG(read_tmp("ok", &h, &sig, &e) == 0, "%s", e.msg);
    if (h.signals) {
        CHECK(sig[5] == 0.002f && sig[9] == 0.010f);
        pe_wfdb_header_free(&h);
        free(sig);
    }

    put_text("g.hea", "g 1 100 5\n# comment\ng.dat 16 abc/mV 16 0\n");
    expect_fail("g", "g.hea:3", "non-numeric gain 'abc'");
    put_text("g2.hea", "g2 1 100 5\ng.dat 16 100(x)/mV 16 0\n");
    expect_fail("g2", "g2.hea:2", "baseline");
    put_text("g3.hea", "g3 1 100 5\ng.dat 16 100 16 0 zz\n");
    expect_fail("g3", "g3.hea:2", "initial value 'zz'");
    put_text("f.hea", "f 1 100 5\nc.dat 212 200 12 0\n");
    expect_fail("f", "f.hea", "format 212 is not supported");
    put_text("x.hea", "x 1 100 5\nc.dat 16x2 200 12 0\n");
    expect_fail("x", "x.hea:2", "samples per frame");
    put_text("k.hea", "k 1 100 5\nc.dat 16:3 200 12 0\n");
    expect_fail("k", "k.hea:2", "skew 3");
    put_text("o.hea", "o 1 100 5\nc.dat 16+ 200 12 0\n");
    expect_fail("o", "o.hea:2", "byte offset");
    put_text("s.hea", "s/2 1 100 5\nc.dat 16\n");
    expect_fail("s", "s.hea:1", "multi-segment");
    put_text("hz.hea", "hz 1 fast 5\nc.dat 16\n");
    expect_fail("hz", "hz.hea:1", "sampling frequency");
    put_text("na.hea", "na 3 100 5\nc.dat 16\nt.dat 16\nc.dat 16\n");
    expect_fail("na", "na.hea", "non-adjacent");
    put_text("e.hea", "");
    expect_fail("e", "e.hea", "empty header");
    put_text("e2.hea", "# only a comment\n\n");
    expect_fail("e2", "e2.hea", "empty header");
    CHECK(pe_wfdb_parse_header("a\0b", 3, "nul.hea", &h, &e) == -1);
    CHECK_CONTAINS(e.msg, "nul.hea");
}

/* Real records: values equal int16/1000 of the bytes read here with fread. */
static void test_real_records(const char *root) {
    const char *recs[] = {"records100/00000/00001_lr", "records100/00000/00002_lr",
                          "records100/00000/00347_lr", "records100/05000/05000_lr",
                          "records100/20000/20816_lr", "records100/21000/21836_lr"};
    const char *leads[12] = {"I", "II", "III", "AVR", "AVL", "AVF",
                             "V1", "V2", "V3", "V4", "V5", "V6"};
    for (size_t r = 0; r < sizeof recs / sizeof *recs; r++) {
        char rec[4096], dat[4200];
        pe_path_join(rec, sizeof rec, root, recs[r]);
        snprintf(dat, sizeof dat, "%s.dat", rec);
        pe_wfdb_header h;
        float *sig;
        pe_error e = {{0}};
        int rc = pe_wfdb_read(rec, &h, &sig, &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
        if (rc) continue;
        size_t n = 0;
        int16_t *raw = read_int16(dat, &n);
        CHECK(raw && n == 12000);
        CHECK(h.n_signals == 12 && h.n_samples == 1000 && h.fs == 100.0);
        for (int l = 0; l < 12 && raw && n == 12000; l++) {
            const pe_wfdb_signal *s = &h.signals[l];
            CHECK(!strcmp(s->description, leads[l]));
            CHECK(s->gain == 1000.0 && s->baseline == 0.0 && !strcmp(s->units, "mV"));
            /* The parsed header agrees with the data (independent sum here). */
            CHECK(s->initial_value == raw[l]);
            CHECK(s->checksum == sum16(raw + l, 1000, 12));
            int bad = 0;
            for (int t = 0; t < 1000; t++)
                bad += sig[l * 1000 + t] != (float)(raw[t * 12 + l] / 1000.0);
            CHECK_MSG(bad == 0, "%s lead %d: %d samples differ", recs[r], l, bad);
        }
        free(raw);
        free(sig);
        pe_wfdb_header_free(&h);
    }
}

/* 00001_lr.hea checked field by field against its text. */
static void test_header_by_hand(const char *root) {
    char path[4096];
    pe_path_join(path, sizeof path, root, "records100/00000/00001_lr.hea");
    size_t len;
    pe_error e = {{0}};
    char *text = pe_read_file(path, &len, &e);
    CHECK_MSG(text != NULL, "%s", e.msg);
    if (!text) return;
    pe_wfdb_header h;
    int rc = pe_wfdb_parse_header(text, len, path, &h, &e);
    free(text);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) return;
    const char *leads[12] = {"I", "II", "III", "AVR", "AVL", "AVF",
                             "V1", "V2", "V3", "V4", "V5", "V6"};
    const int init[12] = {-119, -55, 64, 86, -91, 4, -69, -31, 0, -26, -39, -79};
    const int cks[12] = {1508, 723, 64758, 64423, 1211, 7, 63827, 6999, 63759, 61447, 64979, 832};
    CHECK(!strcmp(h.record_name, "00001_lr"));
    CHECK(h.n_signals == 12 && h.fs == 100.0 && h.n_samples == 1000);
    CHECK(h.base_time[0] == '\0' && h.base_date[0] == '\0');
    for (int l = 0; l < 12; l++) {
        const pe_wfdb_signal *s = &h.signals[l];
        CHECK(!strcmp(s->file_name, "00001_lr.dat") && s->format == 16 && s->byte_offset == 0);
        CHECK(s->gain == 1000.0 && s->baseline == 0.0 && !strcmp(s->units, "mV"));
        CHECK(s->adc_resolution == 16 && s->adc_zero == 0 && s->block_size == 0);
        CHECK(s->has_initial_value && s->initial_value == init[l]);
        CHECK(s->has_checksum && s->checksum == cks[l]);
        CHECK_MSG(!strcmp(s->description, leads[l]), "lead %d is '%s'", l, s->description);
    }
    pe_wfdb_header_free(&h);
}

/* Every record of the subset through pe_wfdb_read (every 25th with PE_TEST_QUICK). */
static void test_read_all(const char *root) {
    pe_ptbxl_db db;
    pe_error e = {{0}};
    int rc = pe_ptbxl_load(root, &db, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) return;
    int step = getenv("PE_TEST_QUICK") ? 25 : 1, n_read = 0, n_bad = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < db.n; i += step) {
        char rec[4096];
        pe_path_join(rec, sizeof rec, root, db.rows[i].filename_lr);
        pe_wfdb_header h;
        float *sig;
        if (pe_wfdb_read(rec, &h, &sig, &e)) {
            if (n_bad++ < 5) fprintf(stderr, "%s\n", e.msg);
            continue;
        }
        n_bad += !(h.n_signals == 12 && h.n_samples == 1000 && h.fs == 100.0);
        n_read++;
        free(sig);
        pe_wfdb_header_free(&h);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("pe_wfdb_read: %d records in %.3f s (%.1f us/record)\n", n_read, dt,
           1e6 * dt / (n_read ? n_read : 1));
    CHECK(n_bad == 0);
    CHECK(n_read == (db.n + step - 1) / step);
    pe_ptbxl_free(&db);
}

/* -32768 is WFDB's invalid sample: NaN in physical units (as in wfdb-python); the
 * checksum and initial value are over the stored values. */
static void test_invalid_sample(void) {
    const int16_t v[5] = {-32768, 1000, -32768, -2000, 0};
    put_int16("inv.dat", v, 5, 0);
    char hea[256];
    snprintf(hea, sizeof hea, "inv 1 100 5\ninv.dat 16 1000(0)/mV 16 0 -32768 %d 0 I\n",
             sum16(v, 5, 1));
    put_text("inv.hea", hea);
    pe_wfdb_header h;
    float *sig = NULL;
    pe_error e = {{0}};
    int rc = read_tmp("inv", &h, &sig, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) return;
    CHECK(isnan(sig[0]) && isnan(sig[2]));
    CHECK(sig[1] == 1.0f && sig[3] == -2.0f && sig[4] == 0.0f);
    free(sig);
    pe_wfdb_header_free(&h);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pe_test_wfdb_%ld", (long)getpid());
    mkdir(tmpdir, 0700);
    test_synthetic();
    test_bad_inputs();
    test_invalid_sample();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (check_failures) TEST_END();

    REQUIRE_DATA(root);
    test_header_by_hand(root);
    test_real_records(root);
    test_read_all(root);
    TEST_END();
}
