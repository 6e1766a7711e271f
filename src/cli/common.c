#include "cli/common.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

int cli_raw_cache(const pe_model *m, const char *model_path, const char *ptbxl,
                  const char *cache_path, int quiet, pe_cache *raw, pe_error *e) {
    char buf[4096];
    if (!cache_path) {
        const char *slash = strrchr(model_path, '/');
        int dl = slash ? (int)(slash - model_path) : 1;
        snprintf(buf, sizeof buf, "%.*s/cache_raw_f%d.bin", dl, slash ? model_path : ".",
                 m->pre.filter_order);
        cache_path = buf;
    }
    pe_prepare_opts o = pe_prepare_opts_default(ptbxl);
    o.filter_order = m->pre.filter_order;
    o.cutoff_hz = m->pre.cutoff_hz;
    o.standardize = 0;
    o.quiet = quiet;
    pe_prepare_report rep;
    if (pe_cache_prepare(&o, cache_path, &rep, e)) return -1;
    return pe_cache_open(cache_path, raw, e);
}

int cli_model_evaluate(cli_model_eval *me, const char *ptbxl, const char *cache_path, int split,
                       pe_precision prec, const char *cmd, int n_boot, int seed, int quiet,
                       pe_error *e) {
    if (pe_model_load(&me->m, me->path, 64, 1, e)) return -1;
    me->loaded = 1;
    const char *note = NULL;
    pe_net_set_precision(&me->m.net, prec, &note);
    if (note) fprintf(stderr, "protoecg %s: %s\n", cmd, note);
    pe_cache raw;
    memset(&raw, 0, sizeof raw); /* closed below even if preparing it failed */
    int rc = cli_raw_cache(&me->m, me->path, ptbxl, cache_path, quiet, &raw, e);
    if (rc == 0) rc = pe_evaluate_model(&me->m, &raw, split, &me->pred, e);
    if (rc == 0 && me->with_val) rc = pe_evaluate_model(&me->m, &raw, PE_SPLIT_VAL, &me->val, e);
    pe_cache_close(&raw);
    if (rc) return -1;
    me->n_boot = n_boot;
    return cli_score(me->pred.labels, me->pred.probs, (size_t)me->pred.view.n, n_boot, seed,
                     &me->ar, &me->br, e);
}

int cli_score(const uint8_t *y, const float *probs, size_t n, int n_boot, int seed,
              pe_auroc_report *ar, pe_bootstrap_report *br, pe_error *e) {
    if (pe_macro_auroc(y, probs, n, PE_NUM_CLASSES, ar, e)) return -1;
    if (n_boot <= 0) return 0;
    pe_rng r;
    pe_rng_seed(&r, (uint64_t)seed);
    return pe_bootstrap_auroc(y, probs, n, PE_NUM_CLASSES, n_boot, 0.95, &r, br, e);
}

void cli_predictions_header(FILE *f, const char *id_column) {
    fprintf(f, "%s", id_column);
    for (int c = 0; c < PE_NUM_CLASSES; c++) fprintf(f, ",true_%s", pe_class_names[c]);
    for (int c = 0; c < PE_NUM_CLASSES; c++) fprintf(f, ",prob_%s", pe_class_names[c]);
    fputc('\n', f);
}

void cli_csv_probs(FILE *f, const float *probs) {
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        if (probs) fprintf(f, ",%.9g", probs[c]); /* 9 digits: the float exactly */
        else fputc(',', f);
    }
}

void cli_predictions_row_end(FILE *f, const uint8_t *y, const float *probs) {
    for (int c = 0; c < PE_NUM_CLASSES; c++) fprintf(f, ",%d", y[c]);
    cli_csv_probs(f, probs);
    fputc('\n', f);
}

void cli_model_eval_free(cli_model_eval *me) {
    if (me->ar.auroc) pe_auroc_report_free(&me->ar);
    if (me->br.macro) pe_bootstrap_report_free(&me->br);
    pe_split_pred_free(&me->pred);
    pe_split_pred_free(&me->val);
    if (me->loaded) pe_model_free(&me->m);
    me->loaded = 0;
}


