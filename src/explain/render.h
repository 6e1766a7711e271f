/* Self-contained HTML pages with inline SVG for clinicians: the ECG drawn as on a
 * standard 12-lead printout, per-class probability bars, training curves, ROC curves,
 * the explanation page of one record and the prototype gallery of a model.
 *
 * Everything is generated into a pe_sb (strbuf.h). The pages use no JavaScript, no
 * network resource, no external font or image: only inline CSS and inline SVG (the
 * one URL in a page is the SVG namespace, xmlns="http://www.w3.org/2000/svg").
 *
 * Signals are (12, n) float arrays in mV, lead-major (lead l, sample i at [l*n + i]),
 * leads in the order I II III aVR aVL aVF V1 V2 V3 V4 V5 V6. */
#ifndef PE_EXPLAIN_RENDER_H
#define PE_EXPLAIN_RENDER_H

#include <stdint.h>

#include "explain/strbuf.h"
#include "protoecg.h"

/* Lead display names in signal order ("I" ... "aVR" ... "V6"). */
extern const char *const pe_lead_names[PE_NUM_LEADS];

/* Plain-language name of a rhythm class ("atrial fibrillation"), "?" if out of range. */
const char *pe_class_description(int c);

/* Appends text with & < > " ' escaped (safe in element content and quoted attributes);
 * control characters other than tab and newline are dropped. NULL appends nothing. */
void pe_html_escape(pe_sb *sb, const char *text);

/* ---- SVG figures ---------------------------------------------------------------- */

/* A 12-lead ECG as on a standard printout: ECG paper (1 mm minor, 5 mm major lines),
 * 25 mm/s and 10 mm/mV, rows I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6 where column k
 * shows the k-th quarter of the recording (2.5 s of a 10 s record) of its lead, a 1 mV
 * calibration pulse left of each row, and a full-length lead II rhythm strip below.
 * Each lead is one <polyline class="lead" data-lead="NAME"> with one point per sample
 * of its segment; the rhythm strip is <polyline class="rhythm" data-lead="II"> with n
 * points. Coordinates are in real-size pixels (4 px/mm; 1 px per sample at 100 Hz),
 * rounded to 0.1; values are clipped to the drawing. scale sets the displayed size
 * (1.0 = real size, 0.4 for a thumbnail). title (may be NULL) is shown in the header.
 * Draws a short notice instead when sig is NULL or n < 4 or fs <= 0. */
void pe_svg_ecg(pe_sb *sb, const float *sig, int n, double fs, const char *title, double scale);

/* Horizontal bars of the 16 class probabilities, labelled with the class codes and
 * names. Predicted classes (predicted[c] != 0; when predicted is NULL: probs[c] >=
 * threshold, 0.5 without thresholds) are highlighted; thresholds (NULL: none drawn)
 * are drawn as marks on each bar. */
void pe_svg_prob_bars(pe_sb *sb, const float *probs, const uint8_t *predicted,
                      const double *thresholds);

/* One line of a line chart: y[i] against x[i], i < n (NaN values break the line). */
typedef struct {
    const char *name;
    const double *x;
    const double *y;
    int n;
} pe_chart_series;

/* Line chart of several series (e.g. training curves against the epoch) with axes,
 * ticks, axis labels and a legend. The y range is [y_min, y_max] when y_min < y_max,
 * else fitted to the data. */
void pe_svg_line_chart(pe_sb *sb, const char *title, const char *x_label, const char *y_label,
                       const pe_chart_series *series, int n_series, double y_min, double y_max);

/* One ROC curve: points (fpr[i], tpr[i]), i < n, as from pe_roc_curve, and its AUROC
 * (NaN: shown as "undefined"). */
typedef struct {
    const char *name;
    const double *fpr;
    const double *tpr;
    int n;
    double auroc;
} pe_roc_series;

/* ROC curves in the unit square with the chance diagonal and a legend "name (AUROC x)". */
void pe_svg_roc(pe_sb *sb, const char *title, const pe_roc_series *curves, int n_curves);

/* ---- pages ---------------------------------------------------------------------- */

/* Page skeleton: <!DOCTYPE html>, UTF-8, the escaped title, inline CSS (readable on
 * screen, print-friendly). Content goes between begin and end. */
