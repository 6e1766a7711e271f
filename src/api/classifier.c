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

struct pe_classifier {
    pe_model m;
    float x[PE_NUM_LEADS * PE_NUM_SAMPLES]; /* preprocessed input */
};

pe_classifier *pe_classifier_load(const char *model_path, pe_error *e) {
    pe_classifier *c = calloc(1, sizeof *c);
    if (!c) {
        pe_fail(e, "out of memory");
        return NULL;
    }
    if (pe_model_load(&c->m, model_path, 1, 1, e)) {
        free(c);
        return NULL;
    }
    return c;
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

int pe_record_read(const char *record_path, float **signal, int *n_leads, long *n_samples,
                   double *fs, pe_error *e) {
    pe_wfdb_header h;
    float *raw = NULL;
    *signal = NULL;
    if (pe_wfdb_read(record_path, &h, &raw, e)) return -1;
    *n_leads = h.n_signals;
    *n_samples = h.n_samples;
    *fs = h.fs;
    /* put the 12 standard leads in PTB-XL order when the record has them */
    if (h.n_signals == PE_NUM_LEADS) {
        const char *names[PE_NUM_LEADS];
        for (int k = 0; k < PE_NUM_LEADS; k++) names[k] = h.signals[k].description;
        int map[PE_NUM_LEADS];
        pe_error ignore;
        if (pe_lead_order(names, PE_NUM_LEADS, map, &ignore) == 0) {
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
        }
    }
    pe_wfdb_header_free(&h);
    *signal = raw;
    return 0;
}

int pe_record_to_100hz(const float *signal, int n_leads, long n_samples, double fs, float *out,
                       pe_error *e) {
    if (n_leads != PE_NUM_LEADS)
        return pe_fail(e, "the record has %d leads; the model needs the 12 standard leads",
                       n_leads);
    long ifs = lround(fs);
    if (fabs(fs - (double)ifs) > 1e-9 || ifs < 50 || ifs > 10000)
        return pe_fail(e, "sampling rate %g Hz cannot be used (need an integer rate such as "
                          "100 or 500 Hz)", fs);
    if (n_samples != 10 * ifs)
        return pe_fail(e, "the record has %ld samples at %ld Hz (%.2f s); the model needs "
                          "exactly 10 s", n_samples, ifs, (double)n_samples / (double)ifs);
    for (long i = 0; i < (long)n_leads * n_samples; i++)
        if (!isfinite(signal[i]))
            return pe_fail(e, "lead %ld has a non-finite sample (NaN or inf) at %ld", i / n_samples,
                           i % n_samples);
    for (int l = 0; l < PE_NUM_LEADS; l++) {
        float *y = out + (size_t)l * PE_NUM_SAMPLES;
        const float *x = signal + (size_t)l * n_samples;
        if (ifs == PE_SAMPLING_HZ) {
            memcpy(y, x, PE_NUM_SAMPLES * sizeof(float));
        } else {
            long ny = 0;
            /* pe_resample_poly reduces up/down by their gcd itself */
            if (pe_resample_poly(x, n_samples, PE_SAMPLING_HZ, (int)ifs, y, &ny, e))
                return -1;
            if (ny != PE_NUM_SAMPLES) return pe_fail(e, "resampling gave %ld samples", ny);
        }
    }
    return 0;
}

int pe_preprocess(const pe_classifier *c, const float *signal, int n_leads, long n_samples,
                  double fs, float *out, pe_error *e) {
    const pe_preproc *pre = &c->m.pre;
    if (pe_record_to_100hz(signal, n_leads, n_samples, fs, out, e)) return -1;
    if (pre->filter_order > 0) {
        pe_iir f;
        if (pe_butter_highpass(pre->filter_order, pre->cutoff_hz, PE_SAMPLING_HZ, &f, e)) return -1;
        for (int l = 0; l < PE_NUM_LEADS; l++) {
            float *y = out + (size_t)l * PE_NUM_SAMPLES;
            if (pe_filtfilt(&f, y, y, PE_NUM_SAMPLES, e)) return -1;
        }
    }
    if (pre->standardized)
        for (int l = 0; l < PE_NUM_LEADS; l++)
            for (int i = 0; i < PE_NUM_SAMPLES; i++) {
                float *v = out + (size_t)l * PE_NUM_SAMPLES + i;
                *v = (*v - pre->mean[l]) / pre->std[l];
            }
    return 0;
}

static int run(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
               float probs[PE_NUM_CLASSES], pe_error *e) {
    if (pe_preprocess(c, signal, n_leads, n_samples, fs, c->x, e)) return -1;
    if (pe_net_infer(&c->m.net, c->x, 1, e)) return -1;
    for (int k = 0; k < PE_NUM_CLASSES; k++) probs[k] = 1.0f / (1.0f + expf(-c->m.net.logits[k]));
    return 0;
}

int pe_classify(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
                float probs[PE_NUM_CLASSES], pe_error *e) {
    return run(c, signal, n_leads, n_samples, fs, probs, e);
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
    const pe_net *net = &c->m.net;
    if (net->cfg.head != PE_HEAD_PROTO)
        return pe_fail(e, "this model is a plain ResNet-18 baseline: it has no prototypes to "
                          "explain with");
    if (run(c, signal, n_leads, n_samples, fs, probs, e)) return -1;
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
