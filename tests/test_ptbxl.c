/* PTB-XL metadata: CSV quoting, scp_codes dicts, labels and splits.
 * - synthetic CSV text: quoting, multi-line fields, column lookup by name, bad inputs;
 * - the shared subset: row and split counts and per-split label counts equal to the
 *   table in ../shared/data/ptbxl/README.md (an independent reference), and the labels
 *   of a few records checked by hand against their scp_codes text. */
#include "check.h"
#include "data/csv.h"
#include "data/ptbxl.h"

/* Index of a class name in pe_class_names. */
static int cls(const char *name) {
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        if (!strcmp(pe_class_names[c], name)) return c;
    fprintf(stderr, "unknown class %s\n", name);
    exit(2);
}

/* labels has exactly the classes in the space-separated list `names`. */
static int labels_are(const uint8_t *labels, const char *names) {
    uint8_t want[PE_NUM_CLASSES] = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) want[cls(t)] = 1;
    return !memcmp(want, labels, PE_NUM_CLASSES);
}

/* Expects pe_ptbxl_parse(text) to fail with a message containing sub1 and sub2. */
static void expect_fail(const char *text, const char *sub1, const char *sub2) {
    pe_ptbxl_db db;
    pe_error e = {{0}};
    int rc = pe_ptbxl_parse(text, strlen(text), "bad.csv", &db, &e);
    CHECK_MSG(rc == -1, "parsing should fail: %.60s", text);
    if (rc == 0) {
        pe_ptbxl_free(&db);
        return;
    }
    CHECK(db.rows == NULL && db.n == 0);
    printf("expected error: %s\n", e.msg);
    CHECK_CONTAINS(e.msg, sub1);
    CHECK_CONTAINS(e.msg, sub2);
}

static void test_scp_codes(void) {
    uint8_t l[PE_NUM_CLASSES];
    pe_error e = {{0}};
    CHECK(pe_scp_codes_to_labels("{}", l, &e) == 0 && labels_are(l, ""));
    CHECK(pe_scp_codes_to_labels(" { } ", l, &e) == 0 && labels_are(l, ""));
    CHECK(pe_scp_codes_to_labels("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", l, &e) == 0);
    CHECK(labels_are(l, "SR"));
    CHECK(pe_scp_codes_to_labels("{\"AFIB\": 1, 'TRIGU':-2.5e1,'1AVB':.5,}", l, &e) == 0);
    CHECK(labels_are(l, "AFIB TRIGU 1AVB"));
    CHECK(pe_scp_codes_to_labels("{'SRX': 100.0, 'sr': 0.0, 'S': 0.0}", l, &e) == 0);
    CHECK(labels_are(l, ""));
    const char *bad[] = {"", "['SR']", "{'SR': 0.0", "{'SR' 0.0}", "{'SR': abc}", "{SR: 0.0}",
                         "{'SR': 0.0} x", "{'SR': 0.0 'AFIB': 1.0}", "{'SR: 0.0}", "{'SR': }",
                         "{'SR': nan}", "{'SR': -inf}", "{,}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(l, 7, sizeof l);
        e.msg[0] = '\0';
        CHECK_MSG(pe_scp_codes_to_labels(bad[i], l, &e) == -1, "accepted \"%s\"", bad[i]);
        CHECK(e.msg[0] != '\0' && labels_are(l, ""));
    }
    for (int f = 1; f <= 8; f++) CHECK(pe_split_of_fold(f) == PE_SPLIT_TRAIN);
    CHECK(pe_split_of_fold(9) == PE_SPLIT_VAL && pe_split_of_fold(10) == PE_SPLIT_TEST);
}

static void test_csv(void) {
    /* Generic reader: quotes, doubled quotes, embedded newline and comma, CRLF, blank line,
     * empty fields, no final newline. */
    const char *t = "a,\"b,1\",c\r\n\"x\"\"y\",\"multi\nline\",\n\n,,\"\"";
    pe_csv csv;
    pe_error e = {{0}};
    CHECK(pe_csv_parse(t, strlen(t), "t.csv", &csv, &e) == 0);
    CHECK(csv.n_rows == 3);
    if (csv.n_rows == 3) {
        CHECK(pe_csv_n_fields(&csv, 0) == 3 && pe_csv_n_fields(&csv, 1) == 3);
        CHECK(pe_csv_n_fields(&csv, 2) == 3);
        CHECK(!strcmp(pe_csv_field(&csv, 0, 1), "b,1") && !strcmp(pe_csv_field(&csv, 0, 2), "c"));
        CHECK(!strcmp(pe_csv_field(&csv, 1, 0), "x\"y"));
        CHECK(!strcmp(pe_csv_field(&csv, 1, 1), "multi\nline"));
        CHECK(!strcmp(pe_csv_field(&csv, 1, 2), "") && !strcmp(pe_csv_field(&csv, 2, 2), ""));
        CHECK(csv.row_line[0] == 1 && csv.row_line[1] == 2 && csv.row_line[2] == 5);
    }
    pe_csv_free(&csv);
    CHECK(pe_csv_parse("a,\"b\"c\n", strlen("a,\"b\"c\n"), "q.csv", &csv, &e) == -1);
    CHECK_CONTAINS(e.msg, "q.csv:1");
    CHECK(pe_csv_parse("a\n\"b\n\nc", strlen("a\n\"b\n\nc"), "u.csv", &csv, &e) == -1);
    CHECK_CONTAINS(e.msg, "u.csv:2: unterminated");
}

