/* protoecg report: one self-contained HTML page (and JSON) summarizing a training run:
 * the results after each phase, the training curves, per-class test AUROC with bootstrap
 * intervals against the plain ResNet-18, ROC curves, the prototypes and four example
 * explanations (two correct, two incorrect test predictions). */
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
#include "explain/gallery.h"
#include "explain/render.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/rng.h"

#define C_ PE_NUM_CLASSES
#define N_EXAMPLES 4

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg report --run RUNDIR --ptbxl DIR --html FILE [options]\n"
            "  --run RUNDIR      a run of `protoecg train --out RUNDIR` (model.safetensors,\n"
            "                    metrics.jsonl, results.json; pretrain.safetensors if present\n"
            "                    is shown as the plain ResNet-18 baseline)\n"
            "  --ptbxl DIR       PTB-XL root (test fold, example and prototype ECGs)\n"
            "  --html FILE       the report: one self-contained page (inline SVG, no script)\n"
            "  --json FILE       the report's numbers as JSON\n"
            "  --bootstrap N     bootstrap resamples for 95%% intervals (default 1000)\n"
            "  --seed N          bootstrap seed (default 0)\n"
            "  --top K           prototypes shown per explained class (default 2)\n"
            "  --cache FILE      filtered, unstandardized cache to use/create (default next to\n"
            "                    the model; not train's standardized cache.bin)\n"
            "  --threads N  --quiet\n");
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static int class_index(const char *name) {
    for (int c = 0; c < C_; c++)
        if (!strcmp(pe_class_names[c], name)) return c;
    return -1;
}

/* ---- metrics.jsonl and results.json ----------------------------------------------- */

typedef struct {
    char phase[32];
    int seq, epoch;
    double train_loss, train_bce, val_loss, val_auroc; /* NaN when absent */
} epoch_row;

static double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Reads RUNDIR/metrics.jsonl (one JSON object per line). */
static int read_metrics(const char *path, epoch_row **rows, int *n_rows, pe_error *e) {
    size_t len;
    *rows = NULL;
    *n_rows = 0;
    char *text = pe_read_file(path, &len, e);
    if (!text) return -1;
    int cap = 0, line_no = 0, rc = 0;
    for (char *line = text, *next; rc == 0 && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *ph = o ? cJSON_GetObjectItemCaseSensitive(o, "phase") : NULL;
        if (!cJSON_IsString(ph)) {
            rc = pe_fail(e, "%s:%d: not a JSON object with a \"phase\"", path, line_no);
        } else {
            if (*n_rows == cap) {
                cap = cap ? 2 * cap : 64;
                epoch_row *r = realloc(*rows, (size_t)cap * sizeof *r);
                if (!r) rc = pe_fail(e, "out of memory");
                else *rows = r;
            }
            if (rc == 0) {
                epoch_row *r = &(*rows)[(*n_rows)++];
                snprintf(r->phase, sizeof r->phase, "%s", ph->valuestring);
                r->seq = (int)json_num(o, "seq");
                r->epoch = (int)json_num(o, "epoch");
                const cJSON *tr = cJSON_GetObjectItemCaseSensitive(o, "train");
                const cJSON *va = cJSON_GetObjectItemCaseSensitive(o, "val");
                r->train_loss = json_num(tr, "loss");
                r->train_bce = json_num(tr, "bce");
                r->val_loss = json_num(va, "loss");
                r->val_auroc = json_num(va, "macro_auroc");
                if (r->val_auroc < 0) r->val_auroc = NAN; /* -1: undefined */
            }
        }
        cJSON_Delete(o);
    }
    free(text);
    return rc;
}

/* Plain-language description of a phase name of train.c. */
static void phase_description(const char *phase, char *out, size_t n) {
    int round = 0;
    const char *digits = phase + strcspn(phase, "0123456789");
    if (*digits) round = atoi(digits);
    if (!strcmp(phase, "pretrain"))
        snprintf(out, n, "plain ResNet-18 (backbone pretraining)");
    else if (!strcmp(phase, "baseline"))
        snprintf(out, n, "plain ResNet-18 baseline");
    else if (!strcmp(phase, "model"))
        snprintf(out, n, "final model (last layer trained)");
    else if (!strncmp(phase, "joint", 5))
        snprintf(out, n, "joint training, round %d", round);
    else if (!strncmp(phase, "warmup", 6))
        snprintf(out, n, "prototype warm-up, round %d", round);
    else if (!strncmp(phase, "projected", 9))
        snprintf(out, n, "after prototype projection, round %d", round);
    else
        snprintf(out, n, "%s", phase);
}

/* ---- one evaluated model (cli_model_eval) ------------------------------------------ */

static double ci_lo(const cli_model_eval *me, int c) {
    return me->n_boot > 0 ? (c < 0 ? me->br.lo : me->br.class_lo[c]) : NAN;
}
static double ci_hi(const cli_model_eval *me, int c) {
    return me->n_boot > 0 ? (c < 0 ? me->br.hi : me->br.class_hi[c]) : NAN;
}

