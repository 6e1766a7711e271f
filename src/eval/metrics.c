/* Evaluation metrics: AUROC, ROC curve, F1, threshold tuning, bootstrap (see metrics.h). */
#include "eval/metrics.h"

#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sorting one class ---- */

typedef struct {
    float s;
    uint32_t i;
} score_idx;

/* Ascending score, then record index (a deterministic order inside tie groups). */
static int cmp_score_idx(const void *a, const void *b) {
    const score_idx *x = a, *y = b;
    if (x->s < y->s) return -1;
    if (x->s > y->s) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

void pe_sorted_class_free(pe_sorted_class *s) {
    if (!s) return;
    free(s->rec);
    free(s->pos);
    free(s->score);
    free(s->gstart);
    memset(s, 0, sizeof *s);
}

int pe_sorted_class_init(pe_sorted_class *s, const uint8_t *y, const float *scores, size_t n,
                         size_t stride, pe_error *e) {
    memset(s, 0, sizeof *s);
    if (n >= ((size_t)1 << 31)) return pe_fail(e, "metrics: too many records (%zu)", n);
    if (stride == 0) stride = 1;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i * stride]))
            return pe_fail(e, "metrics: score of record %zu is NaN", i);
        if (y[i * stride] > 1)
            return pe_fail(e, "metrics: label of record %zu is %u (expected 0 or 1)", i,
                           (unsigned)y[i * stride]);
    }
    score_idx *tmp = malloc((n ? n : 1) * sizeof *tmp);
    s->rec = malloc((n ? n : 1) * sizeof *s->rec);
    s->pos = malloc(n ? n : 1);
    s->score = malloc((n ? n : 1) * sizeof *s->score);
    s->gstart = malloc((n + 1) * sizeof *s->gstart);
    if (!tmp || !s->rec || !s->pos || !s->score || !s->gstart) {
        free(tmp);
        pe_sorted_class_free(s);
        return pe_fail(e, "metrics: out of memory sorting %zu scores", n);
    }
    for (size_t i = 0; i < n; i++) tmp[i] = (score_idx){scores[i * stride], (uint32_t)i};
    qsort(tmp, n, sizeof *tmp, cmp_score_idx);
    s->n = n;
    size_t g = 0;
    for (size_t k = 0; k < n; k++) {
        s->rec[k] = tmp[k].i;
        s->score[k] = tmp[k].s;
        s->pos[k] = y[(size_t)tmp[k].i * stride];
        s->npos += s->pos[k];
        if (k == 0 || tmp[k].s != tmp[k - 1].s) s->gstart[g++] = (uint32_t)k;
    }
    s->gstart[g] = (uint32_t)n;
    s->ngroups = g;
    free(tmp);
    return 0;
}

/* Exact Mann-Whitney U (doubled, so ties' 1/2 stays an integer) over the tie groups. */
double pe_sorted_class_auroc(const pe_sorted_class *s, const uint32_t *mult, int *defined) {
    uint64_t below = 0, npos = 0, u2 = 0;
    for (size_t g = 0; g < s->ngroups; g++) {
        uint64_t p = 0, q = 0;
        for (uint32_t k = s->gstart[g]; k < s->gstart[g + 1]; k++) {
            uint64_t w = mult ? mult[s->rec[k]] : 1;
            if (s->pos[k]) p += w;
            else q += w;
        }
        u2 += 2 * p * below + p * q;
        below += q;
        npos += p;
    }
    if (npos == 0 || below == 0) {
        if (defined) *defined = 0;
        return NAN;
    }
    if (defined) *defined = 1;
    return (double)u2 / (2.0 * (double)npos * (double)below);
}

/* ---- AUROC ---- */

int pe_auroc(const uint8_t *y, const float *scores, size_t n, size_t stride, double *auc,
             int *defined, pe_error *e) {
    pe_sorted_class s;
    if (pe_sorted_class_init(&s, y, scores, n, stride, e)) return -1;
    int def = 0;
    *auc = pe_sorted_class_auroc(&s, NULL, &def);
    if (defined) *defined = def;
    pe_sorted_class_free(&s);
    return 0;
}

void pe_auroc_report_free(pe_auroc_report *r) {
    if (!r) return;
    free(r->auroc);
    free(r->support);
    free(r->defined);
    memset(r, 0, sizeof *r);
}

int pe_macro_auroc(const uint8_t *y, const float *scores, size_t n, int C, pe_auroc_report *r,
                   pe_error *e) {
    memset(r, 0, sizeof *r);
    if (C <= 0) return pe_fail(e, "metrics: number of classes must be positive (got %d)", C);
    r->C = C;
    r->auroc = malloc((size_t)C * sizeof *r->auroc);
    r->support = malloc((size_t)C * sizeof *r->support);
    r->defined = malloc((size_t)C);
    if (!r->auroc || !r->support || !r->defined) {
        pe_auroc_report_free(r);
        return pe_fail(e, "metrics: out of memory");
    }
    double sum = 0;
    for (int c = 0; c < C; c++) {
        pe_sorted_class s;
        if (pe_sorted_class_init(&s, y + c, scores + c, n, (size_t)C, e)) {
            pe_auroc_report_free(r);
            return -1;
        }
        int def = 0;
        r->auroc[c] = pe_sorted_class_auroc(&s, NULL, &def);
        r->support[c] = s.npos;
        r->defined[c] = (uint8_t)def;
        if (def) {
            sum += r->auroc[c];
            r->n_defined++;
        }
        pe_sorted_class_free(&s);
    }
    r->macro = r->n_defined ? sum / r->n_defined : NAN;
    return 0;
}

