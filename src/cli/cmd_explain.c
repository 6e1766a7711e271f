/* protoecg explain: why the model gave a record its labels, through the prototypes
 * (real training ECGs) that drove each class; text, JSON and an HTML page. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "explain/render.h"
#include "util/error.h"
#include "util/fileio.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg explain --model M [--ptbxl DIR] RECORD [options]\n"
            "  RECORD          an ecg_id of DIR, any WFDB record path (12 leads, at least\n"
            "                  10 s, 100 Hz or another integer rate), or a CSV table\n"
            "                  (FILE.csv, as protoecg predict reads it)\n"
            "  --fs HZ         the sampling rate of a CSV table without a time column\n"
            "  --at S          for a record longer than 10 s, explain the 10-s window that\n"
            "                  starts S seconds in (default: the window, among those every\n"
            "                  5 s, where the record's most probable label is strongest)\n"
            "  --top K         prototypes shown per class (default 3)\n"
            "  --class NAME    also explain this class (repeatable); --all explains all 16\n"
            "  --json FILE     the explanation as JSON\n"
            "  --html FILE     a self-contained page with the ECG and the prototypes' source\n"
            "                  ECGs (needs --ptbxl DIR for the source records)\n");
}

static void labels_text(const uint8_t *y, char *buf, size_t n) {
    buf[0] = '\0';
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        if (y[c]) snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? " " : "", pe_class_names[c]);
    if (!buf[0]) snprintf(buf, n, "(no rhythm label)");
}

/* A list of prototype evidence as a text table. */
static void print_evidence(const pe_proto_evidence *ev, int n, const char *title) {
    printf("  %s:\n  %-5s %-6s %10s %8s %12s %9s  %s\n", title, "proto", "class", "similarity",
           "weight", "contribution", "source", "source labels (projection cosine)");
    for (int k = 0; k < n; k++) {
        char lab[128];
        labels_text(ev[k].source_labels, lab, sizeof lab);
        printf("  #%-4d %-6s %10.4f %8.3f %12.4f %9d  %s (%.3f)\n", ev[k].prototype,
               pe_class_names[ev[k].proto_class], ev[k].similarity, ev[k].weight,
               ev[k].contribution, ev[k].source_ecg_id, lab, ev[k].source_similarity);
    }
}

static cJSON *explanation_json(const char *record, double start_s, double seconds,
                               const float *probs, const pe_class_explanation *ex, int n_ex) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "record", record);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    cJSON_AddNumberToObject(w, "start_s", start_s);
    cJSON_AddNumberToObject(w, "end_s", start_s + 10);
    cJSON *p = cJSON_AddObjectToObject(o, "probabilities");
    for (int c = 0; c < PE_NUM_CLASSES; c++) cJSON_AddNumberToObject(p, pe_class_names[c], probs[c]);
    cJSON *arr = cJSON_AddArrayToObject(o, "explanations");
    for (int i = 0; i < n_ex; i++) cJSON_AddItemToArray(arr, cli_explanation_json(&ex[i]));
    return o;
}

/* The class of highest probability (the first on ties). */
static int most_probable(const float probs[PE_NUM_CLASSES]) {
    int top = 0;
    for (int k = 1; k < PE_NUM_CLASSES; k++)
        if (probs[k] > probs[top]) top = k;
    return top;
}

/* The window to explain (*start, its first sample): at_s seconds in when at_s >= 0, else
 * the first of the windows w (n of them; none for a 10-s record) where the record's most
 * probable label has its record-level probability (record_probs, the maxima over w). */
static int choose_window(const pe_window *w, long n, const float *record_probs, long ns,
                         double fs, double at_s, long *start, pe_error *e) {
    *start = 0;
    if (at_s >= 0) {
        double last = (double)ns / fs - 10;
        if (at_s > last + 1e-9)
            return pe_fail(e, "--at %g: the record lasts %.2f s, so a 10-s window starts at "
                              "0-%.2f s", at_s, (double)ns / fs, last);
        *start = lround(at_s * fs);
        return 0;
    }
    int top = n ? most_probable(record_probs) : 0;
    for (long i = 0; i < n; i++)
        if (w[i].valid && w[i].probs[top] == record_probs[top]) {
            *start = w[i].start;
            break;
        }
    return 0;
}

/* The HTML section above a longer record's explanation: each label's probability along
 * the record's windows (the labels predicted in some window, record_probs[k] >= 0.5,
 * else the most probable). */
