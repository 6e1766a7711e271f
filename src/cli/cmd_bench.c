/* protoecg bench: training and inference speed of the engine on random input,
 * with the full-size prototype network (spec section 3). bench/compare runs this
 * and the PyTorch counterpart (bench/torch_bench.py) side by side.
 *
 * Each scenario runs in its own forked process, so the peak RSS reported for it
 * is that scenario's alone (the parent runs no OpenMP region before forking).
 * Times are medians over the timed iterations (as in bench/torch_bench.py), with
 * the minimum and the process CPU time per iteration alongside; the load average
 * before and after is printed because the machine may be shared. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/losses.h"
#include "model/net.h"
#include "train/adam.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg bench [--threads N] [--steps N] [--reps N] [--batch N] [--json FILE]\n"
            "                      [--precision fp32|bf16|int8|bf16-force] [--scenario S]\n"
            "                      [--reference-conv] [--in-process]\n"
            "  training steps at batch 32 (N threads; --steps timed, default 10), inference at\n"
            "  batch --batch (default 256, N threads, --reps timed, default 5), single-record\n"
            "  inference on 1 thread (50 timed); medians, samples/s, ms and peak RSS per scenario.\n"
            "  --precision bf16 uses bf16 convolutions where the CPU has native bf16 (else fp32);\n"
            "  bf16-force uses them anyway (oneDNN emulation). int8: inference in int8 (the net\n"
            "  calibrated on the benchmark input), training stays fp32.\n"
            "  --scenario train|batch|single|all.\n"
            "  --in-process runs the scenarios in this process (RSS is then the running maximum).\n");
}

typedef struct {
    int threads, steps, reps, batch, use_dnnl, force_bf16, in_process;
    pe_precision prec;
} bench_opts;

/* What a scenario reports (passed from the child process through a pipe). */
typedef struct {
    int rc;
    int n;                /* timed iterations */
    double med_s, min_s;  /* wall seconds per iteration */
    double cpu_s;         /* process CPU seconds per iteration (all threads) */
    double tcpu_med_s;    /* median CPU seconds of the calling thread per iteration (the
                             whole work on one thread; robust to a shared machine) */
    double rss_mb;        /* peak RSS of the process */
    int precision;        /* in effect */
    char msg[sizeof(((pe_error *)0)->msg)];
} bench_result;

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void fill_random(float *x, size_t n, pe_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)pe_rng_normal(r);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Fills med_s/min_s from n per-iteration times (sorted in place). */
static void summarize(double *t, int n, bench_result *r) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    r->n = n;
    r->min_s = t[0];
    r->med_s = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Sets the net's precision. int8 (inference only) is first calibrated on the n
 * benchmark records x (random input: the timing does not depend on the ranges);
 * training (x NULL) has no int8 and runs fp32. */
static int set_precision(pe_net *net, const bench_opts *o, const float *x, int n, pe_error *e) {
    if (o->force_bf16 && net->dnnl) {
        net->precision = PE_PREC_BF16;
        return 0;
    }
    if (o->prec == PE_PREC_INT8 && x && net->dnnl &&
        pe_net_calibrate_int8(net, x, n, PE_INT8_PERCENTILE, e))
        return -1;
    pe_net_set_precision(net, o->prec == PE_PREC_INT8 && !x ? PE_PREC_FP32 : o->prec, NULL);
    return 0;
}

