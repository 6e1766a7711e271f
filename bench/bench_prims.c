/* Development tool: thread-CPU time (robust on a shared machine) of oneDNN
 * convolution primitives on the ResNet-18 shapes at batch B, per implementation
 * and layout: forward (training / inference), backward data, backward weights,
 * for activations in nwc or nCw16c (f32 or bf16). Not part of the CMake build:
 *   gcc -std=c17 -O2 -D_GNU_SOURCE bench/bench_prims.c -ldnnl -lm -o /tmp/bench_prims
 *   OMP_NUM_THREADS=1 /tmp/bench_prims [B] [reps] [bf16] */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resnet18_convs.h"

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define TRY(x)                                                                   \
    do {                                                                         \
        dnnl_status_t s_ = (x);                                                  \
        if (s_ != dnnl_success) {                                                \
            fprintf(stderr, "%s:%d %s: %d\n", __FILE__, __LINE__, #x, (int)s_);  \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static dnnl_engine_t eng;
static dnnl_stream_t strm;

static dnnl_memory_t mem(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    TRY(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *p;
    dnnl_memory_get_data_handle(m, &p);
    memset(p, 0, dnnl_memory_desc_get_size(md));
    return m;
}

/* Times primitive pd (args filled from its mds) `reps` times; ms per call. */
static double time_pd(dnnl_primitive_desc_t pd, int reps, const char **impl) {
    dnnl_primitive_t p;
    TRY(dnnl_primitive_create(&p, pd));
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl);
    dnnl_query_t q[] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md,
                        dnnl_query_diff_src_md, dnnl_query_diff_weights_md,
                        dnnl_query_diff_dst_md, dnnl_query_scratchpad_md};
    int a[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_DIFF_SRC,
               DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST, DNNL_ARG_SCRATCHPAD};
    dnnl_exec_arg_t args[7];
    int n = 0;
    for (int i = 0; i < 7; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q[i], 0);
        if (md && dnnl_memory_desc_get_size(md) > 0) args[n++] = (dnnl_exec_arg_t){a[i], mem(md)};
    }
    TRY(dnnl_primitive_execute(p, strm, n, args));
    dnnl_stream_wait(strm);
    double t0 = cpu_now();
    for (int r = 0; r < reps; r++) TRY(dnnl_primitive_execute(p, strm, n, args));
    dnnl_stream_wait(strm);
    double dt = (cpu_now() - t0) / reps;
    for (int i = 0; i < n; i++) dnnl_memory_destroy(args[i].memory);
    dnnl_primitive_destroy(p);
    return 1e3 * dt;
}

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 32, reps = argc > 2 ? atoi(argv[2]) : 5;
    int bf16 = argc > 3 && atoi(argv[3]);
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    TRY(dnnl_engine_create(&eng, dnnl_cpu, 0));
    TRY(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    dnnl_format_tag_t tags[3] = {dnnl_format_tag_any, dnnl_nwc, dnnl_nCw16c};
    const char *tag_names[3] = {"any", "nwc", "nCw16c"};
    double tot[3][4] = {{0}};
    for (int s = 0; s < NSPEC; s++) {
        const conv_spec *c = &specs[s];
        int Lout = (c->Lin + 2 * c->pad - c->K) / c->stride + 1;
        int pad_r = (Lout - 1) * c->stride + c->K - c->Lin - c->pad;
        if (pad_r < 0) pad_r = 0;
        double gflop = 2.0 * B * c->Cin * c->Cout * c->K * Lout * 1e-9;
        for (int t = 0; t < 3; t++) {
            dnnl_memory_desc_t src, w, dst;
            dnnl_dims_t sd = {B, c->Cin, c->Lin}, wd = {c->Cout, c->Cin, c->K},
                        dd = {B, c->Cout, Lout};
            TRY(dnnl_memory_desc_init_by_tag(&src, 3, sd, dt, tags[t]));
            TRY(dnnl_memory_desc_init_by_tag(&w, 3, wd, dt, dnnl_format_tag_any));
            TRY(dnnl_memory_desc_init_by_tag(&dst, 3, dd, dt, tags[t]));
            dnnl_dims_t st = {c->stride}, pl = {c->pad}, pr = {pad_r};
            dnnl_convolution_desc_t cd;
            dnnl_primitive_desc_t fwd = NULL, pd;
            const char *impl;
            printf("%-24s %-6s", c->name, tag_names[t]);
            dnnl_prop_kind_t props[2] = {dnnl_forward_inference, dnnl_forward_training};
            for (int k = 0; k < 2; k++) {
                TRY(dnnl_convolution_forward_desc_init(&cd, props[k], dnnl_convolution_direct,
                                                       &src, &w, NULL, &dst, st, pl, pr));
                if (dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL) != dnnl_success) {
                    printf(" %-28s", "-");
                    continue;
                }
                double ms = time_pd(pd, reps, &impl);
                tot[t][k] += ms * c->count;
                printf(" %s %6.2f ms %4.0f GF/s |", impl, ms, gflop / ms * 1e3);
                if (k == 1) fwd = pd;
                else dnnl_primitive_desc_destroy(pd);
            }
            TRY(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src, &w,
                                                         &dst, st, pl, pr));
            if (dnnl_primitive_desc_create(&pd, &cd, NULL, eng, fwd) == dnnl_success) {
                double ms = time_pd(pd, reps, &impl);
                tot[t][2] += ms * c->count;
                printf(" bd %s %6.2f ms %4.0f |", impl, ms, gflop / ms * 1e3);
                dnnl_primitive_desc_destroy(pd);
            }
            TRY(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &src,
                                                            &w, NULL, &dst, st, pl, pr));
            if (dnnl_primitive_desc_create(&pd, &cd, NULL, eng, fwd) == dnnl_success) {
                double ms = time_pd(pd, reps, &impl);
                tot[t][3] += ms * c->count;
                printf(" bw %s %6.2f ms %4.0f", impl, ms, gflop / ms * 1e3);
                dnnl_primitive_desc_destroy(pd);
            }
            if (fwd) dnnl_primitive_desc_destroy(fwd);
            printf("\n");
        }
    }
    for (int t = 0; t < 3; t++)
        printf("total %-6s fwd_inf %.1f ms  fwd_train %.1f  bwd_data %.1f  bwd_w %.1f  "
               "(train step convs %.1f ms)\n",
               tag_names[t], tot[t][0], tot[t][1], tot[t][2], tot[t][3],
               tot[t][1] + tot[t][2] + tot[t][3]);
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return 0;
}
