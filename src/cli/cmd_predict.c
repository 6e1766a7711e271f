/* protoecg predict: labels and probabilities for WFDB records. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/net.h"
#include "protoecg.h"
#include "util/error.h"
#include "util/fileio.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg predict --model M [--json FILE] [--threshold X] [--stride S]\n"
            "                        [--windows] [--precision fp32|bf16|int8] [--ptbxl DIR]\n"
            "                        [--csv FILE] [--fs HZ] RECORD...\n"
            "  RECORD     WFDB record path, e.g. records100/00000/00001_lr (or its .hea file),\n"
            "             a CSV table (FILE.csv: a header naming the 12 leads, a row per\n"
            "             sample in mV, and a time column in seconds or --fs HZ), or with\n"
            "             --ptbxl DIR an ecg_id of DIR;\n"
            "             12 leads, at least 10 s, at 100 Hz or another integer rate\n"
            "             (resampled); options may come before or after the records, \"--\"\n"
            "             ends them\n"
            "  --stride S a record longer than 10 s is read in 10-s windows starting every S\n"
            "             seconds (default 5; one more window ends with the record); a label's\n"
            "             probability is its largest over the windows\n"
            "  --windows  also print each window's labels (the JSON always has them); a\n"
            "             window with a NaN sample (a lead off) is skipped with a warning\n"
            "  --fs HZ    the sampling rate of CSV tables without a time column\n"
            "  --csv FILE one row per record (kind \"record\": the largest probabilities)\n"
            "             and, for a record longer than 10 s, one per window (kind\n"
            "             \"window\"; a skipped window's probabilities are empty)\n");
}

/* The labels at or above the threshold with their probabilities, as text. */
static void print_labels(const float *probs, double threshold) {
    int any = 0;
    for (int k = 0; k < PE_NUM_CLASSES; k++)
        if (probs[k] >= threshold) printf(" %s (%.3f)", pe_class_names[k], probs[k]), any = 1;
    printf("%s\n", any ? "" : " no rhythm label above the threshold");
}

/* The same into o: "labels" (an array) and "probabilities" (an object). */
static void add_labels(cJSON *o, const float *probs, double threshold) {
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    cJSON *p = cJSON_AddObjectToObject(o, "probabilities");
    for (int k = 0; k < PE_NUM_CLASSES; k++) {
        cJSON_AddNumberToObject(p, pe_class_names[k], probs[k]);
        if (probs[k] >= threshold) cJSON_AddItemToArray(labels, cJSON_CreateString(pe_class_names[k]));
    }
}

/* A CSV row: the record (quoted), kind, start and end in seconds, the probabilities
 * (empty when probs is NULL). */
static void csv_row(FILE *f, const char *rec, const char *kind, double start_s, double end_s,
                    const float *probs) {
    cli_csv_quoted(f, rec);
    fprintf(f, ",%s,%g,%g", kind, start_s, end_s);
    cli_csv_probs(f, probs);
    fputc('\n', f);
}

/* The command line. */
typedef struct {
    const char *model, *json, *root, *csv;
    double threshold, stride, fs; /* fs: the rate of CSV tables without a time column */
    int threads, per_window;
    pe_precision prec;
    const char **recs; /* n_rec of them (into argv) */
    int n_rec;
} predict_opts;

/* Parses argv into o (records and options in any order; after "--" everything is a
 * record). Returns -1 when the command should run, else its exit code. */
static int parse_args(int argc, char **argv, predict_opts *o) {
    const char *v;
    int only_records = 0, bad = -1;
    for (int i = 1; i < argc && bad < 0; i++) {
        if (only_records || argv[i][0] != '-') {
            o->recs[o->n_rec++] = argv[i];
        } else if (!strcmp(argv[i], "--")) {
            only_records = 1;
        } else if (arg_value(argc, argv, &i, "--model", &o->model) ||
                   arg_value(argc, argv, &i, "--json", &o->json) ||
                   arg_value(argc, argv, &i, "--ptbxl", &o->root) ||
                   arg_value(argc, argv, &i, "--csv", &o->csv)) {
        } else if (arg_value(argc, argv, &i, "--threshold", &v)) {
            if (arg_double("--threshold", v, &o->threshold)) bad = 2;
        } else if (arg_value(argc, argv, &i, "--stride", &v)) {
            if (arg_stride("predict", v, &o->stride)) bad = 2;
        } else if (arg_value(argc, argv, &i, "--fs", &v)) {
            if (arg_rate(v, &o->fs)) bad = 2;
        } else if (!strcmp(argv[i], "--windows")) {
            o->per_window = 1;
        } else if (arg_value(argc, argv, &i, "--precision", &v)) {
            if (pe_precision_parse(v, &o->prec)) {
                fprintf(stderr, "protoecg predict: --precision must be fp32, bf16 or int8\n");
                bad = 2;
            }
        } else if (arg_value(argc, argv, &i, "--threads", &v)) {
            if (arg_int("--threads", v, 1, 1024, &o->threads)) bad = 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            bad = 0;
        } else {
            fprintf(stderr, "protoecg predict: unknown option '%s'\n", argv[i]);
            bad = 2;
        }
    }
    if (bad < 0 && (!o->model || o->n_rec == 0)) {
        usage(stderr);
        bad = 2;
    }
    return bad;
}

