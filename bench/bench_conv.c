/* Times the oneDNN conv1d backend on all 20 convolutions of the 1D ResNet-18 at
 * batch B (default 32): forward + backward (din and dw; the stem needs no din) per
 * training step. Threads: OMP_NUM_THREADS. Not part of the CMake build; build with
 *   gcc -std=c17 -O3 -march=native -fopenmp -D_GNU_SOURCE -Isrc -Iinclude \
 *       bench/bench_conv.c src/nn/dnnl_backend.c src/util/error.c -ldnnl -lm -o /tmp/bench_conv
 * Usage: OMP_NUM_THREADS=1 /tmp/bench_conv [B] [steps] */
#include "nn/dnnl_backend.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resnet18_convs.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double cpu_now(void) { /* process CPU time: less sensitive to other load */
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *rnd(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX - 0.5f;
    return p;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 32, steps = argc > 2 ? atoi(argv[2]) : 10;
    pe_error e = {{0}};
    pe_dnnl *ctx = pe_dnnl_create(&e);
    if (!ctx) return fprintf(stderr, "%s\n", e.msg), 1;
    pe_conv1d_shape s[NSPEC];
    float *in[NSPEC], *w[NSPEC], *out[NSPEC], *din[NSPEC], *dw[NSPEC];
    double t_f[NSPEC], t_b[NSPEC], best_f[NSPEC], best_b[NSPEC], *step = calloc(steps, 8), *cpu = calloc(steps, 8);
    for (int i = 0; i < NSPEC; i++) {
        const conv_spec *c = &specs[i];
        int Lout = (c->Lin + 2 * c->pad - c->K) / c->stride + 1;
        s[i] = (pe_conv1d_shape){B, c->Cin, c->Cout, c->Lin, Lout, c->K, c->stride, c->pad};
        in[i] = rnd((size_t)B * c->Cin * c->Lin);
        din[i] = rnd((size_t)B * c->Cin * c->Lin);
        w[i] = rnd((size_t)c->Cout * c->Cin * c->K);
        dw[i] = rnd((size_t)c->Cout * c->Cin * c->K);
        out[i] = rnd((size_t)B * c->Cout * Lout);
        best_f[i] = best_b[i] = 1e30;
    }
    for (int it = -2; it < steps; it++) { /* 2 warm-up steps create the primitives */
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < NSPEC; i++) {
            t_f[i] = t_b[i] = 0;
            for (int r = 0; r < specs[i].count; r++) {
                double a = now();
                if (pe_dnnl_conv1d_forward(ctx, out[i], in[i], w[i], &s[i], &e)) goto fail;
                double b = now();
                /* out doubles as dout: the values do not matter for timing */
                if (pe_dnnl_conv1d_backward(ctx, i == 0 ? NULL : din[i], dw[i], out[i], in[i],
                                            w[i], &s[i], &e))
                    goto fail;
                t_f[i] += b - a;
                t_b[i] += now() - b;
            }
            if (it >= 0 && t_f[i] < best_f[i]) best_f[i] = t_f[i];
            if (it >= 0 && t_b[i] < best_b[i]) best_b[i] = t_b[i];
        }
        if (it >= 0) step[it] = now() - t0, cpu[it] = cpu_now() - c0;
    }
    qsort(step, steps, sizeof *step, cmp);
    qsort(cpu, steps, sizeof *cpu, cmp);
    printf("oneDNN conv1d, B=%d, threads=%d, %d steps (per-shape: best step, all repeats)\n", B,
           omp_get_max_threads(), steps);
    double sf = 0, sb = 0;
    for (int i = 0; i < NSPEC; i++) {
        printf("  %-26s x%d  fwd %7.2f ms  bwd %7.2f ms\n", specs[i].name, specs[i].count,
               1e3 * best_f[i], 1e3 * best_b[i]);
        sf += best_f[i], sb += best_b[i];
    }
    printf("  sum of per-shape bests: fwd %.1f ms + bwd %.1f ms = %.1f ms\n", 1e3 * sf, 1e3 * sb,
           1e3 * (sf + sb));
    printf("  step (all 20 convs fwd+bwd): min %.1f ms, median %.1f ms -> %.0f samples/s "
           "(conv only, at the min)\n",
           1e3 * step[0], 1e3 * step[steps / 2], B / step[0]);
    printf("  step CPU time (all threads): min %.1f ms, median %.1f ms\n", 1e3 * cpu[0],
           1e3 * cpu[steps / 2]);
    printf("  cache entries: %d\n", pe_dnnl_cache_size(ctx));
    for (int i = 0; i < NSPEC; i++) free(in[i]), free(w[i]), free(out[i]), free(din[i]), free(dw[i]);
    free(step), free(cpu);
    pe_dnnl_destroy(ctx);
    return 0;
fail:
    fprintf(stderr, "%s\n", e.msg);
    pe_dnnl_destroy(ctx);
    return 1;
}
