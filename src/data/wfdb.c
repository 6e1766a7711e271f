/* WFDB records: header (.hea) parsing and format-16 signal reading.
 *
 * Header syntax (WFDB header(5)); fields in [] are optional, but a field can only be
 * given when all the fields before it are:
 *   record line: name[/segments] [n_signals [fs[/counter_freq[(base_counter)]]
 *                [n_samples [base_time [base_date]]]]]
 *   signal line: file format[xSPF][:SKEW][+OFFSET] [gain[(baseline)][/units] [adc_res
 *                [adc_zero [initial_value [checksum [block_size [description...]]]]]]]
 *   lines whose first non-blank character is '#' are comments; blank lines are skipped.
 *
 * Format 16: each sample is a little-endian int16; the signals that share a file are
 * interleaved sample by sample (frame t = s0[t], s1[t], ...), after OFFSET bytes.
 * The value -32768 is WFDB's invalid sample (WFDB_INVALID_SAMPLE): it reads as NaN in
 * physical units, as in the WFDB library and wfdb-python; checksums and initial values
 * are over the stored values. */
#include "data/wfdb.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"
#include "util/fileio.h"

#define WFDB_INVALID (-32768) /* format 16's invalid-sample value */

/* ---- small parsing helpers ---------------------------------------------------------- */

/* Splits the next blank-separated token off *p (NUL-terminating it in place).
 * Returns NULL when the line has no more tokens. */
static char *next_token(char **p) {
    char *s = *p;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    char *t = s;
    while (*s && *s != ' ' && *s != '\t') s++;
    if (*s) *s++ = '\0';
    *p = s;
    return t;
}

/* Whole-string integer parse into [lo, hi]. Returns 0 on success. */
static int parse_long(const char *s, long lo, long hi, long *out) {
    if (!*s || *s == ' ') return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int *out) {
    long v;
    if (parse_long(s, INT_MIN, INT_MAX, &v)) return -1;
    *out = (int)v;
    return 0;
}

