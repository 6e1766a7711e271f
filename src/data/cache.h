/* The prepared-dataset cache: every PTB-XL record read, high-pass filtered and
 * standardized once, stored in one binary file that training memory-maps.
 *
 * Layout (little-endian): pe_cache_header, then at the offsets it gives:
 *   int32 ecg_id[n], int32 fold[n], uint8 labels[n][C], float signals[n][leads][samples]
 * (each array 64-byte aligned). See docs/formats.md. */
#ifndef PE_DATA_CACHE_H
#define PE_DATA_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "protoecg.h"

#define PE_CACHE_MAGIC "PECGCACH"
#define PE_CACHE_VERSION 1

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t n_records, n_leads, n_samples, n_classes;
    uint32_t standardized;  /* 1 if signals are standardized with mean/std below */
    uint32_t filter_order;  /* Butterworth high-pass order, 0 = none */
    float cutoff_hz, fs;
    uint64_t input_hash;    /* of the CSV, the record files' names/sizes/mtimes, options */
    char class_names[PE_NUM_CLASSES][16];
    float mean[PE_NUM_LEADS], std[PE_NUM_LEADS]; /* per lead, fitted on train */
    uint64_t off_ecg_id, off_fold, off_labels, off_signals, file_size;
} pe_cache_header;

typedef struct {
    pe_cache_header h;
    const int32_t *ecg_id, *fold;
    const uint8_t *labels;  /* (n, C) */
    const float *signals;   /* (n, leads, samples) */
    void *map;
    size_t map_len;
    void *owned; /* in-memory copy (pe_cache_copy_split), freed by pe_cache_close */
} pe_cache;

typedef struct {
    const char *ptbxl_root;
    int filter_order;   /* default 1 */
    float cutoff_hz;    /* default 0.5 */
    int standardize;    /* default 1 */
    int quiet;          /* no progress on stderr */
} pe_prepare_opts;

pe_prepare_opts pe_prepare_opts_default(const char *ptbxl_root);

typedef struct {
    int n_rows;       /* rows in the CSV */
    int n_ok;         /* records in the cache */
    int n_failed;     /* records skipped (each reported on stderr) */
    int reused;       /* 1 if an up-to-date cache was already there */
    double seconds;
} pe_prepare_report;

/* Builds (or reuses, when the input hash matches) the cache at out_path. */
int pe_cache_prepare(const pe_prepare_opts *o, const char *out_path, pe_prepare_report *rep,
                     pe_error *e);

/* Memory-maps and validates a cache file. */
int pe_cache_open(const char *path, pe_cache *c, pe_error *e);
void pe_cache_close(pe_cache *c);

/* An in-memory cache holding the records of one split (split < 0: all) of src,
 * whose signals must not be standardized yet, standardized with the given
 * per-lead statistics (e.g. a model's) when mean != NULL. */
int pe_cache_copy_split(const pe_cache *src, int split, const float *mean, const float *std,
                        pe_cache *out, pe_error *e);

/* Pointer to record i's signal (leads, samples). */
static inline const float *pe_cache_signal(const pe_cache *c, long i) {
    return c->signals + (size_t)i * c->h.n_leads * c->h.n_samples;
}

#endif
