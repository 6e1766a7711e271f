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
            "  --cache FILE          filtered, unstandardized cache to use/create (default next to\n"
            "                        the model; not train's standardized cache.bin)\n"
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
    if (rc == 0) {
        char undef[512];
        int nu = pe_auroc_undefined_names(ar, pe_class_names, undef, sizeof undef);
        if (nu)
            fprintf(stderr, "warning: AUROC undefined (no positive or no negative %s record) for "
                            "%d class(es), left out of the macro mean: %s\n", split_name, nu, undef);
        printf("%s: %zu records, macro-AUROC %.4f over %d classes", split_name, n, ar->macro,
               ar->n_defined);
        if (n_boot > 0) printf(" (95%% CI %.4f-%.4f, %d bootstrap resamples)", br->lo, br->hi, n_boot);
        printf("\nmacro F1 at 0.5: %.4f; at validation-tuned thresholds: %.4f\n\n", mf1_05, mf1_t);
        printf("%-6s %8s %8s %17s %8s %9s %8s\n", "class", "support", "AUROC", "95% CI", "F1@0.5",
               "val thr", "F1@thr");
        root_json = cJSON_CreateObject();
        cJSON_AddStringToObject(root_json, "model", model_path);
        cJSON_AddStringToObject(root_json, "split", split_name);
        cJSON_AddNumberToObject(root_json, "n_records", (double)n);
        cJSON_AddNumberToObject(root_json, "macro_auroc", ar->macro);
        cJSON_AddNumberToObject(root_json, "n_classes_defined", ar->n_defined);
        if (n_boot > 0) {
            cJSON *ci = cJSON_AddArrayToObject(root_json, "macro_auroc_ci95");
            cJSON_AddItemToArray(ci, num_or_null(br->lo));
            cJSON_AddItemToArray(ci, num_or_null(br->hi));
            cJSON_AddNumberToObject(root_json, "bootstrap_resamples", n_boot);
        }
        cJSON_AddNumberToObject(root_json, "macro_f1_at_0.5", mf1_05);
        cJSON_AddNumberToObject(root_json, "macro_f1_at_val_thresholds", mf1_t);
        cJSON *und = cJSON_AddArrayToObject(root_json, "undefined_classes");
        cJSON *pc = cJSON_AddArrayToObject(root_json, "per_class");
        for (int c = 0; c < PE_NUM_CLASSES; c++) {
            double lo = n_boot > 0 ? br->class_lo[c] : NAN, hi = n_boot > 0 ? br->class_hi[c] : NAN;
            printf("%-6s %8llu %8.4f %8.4f-%-8.4f %8.4f %9.4f %8.4f%s\n", pe_class_names[c],
                   (unsigned long long)ar->support[c], ar->auroc[c], lo, hi, f1_05[c], thr[c],
                   f1_t[c], ar->defined[c] ? "" : "  (undefined)");
            if (!ar->defined[c]) cJSON_AddItemToArray(und, cJSON_CreateString(pe_class_names[c]));
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "label", pe_class_names[c]);
            cJSON_AddNumberToObject(o, "support", (double)ar->support[c]);
            cJSON_AddItemToObject(o, "auroc", num_or_null(ar->auroc[c]));
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
