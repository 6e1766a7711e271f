/* The embedding API of include/protoecg.h: load a model, preprocess a record,
 * classify it and explain the result through the prototypes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/filter.h"
#include "data/resample.h"
#include "data/wfdb.h"
#include "model/modelfile.h"
#include "protoecg.h"
#include "api/internal.h"
#include "util/error.h"
#include "util/fileio.h"

struct pe_classifier {
    pe_model m;
    float x[PE_NUM_LEADS * PE_NUM_SAMPLES]; /* preprocessed input */
};

/* A classifier around the model that load() reads into it (path or buffer). */
static pe_classifier *classifier_new(const char *path, const void *data, size_t len,
                                     pe_error *e) {
    pe_classifier *c = calloc(1, sizeof *c);
    if (!c) {
        pe_fail(e, "out of memory");
        return NULL;
    }
    int rc = data ? pe_model_load_memory(&c->m, data, len, path, 1, 1, e)
                  : pe_model_load(&c->m, path, 1, 1, e);
    if (rc) {
        free(c);
        return NULL;
    }
    return c;
}

pe_classifier *pe_classifier_load(const char *model_path, pe_error *e) {
    return classifier_new(model_path, NULL, 0, e);
}

pe_classifier *pe_classifier_load_memory(const void *data, size_t len, const char *name,
                                         pe_error *e) {
    if (!data) {
        pe_fail(e, "%s: no model data (NULL buffer)", name ? name : "(memory)");
        return NULL;
    }
    return classifier_new(name ? name : "(memory)", data, len, e);
}

void pe_classifier_free(pe_classifier *c) {
    if (!c) return;
    pe_model_free(&c->m);
    free(c);
}

int pe_classifier_set_precision(pe_classifier *c, int precision, const char **note) {
    pe_precision want = precision == PE_PRECISION_BF16   ? PE_PREC_BF16
                        : precision == PE_PRECISION_INT8 ? PE_PREC_INT8
                                                         : PE_PREC_FP32;
    return (int)pe_net_set_precision(&c->m.net, want, note);
}

int pe_classifier_protos_per_class(const pe_classifier *c) {
    return c->m.net.cfg.head == PE_HEAD_PROTO ? c->m.net.cfg.protos_per_class : 0;
}

/* Accessors used by the CLI and explanation pages (declared in api/internal.h). */
const pe_model *pe_classifier_model(const pe_classifier *c) { return &c->m; }

/* The record name of a path given with its header's or signal file's extension
 * (".../00001_lr.hea", as a shell glob gives them) into buf; else the path itself. */
static const char *record_name(const char *path, char *buf, size_t n) {
    size_t len = strlen(path);
    const char *exts[] = {".hea", ".dat", ".mat"};
    for (int i = 0; i < 3; i++)
        if (len > 4 && len < n && strcmp(path + len - 4, exts[i]) == 0) {
            memcpy(buf, path, len - 4);
            buf[len - 4] = '\0';
            char hea[4200];
            snprintf(hea, sizeof hea, "%s.hea", buf);
            if (i == 0 || pe_path_exists(hea)) return buf;
        }
    return path;
}

int pe_record_read(const char *record_path, float **signal, int *n_leads, long *n_samples,
                   double *fs, pe_error *e) {
    pe_wfdb_header h;
    float *raw = NULL;
    char name[4096];
    *signal = NULL;
    if (pe_path_is_csv(record_path))
        return pe_signal_csv_read(record_path, 0.0, signal, n_leads, n_samples, fs, e);
    record_path = record_name(record_path, name, sizeof name);
    if (pe_wfdb_read(record_path, &h, &raw, e)) return -1;
    *n_leads = h.n_signals;
    *n_samples = h.n_samples;
    *fs = h.fs;
    /* the 12 standard leads in PTB-XL order when the record has them by name (a record
     * with more signals, such as the PTB Diagnostic database's 15, gives just those 12);
     * 12 signals with other names are kept in their stored order */
    if (h.n_signals >= PE_NUM_LEADS) {
        const char **names = malloc((size_t)h.n_signals * sizeof *names);
        int map[PE_NUM_LEADS], found = 0;
        pe_error ignore;
        if (names) {
            for (int k = 0; k < h.n_signals; k++) names[k] = h.signals[k].description;
            found = pe_lead_order(names, h.n_signals, map, &ignore) == 0;
        }
        free(names);
        if (found) {
            float *ord = malloc((size_t)PE_NUM_LEADS * h.n_samples * sizeof(float));
            if (!ord) {
                free(raw);
                pe_wfdb_header_free(&h);
                return pe_fail(e, "%s: out of memory", record_path);
            }
            for (int k = 0; k < PE_NUM_LEADS; k++)
                memcpy(ord + (size_t)k * h.n_samples, raw + (size_t)map[k] * h.n_samples,
                       (size_t)h.n_samples * sizeof(float));
            free(raw);
            raw = ord;
            *n_leads = PE_NUM_LEADS;
        }
    }
    pe_wfdb_header_free(&h);
    *signal = raw;
    return 0;
}

