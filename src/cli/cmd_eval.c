/* protoecg eval: test (or validation) metrics of a model on PTB-XL. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg eval --model M --ptbxl DIR [options]\n"
            "  --split test|val      split to score (default test); thresholds are tuned on val\n"
            "  --json FILE           metrics as JSON (top-level macro_auroc)\n"
            "  --predictions FILE    per-record CSV: ecg_id, true labels, probabilities\n"
            "  --compare M2          also score model M2 on the same records: the macro-AUROC\n"
            "                        difference M - M2 with a paired bootstrap 95%% interval\n"
            "  --bootstrap N         bootstrap resamples for 95%% intervals (default 1000)\n"
            "  --seed N              bootstrap seed (default 0)\n"
            "  --cache FILE          filtered cache to use/create (default next to the model)\n"
            "  --threads N  --quiet  --precision fp32|bf16|int8 (int8: the model's calibration)\n");
}

static int write_predictions(const char *path, const pe_split_pred *sp, pe_error *e) {
    const uint8_t *y = sp->labels;
    pe_atomic_file af;
    if (pe_atomic_open(&af, path, e)) return -1;
    fprintf(af.f, "ecg_id");
    for (int c = 0; c < PE_NUM_CLASSES; c++) fprintf(af.f, ",true_%s", pe_class_names[c]);
    for (int c = 0; c < PE_NUM_CLASSES; c++) fprintf(af.f, ",prob_%s", pe_class_names[c]);
    fputc('\n', af.f);
    for (long i = 0; i < sp->view.n; i++) {
        fprintf(af.f, "%d", pe_split_pred_ecg_id(sp, i));
        for (int c = 0; c < PE_NUM_CLASSES; c++) fprintf(af.f, ",%d", y[i * PE_NUM_CLASSES + c]);
        for (int c = 0; c < PE_NUM_CLASSES; c++)
            fprintf(af.f, ",%.6g", sp->probs[i * PE_NUM_CLASSES + c]);
        fputc('\n', af.f);
    }
    return pe_atomic_commit(&af, e);
}

static cJSON *num_or_null(double v) { return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v); }

/* --compare: model `path` scored on the records of `ref` (the split just evaluated),
 * bootstrapped with the same seed (so each resample holds the same records as ref's),
 * printed and added to json as "comparison". */
