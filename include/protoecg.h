/* protoecg: an interpretable ECG rhythm classifier (the rhythm branch of
 * ProtoECGNet) as a C library. See docs/ and README.md.
 *
 * Every fallible call takes a pe_error* and returns non-zero (or NULL) on
 * failure, with a message naming the file and what is wrong. */
#ifndef PROTOECG_H
#define PROTOECG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PE_VERSION_STRING "0.1.0"

typedef struct {
    char msg[1024];
} pe_error;

/* The 16 rhythm labels in model order (spec section 1). */
#define PE_NUM_CLASSES 16
#define PE_NUM_LEADS 12
#define PE_NUM_SAMPLES 1000
#define PE_SAMPLING_HZ 100
extern const char *const pe_class_names[PE_NUM_CLASSES];


/* ---- explanations --------------------------------------------------------- */

#define PE_MAX_TOP 16

/* One prototype's part in a class's logit: logit_c = sum_p W[c][p] * s_p. */
typedef struct {
    int prototype;          /* index p (class p / K) */
    int proto_class;        /* class the prototype belongs to */
    float similarity;       /* cosine s_p between the record's latent and the prototype */
    float weight;           /* last-layer weight W[c][p] */
    float contribution;     /* weight * similarity */
    int source_ecg_id;      /* training record the prototype was projected onto (-1: none) */
    uint8_t source_labels[PE_NUM_CLASSES]; /* that record's labels */
    float source_similarity; /* cosine at projection time */
    int similarity_rank;     /* 1 = the most similar to this ECG of its class's prototypes */
} pe_proto_evidence;

/* Why the model gave class `class_idx` its probability. */
typedef struct {
    int class_idx;
    float probability, logit;
    int predicted;           /* probability >= threshold */
    float contrib_own;       /* sum of contributions of the class's own prototypes */
    float contrib_other;     /* sum over the other classes' prototypes (W = -0.5 init) */
    int n_top;
    /* the class's own prototypes by contribution, descending (ties: the more similar
     * first); similarity_rank gives each one's place by similarity */
    pe_proto_evidence top[PE_MAX_TOP];
    int n_other;
    /* the other classes' prototypes with the largest contributions to this logit, by
     * absolute value, descending (mostly negative: resembling another rhythm) */
    pe_proto_evidence other[PE_MAX_TOP];
} pe_class_explanation;

/* ---- embedding API: load a model, classify and explain an ECG ---------------- */

typedef struct pe_classifier pe_classifier;

/* Loads a model file (model.safetensors). threads <= 0 keeps the current setting. */
pe_classifier *pe_classifier_load(const char *model_path, pe_error *e);
/* The same from the bytes of a model file in memory (a model stored in firmware, or
 * received over a network; the buffer is copied, so the caller may free it after);
 * `name` stands for the file in error messages (NULL: "(memory)"). */
pe_classifier *pe_classifier_load_memory(const void *data, size_t len, const char *name,
                                         pe_error *e);
void pe_classifier_free(pe_classifier *c);
/* Number of prototypes per class (0 for a plain ResNet-18 baseline model). */
int pe_classifier_protos_per_class(const pe_classifier *c);
/* Convolution arithmetic (PE_PRECISION_*): float32 (default); bfloat16 where the CPU
 * computes it natively (AVX512-BF16/AMX); int8 (u8/s8 with oneDNN's VNNI kernels where the
 * CPU has them) when the model file has an int8 calibration (protoecg calibrate; models
 * from protoecg train have one). Otherwise float32, and *note (if not NULL) says why.
 * Returns the precision in effect. */
#define PE_PRECISION_FP32 0
#define PE_PRECISION_BF16 1
#define PE_PRECISION_INT8 2
int pe_classifier_set_precision(pe_classifier *c, int precision, const char **note);

/* Reads a WFDB record (path without extension, e.g. ".../00001_lr", or with its .hea,
 * .dat or .mat file's) as physical values, lead-major (*n_leads, *n_samples), malloc'd
 * into *signal. A record that names the 12 standard leads (any order or case, among any
 * number of signals) gives just those, in PTB-XL order. */
int pe_record_read(const char *record_path, float **signal, int *n_leads, long *n_samples,
                   double *fs, pe_error *e);