static cJSON *model_json(const cli_model_eval *me) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", me->path);
    cJSON_AddStringToObject(o, "split", "test");
    cJSON_AddNumberToObject(o, "n_records", (double)me->pred.view.n);
    cJSON_AddItemToObject(o, "macro_auroc", num_or_null(me->ar.macro));
    cJSON_AddNumberToObject(o, "n_classes_defined", me->ar.n_defined);
    cJSON *ci = cJSON_AddArrayToObject(o, "macro_auroc_ci95");
    cJSON_AddItemToArray(ci, num_or_null(ci_lo(me, -1)));
    cJSON_AddItemToArray(ci, num_or_null(ci_hi(me, -1)));
    cJSON *pc = cJSON_AddArrayToObject(o, "per_class");
    for (int c = 0; c < C_; c++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "label", pe_class_names[c]);
        cJSON_AddNumberToObject(x, "support", (double)me->ar.support[c]);
        cJSON_AddItemToObject(x, "auroc", num_or_null(me->ar.auroc[c]));
        cJSON *cc = cJSON_AddArrayToObject(x, "auroc_ci95");
        cJSON_AddItemToArray(cc, num_or_null(ci_lo(me, c)));
        cJSON_AddItemToArray(cc, num_or_null(ci_hi(me, c)));
        cJSON_AddItemToArray(pc, x);
    }
    return o;
}

/* ---- examples ------------------------------------------------------------------- */

typedef enum { EX_CORRECT, EX_FALSE_POSITIVE, EX_FALSE_NEGATIVE } example_kind;

typedef struct {
    example_kind kind;
    long rec;  /* index into the test predictions */
    int cls;   /* the class the example is about */
    int ecg_id;
    float prob; /* of cls, from the test-fold predictions */
} example;

static const char *kind_name(example_kind k) {
    return k == EX_CORRECT ? "correct" : k == EX_FALSE_POSITIVE ? "false_positive" : "false_negative";
}

/* The most confident test prediction of a kind: a true positive of class `only` (or of
 * any class when only < 0: the highest probability), a false positive (highest
 * probability with label 0) or a false negative (lowest probability with label 1), at
 * the 0.5 threshold, skipping the records of the examples chosen[0..n_chosen). Ties go
 * to the first record (cache order, i.e. ascending ecg_id), then the lower class. 0 if
 * none. */
static int pick(const pe_split_pred *p, example_kind kind, int only, const example *chosen,
                int n_chosen, example *out) {
    int found = 0;
    for (long i = 0; i < p->view.n; i++) {
        int skip = 0;
        for (int u = 0; u < n_chosen; u++) skip |= chosen[u].rec == i;
        if (skip) continue;
        for (int c = 0; c < C_; c++) {
            if (only >= 0 && c != only) continue;
            float pr = p->probs[i * C_ + c];
            int y = p->labels[i * C_ + c], pos = pr >= 0.5f;
            int ok = kind == EX_CORRECT ? (y && pos)
                     : kind == EX_FALSE_POSITIVE ? (!y && pos) : (y && !pos);
            if (!ok) continue;
            int better = !found || (kind == EX_FALSE_NEGATIVE ? pr < out->prob : pr > out->prob);
            if (better) {
                *out = (example){kind, i, c, pe_split_pred_ecg_id(p, i), pr};
                found = 1;
            }
        }
    }
    return found;
}

/* Two correct predictions (the most confident true AFIB and true SR, else the most
 * confident true positives of any class), the most confident false positive and the
 * most confident false negative. Returns the number chosen. */
static int choose_examples(const pe_split_pred *p, example *ex) {
    int n = 0;
    const int want[2] = {class_index("AFIB"), class_index("SR")};
    for (int k = 0; k < 2; k++)
        if (pick(p, EX_CORRECT, want[k], ex, n, &ex[n]) || pick(p, EX_CORRECT, -1, ex, n, &ex[n]))
            n++;
    if (pick(p, EX_FALSE_POSITIVE, -1, ex, n, &ex[n])) n++;
    if (pick(p, EX_FALSE_NEGATIVE, -1, ex, n, &ex[n])) n++;
    return n;
}

/* An explained example: the record, its explanation and the prototypes' source ECGs. */
typedef struct {
    example x;
    float *sig; /* (12, 1000) mV */
    float probs[C_];
    pe_class_explanation all[C_];
    pe_class_explanation shown[C_];
    int n_shown;
    float *srcs[C_ * PE_MAX_TOP];
} explained;

static void explained_free(explained *x) {
    free(x->sig);
    for (int i = 0; i < C_ * PE_MAX_TOP; i++) free(x->srcs[i]);
}

/* Explains an example with the embedding API (from the PTB-XL record file, as `protoecg
 * explain` does): the example's class first, then the other predicted classes by
 * probability (at most 2 more); the top prototypes' source ECGs are read for the cards. */