static int timeline_html(pe_sb *sb, const pe_window *w, long n, const float *record_probs,
                         double seconds, long start, double fs, pe_error *e) {
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * PE_NUM_CLASSES * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return pe_fail(e, "out of memory");
    }
    for (long i = 0; i < n; i++) {
        x[i] = w[i].start_s + 5;
        for (int k = 0; k < PE_NUM_CLASSES; k++) y[(size_t)k * n + i] = w[i].probs[k];
    }
    pe_chart_series series[PE_NUM_CLASSES];
    int n_series = 0;
    for (int k = 0; k < PE_NUM_CLASSES; k++)
        if (record_probs[k] >= 0.5f)
            series[n_series++] = (pe_chart_series){pe_class_names[k], x, y + (size_t)k * n, (int)n};
    if (n_series == 0) {
        int top = most_probable(record_probs);
        series[n_series++] = (pe_chart_series){pe_class_names[top], x, y + (size_t)top * n, (int)n};
    }
    char text[512];
    snprintf(text, sizeof text, "%.1f s read in %ld windows of 10 s, every 5 s (a label's "
             "probability is its largest over the windows). The explanation below is for the "
             "window %.1f-%.1f s.", seconds, n, (double)start / fs, (double)start / fs + 10);
    pe_sb_append(sb, "<section><h2>The whole record</h2><p>");
    pe_html_escape(sb, text);
    pe_sb_append(sb, "</p>");
    pe_svg_line_chart(sb, "Probability along the record", "middle of the 10-s window (s)",
                      "probability", series, n_series, 0, 1);
    pe_sb_append(sb, "</section>\n");
    free(x), free(y);
    return pe_sb_check(sb, "the timeline", e);
}

/* A record and what explain found in it. */
typedef struct {
    char path[4096], title[4200];
    float *sig; /* (nl, ns) at fs */
    int nl;
    long ns;
    double fs;
    pe_window *win; /* a record longer than 10 s: its windows every 5 s */
    long n_win;
    float record_probs[PE_NUM_CLASSES]; /* per class, the largest over win */
    long start; /* the explained window's first sample */
    float probs[PE_NUM_CLASSES]; /* the explained window's */
    pe_class_explanation shown[PE_NUM_CLASSES];
    int n_shown;
} explained;

/* The HTML page: the explained window at 100 Hz, each shown prototype's source ECG (from
 * db when given) and, for a longer record, the timeline of its windows. */
static int write_html(const explained *x, const pe_ptbxl_db *db, const char *root,
                      const char *model_path, const char *html, pe_error *e) {
    float *draw = malloc(sizeof(float) * PE_NUM_LEADS * PE_NUM_SAMPLES);
    const float *srcs[PE_NUM_CLASSES * PE_MAX_TOP] = {0};
    float *owned[PE_NUM_CLASSES * PE_MAX_TOP] = {0};
    int rc = draw ? 0 : pe_fail(e, "out of memory");
    if (rc == 0) rc = pe_window_to_100hz(x->sig, x->nl, x->ns, x->fs, x->start, draw, e);
    for (int i = 0; rc == 0 && db && i < x->n_shown; i++)
        for (int k = 0; k < x->shown[i].n_top; k++) {
            int id = x->shown[i].top[k].source_ecg_id;
            if (id < 0) continue;
            pe_error se;
            float *s = NULL;
            if (cli_read_ptbxl_record(db, root, id, &s, &se) == 0)
                srcs[i * PE_MAX_TOP + k] = owned[i * PE_MAX_TOP + k] = s;
            else
                fprintf(stderr, "warning: source ECG %d not shown: %s\n", id, se.msg);
        }
    pe_sb sb = {0}, timeline = {0};
    if (rc == 0 && x->n_win > 0)
        rc = timeline_html(&timeline, x->win, x->n_win, x->record_probs, (double)x->ns / x->fs,
                           x->start, x->fs, e);
    if (rc == 0)
        rc = pe_html_explanation_page(&sb, x->title, draw, PE_NUM_SAMPLES, PE_SAMPLING_HZ,
                                      x->probs, x->shown, x->n_shown, srcs, model_path,
                                      x->n_win > 0 ? pe_sb_str(&timeline) : NULL, e);
    if (rc == 0) rc = pe_html_write(&sb, html, e);
    pe_sb_free(&sb);
    pe_sb_free(&timeline);
    for (int i = 0; i < PE_NUM_CLASSES * PE_MAX_TOP; i++) free(owned[i]);
    free(draw);
    return rc;
}

/* The command line. */
typedef struct {
    const char *model, *root, *json, *html, *record;
    int top, all;
    double at_s; /* -1: not given */
    double fs;   /* the rate of a CSV table without a time column; 0: not given */
    uint8_t want[PE_NUM_CLASSES];
} explain_opts;