/* The record's sampling rate as an integer (the resampler needs one). */
static int integer_rate(double fs, long *ifs, pe_error *e) {
    *ifs = lround(fs);
    if (!(fabs(fs - (double)*ifs) <= 1e-9) || *ifs < 50 || *ifs > 10000)
        return pe_fail(e, "sampling rate %g Hz cannot be used (need an integer rate such as "
                          "100 or 500 Hz)", fs);
    return 0;
}

/* The 10-s entry points (pe_classify, pe_explain, ...) take records of exactly 10 s. */
static int exactly_10s(long n_samples, double fs, pe_error *e) {
    long ifs;
    if (integer_rate(fs, &ifs, e)) return -1;
    if (n_samples != 10 * ifs)
        return pe_fail(e, "the record has %ld samples at %ld Hz (%.2f s); the model needs "
                          "exactly 10 s (longer records: pe_classify_windows, or protoecg "
                          "predict / explain)", n_samples, ifs, (double)n_samples / (double)ifs);
    return 0;
}

int pe_window_starts(long n_samples, double fs, double stride_s, long *n_windows, long *starts,
                     pe_error *e) {
    long ifs;
    if (integer_rate(fs, &ifs, e)) return -1;
    if (!(stride_s > 0 && stride_s <= 10))
        return pe_fail(e, "the window stride must be in (0, 10] s (got %g)", stride_s);
    long len = 10 * ifs, step = lround(stride_s * (double)ifs);
    if (step < 1) step = 1;
    if (n_samples < len)
        return pe_fail(e, "the record has %ld samples at %ld Hz (%.2f s); the model needs at "
                          "least 10 s", n_samples, ifs, (double)n_samples / (double)ifs);
    long n = (n_samples - len) / step + 1;
    int tail = (n - 1) * step + len < n_samples; /* one more window, ending with the record */
    if (starts) {
        for (long w = 0; w < n; w++) starts[w] = w * step;
        if (tail) starts[n] = n_samples - len;
    }
    *n_windows = n + tail;
    return 0;
}

/* 1 when the n_leads x [start, start + len) samples are all finite, else 0 with the first
 * non-finite one named in e. */
static int window_finite(const float *signal, int n_leads, long n_samples, long start, long len,
                         long ifs, pe_error *e) {
    for (int l = 0; l < n_leads; l++)
        for (long i = start; i < start + len; i++)
            if (!isfinite(signal[(size_t)l * n_samples + i])) {
                pe_fail(e, "lead %d has a non-finite sample (NaN or inf) at %ld (%.2f s)", l, i,
                        (double)i / (double)ifs);
                return 0;
            }
    return 1;
}

int pe_window_to_100hz(const float *signal, int n_leads, long n_samples, double fs, long start,
                       float *out, pe_error *e) {
    if (n_leads != PE_NUM_LEADS)
        return pe_fail(e, "the record has %d leads; the model needs the 12 standard leads",
                       n_leads);
    long ifs;
    if (integer_rate(fs, &ifs, e)) return -1;
    long len = 10 * ifs;
    if (start < 0 || start > n_samples - len)
        return pe_fail(e, "the 10-s window starting at sample %ld (%.2f s) does not fit in "
                          "the record (%ld samples, %.2f s at %ld Hz)", start,
                       (double)start / (double)ifs, n_samples, (double)n_samples / (double)ifs, ifs);
    if (!window_finite(signal, n_leads, n_samples, start, len, ifs, e)) return -1;
    for (int l = 0; l < PE_NUM_LEADS; l++) {
        float *y = out + (size_t)l * PE_NUM_SAMPLES;
        const float *x = signal + (size_t)l * n_samples + start;
        if (ifs == PE_SAMPLING_HZ) {
            memcpy(y, x, PE_NUM_SAMPLES * sizeof(float));
        } else {
            long ny = 0;
            /* pe_resample_poly reduces up/down by their gcd itself */
            if (pe_resample_poly(x, len, PE_SAMPLING_HZ, (int)ifs, y, &ny, e)) return -1;
            if (ny != PE_NUM_SAMPLES) return pe_fail(e, "resampling gave %ld samples", ny);
        }
    }
    return 0;
}

