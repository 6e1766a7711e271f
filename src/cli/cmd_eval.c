/* protoecg eval: test (or validation) metrics of a model on PTB-XL, or on a labelled list
 * of WFDB records from anywhere (external validation). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "data/record_list.h"
#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg eval --model M --ptbxl DIR [options]\n"
            "       protoecg eval --model M --records LIST.csv [options]\n"
            "  --records LIST.csv    score labelled records from anywhere: a CSV with the\n"
            "                        columns record (a WFDB record or an ECG table with a time\n"
            "                        column; path relative to the CSV's folder) and\n"
            "                        labels (codes among the 16, blank-separated); a record\n"
            "                        longer than 10 s is read in 10-s windows every --stride S\n"
            "                        seconds (default 5) and scored by its largest probability\n"
            "  --split test|val      split to score (default test); thresholds are tuned on val\n"
            "  --json FILE           metrics as JSON (top-level macro_auroc)\n"
            "  --predictions FILE    per-record CSV: ecg_id (or record), true labels,\n"
            "                        probabilities\n"
            "  --compare M2          also score model M2 on the same records: the macro-AUROC\n"
            "                        difference M - M2 with a paired bootstrap 95%% interval\n"
            "  --bootstrap N         bootstrap resamples for 95%% intervals (default 1000)\n"
            "  --seed N              bootstrap seed (default 0)\n"
            "  --cache FILE          filtered, unstandardized cache to use/create (default next to\n"
            "                        the model; not train's standardized cache.bin)\n"
            "  --threads N  --quiet  --precision fp32|bf16|int8 (int8: the model's calibration)\n");
}

static int write_predictions(const char *path, const pe_split_pred *sp, pe_error *e) {
    pe_atomic_file af;
    if (pe_atomic_open(&af, path, e)) return -1;
    cli_predictions_header(af.f, "ecg_id");
    for (long i = 0; i < sp->view.n; i++) {
        fprintf(af.f, "%d", pe_split_pred_ecg_id(sp, i));
        cli_predictions_row_end(af.f, sp->labels + i * PE_NUM_CLASSES,
                                sp->probs + i * PE_NUM_CLASSES);
    }
    return pe_atomic_commit(&af, e);
}

static cJSON *num_or_null(double v) { return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v); }

/* Prints the scores of n records of `what` (a split's name or a record list) and returns
 * them as the JSON report: macro-AUROC (with its bootstrap interval when br is not NULL),
 * macro F1 at 0.5 and, when thr is not NULL, at the validation-tuned thresholds; per
 * class the support, AUROC (and interval), F1. NULL when out of memory. */