/* Whole-string finite floating-point parse. Returns 0 on success. */
static int parse_double(const char *s, double *out) {
    if (!*s || *s == ' ') return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Copies s into dst[n]; returns -1 if it does not fit. */
static int copy_str(char *dst, size_t n, const char *s) {
    size_t l = strlen(s);
    if (l >= n) return -1;
    memcpy(dst, s, l + 1);
    return 0;
}

/* A line is content unless it is blank or a '#' comment. */
static int is_content_line(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return *s && *s != '#';
}

/* ---- record line ---------------------------------------------------------------------- */

/* Parses the sampling-frequency token "fs[/cf[(base)]]". */
static int parse_fs(char *tok, pe_wfdb_header *h) {
    char *slash = strchr(tok, '/');
    if (slash) *slash = '\0';
    if (parse_double(tok, &h->fs) || h->fs <= 0) return -1;
    h->counter_freq = h->fs;
    if (!slash) return 0;
    char *cf = slash + 1;
    char *paren = strchr(cf, '(');
    if (paren) {
        size_t l = strlen(paren);
        if (l < 2 || paren[l - 1] != ')') return -1;
        paren[l - 1] = '\0';
        *paren = '\0';
        if (parse_double(paren + 1, &h->base_counter)) return -1;
    }
    if (parse_double(cf, &h->counter_freq) || h->counter_freq <= 0) return -1;
    return 0;
}

static int parse_record_line(char *line, int ln, const char *path, pe_wfdb_header *h,
                             pe_error *e) {
    char *p = line;
    char *tok = next_token(&p);
    if (strchr(tok, '/'))
        return pe_fail(e, "%s:%d: multi-segment record '%s' is not supported", path, ln, tok);
    if (copy_str(h->record_name, sizeof h->record_name, tok))
        return pe_fail(e, "%s:%d: record name too long", path, ln);
    h->fs = 250.0;
    h->counter_freq = 250.0;

    if (!(tok = next_token(&p)))
        return pe_fail(e, "%s:%d: record line has no number of signals", path, ln);
    long ns;
    if (parse_long(tok, 0, INT_MAX, &ns))
        return pe_fail(e, "%s:%d: invalid number of signals '%s'", path, ln, tok);
    if (ns == 0) return pe_fail(e, "%s:%d: record declares no signals", path, ln);
    h->n_signals = (int)ns;

    if (!(tok = next_token(&p))) return 0;
    if (parse_fs(tok, h))
        return pe_fail(e, "%s:%d: invalid sampling frequency '%s'", path, ln, tok);

    if (!(tok = next_token(&p))) return 0;
    if (parse_long(tok, 0, LONG_MAX, &h->n_samples))
        return pe_fail(e, "%s:%d: invalid number of samples '%s'", path, ln, tok);

    if (!(tok = next_token(&p))) return 0;
    if (copy_str(h->base_time, sizeof h->base_time, tok))
        return pe_fail(e, "%s:%d: base time too long", path, ln);
    if (!(tok = next_token(&p))) return 0;
    if (copy_str(h->base_date, sizeof h->base_date, tok))
        return pe_fail(e, "%s:%d: base date too long", path, ln);
    if ((tok = next_token(&p)))
        return pe_fail(e, "%s:%d: unexpected field '%s' on the record line", path, ln, tok);
    return 0;
}

/* ---- signal lines --------------------------------------------------------------------- */

/* Parses "format[xSPF][:SKEW][+OFFSET]". */
static int parse_format(char *tok, int ln, const char *path, pe_wfdb_signal *sg, pe_error *e) {
    const char *what = "format";
    char *q = tok;
    while (*q >= '0' && *q <= '9') q++;
    char c = *q;
    *q = '\0';
    long v;
    if (parse_long(tok, 0, INT_MAX, &v)) goto bad;
    sg->format = (int)v;
    char *rest = q + 1;
    if (c == 'x') {
        what = "samples per frame";
        q = rest;
        while (*q >= '0' && *q <= '9') q++;
        c = *q;
        *q = '\0';
        if (parse_long(rest, 0, INT_MAX, &v)) goto bad;
        sg->samples_per_frame = v ? (int)v : 1;
        rest = q + 1;
    }
    if (c == ':') {
        what = "skew";
        q = rest;
        while (*q >= '0' && *q <= '9') q++;
        c = *q;
        *q = '\0';
        if (parse_long(rest, 0, INT_MAX, &v)) goto bad;
        sg->skew = (int)v;
        rest = q + 1;
    }
    if (c == '+') {
        what = "byte offset";
        if (parse_long(rest, 0, LONG_MAX, &v)) goto bad;
        sg->byte_offset = v;
        c = '\0';
    }
    if (c != '\0') goto bad;
    if (sg->samples_per_frame != 1)
        return pe_fail(e, "%s:%d: %d samples per frame (format '%sx%d') are not supported", path,
                       ln, sg->samples_per_frame, tok, sg->samples_per_frame);
    if (sg->skew != 0)
        return pe_fail(e, "%s:%d: skew %d is not supported", path, ln, sg->skew);
    return 0;
bad:
    return pe_fail(e, "%s:%d: invalid %s in format field of signal file '%s'", path, ln, what,
                   sg->file_name);
}

/* Parses "gain[(baseline)][/units]"; sets *has_baseline. */
static int parse_gain(char *tok, int ln, const char *path, pe_wfdb_signal *sg, int *has_baseline,
                      pe_error *e) {
    char *units = strchr(tok, '/');
    if (units) {
        *units++ = '\0';
        if (!*units) return pe_fail(e, "%s:%d: empty units after '/'", path, ln);
        if (copy_str(sg->units, sizeof sg->units, units))
            return pe_fail(e, "%s:%d: units '%s' too long", path, ln, units);
    }
    char *paren = strchr(tok, '(');
    if (paren) {
        size_t l = strlen(paren);
        if (l < 2 || paren[l - 1] != ')')
            return pe_fail(e, "%s:%d: invalid baseline '%s' (expected gain(baseline))", path, ln,
                           paren);
        paren[l - 1] = '\0';
        *paren = '\0';
        if (parse_double(paren + 1, &sg->baseline))
            return pe_fail(e, "%s:%d: non-numeric baseline '%s'", path, ln, paren + 1);
        *has_baseline = 1;
    }
    if (parse_double(tok, &sg->gain))
        return pe_fail(e, "%s:%d: non-numeric gain '%s'", path, ln, tok);
    if (sg->gain == 0) sg->gain = 200.0; /* WFDB: 0 means uncalibrated, use the default */
    return 0;
}

static int parse_signal_line(char *line, int ln, int idx, const char *path,
                             const pe_wfdb_header *h, pe_wfdb_signal *sg, pe_error *e) {
    char *p = line;
    char *tok = next_token(&p);
    if (copy_str(sg->file_name, sizeof sg->file_name, tok))
        return pe_fail(e, "%s:%d: signal file name too long", path, ln);
    sg->samples_per_frame = 1;
    sg->gain = 200.0;
    snprintf(sg->units, sizeof sg->units, "mV");
    snprintf(sg->description, sizeof sg->description, "record %.100s, signal %d",
             h->record_name, idx);
    int has_baseline = 0;

    if (!(tok = next_token(&p)))
        return pe_fail(e, "%s:%d: signal line has no format field", path, ln);
    if (parse_format(tok, ln, path, sg, e)) return -1;
    /* Default ADC resolution as in the WFDB library. */
    sg->adc_resolution = (sg->format == 8 || sg->format == 80) ? 8
                         : (sg->format == 160)                 ? 16
                                                               : 12;

    if ((tok = next_token(&p))) {
        if (parse_gain(tok, ln, path, sg, &has_baseline, e)) return -1;
    }
    if (tok && (tok = next_token(&p))) {
        int r;
        if (parse_int(tok, &r) || r < 0)
            return pe_fail(e, "%s:%d: invalid ADC resolution '%s'", path, ln, tok);
        if (r) sg->adc_resolution = r;
    }
    if (tok && (tok = next_token(&p))) {
        if (parse_int(tok, &sg->adc_zero))
            return pe_fail(e, "%s:%d: non-numeric ADC zero '%s'", path, ln, tok);
    }
    sg->initial_value = sg->adc_zero;
    if (tok && (tok = next_token(&p))) {
        if (parse_int(tok, &sg->initial_value))
            return pe_fail(e, "%s:%d: non-numeric initial value '%s'", path, ln, tok);
        sg->has_initial_value = 1;
    }
    if (tok && (tok = next_token(&p))) {
        if (parse_int(tok, &sg->checksum))
            return pe_fail(e, "%s:%d: non-numeric checksum '%s'", path, ln, tok);
        sg->has_checksum = 1;
    }
    if (tok && (tok = next_token(&p))) {
        if (parse_int(tok, &sg->block_size) || sg->block_size < 0)
            return pe_fail(e, "%s:%d: invalid block size '%s'", path, ln, tok);
    }
    if (tok) {
        /* The description is the rest of the line, blanks included. */
        while (*p == ' ' || *p == '\t') p++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t')) p[--l] = '\0';
        if (l) {
            if (copy_str(sg->description, sizeof sg->description, p))
                return pe_fail(e, "%s:%d: description too long (max %zu bytes)", path, ln,
                               sizeof sg->description - 1);
        }
    }
    if (!has_baseline) sg->baseline = sg->adc_zero;
    return 0;
}

/* ---- header ---------------------------------------------------------------------------- */

void pe_wfdb_header_free(pe_wfdb_header *h) {
    if (!h) return;
    free(h->signals);
    memset(h, 0, sizeof *h);
}

/* Advances *p to the next line, NUL-terminating the current one (LF or CRLF). */
static char *next_line(char **p) {
    char *s = *p;
    if (!*s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r') s[l - 1] = '\0';
    return s;
}

int pe_wfdb_parse_header(const char *text, size_t len, const char *path, pe_wfdb_header *h,
                         pe_error *e) {
    memset(h, 0, sizeof *h);
    if (memchr(text, '\0', len)) return pe_fail(e, "%s: header contains a NUL byte", path);
    size_t max_lines = 1;
    for (size_t i = 0; i < len; i++) max_lines += text[i] == '\n';
    char *buf = malloc(len + 1);
    char **lines = malloc(max_lines * sizeof *lines);
    int *line_no = malloc(max_lines * sizeof *line_no);
    int rc = -1;
    if (!buf || !lines || !line_no) {
        pe_fail(e, "%s: out of memory", path);
        goto done;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';

    /* Collect the content lines first, so that the signal count can be checked before
     * anything is allocated. */
    size_t n_content = 0;
    char *p = buf, *line;
    for (int ln = 1; (line = next_line(&p)); ln++) {
        if (!is_content_line(line)) continue;
        if (ln == INT_MAX) {
            pe_fail(e, "%s: too many lines", path);
            goto done;
        }
        lines[n_content] = line;
        line_no[n_content++] = ln;
    }
    if (n_content == 0) {
        pe_fail(e, "%s: empty header (no record line)", path);
        goto done;
    }
    if (parse_record_line(lines[0], line_no[0], path, h, e)) goto done;
    if (n_content - 1 < (size_t)h->n_signals) {
        pe_fail(e, "%s: header declares %d signals but has %zu signal lines", path, h->n_signals,
                n_content - 1);
        goto done;
    }
    if (n_content - 1 > (size_t)h->n_signals) {
        pe_fail(e, "%s:%d: unexpected line after the %d declared signals", path,
                line_no[h->n_signals + 1], h->n_signals);
        goto done;
    }
    h->signals = calloc((size_t)h->n_signals, sizeof *h->signals);
    if (!h->signals) {
        pe_fail(e, "%s: out of memory", path);
        goto done;
    }
    for (int s = 0; s < h->n_signals; s++)
        if (parse_signal_line(lines[s + 1], line_no[s + 1], s, path, h, &h->signals[s], e))
            goto done;
    rc = 0;
done:
    free(buf);
    free(lines);
    free(line_no);
    if (rc) pe_wfdb_header_free(h);
    return rc;
}

/* ---- signal reading -------------------------------------------------------------------- */

/* The end of the group of signals that share signal s0's file (pe_wfdb_read checks that
 * such signals are adjacent). */
static int group_end(const pe_wfdb_header *h, int s0) {
    int s1 = s0 + 1;
    while (s1 < h->n_signals && !strcmp(h->signals[s1].file_name, h->signals[s0].file_name)) s1++;
    return s1;
}

/* Fails unless a signal file of `have` bytes holds the byte offset plus n_samples frames
 * of the signals [s0, s1) that share it. */
static int check_size(const char *dat_path, unsigned long long have, const pe_wfdb_header *h,
                      int s0, int s1, pe_error *e) {
    size_t ng = (size_t)(s1 - s0);
    unsigned long long want = (unsigned long long)h->signals[s0].byte_offset +
                              (unsigned long long)h->n_samples * ng * 2;
    if (have < want)
        return pe_fail(e,
                       "%s: truncated signal file: %llu bytes, need %llu (offset %ld + %ld samples"
                       " x %zu signals x 2 bytes)",
                       dat_path, have, want, h->signals[s0].byte_offset, h->n_samples, ng);
    return 0;
}

/* Reads the n_samples frames of one signal file shared by signals [s0, s1) and writes the
 * physical values into out (lead-major, n_signals x n_samples). Verifies checksums and
 * initial values. */
static int read_group(const char *dat_path, const pe_wfdb_header *h, int s0, int s1, float *out,
                      pe_error *e) {
    const pe_wfdb_signal *first = &h->signals[s0];
    size_t ng = (size_t)(s1 - s0), n = (size_t)h->n_samples;
    size_t need = n * ng * 2; /* overflow checked by the caller */
    FILE *f = fopen(dat_path, "rb");
    if (!f) return pe_fail(e, "%s: cannot open signal file: %s", dat_path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return pe_fail(e, "%s: cannot stat: %s", dat_path, strerror(errno));
    }
    if (check_size(dat_path, (unsigned long long)st.st_size, h, s0, s1, e)) {
        fclose(f);
        return -1;
    }
    unsigned char *raw = malloc(need ? need : 1);
    if (!raw) {
        fclose(f);
        return pe_fail(e, "%s: out of memory", dat_path);
    }
    if (fseek(f, first->byte_offset, SEEK_SET) != 0 || fread(raw, 1, need, f) != need) {
        free(raw);
        fclose(f);
        return pe_fail(e, "%s: read error", dat_path);
    }
    fclose(f);

    int rc = 0;
    for (size_t k = 0; k < ng && rc == 0; k++) {
        const pe_wfdb_signal *sg = &h->signals[s0 + (int)k];
        float *dst = out + (size_t)(s0 + (int)k) * n;
        uint16_t sum = 0;
        for (size_t t = 0; t < n; t++) {
            const unsigned char *b = raw + (t * ng + k) * 2;
            int16_t v = (int16_t)(uint16_t)(b[0] | (b[1] << 8));
            sum = (uint16_t)(sum + (uint16_t)v);
            dst[t] = v == WFDB_INVALID ? NAN : (float)(((double)v - sg->baseline) / sg->gain);
        }
        if (sg->has_initial_value && n > 0) {
            const unsigned char *b = raw + k * 2;
            int v0 = (int16_t)(uint16_t)(b[0] | (b[1] << 8));
            if (v0 != sg->initial_value)
                rc = pe_fail(e, "%s: lead %d (%s): first sample %d differs from the header's "
                             "initial value %d", dat_path, s0 + (int)k, sg->description, v0,
                             sg->initial_value);
        }
        /* WFDB compares the checksums as 16-bit numbers. */
        if (rc == 0 && sg->has_checksum && (int16_t)sum != (int16_t)(uint16_t)sg->checksum)
            rc = pe_fail(e, "%s: lead %d (%s): checksum mismatch: header says %d, the samples "
                         "sum to %d (mod 65536)", dat_path, s0 + (int)k, sg->description,
                         sg->checksum, (int)sum);
    }
    free(raw);
    return rc;
}

/* Builds "<dir of record_path>/<file_name>" into out. */
static int signal_path(char *out, size_t n, const char *record_path, const char *file_name) {
    if (file_name[0] == '/') return snprintf(out, n, "%s", file_name) >= (int)n ? -1 : 0;
    const char *slash = strrchr(record_path, '/');
    if (!slash) return snprintf(out, n, "%s", file_name) >= (int)n ? -1 : 0;
    int w = snprintf(out, n, "%.*s/%s", (int)(slash - record_path), record_path, file_name);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}

int pe_wfdb_read(const char *record_path, pe_wfdb_header *h, float **signal, pe_error *e) {
    memset(h, 0, sizeof *h);
    *signal = NULL;
    char hea[4096], dat[4096];
    if (snprintf(hea, sizeof hea, "%s.hea", record_path) >= (int)sizeof hea)
        return pe_fail(e, "%s: path too long", record_path);
    size_t len;
    char *text = pe_read_file(hea, &len, e);
    if (!text) return -1;
    int rc = pe_wfdb_parse_header(text, len, hea, h, e);
    free(text);
    if (rc) return -1;

    /* Check formats and find the groups of adjacent signals sharing a file. */
    for (int s = 0; s < h->n_signals; s++) {
        const pe_wfdb_signal *sg = &h->signals[s];
        if (sg->format != 16) {
            pe_fail(e, "%s: signal %d (%s) in '%s': format %d is not supported (only format 16)",
                    hea, s, sg->description, sg->file_name, sg->format);
            goto fail;
        }
        if (s > 0 && strcmp(sg->file_name, h->signals[s - 1].file_name) == 0) {
            if (sg->byte_offset != h->signals[s - 1].byte_offset) {
                pe_fail(e, "%s: signals %d and %d share '%s' but have different byte offsets",
                        hea, s - 1, s, sg->file_name);
                goto fail;
            }
            continue;
        }
        for (int r = 0; r < s; r++) {
            if (strcmp(sg->file_name, h->signals[r].file_name) == 0) {
                pe_fail(e, "%s: signal file '%s' is used by non-adjacent signals %d and %d", hea,
                        sg->file_name, r, s);
                goto fail;
            }
        }
    }

    /* n_samples 0 means "unknown": infer it from the size of the first signal file. */
    if (h->n_samples == 0) {
        int ng = 1;
        while (ng < h->n_signals && !strcmp(h->signals[ng].file_name, h->signals[0].file_name))
            ng++;
        if (signal_path(dat, sizeof dat, record_path, h->signals[0].file_name)) {
            pe_fail(e, "%s: signal file path too long", hea);
            goto fail;
        }
        struct stat st;
        if (stat(dat, &st) != 0) {
            pe_fail(e, "%s: cannot open signal file: %s", dat, strerror(errno));
            goto fail;
        }
        long long body = (long long)st.st_size - h->signals[0].byte_offset;
        h->n_samples = body > 0 ? (long)(body / (2LL * ng)) : 0;
        if (h->n_samples == 0) {
            pe_fail(e, "%s: no samples (header gives none, file is empty)", dat);
            goto fail;
        }
    }

    size_t n = (size_t)h->n_samples, ns = (size_t)h->n_signals;
    if (n > SIZE_MAX / sizeof(float) / ns / 2) {
        pe_fail(e, "%s: record too large (%ld samples x %d signals)", hea, h->n_samples,
                h->n_signals);
        goto fail;
    }
    /* Check every file's size before allocating (the header could claim any length). */
    for (int s0 = 0, s1; s0 < h->n_signals; s0 = s1) {
        s1 = group_end(h, s0);
        struct stat st;
        if (signal_path(dat, sizeof dat, record_path, h->signals[s0].file_name)) {
            pe_fail(e, "%s: signal file path too long", hea);
            goto fail;
        }
        if (stat(dat, &st) != 0) {
            pe_fail(e, "%s: cannot open signal file: %s", dat, strerror(errno));
            goto fail;
        }
        if (check_size(dat, (unsigned long long)st.st_size, h, s0, s1, e)) goto fail;
    }
    float *out = malloc(n * ns * sizeof(float) + 1);
    if (!out) {
        pe_fail(e, "%s: out of memory for %ld samples x %d signals", hea, h->n_samples,
                h->n_signals);
        goto fail;
    }
    for (int s0 = 0, s1; s0 < h->n_signals; s0 = s1) {
        s1 = group_end(h, s0);
        signal_path(dat, sizeof dat, record_path, h->signals[s0].file_name); /* fits: above */
        if (read_group(dat, h, s0, s1, out, e)) {
            free(out);
            goto fail;
        }
    }
    *signal = out;
    return 0;
fail:
    pe_wfdb_header_free(h);
    return -1;
}