int pe_record_to_100hz(const float *signal, int n_leads, long n_samples, double fs, float *out,
                       pe_error *e) {
    if (exactly_10s(n_samples, fs, e)) return -1;
    return pe_window_to_100hz(signal, n_leads, n_samples, fs, 0, out, e);
}

/* The model's own preprocessing of a 12 x 1000 record at 100 Hz, in place: its high-pass
 * filter, then its standardization. */
static int filter_standardize(const pe_classifier *c, float *x, pe_error *e) {
    const pe_preproc *pre = &c->m.pre;
    if (pre->filter_order > 0) {
        pe_iir f;
        if (pe_butter_highpass(pre->filter_order, pre->cutoff_hz, PE_SAMPLING_HZ, &f, e)) return -1;
        for (int l = 0; l < PE_NUM_LEADS; l++) {
            float *y = x + (size_t)l * PE_NUM_SAMPLES;
            if (pe_filtfilt(&f, y, y, PE_NUM_SAMPLES, e)) return -1;
        }
    }
    if (pre->standardized)
        for (int l = 0; l < PE_NUM_LEADS; l++)
            for (int i = 0; i < PE_NUM_SAMPLES; i++) {
                float *v = x + (size_t)l * PE_NUM_SAMPLES + i;
                *v = (*v - pre->mean[l]) / pre->std[l];
            }
    return 0;
}

int pe_preprocess(const pe_classifier *c, const float *signal, int n_leads, long n_samples,
                  double fs, float *out, pe_error *e) {
    if (pe_record_to_100hz(signal, n_leads, n_samples, fs, out, e)) return -1;
    return filter_standardize(c, out, e);
}

/* The model on the window that starts at sample `start`: probabilities, and the
 * similarities and logits left in the network's buffers. */
static int run(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
               long start, float probs[PE_NUM_CLASSES], pe_error *e) {
    if (pe_window_to_100hz(signal, n_leads, n_samples, fs, start, c->x, e) ||
        filter_standardize(c, c->x, e) || pe_net_infer(&c->m.net, c->x, 1, e))
        return -1;
    for (int k = 0; k < PE_NUM_CLASSES; k++) probs[k] = 1.0f / (1.0f + expf(-c->m.net.logits[k]));
    return 0;
}

int pe_classify(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
                float probs[PE_NUM_CLASSES], pe_error *e) {
    if (exactly_10s(n_samples, fs, e)) return -1;
    return run(c, signal, n_leads, n_samples, fs, 0, probs, e);
}

int pe_classify_windows(pe_classifier *c, const float *signal, int n_leads, long n_samples,
                        double fs, double stride_s, float probs[PE_NUM_CLASSES],
                        pe_window **windows, long *n_windows, pe_error *e) {
    *windows = NULL;
    *n_windows = 0;
    long n = 0;
    if (pe_window_starts(n_samples, fs, stride_s, &n, NULL, e)) return -1;
    long *starts = malloc((size_t)n * sizeof *starts), ifs = lround(fs), n_valid = 0;
    pe_window *w = calloc((size_t)n, sizeof *w);
    pe_error skipped = {{0}}; /* the first skipped window's reason */
    int rc = starts && w ? pe_window_starts(n_samples, fs, stride_s, &n, starts, e)
                         : pe_fail(e, "out of memory");
    for (long i = 0; rc == 0 && i < n; i++) {
        w[i].start = starts[i];
        w[i].start_s = (double)starts[i] / fs;
        pe_error why;
        /* a window with a non-finite sample is skipped; the record's other windows count */
        if (n_leads == PE_NUM_LEADS &&
            !window_finite(signal, n_leads, n_samples, starts[i], 10 * ifs, ifs, &why)) {
            if (!skipped.msg[0]) skipped = why;
            for (int k = 0; k < PE_NUM_CLASSES; k++) w[i].probs[k] = NAN;
            continue;
        }
        rc = run(c, signal, n_leads, n_samples, fs, starts[i], w[i].probs, e);
        if (rc) break;
        w[i].valid = 1;
        for (int k = 0; k < PE_NUM_CLASSES; k++)
            if (n_valid == 0 || w[i].probs[k] > probs[k]) probs[k] = w[i].probs[k];
        n_valid++;
    }
    free(starts);
    if (rc == 0 && n_valid == 0)
        rc = n == 1 ? pe_fail(e, "%s", skipped.msg)
                    : pe_fail(e, "each of the %ld windows has a non-finite sample (the first: %.900s)",
                              n, skipped.msg);
    if (rc) {
        free(w);
        return -1;
    }
    *windows = w;
    *n_windows = n;
    return 0;
}

/* The order of explanation lists: by contribution W[c][p] s_p (its absolute value for
 * other classes' prototypes), descending; ties by similarity, then by index. A strict
 * total order on finite values (run() refuses non-finite input). */
