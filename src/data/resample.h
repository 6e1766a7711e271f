/* Bringing a record outside the dataset to the model's layout:
 *  - polyphase resampling equal to scipy.signal.resample_poly(x, up, down) with its
 *    defaults (window=('kaiser', 5.0), padtype='constant' with zeros), computed in double;
 *  - mapping a record's lead names to the PTB-XL lead order I II III aVR aVL aVF V1-V6. */
#ifndef PE_DATA_RESAMPLE_H
#define PE_DATA_RESAMPLE_H

#include "protoecg.h"

/* scipy.signal.firwin(numtaps, cutoff, window=('kaiser', beta)) with its defaults
 * (low-pass, scale=True, cutoff relative to Nyquist, 0 < cutoff < 1): the windowed
 * sinc h[i] = cutoff*sinc(cutoff*(i - (numtaps-1)/2)) * kaiser[i], divided by sum(h) so
 * the DC gain is 1. h holds numtaps values. */
void pe_firwin_kaiser(int numtaps, double cutoff, double beta, double *h);

/* Output length of pe_resample_poly: ceil(n*up/down), or -1 if up/down < 1, n < 1 or
 * the result would overflow. */
long pe_resample_poly_len(long n, int up, int down);

/* y = scipy.signal.resample_poly(x, up, down) for n samples of x: after reducing up/down
 * by their gcd, the filter firwin(2*half_len+1, 1/max_rate, ('kaiser', 5.0)) * up with
 * max_rate = max(up, down), half_len = 10*max_rate, is applied like upfirdn (zero
 * padding) and the output is aligned on the filter center. y must hold
 * pe_resample_poly_len(n, up, down) samples and not overlap x; *ny receives that length. */
int pe_resample_poly(const float *x, long n, int up, int down, float *y, long *ny, pe_error *e);

/* map[k] = index in names[0..n) of the k-th PTB-XL lead (I II III aVR aVL aVF V1-V6).
 * Names are compared case-insensitively, ignoring surrounding blanks ("AVR" = "aVR" =
 * "avr"); names that are not one of the 12 are ignored. Fails, naming them, when leads
 * are missing or appear more than once (map is then all -1). */
int pe_lead_order(const char *const *names, int n, int map[PE_NUM_LEADS], pe_error *e);

#endif