static int explain_example(pe_classifier *cl, const pe_ptbxl_db *db, const char *root, int top,
                           explained *x, pe_error *e) {
    if (cli_read_ptbxl_record(db, root, x->x.ecg_id, &x->sig, e)) return -1;
    if (pe_explain(cl, x->sig, PE_NUM_LEADS, PE_NUM_SAMPLES, PE_SAMPLING_HZ, top, x->probs, x->all,
                   e))
        return -1;
    x->shown[x->n_shown++] = x->all[x->x.cls];
    while (x->n_shown < 3) {
        int best = -1;
        for (int c = 0; c < C_; c++) {
            int taken = 0;
            for (int i = 0; i < x->n_shown; i++) taken |= x->shown[i].class_idx == c;
            if (!taken && x->all[c].predicted && (best < 0 || x->probs[c] > x->probs[best]))
                best = c;
        }
        if (best < 0) break;
        x->shown[x->n_shown++] = x->all[best];
    }
    for (int i = 0; i < x->n_shown; i++)
        for (int k = 0; k < x->shown[i].n_top; k++) {
            int id = x->shown[i].top[k].source_ecg_id;
            pe_error se;
            if (id >= 0 && cli_read_ptbxl_record(db, root, id, &x->srcs[i * PE_MAX_TOP + k], &se))
                fprintf(stderr, "warning: source ECG %d not shown: %s\n", id, se.msg);
        }
    return 0;
}

static void labels_text(const uint8_t *y, char *buf, size_t n) {
    buf[0] = '\0';
    for (int c = 0; c < C_; c++)
        if (y[c])
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     pe_class_names[c]);
    if (!buf[0]) snprintf(buf, n, "none");
}

static void predicted_text(const float *probs, char *buf, size_t n) {
    uint8_t y[C_];
    for (int c = 0; c < C_; c++) y[c] = probs[c] >= 0.5f;
    labels_text(y, buf, n);
}

static cJSON *example_json(const explained *x, const pe_split_pred *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", kind_name(x->x.kind));
    cJSON_AddNumberToObject(o, "ecg_id", x->x.ecg_id);
    cJSON_AddStringToObject(o, "class", pe_class_names[x->x.cls]);
    cJSON_AddNumberToObject(o, "probability", x->x.prob);
    cJSON *t = cJSON_AddArrayToObject(o, "true_labels");
    cJSON *q = cJSON_AddArrayToObject(o, "predicted_labels");
    for (int c = 0; c < C_; c++) {
        if (p->labels[x->x.rec * C_ + c]) cJSON_AddItemToArray(t, cJSON_CreateString(pe_class_names[c]));
        if (p->probs[x->x.rec * C_ + c] >= 0.5f)
            cJSON_AddItemToArray(q, cJSON_CreateString(pe_class_names[c]));
    }
    cJSON *arr = cJSON_AddArrayToObject(o, "explanations");
    for (int i = 0; i < x->n_shown; i++) cJSON_AddItemToArray(arr, cli_explanation_json(&x->shown[i]));
    return o;
}

/* ---- the page ----------------------------------------------------------------- */

/* Everything the report shows. */
typedef struct {
    const char *run_dir;
    epoch_row *epochs;
    int n_epochs;
    cJSON *results;        /* results.json, NULL if absent */
    char *config_text;     /* config.json, NULL if absent */
    cli_model_eval final, base;
    int have_base;
    int is_proto;
    pe_gallery_stats gstats;
    pe_gallery_item *items; /* every prototype (no signal) */
    pe_gallery_item cards[4];
    float *card_sigs[4];
    int n_cards;
    explained ex[N_EXAMPLES];
    int n_ex;
} report;

static void put_cell(pe_sb *sb, double v, int dec) {
    if (isfinite(v)) pe_sb_appendf(sb, "<td class=\"num\">%.*f</td>", dec, v);
    else pe_sb_append(sb, "<td class=\"num\">\xe2\x80\x93</td>");
}

static void put_ci_cell(pe_sb *sb, double lo, double hi) {
    if (isfinite(lo) && isfinite(hi)) pe_sb_appendf(sb, "<td class=\"num\">%.3f\xe2\x80\x93%.3f</td>", lo, hi);
    else pe_sb_append(sb, "<td class=\"num\">\xe2\x80\x93</td>");
}

static void html_phases(pe_sb *sb, const report *r) {
    pe_sb_append(sb, "<section id=\"phases\"><h2>Results after each phase</h2>\n");
    if (!r->results) {
        pe_sb_append(sb, "<p class=\"missing\">results.json is missing from the run.</p></section>\n");
        return;
    }
    pe_sb_append(sb, "<table class=\"stats\"><tr><th>Phase</th><th>What</th>"
                     "<th class=\"num\">Val macro-AUROC</th><th class=\"num\">Test macro-AUROC</th>"
                     "<th class=\"num\">Val loss</th><th class=\"num\">Projection cosine</th>"
                     "<th class=\"num\">Seconds</th></tr>\n");
    const cJSON *ph;
    cJSON_ArrayForEach(ph, r->results) {
        char what[96];
        phase_description(ph->string, what, sizeof what);
        pe_sb_append(sb, "<tr><td><b>");
        pe_html_escape(sb, ph->string);
        pe_sb_append(sb, "</b></td><td>");
        pe_html_escape(sb, what);
        pe_sb_append(sb, "</td>");
        put_cell(sb, json_num(ph, "val_macro_auroc"), 4);
        put_cell(sb, json_num(ph, "test_macro_auroc"), 4);
        put_cell(sb, json_num(ph, "val_loss"), 4);
        put_cell(sb, json_num(ph, "mean_projection_cosine"), 3);
        put_cell(sb, json_num(ph, "seconds"), 1);
        pe_sb_append(sb, "</tr>\n");
    }
    pe_sb_append(sb, "</table><p class=\"note\">Macro-AUROC over the classes with positive and "
                     "negative records in the split (validation = fold 9, test = fold 10), as "
                     "recorded by training. Projection cosine: mean cosine between each prototype "
                     "and the training latent it was projected onto.</p></section>\n");
}