#define HDR "ecg_id,patient_id,report,scp_codes,strat_fold,filename_hr,filename_lr\n"

static void test_synthetic_db(void) {
    /* Columns in a different order than the official file, an extra column, a quoted field
     * with an embedded newline and doubled quotes, CRLF, an empty dict. */
    const char *text = HDR
        "1,15709.0,\"plain, with comma\",\"{'NORM': 100.0, 'SR': 0.0}\",3,hr/1,lr/1\n"
        "2,13243.0,\"multi\nline \"\"quoted\"\" report\",\"{'AFIB': 50.0, 'PACE': 0.0, "
        "'1AVB': 100.0}\",9,hr/2,lr/2\r\n"
        "5,1.0,,{},10,hr/5,lr/5\n";
    pe_ptbxl_db db;
    pe_error e = {{0}};
    int rc = pe_ptbxl_parse(text, strlen(text), "syn.csv", &db, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK(db.n == 3);
        CHECK(db.rows[0].ecg_id == 1 && db.rows[0].patient_id == 15709);
        CHECK(db.rows[0].strat_fold == 3 && labels_are(db.rows[0].labels, "SR"));
        CHECK(!strcmp(db.rows[0].filename_lr, "lr/1") && !strcmp(db.rows[0].filename_hr, "hr/1"));
        CHECK(db.rows[1].ecg_id == 2 && db.rows[1].strat_fold == 9);
        CHECK(labels_are(db.rows[1].labels, "AFIB PACE 1AVB"));
        CHECK(db.rows[2].ecg_id == 5 && db.rows[2].patient_id == 1 && db.rows[2].strat_fold == 10);
        CHECK(labels_are(db.rows[2].labels, "") && !strcmp(db.rows[2].filename_lr, "lr/5"));
        CHECK(pe_ptbxl_find(&db, 5) == 2 && pe_ptbxl_find(&db, 1) == 0);
        CHECK(pe_ptbxl_find(&db, 3) == -1 && pe_ptbxl_find(&db, 6) == -1);
        pe_ptbxl_free(&db);
    }

    expect_fail(HDR "1,2.0,\"oops,{},3,a,b\n4,2.0,x,{},3,a,b\n", "bad.csv:2",
                "unterminated quoted field");
    expect_fail(HDR "1,2.0,x,\"['SR']\",3,a,b\n", "bad.csv:2", "not a dict");
    expect_fail(HDR "1,2.0,x,SR,3,a,b\n", "bad.csv:2", "not a dict");
    expect_fail(HDR "1,2.0,x,{},11,a,b\n", "bad.csv:2", "unknown fold 11");
    expect_fail(HDR "1,2.0,x,{},0,a,b\n", "bad.csv:2", "unknown fold 0");
    expect_fail(HDR "1,2.0,x,{},three,a,b\n", "bad.csv:2", "strat_fold 'three'");
    expect_fail(HDR "1,2.0,x,{},,a,b\n", "bad.csv:2", "strat_fold ''");
    expect_fail(HDR "x1,2.0,x,{},1,a,b\n", "bad.csv:2", "ecg_id 'x1'");
    expect_fail(HDR "1,abc,x,{},1,a,b\n", "bad.csv:2", "patient_id 'abc'");
    expect_fail(HDR "1,2.0,x,{},1,a\n", "bad.csv:2", "row has 6 fields, the header has 7");
    expect_fail(HDR "1,2.0,x,{},1,a,b,c\n", "bad.csv:2", "row has 8 fields");
    expect_fail(HDR "2,2.0,x,{},1,a,b\n2,2.0,x,{},1,a,b\n", "bad.csv:3", "increasing ecg_id");
    expect_fail(HDR "1,2.0,x,{},1,,b\n", "bad.csv:2", "filename_hr");
    expect_fail("", "bad.csv", "empty file");
    expect_fail("\n\n", "bad.csv", "empty file");
    expect_fail(HDR, "bad.csv", "no records");
    expect_fail("ecg_id,patient_id,scp_codes,filename_lr,filename_hr\n1,2.0,{},a,b\n", "bad.csv:1",
                "missing column 'strat_fold'");
    /* Line numbers count the physical lines of an earlier multi-line field. */
    expect_fail(HDR "1,2.0,\"a\nb\nc\",{},1,a,b\n2,2.0,x,{},12,a,b\n", "bad.csv:5",
                "unknown fold 12");
    expect_fail(HDR "1,2.0,x,\"{'SR': 0.0\",1,a,b\n", "bad.csv:2: ecg_id 1", "scp_codes");

    pe_error e2 = {{0}};
    CHECK(pe_ptbxl_load("/nonexistent_dir", &db, &e2) == -1);
    CHECK_CONTAINS(e2.msg, "/nonexistent_dir/ptbxl_database.csv");
}

