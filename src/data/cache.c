/* Building, validating and memory-mapping the prepared-dataset cache. */
#include "data/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/filter.h"
#include "data/preprocess.h"
#include "data/ptbxl.h"
#include "data/wfdb.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"

pe_prepare_opts pe_prepare_opts_default(const char *ptbxl_root) {
    pe_prepare_opts o = {.ptbxl_root = ptbxl_root, .filter_order = 1, .cutoff_hz = 0.5f,
                         .standardize = 1, .quiet = 0};
    return o;
}

/* ---- input hash (FNV-1a 64) ------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Hashes a record file's name relative to the root (so the same data reached by another
 * path reuses the cache), size and modification time. */
static uint64_t hash_file_stat(uint64_t h, const char *path, const char *rel) {
    struct stat st;
    h = fnv(h, rel, strlen(rel));
    if (stat(path, &st) == 0) {
        int64_t v[3] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec};
        h = fnv(h, v, sizeof v);
    }
    return h;
}

static uint64_t input_hash(const pe_prepare_opts *o, const pe_ptbxl_db *db, const char *csv,
                           size_t csv_len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    uint32_t v[3] = {PE_CACHE_VERSION, (uint32_t)o->filter_order, (uint32_t)o->standardize};
    h = fnv(h, v, sizeof v);
    h = fnv(h, &o->cutoff_hz, sizeof o->cutoff_hz);
    h = fnv(h, csv, csv_len);
    char path[4096];
    for (int i = 0; i < db->n; i++) {
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/%s.%s", o->ptbxl_root, db->rows[i].filename_lr,
                     k ? "dat" : "hea");
            h = hash_file_stat(h, path, db->rows[i].filename_lr);
        }
    }
    return h;
}

/* ---- open / validate ---------------------------------------------------------- */

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

/* Whether count items of size bytes from offset off lie within len bytes (size > 0),
 * without overflow whatever the header says. */
static int span_fits(uint64_t off, uint64_t count, uint64_t size, size_t len) {
    return off <= len && count <= (len - off) / size;
}