static void html_curves(pe_sb *sb, const report *r) {
    pe_sb_append(sb, "<section id=\"curves\"><h2>Training curves</h2>\n");
    if (r->n_epochs == 0) {
        pe_sb_append(sb, "<p class=\"missing\">metrics.jsonl is missing or empty.</p></section>\n");
        return;
    }
    int n = r->n_epochs;
    double *x = malloc(sizeof(double) * 5 * (size_t)n);
    pe_chart_series *s = calloc((size_t)n + 3, sizeof *s);
    if (!x || !s) {
        free(x), free(s);
        sb->oom = 1;
        return;
    }
    double *ep = x + n, *tl = x + 2 * n, *tb = x + 3 * n, *vl = x + 4 * n;
    /* phases in order of first appearance; each a contiguous run of lines */
    int starts[256], n_ph = 0;
    for (int i = 0; i < n && n_ph < 255; i++)
        if (i == 0 || strcmp(r->epochs[i].phase, r->epochs[i - 1].phase)) starts[n_ph++] = i;
    starts[n_ph] = n;
    double *va = malloc(sizeof(double) * (size_t)n);
    if (!va) {
        free(x), free(s);
        sb->oom = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        x[i] = r->epochs[i].seq;
        ep[i] = r->epochs[i].epoch;
        tl[i] = r->epochs[i].train_loss;
        tb[i] = r->epochs[i].train_bce;
        vl[i] = r->epochs[i].val_loss;
        va[i] = r->epochs[i].val_auroc;
    }
    for (int p = 0; p < n_ph; p++)
        s[p] = (pe_chart_series){r->epochs[starts[p]].phase, x + starts[p], va + starts[p],
                                 starts[p + 1] - starts[p]};
    pe_sb_append(sb, "<figure>");
    pe_svg_line_chart(sb, "Validation macro-AUROC after each epoch", "epoch (whole run)",
                      "macro-AUROC", s, n_ph, 0, 0);
    pe_sb_append(sb, "</figure>\n<p class=\"note\">Loss per phase: the training loss is the "
                     "phase's whole objective (BCE plus its prototype terms or L1 penalty); "
                     "the validation loss is the weighted BCE.</p><div class=\"cards\">\n");
    for (int p = 0; p < n_ph; p++) {
        int a = starts[p], m = starts[p + 1] - a;
        pe_chart_series ls[3] = {{"train loss", ep + a, tl + a, m},
                                 {"train BCE", ep + a, tb + a, m},
                                 {"validation loss", ep + a, vl + a, m}};
        char title[96];
        snprintf(title, sizeof title, "%s: loss per epoch", r->epochs[a].phase);
        pe_sb_append(sb, "<div class=\"card\">");
        pe_svg_line_chart(sb, title, "epoch", "loss", ls, 3, 0, 0);
        pe_sb_append(sb, "</div>\n");
    }
    pe_sb_append(sb, "</div></section>\n");
    free(va);
    free(x);
    free(s);
}

static void html_classes(pe_sb *sb, const report *r) {
    const cli_model_eval *f = &r->final, *b = r->have_base ? &r->base : NULL;
    pe_sb_appendf(sb, "<section id=\"classes\"><h2>Per-class AUROC on the test fold</h2>\n"
                      "<table class=\"stats\"><tr><th>Class</th><th>Name</th>"
                      "<th class=\"num\">Support</th><th class=\"num\">AUROC</th>"
                      "<th class=\"num\">95%% CI</th>");
    if (b)
        pe_sb_append(sb, "<th class=\"num\">ResNet-18 AUROC</th><th class=\"num\">95% CI</th>"
                         "<th class=\"num\">Difference</th>");
    pe_sb_append(sb, "</tr>\n");
    for (int c = -1; c < C_; c++) {
        if (c < 0)
            pe_sb_appendf(sb, "<tr><td><b>macro</b></td><td>mean over %d defined classes</td>"
                              "<td class=\"num\">%ld</td>",
                          f->ar.n_defined, f->pred.view.n);
        else
            pe_sb_appendf(sb, "<tr><td><b>%s</b></td><td>%s</td><td class=\"num\">%llu</td>",
                          pe_class_names[c], pe_class_description(c),
                          (unsigned long long)f->ar.support[c]);
        double fa = c < 0 ? f->ar.macro : f->ar.auroc[c];
        put_cell(sb, fa, 3);
        put_ci_cell(sb, ci_lo(f, c), ci_hi(f, c));
        if (b) {
            double ba = c < 0 ? b->ar.macro : b->ar.auroc[c];
            put_cell(sb, ba, 3);
            put_ci_cell(sb, ci_lo(b, c), ci_hi(b, c));
            if (isfinite(fa) && isfinite(ba)) pe_sb_appendf(sb, "<td class=\"num\">%+.3f</td>", fa - ba);
            else pe_sb_append(sb, "<td class=\"num\">\xe2\x80\x93</td>");
        }
        pe_sb_append(sb, "</tr>\n");
    }
    pe_sb_append(sb, "</table><p class=\"note\">Support: records of the test fold with the "
                     "label (macro row: all records). A dash: AUROC undefined (no positive "
                     "record). ");
    if (f->n_boot > 0)
        pe_sb_appendf(sb, "Intervals: percentile bootstrap over %d resamples of the test records "
                          "(the same resamples for both models).",
                      f->n_boot);
    if (b) {
        pe_sb_append(sb, " ResNet-18: ");
        pe_html_escape(sb, b->path);
        pe_sb_append(sb, ", the plain backbone of the same run before the prototype layer.");
    }
    pe_sb_append(sb, "</p></section>\n");
}

