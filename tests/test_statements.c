/* The auxiliary statements of the pretraining (data/statements.h) on a synthetic PTB-XL
 * root whose expected outputs are worked out by hand below: the order (training
 * positives, most first; ties by first appearance), the min_pos filter, the 16 classes
 * left out, the diagnostic superclasses, the labels of training, validation and test
 * records, statements the statement table lacks; and the errors (missing file, missing
 * column, a cache record absent from the database, a code too long to keep, min_pos 0).
 * The shared subset's statements are checked against a Python computation by
 * tests/cli_aux.sh. */
#include <unistd.h>

#include "check.h"
#include "data/statements.h"

static char dir[256];

static void put(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char *database =
    "ecg_id,patient_id,scp_codes,strat_fold,filename_lr,filename_hr\n"
    "1,1,\"{'NORM': 100.0, 'SR': 0.0}\",1,a,a\n"
    "2,2,\"{'IMI': 50.0, 'PVC': 0.0, 'SR': 0.0}\",2,a,a\n"
    "3,3,\"{'PVC': 100.0, 'IMI': 100.0, 'AFIB': 0}\",3,a,a\n"
    "4,4,\"{'LVH': 100, 'NORM': 80, 'XYZ': 0}\",4,a,a\n"
    "5,5,\"{'IMI': 100, 'CLBBB': 100}\",9,a,a\n"
    "6,6,\"{'NORM': 100}\",10,a,a\n"
    "7,7,\"{'XYZ': 0, 'IMI': 15}\",5,a,a\n";

static const char *statements =
    ",description,diagnostic,form,rhythm,diagnostic_class\n"
    "NORM,normal,1,,,NORM\n"
    "IMI,inferior MI,1,,,MI\n"
    "LVH,hypertrophy,1,,,HYP\n"
    "PVC,ventricular extrasystole,,1,,\n"
    "CLBBB,bundle branch block,1,,,CD\n"
    "SR,sinus rhythm,,,1,\n"
    "AFIB,atrial fibrillation,,,1,\n";

/* The cache of records 1-5 and 7 (record 6, a test record, is not in it). */
static const int32_t ids[6] = {1, 2, 3, 4, 5, 7}, folds[6] = {1, 2, 3, 4, 9, 5};

static pe_cache fake_cache(void) {
    pe_cache c;
    memset(&c, 0, sizeof c);
    c.h.n_records = 6;
    c.ecg_id = ids;
    c.fold = folds;
    return c;
}

static void check_build(int min_pos, int A, const char *const *names, const long *pos,
                        const uint8_t *labels) {
    pe_cache c = fake_cache();
    pe_aux_labels a;
    pe_error e = {{0}};
    int rc = pe_aux_labels_build(dir, &c, min_pos, &a, &e);
    CHECK_MSG(rc == 0, "min_pos %d: %s", min_pos, e.msg);
    if (rc) return;
    CHECK_MSG(a.n == A, "min_pos %d: %d outputs, expected %d", min_pos, a.n, A);
    CHECK(a.n_records == 6);
    for (int j = 0; j < A && j < a.n; j++) {
        CHECK_MSG(!strcmp(a.names[j], names[j]), "output %d is %s, expected %s", j, a.names[j],
                  names[j]);
        CHECK_MSG(a.train_pos[j] == pos[j], "%s: %ld training positives, expected %ld",
                  names[j], a.train_pos[j], pos[j]);
    }
    if (a.n == A && A > 0)
        for (int i = 0; i < 6; i++)
            CHECK_MSG(!memcmp(a.labels + (size_t)i * A, labels + (size_t)i * A, (size_t)A),
                      "min_pos %d: labels of ecg_id %d", min_pos, ids[i]);
    pe_aux_labels_free(&a);
}

static void expect_error(int min_pos, const pe_cache *c, const char *sub) {
    pe_aux_labels a;
    pe_error e = {{0}};
    CHECK(pe_aux_labels_build(dir, c, min_pos, &a, &e) == -1);
    CHECK_CONTAINS(e.msg, sub);
    CHECK(a.labels == NULL && a.n == 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/pe_test_statements_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    put("ptbxl_database.csv", database);
    put("scp_statements.csv", statements);

    /* training records 1, 2, 3, 4, 7: IMI 3 (first in record 2), NORM 2 (record 1), PVC 2
     * (record 2), XYZ 2 (record 4, not in the table), LVH 1; SR and AFIB are classes;
     * CLBBB only in validation. Superclasses: NORM 2 (1, 4), MI 3 (2, 3, 7), HYP 1 (4). */
    const char *n2[] = {"IMI", "NORM", "PVC", "XYZ", "class:NORM", "class:MI"};
    const long p2[] = {3, 2, 2, 2, 2, 3};
    const uint8_t l2[] = {
        0, 1, 0, 0, 1, 0, /* 1: NORM */
        1, 0, 1, 0, 0, 1, /* 2: IMI PVC */
        1, 0, 1, 0, 0, 1, /* 3: PVC IMI */
        0, 1, 0, 1, 1, 0, /* 4: LVH (not kept) NORM XYZ */
        1, 0, 0, 0, 0, 1, /* 5 (validation): IMI CLBBB (not kept) */
        1, 0, 0, 1, 0, 1, /* 7: XYZ IMI */
    };
    check_build(2, 6, n2, p2, l2);
    const char *n1[] = {"IMI", "NORM", "PVC", "XYZ", "LVH", "class:NORM", "class:MI",
                        "class:HYP"};
    const long p1[] = {3, 2, 2, 2, 1, 2, 3, 1};
    const uint8_t l1[] = {
        0, 1, 0, 0, 0, 1, 0, 0, /* 1 */
        1, 0, 1, 0, 0, 0, 1, 0, /* 2 */
        1, 0, 1, 0, 0, 0, 1, 0, /* 3 */
        0, 1, 0, 1, 1, 1, 0, 1, /* 4 */
        1, 0, 0, 0, 0, 0, 1, 0, /* 5 */
        1, 0, 0, 1, 0, 0, 1, 0, /* 7 */
    };
    check_build(1, 8, n1, p1, l1);
    check_build(4, 0, NULL, NULL, NULL); /* no statement has 4 training positives */

    pe_cache c = fake_cache();
    expect_error(0, &c, "at least 1");
    int32_t bad_ids[6] = {1, 2, 3, 4, 5, 99};
    c.ecg_id = bad_ids;
    expect_error(2, &c, "no row for ecg_id 99");
    c = fake_cache();
    put("ptbxl_database.csv",
        "ecg_id,patient_id,scp_codes,strat_fold,filename_lr,filename_hr\n"
        "1,1,\"{'NORM': 100.0}\",1,a,a\n2,2,\"{'AVERYLONGSTATEMENTCODE_XYZ': 0}\",2,a,a\n"
        "3,3,{},3,a,a\n4,4,{},4,a,a\n5,5,{},9,a,a\n7,7,{},5,a,a\n");
    expect_error(1, &c, "ecg_id 2: an empty statement code, or one of 24 characters or more");
    put("ptbxl_database.csv", database);
    put("scp_statements.csv", ",description,diagnostic\nNORM,normal,1\n");
    expect_error(2, &c, "no 'diagnostic_class' column");
    char path[512];
    snprintf(path, sizeof path, "%s/scp_statements.csv", dir);
    unlink(path);
    expect_error(2, &c, "scp_statements.csv");
    snprintf(path, sizeof path, "%s/ptbxl_database.csv", dir);
    unlink(path);
    rmdir(dir);
    if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures);
    return check_failures != 0;
}