static cJSON *print_report(const char *model_path, const char *what, size_t n,
                           const pe_auroc_report *ar, const pe_bootstrap_report *br, double mf1_05,
                           const double *f1_05, const double *thr, const uint8_t *tuned,
                           double mf1_t, const double *f1_t) {
    char undef[512];
    int nu = pe_auroc_undefined_names(ar, pe_class_names, undef, sizeof undef);
    if (nu)
        fprintf(stderr, "warning: AUROC undefined (no positive or no negative %s record) for "
                        "%d class(es), left out of the macro mean: %s\n", what, nu, undef);
    printf("%s: %zu records, macro-AUROC %.4f over %d classes", what, n, ar->macro, ar->n_defined);
    if (br) printf(" (95%% CI %.4f-%.4f, %d bootstrap resamples)", br->lo, br->hi, br->B);
    printf("\nmacro F1 at 0.5: %.4f", mf1_05);
    if (thr) printf("; at validation-tuned thresholds: %.4f", mf1_t);
    printf("\n\n%-6s %8s %8s %17s %8s", "class", "support", "AUROC", "95% CI", "F1@0.5");
    if (thr) printf(" %9s %8s", "val thr", "F1@thr");
    printf("\n");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model_path);
    cJSON_AddStringToObject(root, "split", what);
    cJSON_AddNumberToObject(root, "n_records", (double)n);
    cJSON_AddNumberToObject(root, "macro_auroc", ar->macro);
    cJSON_AddNumberToObject(root, "n_classes_defined", ar->n_defined);
    if (br) {
        cJSON *ci = cJSON_AddArrayToObject(root, "macro_auroc_ci95");
        cJSON_AddItemToArray(ci, num_or_null(br->lo));
        cJSON_AddItemToArray(ci, num_or_null(br->hi));
        cJSON_AddNumberToObject(root, "bootstrap_resamples", br->B);
    }
    cJSON_AddNumberToObject(root, "macro_f1_at_0.5", mf1_05);
    if (thr) cJSON_AddNumberToObject(root, "macro_f1_at_val_thresholds", mf1_t);
    cJSON *und = cJSON_AddArrayToObject(root, "undefined_classes");
    cJSON *pc = cJSON_AddArrayToObject(root, "per_class");
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        double lo = br ? br->class_lo[c] : NAN, hi = br ? br->class_hi[c] : NAN;
        printf("%-6s %8llu %8.4f %8.4f-%-8.4f %8.4f", pe_class_names[c],
               (unsigned long long)ar->support[c], ar->auroc[c], lo, hi, f1_05[c]);
        if (thr) printf(" %9.4f %8.4f", thr[c], f1_t[c]);
        printf("%s\n", ar->defined[c] ? "" : "  (undefined)");
        if (!ar->defined[c]) cJSON_AddItemToArray(und, cJSON_CreateString(pe_class_names[c]));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "label", pe_class_names[c]);
        cJSON_AddNumberToObject(o, "support", (double)ar->support[c]);
        cJSON_AddItemToObject(o, "auroc", num_or_null(ar->auroc[c]));
        cJSON *ci = cJSON_AddArrayToObject(o, "auroc_ci95");
        cJSON_AddItemToArray(ci, num_or_null(lo));
        cJSON_AddItemToArray(ci, num_or_null(hi));
        cJSON_AddNumberToObject(o, "f1_at_0.5", f1_05[c]);
        if (thr) {
            cJSON_AddNumberToObject(o, "val_threshold", thr[c]);
            cJSON_AddBoolToObject(o, "threshold_tuned", tuned[c]);
            cJSON_AddNumberToObject(o, "f1_at_val_threshold", f1_t[c]);
        }
        cJSON_AddItemToArray(pc, o);
    }
    return root;
}

/* --compare: model cmp->path scored on the records of `ref` (the split just evaluated)
 * with the same bootstrap seed, so each resample holds the same records in both;
 * printed and added to json as "comparison". */
static int compare_model(cli_model_eval *cmp, const cli_model_eval *ref, const char *root,
                         int split, pe_precision prec, int seed, int quiet, cJSON *json,
                         pe_error *e) {
    int rc = cli_model_evaluate(cmp, root, NULL, split, prec, "eval", ref->n_boot, seed, quiet, e);
    size_t n = (size_t)ref->pred.view.n;
    if (rc == 0 && (size_t)cmp->pred.view.n != n)
        rc = pe_fail(e, "%s: scored %ld records where the first model had %zu", cmp->path,
                     cmp->pred.view.n, n);
    for (long i = 0; rc == 0 && i < (long)n; i++)
        if (pe_split_pred_ecg_id(&cmp->pred, i) != pe_split_pred_ecg_id(&ref->pred, i) ||
            memcmp(cmp->pred.labels + i * PE_NUM_CLASSES, ref->pred.labels + i * PE_NUM_CLASSES,
                   PE_NUM_CLASSES))
            rc = pe_fail(e, "%s: record %ld (ecg_id %d) differs from the first model's split",
                         cmp->path, i, pe_split_pred_ecg_id(&cmp->pred, i));
    double lo = NAN, hi = NAN;
    if (rc == 0 && ref->n_boot > 0)
        rc = pe_bootstrap_paired_diff(&ref->br, &cmp->br, &lo, &hi, NULL, e);
    if (rc) return rc;
    double d = ref->ar.macro - cmp->ar.macro;
    printf("\ncompared with %s: macro-AUROC %.4f; difference %+.4f", cmp->path, cmp->ar.macro, d);
    if (ref->n_boot > 0) printf(" (95%% CI %+.4f to %+.4f, paired bootstrap)", lo, hi);
    printf("\n");
    cJSON *o = cJSON_AddObjectToObject(json, "comparison");
    cJSON_AddStringToObject(o, "model", cmp->path);
    cJSON_AddNumberToObject(o, "macro_auroc", cmp->ar.macro);
    cJSON_AddNumberToObject(o, "difference", d);
    if (ref->n_boot > 0) {
        cJSON *ci = cJSON_AddArrayToObject(o, "difference_ci95");
        cJSON_AddItemToArray(ci, num_or_null(lo));
        cJSON_AddItemToArray(ci, num_or_null(hi));
    }
    return 0;
}