/* One training step (forward, BCE + prototype losses, backward, Adam) at batch 32. */
static int bench_train(const bench_opts *o, bench_result *res, pe_error *e) {
    const int B = 32, C = PE_NUM_CLASSES;
    omp_set_num_threads(o->threads);
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    pe_net net;
    if (pe_net_init(&net, &cfg, B, 1, o->use_dnnl, e)) return -1;
    set_precision(&net, o, NULL, 0, e);
    res->precision = net.precision;
    pe_adam opt;
    int P = net.n_protos, D = cfg.latent_dim, K = cfg.protos_per_class;
    float *x = malloc((size_t)B * 12 * 1000 * sizeof(float));
    float *dlogits = malloc((size_t)B * C * sizeof(float)), *dsim = malloc((size_t)B * P * sizeof(float));
    uint8_t *y = calloc((size_t)B * C, 1);
    double *scratch = malloc(pe_loss_proto_scratch_len(P, D) * sizeof(double));
    double *times = malloc((size_t)o->steps * sizeof(double));
    float J[PE_NUM_CLASSES * PE_NUM_CLASSES];
    pe_rng r;
    pe_rng_seed(&r, 7);
    fill_random(x, (size_t)B * 12 * 1000, &r);
    for (int b = 0; b < B; b++) y[b * C + b % C] = 1;
    pe_jaccard(J, y, B, C);
    int rc = pe_adam_init(&opt, net.n_params, 1e-3f, 0, e);
    const float groups[PE_NUM_GROUPS] = {1, 1, 1, 0};
    double cpu0 = 0;
    for (int s = -2; rc == 0 && s < o->steps; s++) { /* 2 warm-up steps */
        if (s == 0) cpu0 = cpu_seconds();
        double t0 = pe_now();
        pe_net_zero_grad(&net);
        rc = pe_net_forward(&net, x, B, 1, e);
        if (rc) break;
        memset(dlogits, 0, (size_t)B * C * sizeof(float));
        memset(dsim, 0, (size_t)B * P * sizeof(float));
        pe_loss_bce(dlogits, net.logits, y, NULL, B, C, 1.0);
        pe_loss_clst(dsim, net.sim, y, B, C, K, 0.004);
        pe_loss_sep(dsim, net.sim, y, B, C, K, 0.0004);
        pe_loss_div(net.grads + net.protos, net.params + net.protos, P, D, scratch, 250);
        pe_loss_cnt(net.grads + net.protos, net.params + net.protos, J, C, K, D, scratch, 300);
        rc = pe_net_backward(&net, dlogits, dsim, 1, e);
        pe_adam_step(&opt, &net, groups);
        if (s >= 0) times[s] = pe_now() - t0;
    }
    if (rc == 0) {
        res->cpu_s = (cpu_seconds() - cpu0) / o->steps;
        summarize(times, o->steps, res);
    }
    pe_adam_free(&opt);
    free(x), free(dlogits), free(dsim), free(y), free(scratch), free(times);
    pe_net_free(&net);
    return rc;
}

/* Eval-mode inference (pe_net_infer) of a batch of B records on `threads` threads. */
static int bench_infer(const bench_opts *o, int B, int threads, int reps, bench_result *res,
                       pe_error *e) {
    omp_set_num_threads(threads);
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    pe_net net;
    if (pe_net_init(&net, &cfg, B, 1, o->use_dnnl, e)) return -1;
    float *x = malloc((size_t)B * 12 * 1000 * sizeof(float));
    double *times = malloc((size_t)reps * sizeof(double));
    double *tcpu = malloc((size_t)reps * sizeof(double));
    pe_rng r;
    pe_rng_seed(&r, 8);
    fill_random(x, (size_t)B * 12 * 1000, &r);
    int rc = set_precision(&net, o, x, B < 16 ? B : 16, e);
    res->precision = net.precision;
    double cpu0 = 0;
    for (int s = -2; rc == 0 && s < reps; s++) {
        if (s == 0) cpu0 = cpu_seconds();
        double t0 = pe_now(), c0 = thread_cpu_seconds();
        rc = pe_net_infer(&net, x, B, e);
        if (s >= 0) times[s] = pe_now() - t0, tcpu[s] = thread_cpu_seconds() - c0;
    }
    if (rc == 0) {
        res->cpu_s = (cpu_seconds() - cpu0) / reps;
        bench_result tr;
        summarize(tcpu, reps, &tr);
        res->tcpu_med_s = tr.med_s;
        summarize(times, reps, res);
    }
    free(x), free(times), free(tcpu);
    pe_net_free(&net);
    return rc;
}

typedef enum { SC_TRAIN, SC_BATCH, SC_SINGLE, NUM_SC } scenario;

static void run_scenario(scenario sc, const bench_opts *o, bench_result *res) {
    pe_error e = {{0}};
    memset(res, 0, sizeof *res);
    if (sc == SC_TRAIN) res->rc = bench_train(o, res, &e);
    else if (sc == SC_BATCH) res->rc = bench_infer(o, o->batch, o->threads, o->reps, res, &e);
    else res->rc = bench_infer(o, 1, 1, 50, res, &e);
    res->rss_mb = peak_rss_mb();
    if (res->rc) snprintf(res->msg, sizeof res->msg, "%s", e.msg);
}