int cli_resolve_record(const char *arg, const pe_ptbxl_db *db, const char *root, char *out,
                       size_t n, pe_error *e) {
    int digits = *arg != '\0';
    for (const char *p = arg; *p; p++) digits = digits && isdigit((unsigned char)*p);
    char hea[4200];
    snprintf(hea, sizeof hea, "%s.hea", arg);
    if (!digits || (!db && pe_path_exists(hea))) { /* a path (MIT-BIH's records are "100"...) */
        snprintf(out, n, "%s", arg);
        return 0;
    }
    if (!db || !root) return pe_fail(e, "record %s: an ecg_id needs --ptbxl DIR", arg);
    int r = pe_ptbxl_find(db, atoi(arg));
    if (r < 0) return pe_fail(e, "ecg_id %s is not in %s/ptbxl_database.csv", arg, root);
    if (pe_path_join(out, n, root, db->rows[r].filename_lr)) return pe_fail(e, "path too long");
    return 0;
}

int cli_read_record(const char *arg, const pe_ptbxl_db *db, const char *root, double csv_fs,
                    char *path, size_t n, float **sig, int *nl, long *ns, double *fs,
                    pe_error *e) {
    *sig = NULL;
    if (cli_resolve_record(arg, db, root, path, n, e)) return -1;
    int is_csv = pe_path_is_csv(path);
    if (csv_fs > 0 && !is_csv)
        return pe_fail(e, "--fs is for CSV tables; a WFDB record's header gives its rate");
    if (is_csv) return pe_signal_csv_read(path, csv_fs, sig, nl, ns, fs, e);
    return pe_record_read(path, sig, nl, ns, fs, e);
}

void cli_record_error(const char *cmd, const char *record, const char *msg) {
    if (strncmp(msg, record, strlen(record)) == 0)
        fprintf(stderr, "protoecg %s: %s\n", cmd, msg);
    else
        fprintf(stderr, "protoecg %s: %s: %s\n", cmd, record, msg);
}

int cli_read_ptbxl_record(const pe_ptbxl_db *db, const char *root, int ecg_id, float **sig,
                          pe_error *e) {
    char path[4096], id[32];
    snprintf(id, sizeof id, "%d", ecg_id);
    if (cli_resolve_record(id, db, root, path, sizeof path, e)) return -1;
    int nl;
    long ns;
    double fs;
    if (pe_record_read(path, sig, &nl, &ns, &fs, e)) return -1;
    if (nl != PE_NUM_LEADS || ns != PE_NUM_SAMPLES) {
        free(*sig);
        *sig = NULL;
        return pe_fail(e, "%s: expected 12 leads x 1000 samples", path);
    }
    return 0;
}

static cJSON *evidence_json(const pe_proto_evidence *ev) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "prototype", ev->prototype);
    cJSON_AddStringToObject(t, "prototype_class", pe_class_names[ev->proto_class]);
    cJSON_AddNumberToObject(t, "similarity", ev->similarity);
    cJSON_AddNumberToObject(t, "similarity_rank", ev->similarity_rank);
    cJSON_AddNumberToObject(t, "weight", ev->weight);
    cJSON_AddNumberToObject(t, "contribution", ev->contribution);
    cJSON_AddNumberToObject(t, "source_ecg_id", ev->source_ecg_id);
    cJSON *l = cJSON_AddArrayToObject(t, "source_labels");
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        if (ev->source_labels[c]) cJSON_AddItemToArray(l, cJSON_CreateString(pe_class_names[c]));
    cJSON_AddNumberToObject(t, "source_projection_similarity", ev->source_similarity);
    return t;
}

cJSON *cli_explanation_json(const pe_class_explanation *x) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "label", pe_class_names[x->class_idx]);
    cJSON_AddNumberToObject(c, "probability", x->probability);
    cJSON_AddBoolToObject(c, "predicted", x->predicted);
    cJSON_AddNumberToObject(c, "logit", x->logit);
    cJSON_AddNumberToObject(c, "contribution_own_prototypes", x->contrib_own);
    cJSON_AddNumberToObject(c, "contribution_other_prototypes", x->contrib_other);
    cJSON *own = cJSON_AddArrayToObject(c, "prototypes");
    for (int k = 0; k < x->n_top; k++) cJSON_AddItemToArray(own, evidence_json(&x->top[k]));
    cJSON *other = cJSON_AddArrayToObject(c, "other_prototypes");
    for (int k = 0; k < x->n_other; k++) cJSON_AddItemToArray(other, evidence_json(&x->other[k]));
    return c;
}

void cli_csv_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