/* Per-split counts from the README table of the shared subset. */
static const int readme_records[3] = {2331, 333, 328};
static const int readme_counts[3][PE_NUM_CLASSES] = {
    /* 1AVB IVCD 3AVB 2AVB SR AFIB STACH SARRH SBRAD PACE SVARR BIGU AFLT SVTAC PSVT TRIGU */
    {79, 74, 1, 1, 1784, 161, 79, 94, 74, 25, 15, 7, 8, 2, 1, 4},
    {13, 8, 0, 0, 253, 15, 15, 13, 10, 7, 0, 1, 5, 0, 0, 1},
    {9, 12, 0, 1, 251, 21, 11, 13, 9, 5, 2, 0, 3, 1, 0, 0},
};

static void test_real(const char *root) {
    pe_ptbxl_db db;
    pe_error e = {{0}};
    int rc = pe_ptbxl_load(root, &db, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc) return;
    CHECK(db.n == 2992);
    int records[3] = {0}, counts[3][PE_NUM_CLASSES] = {{0}};
    for (int i = 0; i < db.n; i++) {
        int s = pe_split_of_fold(db.rows[i].strat_fold);
        records[s]++;
        for (int c = 0; c < PE_NUM_CLASSES; c++) counts[s][c] += db.rows[i].labels[c];
        if (i) CHECK(db.rows[i].ecg_id > db.rows[i - 1].ecg_id);
    }
    for (int s = 0; s < 3; s++) {
        CHECK_MSG(records[s] == readme_records[s], "split %d: %d records", s, records[s]);
        for (int c = 0; c < PE_NUM_CLASSES; c++)
            CHECK_MSG(counts[s][c] == readme_counts[s][c], "split %d %s: %d, README says %d", s,
                      pe_class_names[c], counts[s][c], readme_counts[s][c]);
    }
    /* By hand from the CSV text:
     *  1: patient 15709.0, fold 3, {'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}
     *  347: {'LVH': 50.0, 'ISC_': 100.0, 'LAO/LAE': 50.0, '1AVB': 100.0, 'NST_': 0.0,
     *        'LPR': 0.0, 'SR': 0.0, 'AFLT': 0.0}
     *  20816: {'IMI': 100.0, '1AVB': 100.0, 'PVC': 100.0, 'BIGU': 100.0, 'STACH': 0.0} */
    int i1 = pe_ptbxl_find(&db, 1), i347 = pe_ptbxl_find(&db, 347);
    int i20816 = pe_ptbxl_find(&db, 20816);
    CHECK(i1 == 0 && i347 >= 0 && i20816 >= 0);
    if (i1 == 0 && i347 >= 0 && i20816 >= 0) {
        const pe_ptbxl_row *r = &db.rows[i1];
        CHECK(r->patient_id == 15709 && r->strat_fold == 3);
        CHECK(!strcmp(r->filename_lr, "records100/00000/00001_lr"));
        CHECK(!strcmp(r->filename_hr, "records500/00000/00001_hr"));
        CHECK(labels_are(r->labels, "SR"));
        CHECK(labels_are(db.rows[i347].labels, "1AVB SR AFLT"));
        CHECK(labels_are(db.rows[i20816].labels, "1AVB STACH BIGU"));
        CHECK(db.rows[i20816].patient_id == 13579);
    }
    pe_ptbxl_free(&db);
}

int main(void) {
    test_scp_codes();
    test_csv();
    test_synthetic_db();
    if (check_failures) TEST_END();
    REQUIRE_DATA(root);
    test_real(root);
    TEST_END();
}