static int html_roc(pe_sb *sb, const report *r, pe_error *e) {
    const pe_split_pred *p = &r->final.pred;
    size_t n = (size_t)p->view.n;
    double *pts = malloc(sizeof(double) * 2 * (n + 1) * C_);
    if (!pts) return pe_fail(e, "out of memory");
    pe_roc_series curves[C_];
    int order[C_];
    for (int c = 0; c < C_; c++) order[c] = c;
    for (int i = 1; i < C_; i++) /* by support, descending (stable) */
        for (int j = i; j > 0 && r->final.ar.support[order[j]] > r->final.ar.support[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    for (int k = 0; k < C_; k++) {
        int c = order[k];
        double *fpr = pts + (size_t)2 * (n + 1) * c, *tpr = fpr + n + 1;
        size_t np = 0;
        curves[k] = (pe_roc_series){pe_class_names[c], fpr, tpr, 0, r->final.ar.auroc[c]};
        if (r->final.ar.defined[c]) {
            if (pe_roc_curve(p->labels + c, p->probs + c, n, C_, fpr, tpr, NULL, &np, e)) {
                free(pts);
                return -1;
            }
            curves[k].n = (int)np;
        }
    }
    pe_sb_append(sb, "<section id=\"roc\"><h2>ROC curves on the test fold (final model)</h2>\n"
                     "<div class=\"cards\">\n<div class=\"card\">");
    pe_svg_roc(sb, "The 8 most frequent classes", curves, 8);
    pe_sb_append(sb, "</div>\n<div class=\"card\">");
    pe_svg_roc(sb, "The 8 least frequent classes", curves + 8, C_ - 8);
    pe_sb_append(sb, "</div>\n</div><p class=\"note\">Classes without a positive test record "
                     "have no curve (AUROC undefined).</p></section>\n");
    free(pts);
    return 0;
}

static void html_prototypes(pe_sb *sb, const report *r) {
    pe_sb_append(sb, "<section id=\"prototypes\"><h2>Prototypes</h2>\n");
    if (!r->is_proto) {
        pe_sb_append(sb, "<p class=\"missing\">The final model is a plain ResNet-18: it has no "
                         "prototypes.</p></section>\n");
        return;
    }
    const pe_net *net = &r->final.m.net;
    pe_sb_appendf(sb, "<p>%d prototypes, %d per class, each projected onto a training ECG. "
                      "The full gallery: <code>protoecg gallery --model ",
                  net->n_protos, net->cfg.protos_per_class);
    pe_html_escape(sb, r->final.path);
    pe_sb_append(sb, " --ptbxl DIR --html gallery.html</code>.</p>\n");
    pe_html_gallery_stats_table(sb, r->items, net->n_protos, &r->gstats, 3);
    if (r->n_cards) {
        pe_sb_append(sb, "<h3>Prototypes of frequent rhythms</h3><p class=\"note\">For each "
                         "class, the prototype closest to its source ECG (highest projection "
                         "cosine).</p><div class=\"cards\">\n");
        for (int i = 0; i < r->n_cards; i++)
            pe_html_prototype_card(sb, &r->cards[i], PE_NUM_SAMPLES, PE_SAMPLING_HZ);
        pe_sb_append(sb, "</div>\n");
    }
    pe_sb_append(sb, "</section>\n");
}

static int html_examples(pe_sb *sb, const report *r, pe_error *e) {
    pe_sb_append(sb, "<section id=\"examples\"><h2>Example explanations</h2>\n<p>Test-fold "
                     "records chosen by a fixed rule at the 0.5 threshold: the most confident "
                     "correct atrial fibrillation and sinus rhythm (true positives; else the "
                     "most confident true positives of any class), the most confident false "
                     "positive and the most confident false negative.</p>\n");
    if (!r->is_proto || r->n_ex == 0) {
        pe_sb_append(sb, "<p class=\"missing\">No example explanation: ");
        pe_sb_append(sb, r->is_proto ? "no test prediction fits the rule." : "the model has no "
                                       "prototypes.");
        pe_sb_append(sb, "</p></section>\n");
        return 0;
    }
    const pe_split_pred *p = &r->final.pred;
    for (int i = 0; i < r->n_ex; i++) {
        const explained *x = &r->ex[i];
        const char *c = pe_class_names[x->x.cls];
        char heading[160], truth[160], pred[160], title[64], prefix[16];
        if (x->x.kind == EX_CORRECT)
            snprintf(heading, sizeof heading, "Correct: %s in ECG %d (p = %.2f)", c, x->x.ecg_id,
                     x->x.prob);
        else if (x->x.kind == EX_FALSE_POSITIVE)
            snprintf(heading, sizeof heading, "Incorrect: false positive %s in ECG %d (p = %.2f)",
                     c, x->x.ecg_id, x->x.prob);
        else
            snprintf(heading, sizeof heading, "Incorrect: missed %s in ECG %d (p = %.2f)", c,
                     x->x.ecg_id, x->x.prob);
        labels_text(p->labels + x->x.rec * C_, truth, sizeof truth);
        predicted_text(p->probs + x->x.rec * C_, pred, sizeof pred);
        snprintf(title, sizeof title, "PTB-XL ECG %d", x->x.ecg_id);
        snprintf(prefix, sizeof prefix, "ex%d-", i + 1);
        pe_sb_appendf(sb, "<article class=\"example\" id=\"example-%d\"><h2>Example %d. ", i + 1,
                      i + 1);
        pe_html_escape(sb, heading);
        pe_sb_append(sb, "</h2>\n<p>Cardiologists&#39; labels: <b>");
        pe_html_escape(sb, truth);
        pe_sb_append(sb, "</b>. Model&#39;s labels (p \xe2\x89\xa5 0.5): <b>");
        pe_html_escape(sb, pred);
        pe_sb_append(sb, "</b>.</p>\n");
        const float *srcs[C_ * PE_MAX_TOP];
        for (int k = 0; k < C_ * PE_MAX_TOP; k++) srcs[k] = x->srcs[k];
        if (pe_html_explanation_body(sb, title, x->sig, PE_NUM_SAMPLES, PE_SAMPLING_HZ, x->probs,
                                     x->shown, x->n_shown, srcs, 3, prefix, e))
            return -1;
        pe_sb_append(sb, "</article>\n");
    }
    pe_sb_append(sb, "</section>\n");
    return 0;
}

static int build_html(pe_sb *sb, const report *r, pe_error *e) {
    pe_html_begin(sb, "protoecg training report");
    pe_sb_append(sb, "<header><h1>protoecg training report</h1><p class=\"meta\">Run: ");
    pe_html_escape(sb, r->run_dir);
    pe_sb_appendf(sb, " \xc2\xb7 final model: ");
    pe_html_escape(sb, r->final.path);
    pe_sb_appendf(sb, " \xc2\xb7 test fold: %ld records. ProtoECGNet rhythm branch: a 1D ResNet-18 "
                      "with a prototype layer; every prototype is a real training ECG.</p>"
                      "</header>\n<p class=\"summary\">Final model: test macro-AUROC <b>%.3f</b>",
                  r->final.pred.view.n, r->final.ar.macro);
    if (r->final.n_boot > 0)
        pe_sb_appendf(sb, " (95%% CI %.3f\xe2\x80\x93%.3f)", ci_lo(&r->final, -1), ci_hi(&r->final, -1));
    if (r->have_base) {
        pe_sb_appendf(sb, "; plain ResNet-18 (pretrain): <b>%.3f</b>", r->base.ar.macro);
        if (r->base.n_boot > 0)
            pe_sb_appendf(sb, " (95%% CI %.3f\xe2\x80\x93%.3f)", ci_lo(&r->base, -1), ci_hi(&r->base, -1));
    }
    pe_sb_append(sb, ".</p>\n");
    html_phases(sb, r);
    html_curves(sb, r);
    html_classes(sb, r);
    if (html_roc(sb, r, e)) return -1;
    html_prototypes(sb, r);
    if (html_examples(sb, r, e)) return -1;
    if (r->config_text) {
        pe_sb_append(sb, "<section id=\"config\"><h2>Training configuration</h2><pre>");
        pe_html_escape(sb, r->config_text);
        pe_sb_append(sb, "</pre></section>\n");
    }
    pe_html_end(sb);
    return pe_sb_check(sb, "the report", e);
}

static cJSON *build_json(const report *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", r->run_dir);
    cJSON *ph = cJSON_AddArrayToObject(o, "phases");
    const cJSON *it;
    if (r->results) {
        cJSON_ArrayForEach(it, r->results) {
            char what[96];
            phase_description(it->string, what, sizeof what);
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "phase", it->string);
            cJSON_AddStringToObject(x, "description", what);
            const char *keys[] = {"val_macro_auroc", "test_macro_auroc", "val_loss", "seconds",
                                  "mean_projection_cosine"};
            for (int k = 0; k < 5; k++)
                if (cJSON_GetObjectItemCaseSensitive(it, keys[k]))
                    cJSON_AddItemToObject(x, keys[k], num_or_null(json_num(it, keys[k])));
            cJSON_AddItemToArray(ph, x);
        }
    }
    cJSON *ep = cJSON_AddArrayToObject(o, "epochs");
    for (int i = 0; i < r->n_epochs; i++) {
        const epoch_row *e = &r->epochs[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "seq", e->seq);
        cJSON_AddStringToObject(x, "phase", e->phase);
        cJSON_AddNumberToObject(x, "epoch", e->epoch);
        cJSON_AddItemToObject(x, "train_loss", num_or_null(e->train_loss));
        cJSON_AddItemToObject(x, "val_loss", num_or_null(e->val_loss));
        cJSON_AddItemToObject(x, "val_macro_auroc", num_or_null(e->val_auroc));
        cJSON_AddItemToArray(ep, x);
    }
    cJSON_AddNumberToObject(o, "bootstrap_resamples", r->final.n_boot);
    cJSON_AddItemToObject(o, "final", model_json(&r->final));
    cJSON_AddItemToObject(o, "baseline", r->have_base ? model_json(&r->base) : cJSON_CreateNull());
    if (r->is_proto) {
        const pe_net *net = &r->final.m.net;
        cJSON *g = cJSON_AddObjectToObject(o, "prototypes");
        cJSON_AddNumberToObject(g, "n_prototypes", net->n_protos);
        cJSON_AddNumberToObject(g, "protos_per_class", net->cfg.protos_per_class);
        cJSON *cls = cJSON_AddArrayToObject(g, "classes");
        for (int c = 0; c < C_; c++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "class", pe_class_names[c]);
            cJSON_AddItemToObject(x, "mean_within_class_cosine", num_or_null(r->gstats.mean_within_cos[c]));
            cJSON_AddItemToObject(x, "mean_between_class_cosine", num_or_null(r->gstats.mean_between_cos[c]));
            cJSON_AddNumberToObject(x, "sources_with_only_this_class", r->gstats.n_single_label[c]);
            cJSON_AddNumberToObject(x, "prototypes_sharing_a_source", r->gstats.n_duplicates[c]);
            cJSON_AddItemToArray(cls, x);
        }
        cJSON *cards = cJSON_AddArrayToObject(g, "cards");
        for (int i = 0; i < r->n_cards; i++) cJSON_AddItemToArray(cards, cJSON_CreateNumber(r->cards[i].prototype));
    } else {
        cJSON_AddNullToObject(o, "prototypes");
    }
    cJSON *exs = cJSON_AddArrayToObject(o, "examples");
    for (int i = 0; i < r->n_ex; i++) cJSON_AddItemToArray(exs, example_json(&r->ex[i], &r->final.pred));
    return o;
}