/* Reads a 12-lead ECG from a CSV table: a header row naming the columns, then a row per
 * sample; the 12 standard leads found by name (any order or case; other columns are
 * ignored), in mV; an empty cell, "nan" or "NA" is a missing sample (NaN). The sampling
 * rate comes from a column of times in seconds named time, t, time_s, seconds or sec
 * (evenly spaced), or from fs when there is none (fs <= 0: only the time column); when
 * both are given they must agree. Output as pe_record_read's (12 leads, PTB-XL order).
 * pe_record_read reads a path ending in ".csv" this way, with fs = 0. */
int pe_signal_csv_read(const char *path, double fs, float **signal, int *n_leads,
                       long *n_samples, double *fs_out, pe_error *e);

/* Checks a record (12 leads, exactly 10 s, finite) and brings it to 100 Hz (resampled like
 * scipy.signal.resample_poly when recorded at another integer rate): out 12 x 1000 mV. */
int pe_record_to_100hz(const float *signal, int n_leads, long n_samples, double fs, float *out,
                       pe_error *e);

/* Brings a record to the model's input: 12 leads in PTB-XL order, 10 s at 100 Hz
 * (a 500 Hz record is resampled 1:5 like scipy.signal.resample_poly), high-pass
 * filtered and standardized with the model's statistics. out holds 12 x 1000. */
int pe_preprocess(const pe_classifier *c, const float *signal, int n_leads, long n_samples,
                  double fs, float *out, pe_error *e);

/* Probabilities of the 16 classes (pe_class_names order) for a 10-s record in mV
 * (pe_classify_windows reads longer records). */
int pe_classify(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
                float probs[PE_NUM_CLASSES], pe_error *e);

/* Probabilities and, for every class, the prototype evidence: the top_k own-class
 * prototypes by contribution and the top_k largest contributions of other classes'
 * prototypes (all P contributions sum to the logit). Prototype models only. */
int pe_explain(pe_classifier *c, const float *signal, int n_leads, long n_samples, double fs,
               int top_k, float probs[PE_NUM_CLASSES], pe_class_explanation out[PE_NUM_CLASSES],
               pe_error *e);

/* ---- records of any length: 10-s windows ------------------------------------ */

/* The model reads 10 s. A longer record is read in 10-s windows that start every
 * stride_s seconds from its first sample, plus one that ends with the record when those
 * leave a tail out, so every sample lies in some window; a record of exactly 10 s is one
 * window. Each window is preprocessed on its own, exactly like a 10-s record. */
typedef struct {
    long start;                  /* first sample, at the record's own rate */
    double start_s;              /* start / fs */
    int valid;                   /* 0: the window has a non-finite sample (a lead off, WFDB's
                                  * invalid value) and was skipped; its probs are NaN */
    float probs[PE_NUM_CLASSES]; /* the window's probabilities */
} pe_window;

/* How many windows a record of n_samples at fs has for stride_s (in (0, 10] seconds),
 * and (if starts is not NULL) their first samples, ascending, into starts[0..n-1].
 * Fails when the record is shorter than 10 s, the rate is not an integer or the stride
 * is out of range. */
int pe_window_starts(long n_samples, double fs, double stride_s, long *n_windows, long *starts,
                     pe_error *e);

/* Like pe_record_to_100hz, for the 10-s window of a record of any length that starts at
 * sample `start` (start + 10 s <= the record's length). */
int pe_window_to_100hz(const float *signal, int n_leads, long n_samples, double fs, long start,
                       float *out, pe_error *e);

/* Probabilities of every window of a record of at least 10 s (*windows, malloc'd,
 * *n_windows of them) and, per class, the largest over the windows (probs: the class is
 * present somewhere in the record). Windows with a non-finite sample are skipped (valid
 * 0); it fails when every window is. */
int pe_classify_windows(pe_classifier *c, const float *signal, int n_leads, long n_samples,
                        double fs, double stride_s, float probs[PE_NUM_CLASSES],
                        pe_window **windows, long *n_windows, pe_error *e);

/* pe_explain for the 10-s window that starts at sample `start`. */
int pe_explain_window(pe_classifier *c, const float *signal, int n_leads, long n_samples,
                      double fs, long start, int top_k, float probs[PE_NUM_CLASSES],
                      pe_class_explanation out[PE_NUM_CLASSES], pe_error *e);

#ifdef __cplusplus
}
#endif

#endif