/* Runs a scenario in a child process (fresh address space: honest peak RSS). */
static void run_isolated(scenario sc, const bench_opts *o, bench_result *res) {
    int fd[2];
    if (o->in_process || pipe(fd) != 0) {
        run_scenario(sc, o, res);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        run_scenario(sc, o, res);
        return;
    }
    if (pid == 0) {
        close(fd[0]);
        bench_result r;
        run_scenario(sc, o, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        close(fd[1]);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    memset(res, 0, sizeof *res);
    size_t got = 0;
    while (got < sizeof *res) {
        ssize_t k = read(fd[0], (char *)res + got, sizeof *res - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof *res) {
        res->rc = -1;
        snprintf(res->msg, sizeof res->msg, "the benchmark process died (status %d)", status);
    }
}

static double loadavg1(void) {
    double l[1] = {-1};
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

int cmd_bench(int argc, char **argv) {
    const char *json = NULL, *v, *only = "all";
    bench_opts o = {.threads = omp_get_max_threads(), .steps = 10, .reps = 5, .batch = 256,
                    .use_dnnl = 1, .prec = PE_PREC_FP32};
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--json", &json)) continue;
        if (arg_value(argc, argv, &i, "--scenario", &only)) continue;
        if (arg_value(argc, argv, &i, "--threads", &v)) {
            if (arg_int("--threads", v, 1, 1024, &o.threads)) return 2;
        } else if (arg_value(argc, argv, &i, "--steps", &v)) {
            if (arg_int("--steps", v, 1, 100000, &o.steps)) return 2;
        } else if (arg_value(argc, argv, &i, "--reps", &v)) {
            if (arg_int("--reps", v, 1, 100000, &o.reps)) return 2;
        } else if (arg_value(argc, argv, &i, "--batch", &v)) {
            if (arg_int("--batch", v, 1, 4096, &o.batch)) return 2;
        } else if (arg_value(argc, argv, &i, "--precision", &v)) {
            o.force_bf16 = !strcmp(v, "bf16-force");
            if (o.force_bf16) o.prec = PE_PREC_BF16;
            else if (pe_precision_parse(v, &o.prec)) {
                fprintf(stderr, "protoecg bench: --precision must be fp32, bf16, int8 or bf16-force\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--reference-conv")) {
            o.use_dnnl = 0;
        } else if (!strcmp(argv[i], "--in-process")) {
            o.in_process = 1;
        } else {
            int rc = arg_last("bench", argv[i], NULL, usage);
            if (rc >= 0) return rc;
        }
    }
    int want[NUM_SC] = {0};
    if (!strcmp(only, "all")) want[SC_TRAIN] = want[SC_BATCH] = want[SC_SINGLE] = 1;
    else if (!strcmp(only, "train")) want[SC_TRAIN] = 1;
    else if (!strcmp(only, "batch")) want[SC_BATCH] = 1;
    else if (!strcmp(only, "single")) want[SC_SINGLE] = 1;
    else {
        fprintf(stderr, "protoecg bench: --scenario must be train, batch, single or all\n");
        return 2;
    }
    int native = pe_bf16_native();
    if (o.prec == PE_PREC_BF16 && !o.force_bf16 && (!native || !o.use_dnnl))
        fprintf(stderr, "protoecg bench: bf16 requested but %s; using fp32 (bf16-force to "
                        "measure oneDNN's emulation)\n",
                o.use_dnnl ? "this CPU has no native bf16 (AVX512-BF16/AMX)"
                           : "the reference convolution is fp32 only");
    double load0 = loadavg1();
    bench_result res[NUM_SC];
    int rc = 0, prec_eff = PE_PREC_FP32;
    double rss_max = 0;
    for (int sc = 0; sc < NUM_SC; sc++) {
        memset(&res[sc], 0, sizeof res[sc]);
        if (!want[sc] || rc) continue;
        run_isolated((scenario)sc, &o, &res[sc]);
        if (res[sc].rc) {
            fprintf(stderr, "protoecg bench: %s\n", res[sc].msg);
            rc = 1;
        }
        prec_eff = res[sc].precision;
        if (res[sc].rss_mb > rss_max) rss_max = res[sc].rss_mb;
    }
    if (rc) return 1;
    double load1 = loadavg1();
    const bench_result *tr = &res[SC_TRAIN], *ba = &res[SC_BATCH], *si = &res[SC_SINGLE];
    printf("protoecg bench (%s%s, %s conv; CPU bf16: %s; load average %.2f -> %.2f)\n",
           pe_precision_name((pe_precision)prec_eff), o.force_bf16 ? " forced" : "",
           o.use_dnnl ? "oneDNN" : "reference", native ? "native" : "emulated only", load0, load1);
    if (want[SC_TRAIN])
        printf("  training, batch 32, %d thread(s):   %8.1f samples/s  (%.1f ms/step, min %.1f, "
               "cpu %.0f ms)  peak RSS %.0f MB%s\n",
               o.threads, 32 / tr->med_s, 1e3 * tr->med_s, 1e3 * tr->min_s, 1e3 * tr->cpu_s,
               tr->rss_mb, tr->precision != prec_eff ? "  (fp32: training has no int8)" : "");
    if (want[SC_BATCH])
        printf("  inference, batch %d, %d thread(s): %8.1f samples/s  (%.1f ms/batch, min %.1f)"
               "  peak RSS %.0f MB\n",
               o.batch, o.threads, o.batch / ba->med_s, 1e3 * ba->med_s, 1e3 * ba->min_s,
               ba->rss_mb);
    if (want[SC_SINGLE])
        printf("  inference, 1 record, 1 thread:     %8.2f ms (min %.2f, thread CPU median %.2f)"
               "  peak RSS %.0f MB\n",
               1e3 * si->med_s, 1e3 * si->min_s, 1e3 * si->tcpu_med_s, si->rss_mb);
    if (json) {
        pe_error e = {{0}};
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "engine", "protoecg");
        cJSON_AddStringToObject(j, "impl", "protoecg");
        cJSON_AddStringToObject(j, "precision", o.force_bf16 ? "bf16-force"
                                                             : pe_precision_name(o.prec));
        cJSON_AddStringToObject(j, "precision_effective",
                                pe_precision_name((pe_precision)prec_eff));
        cJSON_AddBoolToObject(j, "bf16_native", native);
        cJSON_AddStringToObject(j, "conv", o.use_dnnl ? "oneDNN" : "reference");
        cJSON_AddNumberToObject(j, "threads", o.threads);
        cJSON_AddStringToObject(j, "statistic", "median");
        if (want[SC_TRAIN]) {
            cJSON_AddNumberToObject(j, "train_batch", 32);
            cJSON_AddNumberToObject(j, "train_samples_per_s", 32 / tr->med_s);
            cJSON_AddNumberToObject(j, "train_ms_per_step", 1e3 * tr->med_s);
            cJSON_AddNumberToObject(j, "train_ms_per_step_min", 1e3 * tr->min_s);
            cJSON_AddNumberToObject(j, "train_cpu_ms_per_step", 1e3 * tr->cpu_s);
            cJSON_AddNumberToObject(j, "train_steps_timed", tr->n);
            cJSON_AddNumberToObject(j, "train_peak_rss_mb", tr->rss_mb);
            cJSON_AddStringToObject(j, "train_precision",
                                    pe_precision_name((pe_precision)tr->precision));
        }
        if (want[SC_BATCH]) {
            cJSON_AddNumberToObject(j, "infer_batch", o.batch);
            cJSON_AddNumberToObject(j, "infer_batch_samples_per_s", o.batch / ba->med_s);
            cJSON_AddNumberToObject(j, "infer_batch_ms", 1e3 * ba->med_s);
            cJSON_AddNumberToObject(j, "infer_batch_ms_min", 1e3 * ba->min_s);
            cJSON_AddNumberToObject(j, "infer_batch_runs_timed", ba->n);
            cJSON_AddNumberToObject(j, "infer_batch_peak_rss_mb", ba->rss_mb);
        }
        if (want[SC_SINGLE]) {
            cJSON_AddNumberToObject(j, "infer_single_ms", 1e3 * si->med_s);
            cJSON_AddNumberToObject(j, "infer_single_ms_min", 1e3 * si->min_s);
            cJSON_AddNumberToObject(j, "infer_single_thread_cpu_ms", 1e3 * si->tcpu_med_s);
            cJSON_AddNumberToObject(j, "infer_single_peak_rss_mb", si->rss_mb);
        }
        cJSON_AddNumberToObject(j, "peak_rss_mb", rss_max);
        cJSON_AddNumberToObject(j, "loadavg_start", load0);
        cJSON_AddNumberToObject(j, "loadavg_end", load1);
        char *s = cJSON_Print(j);
        cJSON_Delete(j);
        rc = s ? pe_write_file_atomic(json, s, strlen(s), &e) : pe_fail(&e, "out of memory");
        free(s);
        if (rc) fprintf(stderr, "protoecg bench: %s\n", e.msg);
    }
    return rc ? 1 : 0;
}