/* ---- gathering -------------------------------------------------------------------- */

/* The prototype table rows and one card for each of SR, AFIB, STACH, SBRAD: its
 * prototype with the highest projection cosine. */
static int gather_prototypes(report *r, const pe_ptbxl_db *db, const char *root, pe_error *e) {
    const pe_model *m = &r->final.m;
    int P = m->net.n_protos, K = m->net.cfg.protos_per_class;
    pe_gallery_stats_compute(m, &r->gstats);
    r->items = calloc((size_t)P, sizeof *r->items);
    if (!r->items) return pe_fail(e, "out of memory");
    for (int p = 0; p < P; p++) {
        pe_gallery_item *it = &r->items[p];
        it->prototype = p;
        it->proto_class = p / K;
        it->source_ecg_id = m->sources[p].ecg_id;
        memcpy(it->source_labels, m->sources[p].labels, C_);
        it->similarity = m->sources[p].similarity;
    }
    const char *names[4] = {"SR", "AFIB", "STACH", "SBRAD"};
    for (int k = 0; k < 4; k++) {
        int c = class_index(names[k]), best = -1;
        for (int p = c * K; c >= 0 && p < (c + 1) * K; p++)
            if (best < 0 || r->items[p].similarity > r->items[best].similarity) best = p;
        if (best < 0) continue;
        pe_gallery_item *card = &r->cards[r->n_cards];
        *card = r->items[best];
        pe_error se;
        if (card->source_ecg_id >= 0 &&
            cli_read_ptbxl_record(db, root, card->source_ecg_id, &r->card_sigs[r->n_cards], &se))
            fprintf(stderr, "warning: prototype %d: source ECG not shown: %s\n", best, se.msg);
        card->source_sig = r->card_sigs[r->n_cards];
        r->n_cards++;
    }
    return 0;
}

