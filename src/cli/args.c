#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"

int arg_value(int argc, char **argv, int *i, const char *name, const char **val) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "protoecg: option %s needs a value\n", name);
        exit(2);
    }
    *val = argv[++*i];
    return 1;
}

int arg_int(const char *name, const char *val, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi) {
        fprintf(stderr, "protoecg: %s expects an integer in [%d, %d], got '%s'\n", name, lo, hi, val);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int arg_double(const char *name, const char *val, double *out) {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !isfinite(v)) {
        fprintf(stderr, "protoecg: %s expects a number, got '%s'\n", name, val);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_rate(const char *val, double *out) {
    if (arg_double("--fs", val, out)) return -1;
    if (!(*out > 0)) {
        fprintf(stderr, "protoecg: --fs expects a sampling rate in Hz above 0, got '%s'\n", val);
        return -1;
    }
    return 0;
}

int arg_stride(const char *cmd, const char *val, double *out) {
    if (arg_double("--stride", val, out)) return -1;
    if (!(*out > 0 && *out <= 10)) {
        fprintf(stderr, "protoecg %s: --stride must be in (0, 10] seconds\n", cmd);
        return -1;
    }
    return 0;
}

int arg_bootstrap_opts(int argc, char **argv, int *i, int *n_boot, int *seed, int *threads) {
    const char *v;
    if (arg_value(argc, argv, i, "--bootstrap", &v))
        return arg_int("--bootstrap", v, 0, 1000000, n_boot) ? -1 : 1;
    if (arg_value(argc, argv, i, "--seed", &v))
        return arg_int("--seed", v, 0, 2147483647, seed) ? -1 : 1;
    if (arg_value(argc, argv, i, "--threads", &v))
        return arg_int("--threads", v, 1, 1024, threads) ? -1 : 1;
    return 0;
}

void set_threads(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
}

int make_dir(const char *dir, pe_error *e) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return pe_fail(e, "%s: path too long", dir);
    for (char *p = path + 1;; p++) { /* mkdir -p: every parent, then the directory */
        char c = *p;
        if (c != '/' && c != '\0') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return pe_fail(e, "%s: cannot create directory: %s", path, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    return 0;
}

int arg_last(const char *cmd, const char *arg, int *quiet, void (*usage)(FILE *)) {
    if (quiet && !strcmp(arg, "--quiet")) {
        *quiet = 1;
        return -1;
    }
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "protoecg %s: unknown option '%s'\n", cmd, arg);
    usage(stderr);
    return 2;
}
