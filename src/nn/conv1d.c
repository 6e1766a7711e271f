/* conv1d without bias, zero padding: the plain-C reference (oneDNN is the fast path).
 *
 *   in (B, Cin, Lin), w (Cout, Cin, K) -> out (B, Cout, Lout)
 *   out[b][co][l] = sum_ci sum_k w[co][ci][k] * in[b][ci][l*stride + k - pad]
 *
 * Direct loops with the output position innermost, so the innermost loop walks
 * contiguous rows (unit stride in `in` too when stride == 1) and vectorizes. */
#include "nn/nn.h"

int pe_conv1d_out_len(int Lin, int K, int stride, int pad) {
    return (Lin + 2 * pad - K) / stride + 1;
}

pe_conv1d_shape pe_conv1d_make_shape(int B, int Cin, int Cout, int Lin, int K, int stride,
                                     int pad) {
    pe_conv1d_shape s = {B, Cin, Cout, Lin, pe_conv1d_out_len(Lin, K, stride, pad), K, stride,
                         pad};
    return s;
}

/* Range [*l0, *l1) of output positions l whose input index l*stride + k - pad
 * lies in [0, Lin) for kernel tap k. */
static void valid_range(const pe_conv1d_shape *s, int k, int *l0, int *l1) {
    int off = k - s->pad; /* input index = l*stride + off */
    int lo = off >= 0 ? 0 : (-off + s->stride - 1) / s->stride;
    int last = s->Lin - 1 - off; /* need l*stride <= last */
    int hi = last < 0 ? 0 : last / s->stride + 1;
    if (hi > s->Lout) hi = s->Lout;
    *l0 = lo;
    *l1 = hi > lo ? hi : lo;
}

/* out (B, Cout, Lout) = conv(in (B, Cin, Lin), w (Cout, Cin, K)); overwrites out. */
void pe_conv1d_forward(float *out, const float *in, const float *w, const pe_conv1d_shape *s) {
    const int B = s->B, Cin = s->Cin, Cout = s->Cout, Lin = s->Lin, Lout = s->Lout, K = s->K;
    const int st = s->stride, pad = s->pad;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int co = 0; co < Cout; co++) {
            float *o = out + ((size_t)b * Cout + co) * Lout;
            for (int l = 0; l < Lout; l++) o[l] = 0.0f;
            for (int ci = 0; ci < Cin; ci++) {
                const float *x = in + ((size_t)b * Cin + ci) * Lin;
                const float *wk = w + ((size_t)co * Cin + ci) * K;
                for (int k = 0; k < K; k++) {
                    int l0, l1;
                    valid_range(s, k, &l0, &l1);
                    if (l1 <= l0) continue;
                    const float wv = wk[k];
                    const float *xk = x + ((size_t)l0 * st + k - pad); /* input at l0 */
                    float *restrict ok = o + l0;
                    const int n = l1 - l0;
                    if (st == 1) {
                        for (int i = 0; i < n; i++) ok[i] += wv * xk[i];
                    } else {
                        for (int i = 0; i < n; i++) ok[i] += wv * xk[(size_t)i * st];
                    }
                }
            }
        }
    }
}

/* Given dout (B, Cout, Lout):
 *   din (B, Cin, Lin)  += sum over co, k of w[co][ci][k] * dout[b][co][l] at j = l*stride+k-pad
 *   dw  (Cout, Cin, K) += sum over b, l of dout[b][co][l] * in[b][ci][l*stride+k-pad]
 * Either gradient may be NULL. */
void pe_conv1d_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                        const pe_conv1d_shape *s) {
    const int B = s->B, Cin = s->Cin, Cout = s->Cout, Lin = s->Lin, Lout = s->Lout, K = s->K;
    const int st = s->stride, pad = s->pad;
    if (din) {
        /* each (b, ci) input row is owned by one thread */
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int ci = 0; ci < Cin; ci++) {
                float *dx = din + ((size_t)b * Cin + ci) * Lin;
                for (int co = 0; co < Cout; co++) {
                    const float *g = dout + ((size_t)b * Cout + co) * Lout;
                    const float *wk = w + ((size_t)co * Cin + ci) * K;
                    for (int k = 0; k < K; k++) {
                        int l0, l1;
                        valid_range(s, k, &l0, &l1);
                        if (l1 <= l0) continue;
                        const float wv = wk[k];
                        float *restrict dxk = dx + ((size_t)l0 * st + k - pad); /* input at l0 */
                        const float *gk = g + l0;
                        const int n = l1 - l0;
                        if (st == 1) {
                            for (int i = 0; i < n; i++) dxk[i] += wv * gk[i];
                        } else {
                            for (int i = 0; i < n; i++) dxk[(size_t)i * st] += wv * gk[i];
                        }
                    }
                }
            }
        }
    }
    if (dw) {
        /* each (co, ci) weight row is owned by one thread; sum over the batch inside */
#pragma omp parallel for collapse(2) schedule(static)
        for (int co = 0; co < Cout; co++) {
            for (int ci = 0; ci < Cin; ci++) {
                float *dwk = dw + ((size_t)co * Cin + ci) * K;
                for (int k = 0; k < K; k++) {
                    int l0, l1;
                    valid_range(s, k, &l0, &l1);
                    if (l1 <= l0) continue;
                    const int n = l1 - l0;
                    float acc = 0.0f;
                    for (int b = 0; b < B; b++) {
                        const float *gk = dout + ((size_t)b * Cout + co) * Lout + l0;
                        const float *xk = in + ((size_t)b * Cin + ci) * Lin
                                          + ((size_t)l0 * st + k - pad);
                        if (st == 1) {
#pragma omp simd reduction(+ : acc)
                            for (int i = 0; i < n; i++) acc += gk[i] * xk[i];
                        } else {
#pragma omp simd reduction(+ : acc)
                            for (int i = 0; i < n; i++) acc += gk[i] * xk[(size_t)i * st];
                        }
                    }
                    dwk[k] += acc;
                }
            }
        }
    }
}