void pe_html_begin(pe_sb *sb, const char *title);
void pe_html_end(pe_sb *sb);

/* The explanation page of one record: the input ECG at real size, the probability bars,
 * and for each explained class ex[0..n_ex): a plain-language sentence, its probability
 * and logit, the logit decomposition (own-class prototypes + other prototypes = logit)
 * and its top prototypes ex[i].top[0..n_top), each with a thumbnail of the training ECG
 * it was projected onto (source_sigs[i*PE_MAX_TOP + k], a (12, n) signal at fs, or
 * NULL when unavailable; source_sigs itself may be NULL), its ecg_id, labels,
 * similarity, weight and contribution. Predicted classes in the bar chart are those of
 * ex with predicted != 0. model_name may be NULL. prelude_html (NULL: none), HTML of the
 * caller's, goes between the page's header and the explanation (protoecg explain puts
 * a longer record's timeline there). Fails on invalid arguments. */
int pe_html_explanation_page(pe_sb *sb, const char *record_title, const float *sig, int n,
                             double fs, const float *probs, const pe_class_explanation *ex,
                             int n_ex, const float *const *source_sigs, const char *model_name,
                             const char *prelude_html, pe_error *e);

/* The content of the explanation page without the page wrapper (no <html>, header or
 * footer), to place one or more explanations in a page of one's own: the prediction
 * summary, the ECG, the probability bars and a section per explained class, with the
 * arguments of pe_html_explanation_page. Section headings are <h{level}> (the page uses
 * 2; use 3 to nest the explanation under a heading of yours) and every element id is
 * prefixed with id_prefix (NULL or "": none) so that several explanations on one page
 * keep distinct ids. Fails on invalid arguments. */
int pe_html_explanation_body(pe_sb *sb, const char *record_title, const float *sig, int n,
                             double fs, const float *probs, const pe_class_explanation *ex,
                             int n_ex, const float *const *source_sigs, int level,
                             const char *id_prefix, pe_error *e);

/* One prototype of the gallery. */
typedef struct {
    int prototype;                         /* index p */
    int proto_class;                       /* class c of the prototype */
    int source_ecg_id;                     /* training record it was projected onto, -1 none */
    uint8_t source_labels[PE_NUM_CLASSES]; /* that record's labels */
    float similarity;                      /* cosine at projection time */
    const float *source_sig;               /* (12, n) mV at fs, or NULL */
} pe_gallery_item;

/* Per-class statistics of the prototypes (NaN or -1: unknown, shown as a dash). */
typedef struct {
    double mean_within_cos[PE_NUM_CLASSES];  /* mean cosine between the class's prototypes */
    double mean_between_cos[PE_NUM_CLASSES]; /* mean cosine to other classes' prototypes */
    int n_single_label[PE_NUM_CLASSES]; /* prototypes whose source carries only their class */
    int n_duplicates[PE_NUM_CLASSES];   /* prototypes sharing a source ECG with another */
} pe_gallery_stats;

/* The prototype gallery: a per-class statistics table (stats may be NULL: only the
 * counts of prototypes) and every prototype as a card with a thumbnail of its source
 * ECG, grouped by class. n and fs describe the source signals. Fails on invalid
 * arguments (class out of range, n <= 0 or fs <= 0). */
int pe_html_gallery_page(pe_sb *sb, const char *title, const char *model_name,
                         const pe_gallery_item *items, int n_items, int n, double fs,
                         const pe_gallery_stats *stats, pe_error *e);

/* The gallery's per-class table (a <section> with an <h{level}> heading): prototypes per
 * class counted from items (items may be NULL with n_items 0) and, when stats is not
 * NULL, the statistics (else dashes). */
void pe_html_gallery_stats_table(pe_sb *sb, const pe_gallery_item *items, int n_items,
                                 const pe_gallery_stats *stats, int level);

/* One prototype card of the gallery (a <div class="card">: put cards in a
 * <div class="cards"> grid): the source ECG thumbnail (n samples at fs; a notice when
 * it->source_sig is NULL), its ecg_id and labels, and the projection cosine. */
void pe_html_prototype_card(pe_sb *sb, const pe_gallery_item *it, int n, double fs);

/* Writes the builder's content to path atomically; fails if an append ran out of memory. */
int pe_html_write(const pe_sb *sb, const char *path, pe_error *e);

#endif
