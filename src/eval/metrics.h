/* Evaluation metrics for multi-label scores (spec section 6): AUROC (per class and macro,
 * as sklearn.metrics.roc_auc_score), ROC curve points, F1 at per-class thresholds (as
 * sklearn f1_score(zero_division=0)), F1-maximising threshold tuning, and percentile
 * bootstrap intervals of the macro and per-class AUROC.
 *
 * Layout: y is (N, C) uint8 in {0,1} and scores is (N, C) float, both row-major, so
 * class c of record i is at [i*C + c]. Single-class functions take (n, stride, column
 * pointer): pass y + c, scores + c, stride C. Scores must not be NaN (an error, as in
 * sklearn). All arithmetic on counts is exact (integers in uint64/double); the AUROC is
 * one rounding of the exact Mann-Whitney fraction. */
#ifndef PE_EVAL_METRICS_H
#define PE_EVAL_METRICS_H

#include "protoecg.h"
#include "util/rng.h"

#include <stddef.h>
#include <stdint.h>

/* ---- one class, pre-sorted: the common core of AUROC, ROC curve and bootstrap ---- */

/* One class's records sorted once by ascending score, split into groups of tied
 * scores. rec[k] is the record index at sorted position k, pos[k] its label, and
 * group g covers sorted positions [gstart[g], gstart[g+1]). */
typedef struct {
    size_t n;
    size_t ngroups;
    uint32_t *rec;    /* [n] */
    uint8_t *pos;     /* [n] */
    float *score;     /* [n] the sorted scores */
    uint32_t *gstart; /* [ngroups + 1] */
    uint64_t npos;    /* number of positives (support) */
} pe_sorted_class;

/* Sorts one class (n records, column y[i*stride], scores[i*stride]). Fails on NaN
 * scores, labels outside {0,1}, n >= 2^31 or out of memory. */
int pe_sorted_class_init(pe_sorted_class *s, const uint8_t *y, const float *scores, size_t n,
                         size_t stride, pe_error *e);
void pe_sorted_class_free(pe_sorted_class *s);

/* AUROC with per-record multiplicities mult[i] (the number of copies of record i, e.g.
 * in a bootstrap resample; NULL means 1 each). It walks the tie groups in ascending
 * order: U = sum_g p_g * (negatives below g) + p_g * q_g / 2, AUROC = U / (P * Q), where
 * p_g, q_g are the weighted positives/negatives of group g. This equals the rank-based
 * Mann-Whitney statistic with average ranks (ties count 1/2) on the dataset with the
 * copies made explicit. O(n). Returns NAN and sets *defined = 0 when the (weighted)
 * class has no positive or no negative; *defined may be NULL. Exact (one rounding) while
 * the total weight is below 2^26; the bootstrap uses total weight n. */
double pe_sorted_class_auroc(const pe_sorted_class *s, const uint32_t *mult, int *defined);

/* ---- AUROC ---- */

/* AUROC of one class, equal to sklearn.metrics.roc_auc_score(y, scores) for binary y.
 * O(n log n). *auc = NAN and *defined = 0 if the class has no positive or no negative
 * (sklearn raises in that case). Returns 0, or -1 on invalid input / out of memory. */
int pe_auroc(const uint8_t *y, const float *scores, size_t n, size_t stride, double *auc,
             int *defined, pe_error *e);

/* Macro AUROC over C classes: the mean of the per-class AUROC over the classes that are
 * defined (have at least one positive and one negative); undefined classes are left out
 * of the mean (equal to sklearn roc_auc_score(y[:, d], p[:, d], average='macro') on the
 * defined columns d). */
typedef struct {
    int C;
    double macro;      /* NAN if no class is defined */
    int n_defined;
    double *auroc;     /* [C], NAN where undefined */
    uint64_t *support; /* [C] number of positive records */
    uint8_t *defined;  /* [C] 1 if defined */
} pe_auroc_report;

int pe_macro_auroc(const uint8_t *y, const float *scores, size_t n, int C, pe_auroc_report *r,
                   pe_error *e);
void pe_auroc_report_free(pe_auroc_report *r);

/* Writes the names of the undefined classes, comma separated, into buf (truncated to
 * cap; if names is NULL, "class <c>" is used). Returns the number of undefined classes.
 * The caller prints the warning, e.g. "warning: AUROC undefined for %s". */
int pe_auroc_undefined_names(const pe_auroc_report *r, const char *const *names, char *buf,
                             size_t cap);

/* ---- ROC curve ---- */

