/* Polyphase resampling (scipy.signal.resample_poly) and lead-name mapping. */
#include "data/resample.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

/* Modified Bessel function of the first kind, order 0, by its power series
 * I0(x) = sum_k ((x/2)^k / k!)^2 (all terms positive: no cancellation). */
static double bessel_i0(double x) {
    double q = 0.25 * x * x, term = 1.0, sum = 1.0;
    for (int k = 1; k < 500; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

/* sin(pi x) / (pi x), 1 at 0 (numpy.sinc). */
static double sinc(double x) {
    if (x == 0.0) return 1.0;
    double px = M_PI * x;
    return sin(px) / px;
}

void pe_firwin_kaiser(int numtaps, double cutoff, double beta, double *h) {
    double alpha = 0.5 * (numtaps - 1), i0_beta = bessel_i0(beta), sum = 0.0;
    for (int i = 0; i < numtaps; i++) {
        double m = i - alpha;
        /* symmetric Kaiser window (scipy.signal.windows.kaiser(numtaps, beta, sym=True)) */
        double w = 1.0;
        if (numtaps > 1) {
            double r = m / alpha;
            w = bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) / i0_beta;
        }
        h[i] = cutoff * sinc(cutoff * m) * w;
        sum += h[i];
    }
    for (int i = 0; i < numtaps; i++) h[i] /= sum; /* scale=True: unit gain at DC */
}

static long gcd_long(long a, long b) {
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

long pe_resample_poly_len(long n, int up, int down) {
    if (up < 1 || down < 1 || n < 1 || n > LONG_MAX / up) return -1;
    long t = n * up;
    return t / down + (t % down != 0);
}

/* floor(a / b) for b > 0 */
static long floor_div(long a, long b) {
    long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* scipy's resample_poly: with hp = [zeros(n_pre_pad), h] (the post padding only
 * guarantees that upfirdn's output is long enough; it adds zeros), upfirdn computes
 * the full convolution of the zero-stuffed x (x[t] at position t*up) with hp, taken
 * every `down` samples; the output keeps indices n_pre_remove .. n_pre_remove+n_out-1:
 *   y[o] = sum_t x[t] * hp[(o + n_pre_remove)*down - t*up]. */
int pe_resample_poly(const float *x, long n, int up, int down, float *y, long *ny, pe_error *e) {
    if (up < 1 || down < 1)
        return pe_fail(e, "resample_poly: up (%d) and down (%d) must be >= 1", up, down);
    long n_out = pe_resample_poly_len(n, up, down);
    if (n_out < 0) return pe_fail(e, "resample_poly: invalid signal length %ld", n);
    long g = gcd_long(up, down);
    up /= (int)g;
    down /= (int)g;
    if (ny) *ny = n_out;
    if (up == 1 && down == 1) { /* scipy returns a copy */
        memmove(y, x, (size_t)n * sizeof *y);
        return 0;
    }

    int max_rate = up > down ? up : down;
    long half_len = 10L * max_rate;
    long L = 2 * half_len + 1; /* filter taps */
    double *h = malloc((size_t)L * sizeof *h);
    if (!h) return pe_fail(e, "resample_poly: out of memory for %ld filter taps", L);
    pe_firwin_kaiser((int)L, 1.0 / max_rate, 5.0, h);
    for (long i = 0; i < L; i++) h[i] *= up;

    long n_pre_pad = down - half_len % down;
    long n_pre_remove = (half_len + n_pre_pad) / down;
    /* y[o] = sum_t x[t] * h[j - t*up - n_pre_pad] with j = (o + n_pre_remove)*down,
     * over 0 <= t < n and 0 <= j - t*up - n_pre_pad < L. */
    for (long o = 0; o < n_out; o++) {
        long j = (o + n_pre_remove) * down - n_pre_pad;
        long t_lo = floor_div(j - L, up) + 1; /* smallest t with j - t*up < L */
        long t_hi = floor_div(j, up);         /* largest t with j - t*up >= 0 */
        if (t_lo < 0) t_lo = 0;
        if (t_hi > n - 1) t_hi = n - 1;
        double acc = 0.0;
        for (long t = t_lo; t <= t_hi; t++) acc += (double)x[t] * h[j - t * up];
        y[o] = (float)acc;
    }
    free(h);
    return 0;
}

static const char *const std_leads[PE_NUM_LEADS] = {"I",   "II", "III", "aVR", "aVL", "aVF",
                                                    "V1",  "V2", "V3",  "V4",  "V5",  "V6"};

/* Case-insensitive comparison of name (surrounding blanks ignored) with lead. */
static int lead_matches(const char *name, const char *lead) {
    while (isspace((unsigned char)*name)) name++;
    size_t len = strlen(name);
    while (len > 0 && isspace((unsigned char)name[len - 1])) len--;
    return len == strlen(lead) && strncasecmp(name, lead, len) == 0;
}

/* Appends s (with a ", " separator when needed) to buf of size cap, truncating. */
static void append_name(char *buf, size_t cap, const char *s) {
    size_t used = strlen(buf);
    if (used + 1 >= cap) return;
    snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", s);
}

int pe_lead_order(const char *const *names, int n, int map[PE_NUM_LEADS], pe_error *e) {
    char missing[128] = "", dup[128] = "", have[512] = "";
    for (int k = 0; k < PE_NUM_LEADS; k++) {
        map[k] = -1;
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (names[i] && lead_matches(names[i], std_leads[k])) {
                if (count++ == 0) map[k] = i;
            }
        }
        if (count == 0) append_name(missing, sizeof missing, std_leads[k]);
        if (count > 1) append_name(dup, sizeof dup, std_leads[k]);
    }
    if (!missing[0] && !dup[0]) return 0;
    for (int i = 0; i < n; i++) append_name(have, sizeof have, names[i] ? names[i] : "(null)");
    for (int k = 0; k < PE_NUM_LEADS; k++) map[k] = -1;
    if (missing[0] && dup[0])
        return pe_fail(e, "lead(s) missing: %s; lead(s) given more than once: %s "
                          "(record leads: %s)", missing, dup, have);
    if (missing[0])
        return pe_fail(e, "lead(s) missing: %s (record leads: %s; need I II III aVR aVL aVF "
                          "V1-V6)", missing, have);
    return pe_fail(e, "lead(s) given more than once: %s (record leads: %s)", dup, have);
}