/* Parses argv into o. Returns -1 when the command should run, else its exit code. */
static int parse_args(int argc, char **argv, explain_opts *o) {
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--model", &o->model) ||
            arg_value(argc, argv, &i, "--ptbxl", &o->root) ||
            arg_value(argc, argv, &i, "--json", &o->json) ||
            arg_value(argc, argv, &i, "--html", &o->html))
            continue;
        if (arg_value(argc, argv, &i, "--top", &v)) {
            if (arg_int("--top", v, 1, PE_MAX_TOP, &o->top)) return 2;
        } else if (arg_value(argc, argv, &i, "--at", &v)) {
            if (arg_double("--at", v, &o->at_s)) return 2;
            if (o->at_s < 0) {
                fprintf(stderr, "protoecg explain: --at must be >= 0 seconds\n");
                return 2;
            }
        } else if (arg_value(argc, argv, &i, "--fs", &v)) {
            if (arg_rate(v, &o->fs)) return 2;
        } else if (arg_value(argc, argv, &i, "--class", &v)) {
            int found = 0;
            for (int c = 0; c < PE_NUM_CLASSES; c++)
                if (!strcmp(v, pe_class_names[c])) o->want[c] = found = 1;
            if (!found) {
                fprintf(stderr, "protoecg explain: unknown class '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(argv[i], "--all")) {
            o->all = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || o->record) {
            fprintf(stderr, "protoecg explain: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else {
            o->record = argv[i];
        }
    }
    if (!o->model || !o->record) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int cmd_explain(int argc, char **argv) {
    explain_opts o = {.top = 3, .at_s = -1};
    int bad = parse_args(argc, argv, &o);
    if (bad >= 0) return bad;
    set_threads(1);
    pe_error e = {{0}};
    pe_ptbxl_db db = {0};
    int have_db = 0, rc = 0;
    explained x = {0};
    pe_class_explanation ex[PE_NUM_CLASSES];
    pe_classifier *c = pe_classifier_load(o.model, &e);
    if (!c) {
        fprintf(stderr, "protoecg explain: %s\n", e.msg);
        return 1;
    }
    if (rc == 0 && o.root) {
        rc = pe_ptbxl_load(o.root, &db, &e);
        have_db = rc == 0;
    }
    if (rc == 0)
        rc = cli_read_record(o.record, have_db ? &db : NULL, o.root, o.fs, x.path,
                             sizeof x.path, &x.sig, &x.nl, &x.ns, &x.fs, &e);
    /* a record longer than 10 s: its windows, for choosing one and for the timeline */
    if (rc == 0 && x.ns != lround(10 * x.fs))
        rc = pe_classify_windows(c, x.sig, x.nl, x.ns, x.fs, 5, x.record_probs, &x.win,
                                 &x.n_win, &e);
    if (rc == 0)
        rc = choose_window(x.win, x.n_win, x.record_probs, x.ns, x.fs, o.at_s, &x.start, &e);
    if (rc == 0) rc = pe_explain_window(c, x.sig, x.nl, x.ns, x.fs, x.start, o.top, x.probs, ex, &e);
    if (rc) {
        cli_record_error("explain", o.record, e.msg);
        free(x.sig);
        free(x.win);
        if (have_db) pe_ptbxl_free(&db);
        pe_classifier_free(c);
        return 1;
    }
    for (int k = 0; k < PE_NUM_CLASSES; k++)
        if (o.all || o.want[k] || ex[k].predicted) x.shown[x.n_shown++] = ex[k];
    if (x.n_shown == 0) x.shown[x.n_shown++] = ex[most_probable(x.probs)]; /* the top class */
    double start_s = (double)x.start / x.fs, seconds = (double)x.ns / x.fs;
    if (x.n_win == 0) {
        snprintf(x.title, sizeof x.title, "%s", x.path);
    } else {
        snprintf(x.title, sizeof x.title, "%s, %.1f-%.1f s of %.1f s", x.path, start_s,
                 start_s + 10, seconds);
        if (o.at_s < 0)
            fprintf(stderr, "explaining the 10-s window where the most probable label is "
                            "strongest (--at S explains another)\n");
    }
    printf("%s\n", x.title);
    for (int i = 0; i < x.n_shown; i++) {
        const pe_class_explanation *q = &x.shown[i];
        printf("\n%s %s  p = %.3f  logit %.3f = own prototypes %+.3f + other prototypes %+.3f\n",
               q->predicted ? "PREDICTED" : "not predicted", pe_class_names[q->class_idx],
               q->probability, q->logit, q->contrib_own, q->contrib_other);
        print_evidence(q->top, q->n_top, "own prototypes, by contribution");
        print_evidence(q->other, q->n_other, "other classes' prototypes, largest contributions");
    }
    if (o.json) {
        cJSON *j = explanation_json(x.path, start_s, seconds, x.probs, x.shown, x.n_shown);
        char *s = cJSON_Print(j);
        cJSON_Delete(j);
        rc = s ? pe_write_file_atomic(o.json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
    }
    if (rc == 0 && o.html) rc = write_html(&x, have_db ? &db : NULL, o.root, o.model, o.html, &e);
    if (rc) fprintf(stderr, "protoecg explain: %s\n", e.msg);
    free(x.sig);
    free(x.win);
    if (have_db) pe_ptbxl_free(&db);
    pe_classifier_free(c);
    return rc ? 1 : 0;
}
