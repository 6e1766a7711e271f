/* Butterworth high-pass design (scipy.signal.butter) and zero-phase filtering
 * (scipy.signal.filtfilt with its defaults), in double.
 *
 * Design follows scipy step by step so the coefficients agree to rounding:
 * analog prototype poles p_k = -exp(i*pi*m/(2N)), m = -N+1, -N+3, ..., N-1;
 * prewarp wo = 4*tan(pi*Wn/2) with Wn = 2*cutoff/fs; low-pass -> high-pass
 * p -> wo/p (N zeros at 0, gain 1/prod(-p)); bilinear transform with fs = 2
 * (z -> (4+z)/(4-z)); zpk -> tf by repeated convolution. Complex arithmetic uses
 * numpy's formulas (Smith-style division) to stay close to scipy's rounding. */
#include "data/filter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* ---- complex arithmetic as numpy does it ---- */

typedef struct {
    double re, im;
} cplx;

static cplx c_mul(cplx a, cplx b) {
    return (cplx){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}

/* numpy's CDOUBLE_divide. */
static cplx c_div(cplx a, cplx b) {
    double br = fabs(b.re), bi = fabs(b.im);
    if (br >= bi) {
        double rat = b.im / b.re;
        double scl = 1.0 / (b.re + b.im * rat);
        return (cplx){(a.re + a.im * rat) * scl, (a.im - a.re * rat) * scl};
    }
    double rat = b.re / b.im;
    double scl = 1.0 / (b.im + b.re * rat);
    return (cplx){(a.re * rat + a.im) * scl, (a.im * rat - a.re) * scl};
}

/* Designs the filter; see the file comment for the steps. */
int pe_butter_highpass(int order, double cutoff_hz, double fs, pe_iir *f, pe_error *e) {
    if (order < 1 || order > PE_FILTER_MAX_ORDER)
        return pe_fail(e, "butter: order %d out of range 1..%d", order, PE_FILTER_MAX_ORDER);
    if (!(fs > 0) || !isfinite(fs))
        return pe_fail(e, "butter: sampling rate %g Hz must be positive", fs);
    if (!(cutoff_hz > 0) || !(cutoff_hz < fs / 2))
        return pe_fail(e, "butter: cutoff %g Hz must be in (0, fs/2 = %g) Hz", cutoff_hz,
                       fs / 2);
    const int N = order;
    double Wn = 2 * cutoff_hz / fs;
    double wo = 4.0 * tan(M_PI * Wn / 2.0);

    cplx p[PE_FILTER_MAX_ORDER];
    for (int k = 0; k < N; k++) { /* buttap: p = -exp(1j*pi*m/(2N)) */
        int m = -N + 1 + 2 * k;
        double th = (M_PI * m) * (1.0 / (2 * N));
        p[k] = (cplx){-cos(th), -sin(th)};
    }
    /* lp2hp_zpk: k_hp = real(1 / prod(-p)), p_hp = wo / p */
    cplx prod = {1, 0};
    for (int k = 0; k < N; k++) prod = c_mul(prod, (cplx){-p[k].re, -p[k].im});
    double k_hp = c_div((cplx){1, 0}, prod).re;
    for (int k = 0; k < N; k++) p[k] = c_div((cplx){wo, 0}, p[k]);

    /* bilinear_zpk with fs = 2: p_z = (4 + p)/(4 - p), k_z = k * real(4^N / prod(4 - p)) */
    const double fs2 = 4.0;
    prod = (cplx){1, 0};
    for (int k = 0; k < N; k++) prod = c_mul(prod, (cplx){fs2 - p[k].re, -p[k].im});
    double z4 = 1;
    for (int k = 0; k < N; k++) z4 *= fs2;
    double k_z = k_hp * c_div((cplx){z4, 0}, prod).re;
    for (int k = 0; k < N; k++)
        p[k] = c_div((cplx){fs2 + p[k].re, p[k].im}, (cplx){fs2 - p[k].re, -p[k].im});

    /* zpk2tf: b = k * poly(ones(N)), a = real(poly(p_z)) */
    double bin[PE_FILTER_MAX_ORDER + 1] = {1};
    for (int k = 0; k < N; k++)
        for (int j = k + 1; j >= 1; j--) bin[j] = bin[j] - bin[j - 1];
    cplx a[PE_FILTER_MAX_ORDER + 1] = {{1, 0}};
    for (int k = 0; k < N; k++) { /* a = convolve(a, [1, -p_k]) */
        cplx mz = {-p[k].re, -p[k].im};
        a[k + 1] = c_mul(a[k], mz);
        for (int j = k; j >= 1; j--) {
            cplx t = c_mul(a[j - 1], mz);
            a[j] = (cplx){a[j].re + t.re, a[j].im + t.im};
        }
    }
    memset(f, 0, sizeof *f);
    f->order = N;
    for (int j = 0; j <= N; j++) {
        f->b[j] = k_z * bin[j];
        f->a[j] = a[j].re;
    }
    return 0;
}

static int check_iir(const pe_iir *f, pe_error *e) {
    if (!f || f->order < 1 || f->order > PE_FILTER_MAX_ORDER)
        return pe_fail(e, "filter: order %d out of range 1..%d", f ? f->order : 0,
                       PE_FILTER_MAX_ORDER);
    if (f->a[0] != 1.0) return pe_fail(e, "filter: a[0] = %g, must be 1", f->a[0]);
    return 0;
}

/* ---- double-double arithmetic (hi + lo, about 32 significant digits) ---- */

typedef struct {
    double hi, lo;
} dd;

static dd two_sum(double a, double b) {
    double s = a + b, bb = s - a;
    return (dd){s, (a - (s - bb)) + (b - bb)};
}

static dd quick_two_sum(double a, double b) {
    double s = a + b;
    return (dd){s, b - (s - a)};
}

static dd dd_add(dd a, dd b) {
    dd s = two_sum(a.hi, b.hi), t = two_sum(a.lo, b.lo);
    s.lo += t.hi;
    s = quick_two_sum(s.hi, s.lo);
    s.lo += t.lo;
    return quick_two_sum(s.hi, s.lo);
}

static dd dd_neg(dd a) { return (dd){-a.hi, -a.lo}; }

static dd dd_mul(dd a, dd b) {
    double p = a.hi * b.hi, e = fma(a.hi, b.hi, -p);
    e += a.hi * b.lo + a.lo * b.hi;
    return quick_two_sum(p, e);
}

static dd dd_div(dd a, dd b) {
    double q1 = a.hi / b.hi;
    dd r = dd_add(a, dd_neg(dd_mul((dd){q1, 0}, b)));
    double q2 = r.hi / b.hi;
    r = dd_add(r, dd_neg(dd_mul((dd){q2, 0}, b)));
    double q3 = r.hi / b.hi;
    return dd_add(quick_two_sum(q1, q2), (dd){q3, 0});
}

/* lfilter_zi: the solution of (I - A) zi = B with A = companion(a)^T and
 * B = b[1:] - a[1:]*b[0] (what scipy solves with LAPACK), computed with the explicit
 * steady-state formulas (given in scipy's own comments)
 *   zi[0] = sum(B) / sum(a),   zi[k] = (1 + a_1 + ... + a_k) zi[0] - (B_1 + ... + B_k)
 * in double-double. The system is ill-conditioned for low cutoffs and high orders
 * (sum(a) = prod(1 - pole) is tiny), where LAPACK's answer depends on its operation
 * order; this one is the exact solution for the given coefficients to double precision.
 * For orders 1 and 2 it equals scipy's to rounding. */
int pe_lfilter_zi(const pe_iir *f, double *zi, pe_error *e) {
    if (check_iir(f, e)) return -1;
    const int K = f->order;
    dd B[PE_FILTER_MAX_ORDER], sumB = {0, 0}, suma = {1, 0};
    for (int j = 1; j <= K; j++) {
        double p = f->a[j] * f->b[0], pe = fma(f->a[j], f->b[0], -p);
        B[j - 1] = dd_add(two_sum(f->b[j], -p), (dd){-pe, 0});
        sumB = dd_add(sumB, B[j - 1]);
        suma = dd_add(suma, (dd){f->a[j], 0});
    }
    if (suma.hi == 0) return pe_fail(e, "lfilter_zi: sum(a) = 0 (filter has a pole at 1)");
    dd z0 = dd_div(sumB, suma), asum = {1, 0}, csum = {0, 0};
    zi[0] = z0.hi + z0.lo;
    for (int k = 1; k < K; k++) {
        asum = dd_add(asum, (dd){f->a[k], 0});
        csum = dd_add(csum, B[k - 1]);
        dd z = dd_add(dd_mul(asum, z0), dd_neg(csum));
        zi[k] = z.hi + z.lo;
    }
    return 0;
}

int pe_filtfilt_padlen(const pe_iir *f) { return 3 * (f->order + 1); }

size_t pe_filtfilt_work_len(const pe_iir *f, int n) {
    return (size_t)(n > 0 ? n : 0) + 2 * (size_t)pe_filtfilt_padlen(f);
}

/* One lfilter pass (transposed direct form II, scipy's operation order) over
 * v[0], v[step], ..., v[(len-1)*step] in place, starting from state z. */
static void lfilter_pass(const pe_iir *f, double *z, double *v, long len, long step) {
    const int K = f->order;
    const double *b = f->b, *a = f->a;
    if (K == 1) {
        double z0 = z[0], b0 = b[0], b1 = b[1], a1 = a[1];
        for (long t = 0; t < len; t++, v += step) {
            double x = *v, y = z0 + b0 * x;
            z0 = x * b1 - y * a1;
            *v = y;
        }
        return;
    }
    for (long t = 0; t < len; t++, v += step) {
        double x = *v, y = z[0] + b[0] * x;
        for (int i = 0; i < K - 1; i++) z[i] = z[i + 1] + x * b[i + 1] - y * a[i + 1];
        z[K - 1] = x * b[K] - y * a[K];
        *v = y;
    }
}

/* ext holds the signal at [pad, pad+n); adds the odd extension at both ends and
 * runs forward + backward passes in place. */
static void filtfilt_ext(const pe_iir *f, const double *zi, double *ext, int n, int pad) {
    const double *x = ext + pad;
    for (int i = 1; i <= pad; i++) {
        ext[pad - i] = 2 * x[0] - x[i];
        ext[pad + n - 1 + i] = 2 * x[n - 1] - x[n - 1 - i];
    }
    long len = (long)n + 2 * pad;
    double z[PE_FILTER_MAX_ORDER];
    for (int i = 0; i < f->order; i++) z[i] = zi[i] * ext[0];
    lfilter_pass(f, z, ext, len, 1);
    for (int i = 0; i < f->order; i++) z[i] = zi[i] * ext[len - 1];
    lfilter_pass(f, z, ext + len - 1, len, -1);
}

static int check_len(const pe_iir *f, int n, pe_error *e) {
    if (check_iir(f, e)) return -1;
    int pad = pe_filtfilt_padlen(f);
    if (n <= pad)
        return pe_fail(e,
                       "filtfilt: signal length %d must be greater than padlen %d "
                       "(3*max(len(a), len(b)) for order %d)",
                       n, pad, f->order);
    return 0;
}

int pe_filtfilt_f64(const pe_iir *f, const double *x, double *y, int n, double *work,
                    pe_error *e) {
    double zi[PE_FILTER_MAX_ORDER];
    if (check_len(f, n, e) || pe_lfilter_zi(f, zi, e)) return -1;
    int pad = pe_filtfilt_padlen(f);
    memmove(work + pad, x, (size_t)n * sizeof *x);
    filtfilt_ext(f, zi, work, n, pad);
    memcpy(y, work + pad, (size_t)n * sizeof *y);
    return 0;
}

/* Float in/out around the double core, given its zi (already checked). */
static void filtfilt_float(const pe_iir *f, const double *zi, const float *x, float *y, int n,
                           double *work) {
    int pad = pe_filtfilt_padlen(f);
    for (int i = 0; i < n; i++) work[pad + i] = x[i];
    filtfilt_ext(f, zi, work, n, pad);
    for (int i = 0; i < n; i++) y[i] = (float)work[pad + i];
}

int pe_filtfilt_work(const pe_iir *f, const float *x, float *y, int n, double *work,
                     pe_error *e) {
    double zi[PE_FILTER_MAX_ORDER];
    if (check_len(f, n, e) || pe_lfilter_zi(f, zi, e)) return -1;
    filtfilt_float(f, zi, x, y, n, work);
    return 0;
}

int pe_filtfilt(const pe_iir *f, const float *x, float *y, int n, pe_error *e) {
    if (check_len(f, n, e)) return -1;
    double *work = malloc(pe_filtfilt_work_len(f, n) * sizeof *work);
    if (!work) return pe_fail(e, "filtfilt: out of memory for %d samples", n);
    int rc = pe_filtfilt_work(f, x, y, n, work, e);
    free(work);
    return rc;
}

/* ---- many rows at once: LANES signals interleaved (work[t*LANES + g]) so the
 * recursions of different rows run side by side in SIMD registers. Every lane does
 * exactly the operations of lfilter_pass, so results equal the one-row path bit for
 * bit. ---- */

#define LANES 8

/* One lfilter pass over `len` interleaved samples starting at v, stepping by
 * `step` samples (+1 forward, -1 backward), from state z (order, LANES). */
static void lfilter_pass_lanes(const pe_iir *f, double z[][LANES], double *v, long len,
                               long step) {
    const int K = f->order;
    const double *b = f->b, *a = f->a;
    const long vs = step * LANES;
    if (K == 1) {
        const double b0 = b[0], b1 = b[1], a1 = a[1];
        double z0[LANES];
        for (int g = 0; g < LANES; g++) z0[g] = z[0][g];
        for (long t = 0; t < len; t++, v += vs) {
            for (int g = 0; g < LANES; g++) {
                double x = v[g], y = z0[g] + b0 * x;
                z0[g] = x * b1 - y * a1;
                v[g] = y;
            }
        }
        return;
    }
    for (long t = 0; t < len; t++, v += vs) {
        double x[LANES], y[LANES];
        for (int g = 0; g < LANES; g++) {
            x[g] = v[g];
            y[g] = z[0][g] + b[0] * x[g];
        }
        for (int i = 0; i < K - 1; i++)
            for (int g = 0; g < LANES; g++)
                z[i][g] = z[i + 1][g] + x[g] * b[i + 1] - y[g] * a[i + 1];
        for (int g = 0; g < LANES; g++) {
            z[K - 1][g] = x[g] * b[K] - y[g] * a[K];
            v[g] = y[g];
        }
    }
}

/* Rows x[g*n ..] for g < used (at most LANES) -> y, through work
 * ((n + 2*pad) * LANES doubles). Unused lanes carry zeros. */
static void filtfilt_lanes(const pe_iir *f, const double *zi, const float *x, float *y, int n,
                           int used, double *work) {
    const int pad = pe_filtfilt_padlen(f);
    const long len = (long)n + 2 * pad;
    double *w = work + (long)pad * LANES;
    for (int i = 0; i < n; i++) {
        double *wi = w + (long)i * LANES;
        for (int g = 0; g < used; g++) wi[g] = x[(long)g * n + i];
        for (int g = used; g < LANES; g++) wi[g] = 0.0;
    }
    for (int i = 1; i <= pad; i++)
        for (int g = 0; g < LANES; g++) {
            work[(long)(pad - i) * LANES + g] = 2 * w[g] - w[(long)i * LANES + g];
            work[(long)(pad + n - 1 + i) * LANES + g] =
                2 * w[(long)(n - 1) * LANES + g] - w[(long)(n - 1 - i) * LANES + g];
        }
    double z[PE_FILTER_MAX_ORDER][LANES];
    for (int k = 0; k < f->order; k++)
        for (int g = 0; g < LANES; g++) z[k][g] = zi[k] * work[g];
    lfilter_pass_lanes(f, z, work, len, 1);
    double *last = work + (len - 1) * LANES;
    for (int k = 0; k < f->order; k++)
        for (int g = 0; g < LANES; g++) z[k][g] = zi[k] * last[g];
    lfilter_pass_lanes(f, z, last, len, -1);
    for (int i = 0; i < n; i++) {
        const double *wi = w + (long)i * LANES;
        for (int g = 0; g < used; g++) y[(long)g * n + i] = (float)wi[g];
    }
}

int pe_filtfilt_rows(const pe_iir *f, const float *x, float *y, long rows, int n, pe_error *e) {
    double zi[PE_FILTER_MAX_ORDER];
    if (check_len(f, n, e) || pe_lfilter_zi(f, zi, e)) return -1;
    if (rows < 0) return pe_fail(e, "filtfilt: negative row count %ld", rows);
    const size_t wlen = pe_filtfilt_work_len(f, n) * LANES;
    const long groups = (rows + LANES - 1) / LANES;
    int failed = 0;
#pragma omp parallel
    {
        double *work = malloc(wlen * sizeof *work);
        if (!work) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (long gi = 0; gi < groups; gi++) {
            long r0 = gi * LANES;
            int used = rows - r0 < LANES ? (int)(rows - r0) : LANES;
            if (work) filtfilt_lanes(f, zi, x + r0 * n, y + r0 * n, n, used, work);
        }
        free(work);
    }
    if (failed) return pe_fail(e, "filtfilt: out of memory for %d-sample work buffers", n);
    return 0;
}
