/* Butterworth high-pass design and zero-phase filtering equal to
 * scipy.signal.butter(order, cutoff, 'highpass', fs=fs) + scipy.signal.filtfilt
 * with its defaults (odd extension, padlen = 3*max(len(a), len(b)), steady-state
 * initial conditions). Computation in double. */
#ifndef PE_DATA_FILTER_H
#define PE_DATA_FILTER_H

#include <stddef.h>

#include "protoecg.h"

#define PE_FILTER_MAX_ORDER 8

typedef struct {
    int order;
    double b[PE_FILTER_MAX_ORDER + 1];
    double a[PE_FILTER_MAX_ORDER + 1]; /* a[0] = 1 */
} pe_iir;

/* b, a = scipy.signal.butter(order, cutoff_hz, btype='highpass', fs=fs); order 1..8,
 * 0 < cutoff_hz < fs/2. */
int pe_butter_highpass(int order, double cutoff_hz, double fs, pe_iir *f, pe_error *e);

/* zi = scipy.signal.lfilter_zi(b, a): the `order` initial states of the transposed
 * direct form II that make the step response steady. Computed in double-double, so it
 * is the exact solution for the given b, a to double precision; scipy's LAPACK solve
 * agrees to rounding where the system is well conditioned (orders 1-2 at 0.5 Hz,
 * fs 100) and loses digits at high orders (order 8: ~1e-2 relative). */
int pe_lfilter_zi(const pe_iir *f, double *zi, pe_error *e);

/* padlen of filtfilt's default: 3 * (order + 1). */
int pe_filtfilt_padlen(const pe_iir *f);

/* y = filtfilt(b, a, x) over n samples (x and y may alias). Fails if n <= padlen. */
int pe_filtfilt(const pe_iir *f, const float *x, float *y, int n, pe_error *e);

/* Same without allocation: work holds pe_filtfilt_work_len(f, n) doubles. */
size_t pe_filtfilt_work_len(const pe_iir *f, int n);
int pe_filtfilt_work(const pe_iir *f, const float *x, float *y, int n, double *work,
                     pe_error *e);
/* Double-precision input/output (x and y may alias); work as above. */
int pe_filtfilt_f64(const pe_iir *f, const double *x, double *y, int n, double *work,
                    pe_error *e);

/* Filters `rows` contiguous signals of n samples each, x (rows, n) -> y (rows, n)
 * (x and y may alias), in parallel over rows (OpenMP). Results are identical to
 * pe_filtfilt on each row. */
int pe_filtfilt_rows(const pe_iir *f, const float *x, float *y, long rows, int n, pe_error *e);

#endif