/* --records --predictions: per record its path (quoted), true labels, probabilities. */
static int write_list_predictions(const char *path, const pe_record_list *l, const float *probs,
                                  pe_error *e) {
    pe_atomic_file af;
    if (pe_atomic_open(&af, path, e)) return -1;
    cli_predictions_header(af.f, "record");
    for (int i = 0; i < l->n; i++) {
        cli_csv_quoted(af.f, l->paths[i]);
        cli_predictions_row_end(af.f, l->labels + (size_t)i * PE_NUM_CLASSES,
                                probs + (size_t)i * PE_NUM_CLASSES);
    }
    return pe_atomic_commit(&af, e);
}

/* --records: the model on every record of a labelled list (pe_classify_windows; a
 * record's probability of a class is its largest over the windows), scored like a split
 * (no validation split, so F1 at 0.5 only). */
static int eval_records(const char *model_path, const char *list_path, double stride,
                        pe_precision prec, int n_boot, int seed, int quiet, const char *json,
                        const char *pred, pe_error *e) {
    pe_record_list l;
    if (pe_record_list_load(list_path, &l, e)) return -1;
    pe_classifier *c = pe_classifier_load(model_path, e);
    float *probs = malloc((size_t)l.n * PE_NUM_CLASSES * sizeof *probs);
    int rc = c && probs ? 0 : c ? pe_fail(e, "out of memory") : -1;
    const char *note = NULL;
    if (rc == 0) pe_classifier_set_precision(c, (int)prec, &note);
    if (note) fprintf(stderr, "protoecg eval: %s\n", note);
    pe_progress prog;
    pe_progress_start(&prog, "eval", l.n, quiet);
    for (int i = 0; rc == 0 && i < l.n; i++) {
        float *sig = NULL;
        pe_window *w = NULL;
        int nl;
        long ns, nw;
        double fs;
        rc = pe_record_read(l.paths[i], &sig, &nl, &ns, &fs, e);
        if (rc == 0)
            rc = pe_classify_windows(c, sig, nl, ns, fs, stride, probs + (size_t)i * PE_NUM_CLASSES,
                                     &w, &nw, e);
        if (rc) {
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e->msg);
            pe_fail(e, "record %d of %s: %.900s", i + 1, list_path, msg);
        }
        free(sig);
        free(w);
        pe_progress_update(&prog, i + 1, NULL);
    }
    if (rc == 0) pe_progress_end(&prog, NULL);
    pe_auroc_report ar = {0};
    pe_bootstrap_report br = {0};
    if (rc == 0) rc = cli_score(l.labels, probs, (size_t)l.n, n_boot, seed, &ar, &br, e);
    if (rc == 0 && ar.n_defined == 0)
        rc = pe_fail(e, "%s: no class has both positive and negative records: AUROC is "
                        "undefined", list_path);
    cJSON *root = NULL;
    if (rc == 0) {
        double f1[PE_NUM_CLASSES];
        double mf1 = pe_f1(l.labels, probs, (size_t)l.n, PE_NUM_CLASSES, NULL, f1);
        root = print_report(model_path, list_path, (size_t)l.n, &ar, n_boot > 0 ? &br : NULL, mf1,
                            f1, NULL, NULL, 0, NULL);
    }
    if (rc == 0 && json) {
        char *s = cJSON_Print(root);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), e) : pe_fail(e, "out of memory");
        free(s);
    }
    if (rc == 0 && pred) rc = write_list_predictions(pred, &l, probs, e);
    cJSON_Delete(root);
    if (ar.auroc) pe_auroc_report_free(&ar);
    if (br.macro) pe_bootstrap_report_free(&br);
    free(probs);
    pe_classifier_free(c);
    pe_record_list_free(&l);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *root = NULL, *json = NULL, *pred = NULL, *cache = NULL;
    const char *compare = NULL, *records = NULL;
    const char *split_name = "test", *v;
    double stride = 5;
    int n_boot = 1000, seed = 0, quiet = 0, threads = 0;
    pe_precision prec = PE_PREC_FP32;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--model", &model_path) ||
            arg_value(argc, argv, &i, "--ptbxl", &root) || arg_value(argc, argv, &i, "--json", &json) ||
            arg_value(argc, argv, &i, "--predictions", &pred) ||
            arg_value(argc, argv, &i, "--cache", &cache) ||
            arg_value(argc, argv, &i, "--compare", &compare) ||
            arg_value(argc, argv, &i, "--records", &records) ||
            arg_value(argc, argv, &i, "--split", &split_name))
            continue;
        int k = arg_bootstrap_opts(argc, argv, &i, &n_boot, &seed, &threads);
        if (k < 0) return 2;
        if (k > 0) continue;
        if (arg_value(argc, argv, &i, "--stride", &v)) {
            if (arg_stride("eval", v, &stride)) return 2;
        } else if (arg_value(argc, argv, &i, "--precision", &v)) {
            if (pe_precision_parse(v, &prec)) {
                fprintf(stderr, "protoecg eval: --precision must be fp32, bf16 or int8\n");
                return 2;
            }
        } else {
            int rc = arg_last("eval", argv[i], &quiet, usage);
            if (rc >= 0) return rc;
        }
    }
    int split = !strcmp(split_name, "test") ? 2 : !strcmp(split_name, "val") ? 1 : -1;
    if (split < 0) {
        fprintf(stderr, "protoecg eval: --split must be 'test' or 'val', got '%s'\n", split_name);
        return 2;
    }
    if (records) {
        if (!model_path || root || compare || cache) {
            fprintf(stderr, "protoecg eval: --records needs --model and goes without --ptbxl, "
                            "--compare and --cache\n");
            return 2;
        }
        set_threads(threads);
        pe_error e = {{0}};
        int rc = eval_records(model_path, records, stride, prec, n_boot, seed, quiet, json, pred,
                              &e);
        if (rc) fprintf(stderr, "protoecg eval: %s\n", e.msg);
        return rc ? 1 : 0;
    }
    if (!model_path || !root) {
        fprintf(stderr, "protoecg eval: %s is required\n", !model_path ? "--model M" : "--ptbxl DIR");
        usage(stderr);
        return 2;
    }
    set_threads(threads);
    pe_error e = {{0}};
    cli_model_eval me, cmp;
    memset(&me, 0, sizeof me);
    memset(&cmp, 0, sizeof cmp);
    cJSON *root_json = NULL;
    int rc = 0;
    if ((size_t)snprintf(me.path, sizeof me.path, "%s", model_path) >= sizeof me.path ||
        (compare && (size_t)snprintf(cmp.path, sizeof cmp.path, "%s", compare) >= sizeof cmp.path))
        rc = pe_fail(&e, "model path too long");
    me.with_val = 1; /* thresholds are tuned on the validation split */
    if (rc == 0)
        rc = cli_model_evaluate(&me, root, cache, split, prec, "eval", n_boot, seed, quiet, &e);
    const pe_split_pred *tst = &me.pred, *val = &me.val;
    const pe_auroc_report *ar = &me.ar;
    const pe_bootstrap_report *br = &me.br;
    const uint8_t *yv = val->labels, *yt = tst->labels;
    size_t n = rc == 0 ? (size_t)tst->view.n : 0;
    if (rc == 0 && ar->n_defined == 0)
        rc = pe_fail(&e, "no class has both positive and negative records in the %s split: "
                         "AUROC is undefined", split_name);
    double thr[PE_NUM_CLASSES], f1_05[PE_NUM_CLASSES], f1_t[PE_NUM_CLASSES];
    uint8_t tuned[PE_NUM_CLASSES];
    double mf1_05 = 0, mf1_t = 0;
    if (rc == 0) {
        mf1_05 = pe_f1(yt, tst->probs, n, PE_NUM_CLASSES, NULL, f1_05);
        rc = pe_tune_thresholds(yv, val->probs, (size_t)val->view.n, PE_NUM_CLASSES, 0.5, thr, NULL,
                                tuned, &e);
        if (rc == 0) mf1_t = pe_f1(yt, tst->probs, n, PE_NUM_CLASSES, thr, f1_t);
    }
    if (rc == 0)
        root_json = print_report(model_path, split_name, n, ar, n_boot > 0 ? br : NULL, mf1_05, f1_05,
                                 thr, tuned, mf1_t, f1_t);
    if (rc == 0 && compare)
        rc = compare_model(&cmp, &me, root, split, prec, seed, quiet, root_json, &e);
    if (rc == 0 && json) {
        char *s = cJSON_Print(root_json);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
    }
    if (rc == 0 && pred) rc = write_predictions(pred, tst, &e);
    if (rc) fprintf(stderr, "protoecg eval: %s\n", e.msg);
    cJSON_Delete(root_json);
    cli_model_eval_free(&cmp);
    cli_model_eval_free(&me);
    return rc ? 1 : 0;
}