typedef struct {
    const float *w, *s; /* the class's row of W, the similarities */
    int by_abs;
} ranking;

static int ranks_before(const ranking *r, int a, int b) {
    double ka = (double)r->w[a] * r->s[a], kb = (double)r->w[b] * r->s[b];
    if (r->by_abs) ka = fabs(ka), kb = fabs(kb);
    if (ka != kb) return ka > kb;
    if (r->s[a] != r->s[b]) return r->s[a] > r->s[b];
    return a < b;
}

/* The first n prototypes in ranking order among [lo, hi) outside [skip_lo, skip_hi),
 * into out; returns how many. n passes over the range, no scratch memory. */
static int select_ranked(const ranking *r, int lo, int hi, int skip_lo, int skip_hi, int n,
                         int *out) {
    int m = 0;
    for (; m < n; m++) {
        int best = -1;
        for (int p = lo; p < hi; p++) {
            if ((p >= skip_lo && p < skip_hi) || (m > 0 && !ranks_before(r, out[m - 1], p)))
                continue;
            if (best < 0 || ranks_before(r, p, best)) best = p;
        }
        if (best < 0) break;
        out[m] = best;
    }
    return m;
}

/* Prototype p's part in class k's logit, with its place by similarity among its own
 * class's K prototypes and the training ECG it was projected onto. */
static pe_proto_evidence evidence(const pe_classifier *c, int k, int p) {
    const pe_net *net = &c->m.net;
    int P = net->n_protos, K = net->cfg.protos_per_class, q0 = p / K * K;
    const float *s = net->sim;
    pe_proto_evidence ev = {0};
    ev.prototype = p;
    ev.proto_class = p / K;
    ev.similarity = s[p];
    ev.weight = net->params[net->last_w + (size_t)k * P + p];
    ev.contribution = ev.weight * ev.similarity;
    ev.similarity_rank = 1;
    for (int q = q0; q < q0 + K; q++) ev.similarity_rank += s[q] > s[p] || (s[q] == s[p] && q < p);
    const pe_proto_source *src = &c->m.sources[p];
    ev.source_ecg_id = src->ecg_id;
    memcpy(ev.source_labels, src->labels, PE_NUM_CLASSES);
    ev.source_similarity = src->similarity;
    return ev;
}

int pe_explain(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
               int top_k, float probs[PE_NUM_CLASSES], pe_class_explanation out[PE_NUM_CLASSES],
               pe_error *e) {
    if (exactly_10s(n_samples, fs, e)) return -1;
    return pe_explain_window(c, signal, n_leads, n_samples, fs, 0, top_k, probs, out, e);
}

int pe_explain_window(pe_classifier *c, const float *signal, int n_leads, long n_samples,
                      double fs, long start, int top_k, float probs[PE_NUM_CLASSES],
                      pe_class_explanation out[PE_NUM_CLASSES], pe_error *e) {
    const pe_net *net = &c->m.net;
    if (net->cfg.head != PE_HEAD_PROTO)
        return pe_fail(e, "this model is a plain ResNet-18 baseline: it has no prototypes to "
                          "explain with");
    if (run(c, signal, n_leads, n_samples, fs, start, probs, e)) return -1;
    int P = net->n_protos, K = net->cfg.protos_per_class;
    if (top_k < 1) top_k = 1;
    if (top_k > PE_MAX_TOP) top_k = PE_MAX_TOP;
    const float *W = net->params + net->last_w, *s = net->sim;
    for (int k = 0; k < PE_NUM_CLASSES; k++) {
        pe_class_explanation *x = &out[k];
        memset(x, 0, sizeof *x);
        x->class_idx = k;
        x->probability = probs[k];
        x->logit = net->logits[k];
        x->predicted = probs[k] >= 0.5f;
        double own = 0, other = 0;
        for (int p = 0; p < P; p++) {
            double contrib = (double)W[k * P + p] * s[p];
            if (p / K == k) own += contrib;
            else other += contrib;
        }
        x->contrib_own = (float)own;
        x->contrib_other = (float)other;
        int idx[PE_MAX_TOP];
        ranking own_order = {W + (size_t)k * P, s, 0}, other_order = {W + (size_t)k * P, s, 1};
        x->n_top = select_ranked(&own_order, k * K, (k + 1) * K, 0, 0, top_k, idx);
        for (int t = 0; t < x->n_top; t++) x->top[t] = evidence(c, k, idx[t]);
        x->n_other = select_ranked(&other_order, 0, P, k * K, (k + 1) * K, top_k, idx);
        for (int t = 0; t < x->n_other; t++) x->other[t] = evidence(c, k, idx[t]);
    }
    return 0;
}