static void report_free(report *r) {
    free(r->epochs);
    cJSON_Delete(r->results);
    free(r->config_text);
    cli_model_eval_free(&r->final);
    cli_model_eval_free(&r->base);
    free(r->items);
    for (int i = 0; i < 4; i++) free(r->card_sigs[i]);
    for (int i = 0; i < N_EXAMPLES; i++) explained_free(&r->ex[i]);
}

/* The command line. */
typedef struct {
    const char *run, *root, *html, *json, *cache;
    int n_boot, seed, top, quiet, threads;
} report_opts;

/* Parses argv into o. Returns -1 when the command should run, else its exit code. */
static int parse_args(int argc, char **argv, report_opts *o) {
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--run", &o->run) ||
            arg_value(argc, argv, &i, "--ptbxl", &o->root) ||
            arg_value(argc, argv, &i, "--html", &o->html) ||
            arg_value(argc, argv, &i, "--json", &o->json) ||
            arg_value(argc, argv, &i, "--cache", &o->cache))
            continue;
        int k = arg_bootstrap_opts(argc, argv, &i, &o->n_boot, &o->seed, &o->threads);
        if (k < 0) return 2;
        if (k > 0) continue;
        if (arg_value(argc, argv, &i, "--top", &v)) {
            if (arg_int("--top", v, 1, PE_MAX_TOP, &o->top)) return 2;
        } else {
            int rc = arg_last("report", argv[i], &o->quiet, usage);
            if (rc >= 0) return rc;
        }
    }
    if (!o->run || !o->root || !o->html) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int cmd_report(int argc, char **argv) {
    report_opts opt = {.n_boot = 1000, .top = 2};
    int bad = parse_args(argc, argv, &opt);
    if (bad >= 0) return bad;
    set_threads(opt.threads);
    pe_error e = {{0}};
    report *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "protoecg report: out of memory\n");
        return 1;
    }
    r->run_dir = opt.run;
    pe_ptbxl_db db = {0};
    pe_classifier *cl = NULL;
    char path[4096];
    int rc = 0;

    /* the run's files */
    if (pe_path_join(path, sizeof path, opt.run, "metrics.jsonl")) rc = pe_fail(&e, "path too long");
    if (rc == 0 && pe_path_exists(path)) rc = read_metrics(path, &r->epochs, &r->n_epochs, &e);
    else if (rc == 0) fprintf(stderr, "warning: %s is missing: no training curves\n", path);
    if (rc == 0 && pe_path_join(path, sizeof path, opt.run, "results.json") == 0 && pe_path_exists(path)) {
        char *t = pe_read_file(path, NULL, &e);
        if (!t) rc = -1;
        else if (!(r->results = cJSON_Parse(t)) || !cJSON_IsObject(r->results))
            rc = pe_fail(&e, "%s: not a JSON object", path);
        free(t);
    } else if (rc == 0) {
        fprintf(stderr, "warning: %s is missing: no per-phase table\n", path);
    }
    if (rc == 0 && pe_path_join(path, sizeof path, opt.run, "config.json") == 0 && pe_path_exists(path))
        r->config_text = pe_read_file(path, NULL, &e); /* optional: ignore failures */

    /* the final model and the plain ResNet-18 on the test fold */
    if (rc == 0 && pe_path_join(r->final.path, sizeof r->final.path, opt.run, "model.safetensors"))
        rc = pe_fail(&e, "path too long");
    if (rc == 0)
        rc = cli_model_evaluate(&r->final, opt.root, opt.cache, PE_SPLIT_TEST, PE_PREC_FP32, "report",
                                opt.n_boot, opt.seed, opt.quiet, &e);
    if (rc == 0 && r->final.ar.n_defined == 0)
        rc = pe_fail(&e, "no class has both positive and negative test records: AUROC undefined");
    if (rc == 0 && pe_path_join(r->base.path, sizeof r->base.path, opt.run, "pretrain.safetensors") == 0 &&
        pe_path_exists(r->base.path)) {
        rc = cli_model_evaluate(&r->base, opt.root, opt.cache, PE_SPLIT_TEST, PE_PREC_FP32, "report",
                                opt.n_boot, opt.seed, opt.quiet, &e);
        r->have_base = rc == 0;
    }
    r->is_proto = rc == 0 && r->final.m.net.cfg.head == PE_HEAD_PROTO;

    /* prototypes and example explanations */
    if (rc == 0) rc = pe_ptbxl_load(opt.root, &db, &e);
    if (rc == 0 && r->is_proto) rc = gather_prototypes(r, &db, opt.root, &e);
    if (rc == 0 && r->is_proto) {
        example chosen[N_EXAMPLES];
        int n = choose_examples(&r->final.pred, chosen);
        cl = pe_classifier_load(r->final.path, &e);
        if (!cl) rc = -1;
        for (int i = 0; rc == 0 && i < n; i++) {
            r->ex[i].x = chosen[i];
            r->n_ex = i + 1;
            rc = explain_example(cl, &db, opt.root, opt.top, &r->ex[i], &e);
        }
    }

    if (rc == 0) {
        pe_sb sb = {0};
        rc = build_html(&sb, r, &e);
        if (rc == 0) rc = pe_html_write(&sb, opt.html, &e);
        pe_sb_free(&sb);
    }
    if (rc == 0 && opt.json) {
        cJSON *o = build_json(r);
        char *s = o ? cJSON_Print(o) : NULL;
        cJSON_Delete(o);
        rc = s ? pe_write_file_atomic(opt.json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
    }
    if (rc == 0 && !opt.quiet) {
        printf("final model: test macro-AUROC %.4f", r->final.ar.macro);
        if (opt.n_boot > 0) printf(" (95%% CI %.4f-%.4f)", ci_lo(&r->final, -1), ci_hi(&r->final, -1));
        if (r->have_base) printf("; plain ResNet-18: %.4f", r->base.ar.macro);
        printf("\n%d example explanations; report written to %s%s%s\n", r->n_ex, opt.html,
               opt.json ? " and " : "", opt.json ? opt.json : "");
    }
    if (rc) fprintf(stderr, "protoecg report: %s\n", e.msg);
    pe_classifier_free(cl);
    pe_ptbxl_free(&db);
    report_free(r);
    free(r);
    return rc ? 1 : 0;
}