static int compare_model(const char *path, const char *root, int split, const pe_split_pred *ref,
                         const pe_auroc_report *ar, const pe_bootstrap_report *br, int n_boot,
                         int seed, int quiet, pe_precision prec, cJSON *json, pe_error *e) {
    pe_model m;
    if (pe_model_load(&m, path, 64, 1, e)) return -1;
    pe_net_set_precision(&m.net, prec, NULL);
    pe_cache raw;
    memset(&raw, 0, sizeof raw);
    pe_split_pred sp;
    memset(&sp, 0, sizeof sp);
    pe_auroc_report a2 = {0};
    pe_bootstrap_report b2 = {0};
    size_t n = (size_t)ref->view.n;
    int rc = cli_raw_cache(&m, path, root, NULL, quiet, &raw, e);
    if (rc == 0) rc = pe_evaluate_model(&m, &raw, split, &sp, e);
    if (rc == 0 && (size_t)sp.view.n != n)
        rc = pe_fail(e, "%s: scored %ld records where the first model had %zu", path,
                     sp.view.n, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (pe_split_pred_ecg_id(&sp, (long)i) != pe_split_pred_ecg_id(ref, (long)i) ||
            memcmp(sp.labels + i * PE_NUM_CLASSES, ref->labels + i * PE_NUM_CLASSES,
                   PE_NUM_CLASSES))
            rc = pe_fail(e, "%s: record %zu (ecg_id %d) differs from the first model's split",
                         path, i, pe_split_pred_ecg_id(&sp, (long)i));
    if (rc == 0) rc = pe_macro_auroc(sp.labels, sp.probs, n, PE_NUM_CLASSES, &a2, e);
    double lo = NAN, hi = NAN;
    if (rc == 0 && n_boot > 0) {
        pe_rng r;
        pe_rng_seed(&r, (uint64_t)seed);
        rc = pe_bootstrap_auroc(sp.labels, sp.probs, n, PE_NUM_CLASSES, n_boot, 0.95, &r, &b2, e);
        if (rc == 0) rc = pe_bootstrap_paired_diff(br, &b2, &lo, &hi, NULL, e);
    }
    if (rc == 0) {
        double d = ar->macro - a2.macro;
        printf("\ncompared with %s: macro-AUROC %.4f; difference %+.4f", path, a2.macro, d);
        if (n_boot > 0) printf(" (95%% CI %+.4f to %+.4f, paired bootstrap)", lo, hi);
        printf("\n");
        cJSON *o = cJSON_AddObjectToObject(json, "comparison");
        cJSON_AddStringToObject(o, "model", path);
        cJSON_AddNumberToObject(o, "macro_auroc", a2.macro);
        cJSON_AddNumberToObject(o, "difference", d);
        if (n_boot > 0) {
            cJSON *ci = cJSON_AddArrayToObject(o, "difference_ci95");
            cJSON_AddItemToArray(ci, num_or_null(lo));
            cJSON_AddItemToArray(ci, num_or_null(hi));
        }
    }
    if (a2.auroc) pe_auroc_report_free(&a2);
    if (b2.macro) pe_bootstrap_report_free(&b2);
    pe_split_pred_free(&sp);
    pe_cache_close(&raw);
    pe_model_free(&m);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *root = NULL, *json = NULL, *pred = NULL, *cache = NULL;
    const char *compare = NULL;
    const char *split_name = "test", *v;
    int n_boot = 1000, seed = 0, quiet = 0, threads = 0;
    pe_precision prec = PE_PREC_FP32;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--model", &model_path) ||
            arg_value(argc, argv, &i, "--ptbxl", &root) || arg_value(argc, argv, &i, "--json", &json) ||
            arg_value(argc, argv, &i, "--predictions", &pred) ||
            arg_value(argc, argv, &i, "--cache", &cache) ||
            arg_value(argc, argv, &i, "--compare", &compare) ||
            arg_value(argc, argv, &i, "--split", &split_name))
            continue;
        int k = arg_bootstrap_opts(argc, argv, &i, &n_boot, &seed, &threads);
        if (k < 0) return 2;
        if (k > 0) continue;
        if (arg_value(argc, argv, &i, "--precision", &v)) {
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
    if (!model_path || !root) {
        fprintf(stderr, "protoecg eval: %s is required\n", !model_path ? "--model M" : "--ptbxl DIR");
        usage(stderr);
        return 2;
    }
    set_threads(threads);
    pe_error e = {{0}};
    pe_model m;
    pe_cache raw;
    memset(&raw, 0, sizeof raw);
    pe_split_pred val, tst;
    memset(&val, 0, sizeof val);
    memset(&tst, 0, sizeof tst);
    pe_auroc_report ar = {0};
    pe_bootstrap_report br = {0};
    cJSON *root_json = NULL;
    int rc = pe_model_load(&m, model_path, 64, 1, &e);
    if (rc) {
        fprintf(stderr, "protoecg eval: %s\n", e.msg);
        return 1;
    }
    const char *note = NULL;
    pe_net_set_precision(&m.net, prec, &note);
    if (note) fprintf(stderr, "protoecg eval: %s\n", note);
    rc = cli_raw_cache(&m, model_path, root, cache, quiet, &raw, &e);
    if (rc == 0) rc = pe_evaluate_model(&m, &raw, PE_SPLIT_VAL, &val, &e);
    if (rc == 0) rc = pe_evaluate_model(&m, &raw, split, &tst, &e);
    const uint8_t *yv = val.labels, *yt = tst.labels;
    size_t n = rc == 0 ? (size_t)tst.view.n : 0;
    if (rc == 0) rc = pe_macro_auroc(yt, tst.probs, n, PE_NUM_CLASSES, &ar, &e);
    if (rc == 0 && ar.n_defined == 0)
        rc = pe_fail(&e, "no class has both positive and negative records in the %s split: "
                         "AUROC is undefined", split_name);
    double thr[PE_NUM_CLASSES], f1_05[PE_NUM_CLASSES], f1_t[PE_NUM_CLASSES];
    uint8_t tuned[PE_NUM_CLASSES];
    double mf1_05 = 0, mf1_t = 0;
    if (rc == 0) {
        mf1_05 = pe_f1(yt, tst.probs, n, PE_NUM_CLASSES, NULL, f1_05);
        rc = pe_tune_thresholds(yv, val.probs, (size_t)val.view.n, PE_NUM_CLASSES, 0.5, thr, NULL,
                                tuned, &e);
        if (rc == 0) mf1_t = pe_f1(yt, tst.probs, n, PE_NUM_CLASSES, thr, f1_t);
    }
    if (rc == 0 && n_boot > 0) {
        pe_rng r;
        pe_rng_seed(&r, (uint64_t)seed);
        rc = pe_bootstrap_auroc(yt, tst.probs, n, PE_NUM_CLASSES, n_boot, 0.95, &r, &br, &e);
    }
    if (rc == 0) {
        char undef[512];
        int nu = pe_auroc_undefined_names(&ar, pe_class_names, undef, sizeof undef);
        if (nu)
            fprintf(stderr, "warning: AUROC undefined (no positive or no negative %s record) for "
                            "%d class(es), left out of the macro mean: %s\n", split_name, nu, undef);
        printf("%s: %zu records, macro-AUROC %.4f over %d classes", split_name, n, ar.macro,
               ar.n_defined);
        if (n_boot > 0) printf(" (95%% CI %.4f-%.4f, %d bootstrap resamples)", br.lo, br.hi, n_boot);
        printf("\nmacro F1 at 0.5: %.4f; at validation-tuned thresholds: %.4f\n\n", mf1_05, mf1_t);
        printf("%-6s %8s %8s %17s %8s %9s %8s\n", "class", "support", "AUROC", "95% CI", "F1@0.5",
               "val thr", "F1@thr");
        root_json = cJSON_CreateObject();
        cJSON_AddStringToObject(root_json, "model", model_path);
        cJSON_AddStringToObject(root_json, "split", split_name);
        cJSON_AddNumberToObject(root_json, "n_records", (double)n);
        cJSON_AddNumberToObject(root_json, "macro_auroc", ar.macro);
        cJSON_AddNumberToObject(root_json, "n_classes_defined", ar.n_defined);
        if (n_boot > 0) {
            cJSON *ci = cJSON_AddArrayToObject(root_json, "macro_auroc_ci95");
            cJSON_AddItemToArray(ci, num_or_null(br.lo));
            cJSON_AddItemToArray(ci, num_or_null(br.hi));
            cJSON_AddNumberToObject(root_json, "bootstrap_resamples", n_boot);
        }
        cJSON_AddNumberToObject(root_json, "macro_f1_at_0.5", mf1_05);
        cJSON_AddNumberToObject(root_json, "macro_f1_at_val_thresholds", mf1_t);
        cJSON *und = cJSON_AddArrayToObject(root_json, "undefined_classes");
        cJSON *pc = cJSON_AddArrayToObject(root_json, "per_class");
        for (int c = 0; c < PE_NUM_CLASSES; c++) {
            double lo = n_boot > 0 ? br.class_lo[c] : NAN, hi = n_boot > 0 ? br.class_hi[c] : NAN;
            printf("%-6s %8llu %8.4f %8.4f-%-8.4f %8.4f %9.4f %8.4f%s\n", pe_class_names[c],
                   (unsigned long long)ar.support[c], ar.auroc[c], lo, hi, f1_05[c], thr[c],
                   f1_t[c], ar.defined[c] ? "" : "  (undefined)");
            if (!ar.defined[c]) cJSON_AddItemToArray(und, cJSON_CreateString(pe_class_names[c]));
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "label", pe_class_names[c]);
            cJSON_AddNumberToObject(o, "support", (double)ar.support[c]);
            cJSON_AddItemToObject(o, "auroc", num_or_null(ar.auroc[c]));
            cJSON *ci = cJSON_AddArrayToObject(o, "auroc_ci95");
            cJSON_AddItemToArray(ci, num_or_null(lo));
            cJSON_AddItemToArray(ci, num_or_null(hi));
            cJSON_AddNumberToObject(o, "f1_at_0.5", f1_05[c]);
            cJSON_AddNumberToObject(o, "val_threshold", thr[c]);
            cJSON_AddBoolToObject(o, "threshold_tuned", tuned[c]);
            cJSON_AddNumberToObject(o, "f1_at_val_threshold", f1_t[c]);
            cJSON_AddItemToArray(pc, o);
        }
    }
    if (rc == 0 && compare)
        rc = compare_model(compare, root, split, &tst, &ar, &br, n_boot, seed, quiet, prec,
                           root_json, &e);
    if (rc == 0 && json) {
        char *s = cJSON_Print(root_json);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
    }
    if (rc == 0 && pred) rc = write_predictions(pred, &tst, &e);
    if (rc) fprintf(stderr, "protoecg eval: %s\n", e.msg);
    cJSON_Delete(root_json);
    if (ar.auroc) pe_auroc_report_free(&ar);
    if (br.macro) pe_bootstrap_report_free(&br);
    pe_split_pred_free(&val);
    pe_split_pred_free(&tst);
    pe_cache_close(&raw);
    pe_model_free(&m);
    return rc ? 1 : 0;
}
