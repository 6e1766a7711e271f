/* Butterworth high-pass design and zero-phase filtering equal to
 * scipy.signal.butter(order, cutoff, 'highpass', fs=fs) + scipy.signal.filtfilt
 * with its defaults (odd extension, padlen = 3*max(len(a), len(b)), steady-state
 * initial conditions). Computation in double. */
#ifndef PE_DATA_FILTER_H
#define PE_DATA_FILTER_H

#include "protoecg.h"

#define PE_FILTER_MAX_ORDER 8

typedef struct {
    int order;
    double b[PE_FILTER_MAX_ORDER + 1];
    double a[PE_FILTER_MAX_ORDER + 1]; /* a[0] = 1 */
} pe_iir;

int pe_butter_highpass(int order, double cutoff_hz, double fs, pe_iir *f, pe_error *e);

/* y = filtfilt(b, a, x) over n samples (x and y may alias). Fails if n <= padlen. */
int pe_filtfilt(const pe_iir *f, const float *x, float *y, int n, pe_error *e);

#endif