int pe_auroc_undefined_names(const pe_auroc_report *r, const char *const *names, char *buf,
                             size_t cap) {
    int count = 0;
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int c = 0; c < r->C; c++) {
        if (r->defined[c]) continue;
        char one[64];
        const char *name = names ? names[c] : NULL;
        if (!name) {
            snprintf(one, sizeof one, "class %d", c);
            name = one;
        }
        if (len < cap) {
            int w = snprintf(buf + len, cap - len, "%s%s", count ? ", " : "", name);
            if (w > 0) len += (size_t)w;
        }
        count++;
    }
    return count;
}

/* ---- ROC curve ---- */

int pe_roc_curve(const uint8_t *y, const float *scores, size_t n, size_t stride, double *fpr,
                 double *tpr, double *thresholds, size_t *npoints, pe_error *e) {
    pe_sorted_class s;
    if (pe_sorted_class_init(&s, y, scores, n, stride, e)) return -1;
    uint64_t P = s.npos, Q = n - s.npos;
    if (P == 0 || Q == 0) {
        pe_sorted_class_free(&s);
        return pe_fail(e, "metrics: ROC curve undefined: the class has %s", P ? "no negative"
                                                                             : "no positive");
    }
    size_t m = 0;
    fpr[m] = 0;
    tpr[m] = 0;
    if (thresholds) thresholds[m] = INFINITY;
    m++;
    uint64_t tp = 0, fp = 0;
    for (size_t g = s.ngroups; g-- > 0;) {
        for (uint32_t k = s.gstart[g]; k < s.gstart[g + 1]; k++) {
            if (s.pos[k]) tp++;
            else fp++;
        }
        fpr[m] = (double)fp / (double)Q;
        tpr[m] = (double)tp / (double)P;
        if (thresholds) thresholds[m] = s.score[s.gstart[g]];
        m++;
    }
    *npoints = m;
    pe_sorted_class_free(&s);
    return 0;
}

/* ---- F1 ---- */

static double f1_from_counts(uint64_t tp, uint64_t fp, uint64_t fn) {
    uint64_t den = 2 * tp + fp + fn;
    return den ? (double)(2 * tp) / (double)den : 0.0;
}

double pe_f1(const uint8_t *y, const float *scores, size_t n, int C, const double *thresholds,
             double *f1_out) {
    double sum = 0;
    for (int c = 0; c < C; c++) {
        double t = thresholds ? thresholds[c] : 0.5;
        uint64_t tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < n; i++) {
            int pred = (double)scores[i * C + c] >= t;
            int truth = y[i * C + c] != 0;
            tp += pred && truth;
            fp += pred && !truth;
            fn += !pred && truth;
        }
        double f = f1_from_counts(tp, fp, fn);
        if (f1_out) f1_out[c] = f;
        sum += f;
    }
    return C > 0 ? sum / C : NAN;
}

int pe_tune_thresholds(const uint8_t *y, const float *scores, size_t n, int C,
                       double default_threshold, double *thresholds, double *best_f1,
                       uint8_t *tuned, pe_error *e) {
    for (int c = 0; c < C; c++) {
        pe_sorted_class s;
        if (pe_sorted_class_init(&s, y + c, scores + c, n, (size_t)C, e)) return -1;
        uint64_t P = s.npos;
        if (P == 0) {
            thresholds[c] = default_threshold;
            if (tuned) tuned[c] = 0;
            if (best_f1) {
                /* F1 on validation at the default threshold (0 as there is no positive). */
                best_f1[c] = 0.0;
            }
            pe_sorted_class_free(&s);
            continue;
        }
        /* Walk the tie groups from the highest score down: after group g, the records
         * with score >= score(g) are predicted positive. */
        uint64_t tp = 0, fp = 0;
        double best = -1.0;
        size_t best_g = s.ngroups - 1;
        for (size_t g = s.ngroups; g-- > 0;) {
            for (uint32_t k = s.gstart[g]; k < s.gstart[g + 1]; k++) {
                if (s.pos[k]) tp++;
                else fp++;
            }
            double f = f1_from_counts(tp, fp, P - tp);
            if (f > best) {
                best = f;
                best_g = g;
            }
        }
        double hi = s.score[s.gstart[best_g]];
        double t = hi;
        if (best_g > 0) {
            double lo = s.score[s.gstart[best_g - 1]];
            t = 0.5 * (hi + lo);
            if (!(t > lo && t <= hi)) t = hi; /* guard against rounding */
        }
        thresholds[c] = t;
        if (best_f1) best_f1[c] = best;
        if (tuned) tuned[c] = 1;
        pe_sorted_class_free(&s);
    }
    return 0;
}