int pe_cache_open(const char *path, pe_cache *c, pe_error *e) {
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return pe_fail(e, "%s: cannot open cache: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(pe_cache_header)) {
        close(fd);
        return pe_fail(e, "%s: not a protoecg cache (too short)", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return pe_fail(e, "%s: cannot map: %s", path, strerror(errno));
    c->map = map;
    c->map_len = (size_t)st.st_size;
    memcpy(&c->h, map, sizeof c->h);
    const pe_cache_header *h = &c->h;
    const char *why = NULL;
    if (memcmp(h->magic, PE_CACHE_MAGIC, 8)) why = "not a protoecg cache (bad magic)";
    else if (h->version != PE_CACHE_VERSION) why = "cache of another format version";
    else if (h->file_size != c->map_len) why = "truncated or padded (size differs from header)";
    else if (h->n_classes != PE_NUM_CLASSES || h->n_leads == 0 || h->n_leads > PE_NUM_LEADS ||
             h->n_samples == 0)
        why = "bad shapes in header";
    else {
        uint64_t n = h->n_records, rec = (uint64_t)h->n_leads * h->n_samples * sizeof(float);
        if (!span_fits(h->off_ecg_id, n, 4, c->map_len) ||
            !span_fits(h->off_fold, n, 4, c->map_len) ||
            !span_fits(h->off_labels, n, h->n_classes, c->map_len) ||
            !span_fits(h->off_signals, n, rec, c->map_len) || h->off_ecg_id % 64 ||
            h->off_fold % 64 || h->off_signals % 64)
            why = "array offsets outside the file";
    }
    if (why) {
        pe_cache_close(c);
        return pe_fail(e, "%s: %s", path, why);
    }
    const char *base = map;
    c->ecg_id = (const int32_t *)(base + h->off_ecg_id);
    c->fold = (const int32_t *)(base + h->off_fold);
    c->labels = (const uint8_t *)(base + h->off_labels);
    c->signals = (const float *)(base + h->off_signals);
    return 0;
}

void pe_cache_close(pe_cache *c) {
    if (c->map) munmap(c->map, c->map_len);
    free(c->owned);
    memset(c, 0, sizeof *c);
}

int pe_cache_copy_split(const pe_cache *src, int split, const float *mean, const float *std,
                        pe_cache *out, pe_error *e) {
    memset(out, 0, sizeof *out);
    if (src->h.standardized && mean)
        return pe_fail(e, "cache is already standardized; prepare it with --no-standardize");
    size_t n = 0, N = src->h.n_records, C = src->h.n_classes;
    size_t rec = (size_t)src->h.n_leads * src->h.n_samples;
    for (size_t i = 0; i < N; i++) n += split < 0 || (int)pe_split_of_fold(src->fold[i]) == split;
    size_t off_fold = align64(n * 4), off_lab = align64(off_fold + n * 4);
    size_t off_sig = align64(off_lab + n * C), total = off_sig + n * rec * sizeof(float);
    char *mem = aligned_alloc(64, align64(total + 1));
    if (!mem) return pe_fail(e, "out of memory for %zu records", n);
    out->h = src->h;
    out->h.n_records = (uint32_t)n;
    out->owned = mem;
    int32_t *ids = (int32_t *)mem, *folds = (int32_t *)(mem + off_fold);
    uint8_t *labels = (uint8_t *)(mem + off_lab);
    float *sig = (float *)(mem + off_sig);
    size_t j = 0;
    for (size_t i = 0; i < N; i++) {
        if (!(split < 0 || (int)pe_split_of_fold(src->fold[i]) == split)) continue;
        ids[j] = src->ecg_id[i];
        folds[j] = src->fold[i];
        memcpy(labels + j * C, src->labels + i * C, C);
        memcpy(sig + j * rec, pe_cache_signal(src, (long)i), rec * sizeof(float));
        j++;
    }
    if (mean) {
        pe_standardize_apply(sig, (long)n, (int)src->h.n_leads, (int)src->h.n_samples, mean, std);
        out->h.standardized = 1;
        memcpy(out->h.mean, mean, sizeof out->h.mean);
        memcpy(out->h.std, std, sizeof out->h.std);
    }
    out->ecg_id = ids;
    out->fold = folds;
    out->labels = labels;
    out->signals = sig;
    return 0;
}

/* ---- build -------------------------------------------------------------------- */

/* Reads and filters one record into out (leads*samples); returns 0 or -1 with e set. */
static int load_record(const pe_prepare_opts *o, const pe_iir *f, const pe_ptbxl_row *row,
                       float *out, pe_error *e) {
    char path[4096];
    if (pe_path_join(path, sizeof path, o->ptbxl_root, row->filename_lr))
        return pe_fail(e, "ecg_id %d: path too long", row->ecg_id);
    pe_wfdb_header h;
    float *sig = NULL;
    if (pe_wfdb_read(path, &h, &sig, e)) return -1;
    int rc = 0;
    if (h.n_signals != PE_NUM_LEADS || h.n_samples != PE_NUM_SAMPLES)
        rc = pe_fail(e, "%s: expected %d leads x %d samples, found %d x %ld", path, PE_NUM_LEADS,
                     PE_NUM_SAMPLES, h.n_signals, h.n_samples);
    else if (fabs(h.fs - PE_SAMPLING_HZ) > 1e-6)
        rc = pe_fail(e, "%s: expected %d Hz, found %g Hz", path, PE_SAMPLING_HZ, h.fs);
    for (size_t i = 0; rc == 0 && i < (size_t)PE_NUM_LEADS * PE_NUM_SAMPLES; i++)
        if (!isfinite(sig[i]))
            rc = pe_fail(e, "%s: lead %zu has a non-finite sample (NaN: a WFDB invalid sample, "
                         "or inf) at sample %zu", path, i / PE_NUM_SAMPLES, i % PE_NUM_SAMPLES);
    for (int l = 0; rc == 0 && l < PE_NUM_LEADS; l++) {
        float *x = sig + (size_t)l * PE_NUM_SAMPLES;
        if (f) rc = pe_filtfilt(f, x, x, PE_NUM_SAMPLES, e);
    }
    if (rc == 0) memcpy(out, sig, sizeof(float) * PE_NUM_LEADS * PE_NUM_SAMPLES);
    free(sig);
    pe_wfdb_header_free(&h);
    return rc;
}

/* Writes header + arrays of the kept records atomically. */
static int write_cache(const char *out_path, pe_cache_header *h, const pe_ptbxl_db *db,
                       const int *keep, const float *signals, pe_error *e) {
    size_t n = h->n_records, rec = (size_t)h->n_leads * h->n_samples;
    h->off_ecg_id = align64(sizeof *h);
    h->off_fold = align64(h->off_ecg_id + n * 4);
    h->off_labels = align64(h->off_fold + n * 4);
    h->off_signals = align64(h->off_labels + n * h->n_classes);
    h->file_size = h->off_signals + n * rec * sizeof(float);
    int32_t *ids = malloc(n * 4 + 1), *folds = malloc(n * 4 + 1);
    uint8_t *labels = malloc(n * h->n_classes + 1);
    if (!ids || !folds || !labels) {
        free(ids), free(folds), free(labels);
        return pe_fail(e, "%s: out of memory", out_path);
    }
    for (size_t j = 0; j < n; j++) {
        const pe_ptbxl_row *r = &db->rows[keep[j]];
        ids[j] = r->ecg_id;
        folds[j] = r->strat_fold;
        memcpy(labels + j * h->n_classes, r->labels, h->n_classes);
    }
    pe_atomic_file af;
    int rc = pe_atomic_open(&af, out_path, e);
    if (rc == 0) {
        static const char zeros[64];
        struct { const void *p; size_t len, off; } parts[] = {
            {h, sizeof *h, 0},
            {ids, n * 4, h->off_ecg_id},
            {folds, n * 4, h->off_fold},
            {labels, n * h->n_classes, h->off_labels},
            {signals, n * rec * sizeof(float), h->off_signals},
        };
        size_t pos = 0;
        for (size_t k = 0; k < sizeof parts / sizeof parts[0] && rc == 0; k++) {
            if (parts[k].off > pos && fwrite(zeros, 1, parts[k].off - pos, af.f) != parts[k].off - pos)
                rc = -1;
            pos = parts[k].off > pos ? parts[k].off : pos;
            if (rc == 0 && parts[k].len && fwrite(parts[k].p, 1, parts[k].len, af.f) != parts[k].len)
                rc = -1;
            pos += parts[k].len;
        }
        if (rc) {
            pe_atomic_abort(&af);
            pe_fail(e, "%s: write failed (disk full?)", out_path);
        } else {
            rc = pe_atomic_commit(&af, e);
        }
    }
    free(ids), free(folds), free(labels);
    return rc;
}

/* An existing cache at out_path: 1 when it holds this input with these settings (reused),
 * -1 (e filled) when it was prepared with other settings (never silently replaced: a
 * training cache given to eval, say), 0 when there is none or it must be rebuilt (the
 * data changed, or it is unreadable). */
static int reuse_existing(const char *out_path, const pe_prepare_opts *o, uint64_t hash,
                          int n_rows, pe_prepare_report *rep, pe_error *e) {
    pe_cache old;
    pe_error ignore;
    if (!pe_path_exists(out_path) || pe_cache_open(out_path, &old, &ignore) != 0) return 0;
    pe_cache_header oh = old.h;
    pe_cache_close(&old);
    rep->n_ok = (int)oh.n_records;
    if ((int)oh.standardized != (o->standardize != 0) || (int)oh.filter_order != o->filter_order ||
        oh.cutoff_hz != o->cutoff_hz)
        return pe_fail(e,
                       "%s: a cache prepared with other settings (%s, filter order %u, "
                       "cutoff %g Hz) than needed here (%s, order %d, %g Hz); give "
                       "another cache path or remove this file",
                       out_path, oh.standardized ? "standardized" : "not standardized",
                       oh.filter_order, (double)oh.cutoff_hz,
                       o->standardize ? "standardized" : "not standardized", o->filter_order,
                       (double)o->cutoff_hz);
    if (oh.input_hash != hash) return 0;
    rep->reused = 1;
    rep->n_failed = n_rows - rep->n_ok;
    return 1;
}

/* Reads and filters every record of db into signals (in parallel, with progress), then
 * moves those that loaded to the front: keep[j] is the row of the j-th; the others are
 * reported on stderr with their reason (reasons: db->n slots, zeroed, freed here one by
 * one) and counted in rep->n_failed. Returns how many loaded. */
static int load_records(const pe_prepare_opts *o, const pe_iir *f, const pe_ptbxl_db *db,
                        float *signals, char **reasons, int *keep, pe_prepare_report *rep) {
    size_t rec = (size_t)PE_NUM_LEADS * PE_NUM_SAMPLES;
    pe_progress pg;
    pe_progress_start(&pg, "prepare", db->n, o->quiet);
    long done = 0;
#pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < db->n; i++) {
        pe_error re;
        if (load_record(o, f, &db->rows[i], signals + (size_t)i * rec, &re)) {
            reasons[i] = strdup(re.msg);
            if (!reasons[i]) reasons[i] = strdup("out of memory");
        }
#pragma omp critical
        pe_progress_update(&pg, ++done, NULL);
    }
    int n = 0;
    for (int i = 0; i < db->n; i++) {
        if (reasons[i]) {
            fprintf(stderr, "prepare: skipping ecg_id %d: %s\n", db->rows[i].ecg_id, reasons[i]);
            free(reasons[i]);
            rep->n_failed++;
            continue;
        }
        if (n != i) memmove(signals + (size_t)n * rec, signals + (size_t)i * rec, rec * sizeof(float));
        keep[n++] = i;
    }
    pe_progress_end(&pg, NULL);
    return n;
}

int pe_cache_prepare(const pe_prepare_opts *o, const char *out_path, pe_prepare_report *rep,
                     pe_error *e) {
    double t0 = pe_now();
    memset(rep, 0, sizeof *rep);
    char csv_path[4096];
    if (pe_path_join(csv_path, sizeof csv_path, o->ptbxl_root, "ptbxl_database.csv"))
        return pe_fail(e, "%s: path too long", o->ptbxl_root);
    size_t csv_len = 0;
    char *csv = pe_read_file(csv_path, &csv_len, e);
    if (!csv) return -1;
    pe_ptbxl_db db = {0};
    if (pe_ptbxl_parse(csv, csv_len, csv_path, &db, e)) {
        free(csv);
        return -1;
    }
    rep->n_rows = db.n;
    uint64_t hash = input_hash(o, &db, csv, csv_len);
    free(csv);

    int reuse = reuse_existing(out_path, o, hash, db.n, rep, e);
    if (reuse != 0) { /* reused (1) or refused (-1) */
        rep->seconds = pe_now() - t0;
        pe_ptbxl_free(&db);
        return reuse < 0 ? -1 : 0;
    }

    pe_iir filt, *f = NULL;
    if (o->filter_order > 0) {
        if (pe_butter_highpass(o->filter_order, o->cutoff_hz, PE_SAMPLING_HZ, &filt, e)) {
            pe_ptbxl_free(&db);
            return -1;
        }
        f = &filt;
    }
    size_t rec = (size_t)PE_NUM_LEADS * PE_NUM_SAMPLES;
    float *signals = malloc((size_t)(db.n ? db.n : 1) * rec * sizeof(float));
    char **reasons = calloc((size_t)db.n + 1, sizeof(char *));
    int *keep = malloc(((size_t)db.n + 1) * sizeof(int));
    if (!signals || !reasons || !keep) {
        free(signals), free(reasons), free(keep);
        pe_ptbxl_free(&db);
        return pe_fail(e, "out of memory for %d records", db.n);
    }
    int n = load_records(o, f, &db, signals, reasons, keep, rep);
    free(reasons);

    pe_cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PE_CACHE_MAGIC, 8);
    h.version = PE_CACHE_VERSION;
    h.n_records = (uint32_t)n;
    h.n_leads = PE_NUM_LEADS;
    h.n_samples = PE_NUM_SAMPLES;
    h.n_classes = PE_NUM_CLASSES;
    h.filter_order = (uint32_t)o->filter_order;
    h.cutoff_hz = o->cutoff_hz;
    h.fs = PE_SAMPLING_HZ;
    h.input_hash = hash;
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        snprintf(h.class_names[c], sizeof h.class_names[c], "%s", pe_class_names[c]);
    for (int l = 0; l < PE_NUM_LEADS; l++) h.mean[l] = 0.0f, h.std[l] = 1.0f;

    int rc = 0;
    long *train = malloc(((size_t)n + 1) * sizeof(long));
    long n_train = 0;
    for (int j = 0; train && j < n; j++)
        if (pe_split_of_fold(db.rows[keep[j]].strat_fold) == PE_SPLIT_TRAIN) train[n_train++] = j;
    if (!train) rc = pe_fail(e, "out of memory");
    else if (n == 0) rc = pe_fail(e, "%s: no record could be read", o->ptbxl_root);
    else if (o->standardize && n_train == 0)
        rc = pe_fail(e, "%s: no training record (folds 1-8) to fit the standardization on",
                     o->ptbxl_root);
    if (rc == 0 && o->standardize) {
        pe_standardize_fit_rows(signals, train, n_train, PE_NUM_LEADS, PE_NUM_SAMPLES, h.mean, h.std);
        pe_standardize_apply(signals, n, PE_NUM_LEADS, PE_NUM_SAMPLES, h.mean, h.std);
        h.standardized = 1;
    }
    free(train);
    if (rc == 0) rc = write_cache(out_path, &h, &db, keep, signals, e);
    rep->n_ok = n;
    rep->seconds = pe_now() - t0;
    free(signals);
    free(keep);
    pe_ptbxl_free(&db);
    return rc;
}