/* ROC curve points of one class as sklearn roc_curve(y, scores, drop_intermediate=False):
 * the first point is (0, 0) with threshold +INFINITY (sklearn >= 1.3; 1.2 used
 * max+1), then one point per distinct score in decreasing order, where a record is
 * predicted positive if score >= threshold: fpr = FP / Q, tpr = TP / P. fpr, tpr,
 * thresholds (thresholds may be NULL) must hold n + 1 values; *npoints receives the
 * count (distinct scores + 1). Fails if the class has no positive or no negative. */
int pe_roc_curve(const uint8_t *y, const float *scores, size_t n, size_t stride, double *fpr,
                 double *tpr, double *thresholds, size_t *npoints, pe_error *e);

/* ---- F1 ---- */

/* F1 of every class at thresholds[c] (NULL: 0.5 for all), predicting positive when
 * score >= threshold: F1 = 2 TP / (2 TP + FP + FN), and 0 when that denominator is 0
 * (sklearn f1_score(zero_division=0)). f1_out[C] may be NULL. Returns the macro F1, the
 * unweighted mean over all C classes (sklearn average='macro'). */
double pe_f1(const uint8_t *y, const float *scores, size_t n, int C, const double *thresholds,
             double *f1_out);

/* Tunes one threshold per class on a validation set to maximise that class's F1.
 * Rule: with the distinct scores v_1 > v_2 > ... > v_m, candidate k predicts positive
 * the records with score >= v_k (all m candidates are evaluated in O(n) after the sort).
 * The best k is the one with the highest F1; ties go to the smallest k (the highest
 * threshold, fewest positives). The returned threshold is the midpoint (v_k + v_{k+1})/2
 * computed in double (so it gives the same predictions on the validation set and sits
 * between scores for unseen data), or v_m itself when k = m. A class with no positive
 * validation record cannot be tuned (every F1 is 0): it keeps default_threshold, and
 * tuned[c] = 0 (tuned may be NULL). best_f1[C] (may be NULL) receives the validation F1
 * at the chosen threshold. */
int pe_tune_thresholds(const uint8_t *y, const float *scores, size_t n, int C,
                       double default_threshold, double *thresholds, double *best_f1,
                       uint8_t *tuned, pe_error *e);

/* ---- bootstrap ---- */

/* Percentile bootstrap of the macro AUROC (and, at no extra cost, of each class's
 * AUROC). Each of the B resamples draws n records with replacement (pe_rng_below from
 * rng, which advances) and is evaluated through per-record multiplicities on the
 * once-sorted classes (O(n C) per resample). In a resample, a class without a positive
 * or without a negative is left out of that resample's macro mean; a resample with no
 * defined class is dropped. The interval is [q((1-level)/2), q((1+level)/2)] of the
 * kept resample values, q being numpy's default (linear) percentile. */
typedef struct {
    int B, C;
    double level;
    double lo, hi;       /* macro interval; NAN if no resample was kept */
    int n_kept;          /* resamples with at least one defined class */
    double *macro;       /* [B] macro AUROC of each resample, NAN if dropped */
    double *class_lo;    /* [C] per-class interval over the resamples where the class */
    double *class_hi;    /* [C]   is defined; NAN if never defined */
    int *class_kept;     /* [C] number of such resamples */
} pe_bootstrap_report;

int pe_bootstrap_auroc(const uint8_t *y, const float *scores, size_t n, int C, int B,
                       double level, pe_rng *rng, pe_bootstrap_report *r, pe_error *e);
void pe_bootstrap_report_free(pe_bootstrap_report *r);

/* Paired comparison of two models on the same records: a and b are bootstraps of their
 * scores drawn from the same seed on the same labels, so resample k holds the same
 * records in both. The interval [*lo, *hi] is that of the differences a->macro[k] -
 * b->macro[k] over the resamples kept by both (same quantiles as above); *n_kept (may
 * be NULL) receives their number. Fails when the reports' B, C or level differ. */
int pe_bootstrap_paired_diff(const pe_bootstrap_report *a, const pe_bootstrap_report *b,
                             double *lo, double *hi, int *n_kept, pe_error *e);

/* The q-quantile (q in [0,1]) of v[0..m-1] ignoring NaNs, with numpy's default linear
 * interpolation: h = (k-1) q over the k sorted non-NaN values, v[floor h] + (h - floor h)
 * * (v[floor h + 1] - v[floor h]). Sorts v in place (NaNs moved to the end). Returns NAN
 * if no value is left. */
double pe_quantile(double *v, size_t m, double q);

#endif