/* ---- bootstrap ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double pe_quantile(double *v, size_t m, double q) {
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(v[i])) v[k++] = v[i];
    for (size_t i = k; i < m; i++) v[i] = NAN;
    if (k == 0) return NAN;
    qsort(v, k, sizeof *v, cmp_double);
    double h = (double)(k - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo >= k - 1) return v[k - 1];
    double frac = h - (double)lo;
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

int pe_bootstrap_paired_diff(const pe_bootstrap_report *a, const pe_bootstrap_report *b,
                             double *lo, double *hi, int *n_kept, pe_error *e) {
    if (a->B != b->B || a->C != b->C || a->level != b->level || a->B <= 0)
        return pe_fail(e, "metrics: paired bootstrap needs two reports with the same "
                          "resamples, classes and level (B %d / %d, C %d / %d)",
                       a->B, b->B, a->C, b->C);
    double *d = malloc((size_t)a->B * sizeof *d);
    if (!d) return pe_fail(e, "metrics: out of memory for a paired bootstrap");
    int kept = 0;
    for (int k = 0; k < a->B; k++) {
        d[k] = a->macro[k] - b->macro[k]; /* NaN where either resample was dropped */
        kept += !isnan(d[k]);
    }
    *lo = pe_quantile(d, (size_t)a->B, (1.0 - a->level) / 2);
    *hi = pe_quantile(d, (size_t)a->B, (1.0 + a->level) / 2);
    if (n_kept) *n_kept = kept;
    free(d);
    return 0;
}

void pe_bootstrap_report_free(pe_bootstrap_report *r) {
    if (!r) return;
    free(r->macro);
    free(r->class_lo);
    free(r->class_hi);
    free(r->class_kept);
    memset(r, 0, sizeof *r);
}

int pe_bootstrap_auroc(const uint8_t *y, const float *scores, size_t n, int C, int B,
                       double level, pe_rng *rng, pe_bootstrap_report *r, pe_error *e) {
    memset(r, 0, sizeof *r);
    if (C <= 0 || B <= 0 || n == 0)
        return pe_fail(e, "metrics: bootstrap needs records, classes and resamples "
                          "(n=%zu C=%d B=%d)", n, C, B);
    if (!(level > 0 && level < 1))
        return pe_fail(e, "metrics: bootstrap level must be in (0,1) (got %g)", level);
    r->B = B;
    r->C = C;
    r->level = level;
    r->macro = malloc((size_t)B * sizeof *r->macro);
    r->class_lo = malloc((size_t)C * sizeof *r->class_lo);
    r->class_hi = malloc((size_t)C * sizeof *r->class_hi);
    r->class_kept = calloc((size_t)C, sizeof *r->class_kept);
    pe_sorted_class *cls = calloc((size_t)C, sizeof *cls);
    uint32_t *mult = malloc(n * sizeof *mult);
    double *samples = malloc((size_t)C * (size_t)B * sizeof *samples); /* [C][B] */
    double *tmp = malloc((size_t)B * sizeof *tmp);
    int rc = -1;
    if (!r->macro || !r->class_lo || !r->class_hi || !r->class_kept || !cls || !mult ||
        !samples || !tmp) {
        pe_fail(e, "metrics: out of memory for a bootstrap of %d resamples", B);
        goto done;
    }
    for (int c = 0; c < C; c++)
        if (pe_sorted_class_init(&cls[c], y + c, scores + c, n, (size_t)C, e)) goto done;

    for (int b = 0; b < B; b++) {
        memset(mult, 0, n * sizeof *mult);
        for (size_t i = 0; i < n; i++) mult[pe_rng_below(rng, n)]++;
        double sum = 0;
        int ndef = 0;
        for (int c = 0; c < C; c++) {
            int def = 0;
            double a = pe_sorted_class_auroc(&cls[c], mult, &def);
            samples[(size_t)c * B + b] = a;
            if (def) {
                sum += a;
                ndef++;
                r->class_kept[c]++;
            }
        }
        r->macro[b] = ndef ? sum / ndef : NAN;
        if (ndef) r->n_kept++;
    }
    double qlo = (1.0 - level) / 2, qhi = (1.0 + level) / 2;
    memcpy(tmp, r->macro, (size_t)B * sizeof *tmp);
    r->lo = pe_quantile(tmp, (size_t)B, qlo);
    r->hi = pe_quantile(tmp, (size_t)B, qhi);
    for (int c = 0; c < C; c++) {
        double *v = samples + (size_t)c * B;
        r->class_lo[c] = pe_quantile(v, (size_t)B, qlo);
        r->class_hi[c] = pe_quantile(v, (size_t)B, qhi);
    }
    rc = 0;
done:
    if (cls)
        for (int c = 0; c < C; c++) pe_sorted_class_free(&cls[c]);
    free(cls);
    free(mult);
    free(samples);
    free(tmp);
    if (rc) pe_bootstrap_report_free(r);
    return rc;
}