/* One record, classified window by window: printed, and added to out (JSON) and csv
 * (NULL: none). */
static int predict_record(pe_classifier *c, const pe_ptbxl_db *db, const predict_opts *o,
                          const char *rec, FILE *csv, cJSON *out, pe_error *e) {
    float *sig = NULL, probs[PE_NUM_CLASSES];
    pe_window *w = NULL;
    long nw = 0, ns = 0;
    int nl = 0;
    double fs = 0;
    char path[4096];
    int rc = cli_read_record(rec, db, o->root, o->fs, path, sizeof path, &sig, &nl, &ns, &fs, e);
    if (rc == 0) rc = pe_classify_windows(c, sig, nl, ns, fs, o->stride, probs, &w, &nw, e);
    free(sig);
    if (rc) return -1;
    printf("%s:", rec);
    print_labels(probs, o->threshold);
    long n_skipped = 0;
    for (long i = 0; i < nw; i++) n_skipped += !w[i].valid;
    if (nw > 1)
        printf("  (%.1f s read in %ld windows of 10 s; a label's probability is its largest)\n",
               (double)ns / fs, nw);
    if (n_skipped)
        fprintf(stderr, "protoecg predict: %s: %ld of %ld windows skipped: they have a "
                        "non-finite sample (NaN or inf)\n", rec, n_skipped, nw);
    for (long i = 0; o->per_window && nw > 1 && i < nw; i++) {
        printf("  %6.1f-%.1f s:", w[i].start_s, w[i].start_s + 10);
        if (w[i].valid) print_labels(w[i].probs, o->threshold);
        else printf(" skipped (a non-finite sample)\n");
    }
    if (csv) csv_row(csv, rec, "record", 0, (double)ns / fs, probs);
    for (long i = 0; csv && nw > 1 && i < nw; i++)
        csv_row(csv, rec, "window", w[i].start_s, w[i].start_s + 10, w[i].valid ? w[i].probs : NULL);
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "record", rec);
    cJSON_AddNumberToObject(obj, "seconds", (double)ns / fs);
    add_labels(obj, probs, o->threshold);
    cJSON *arr = cJSON_AddArrayToObject(obj, "windows");
    for (long i = 0; i < nw; i++) {
        cJSON *wo = cJSON_CreateObject();
        cJSON_AddNumberToObject(wo, "start_s", w[i].start_s);
        cJSON_AddNumberToObject(wo, "end_s", w[i].start_s + 10);
        if (w[i].valid) add_labels(wo, w[i].probs, o->threshold);
        else cJSON_AddStringToObject(wo, "skipped", "non-finite sample");
        cJSON_AddItemToArray(arr, wo);
    }
    cJSON_AddItemToArray(out, obj);
    free(w);
    return 0;
}

int cmd_predict(int argc, char **argv) {
    predict_opts o = {.threshold = 0.5, .stride = 5, .threads = 1, .prec = PE_PREC_FP32};
    o.recs = malloc((size_t)argc * sizeof *o.recs);
    if (!o.recs) {
        fprintf(stderr, "protoecg predict: out of memory\n");
        return 1;
    }
    int bad = parse_args(argc, argv, &o);
    if (bad >= 0) {
        free(o.recs);
        return bad;
    }
    set_threads(o.threads);
    pe_error e = {{0}};
    pe_ptbxl_db db = {0};
    pe_atomic_file af = {0};
    int rc = 0, failures = 0, have_csv = 0;
    pe_classifier *c = pe_classifier_load(o.model, &e);
    if (!c) rc = -1;
    if (rc == 0 && o.root) rc = pe_ptbxl_load(o.root, &db, &e);
    if (rc == 0 && o.csv) rc = pe_atomic_open(&af, o.csv, &e);
    have_csv = rc == 0 && o.csv;
    if (have_csv) {
        fprintf(af.f, "record,kind,start_s,end_s");
        for (int k = 0; k < PE_NUM_CLASSES; k++) fprintf(af.f, ",prob_%s", pe_class_names[k]);
        fputc('\n', af.f);
    }
    const char *note = NULL;
    if (rc == 0) pe_classifier_set_precision(c, (int)o.prec, &note);
    if (note) fprintf(stderr, "protoecg predict: %s\n", note);
    cJSON *out = cJSON_CreateArray();
    for (int r = 0; rc == 0 && r < o.n_rec; r++)
        if (predict_record(c, o.root ? &db : NULL, &o, o.recs[r], have_csv ? af.f : NULL, out, &e)) {
            cli_record_error("predict", o.recs[r], e.msg);
            failures++;
        }
    if (rc == 0 && o.json) {
        char *s = cJSON_Print(out);
        rc = s ? pe_write_file_atomic(o.json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
    }
    if (have_csv && rc == 0) rc = pe_atomic_commit(&af, &e);
    else if (have_csv) pe_atomic_abort(&af);
    if (rc) fprintf(stderr, "protoecg predict: %s\n", e.msg);
    cJSON_Delete(out);
    pe_ptbxl_free(&db);
    pe_classifier_free(c);
    free(o.recs);
    return (rc || failures) ? 1 : 0;
}
