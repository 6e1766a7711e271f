/* protoecg prepare: PTB-XL -> binary cache (read, filter, standardize once). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/cache.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg prepare --ptbxl DIR --out FILE [options]\n"
            "  --ptbxl DIR         PTB-XL root (holds ptbxl_database.csv and records100/)\n"
            "  --out FILE          cache file to write (reused when inputs are unchanged)\n"
            "  --filter-order N    Butterworth high-pass order, 0 = no filter (default 1)\n"
            "  --cutoff HZ         high-pass cutoff (default 0.5)\n"
            "  --no-standardize    keep signals in mV (no per-lead standardization)\n"
            "  --threads N         worker threads (default: all cores)\n"
            "  --quiet             no progress output\n");
}

int cmd_prepare(int argc, char **argv) {
    const char *root = NULL, *out = NULL, *v;
    pe_prepare_opts o = pe_prepare_opts_default(NULL);
    for (int i = 1; i < argc; i++) {
        int n;
        double d;
        if (arg_value(argc, argv, &i, "--ptbxl", &root) || arg_value(argc, argv, &i, "--out", &out))
            continue;
        if (arg_value(argc, argv, &i, "--filter-order", &v)) {
            if (arg_int("--filter-order", v, 0, 8, &o.filter_order)) return 2;
        } else if (arg_value(argc, argv, &i, "--cutoff", &v)) {
            if (arg_double("--cutoff", v, &d) || d <= 0 || d >= 50) return 2;
            o.cutoff_hz = (float)d;
        } else if (arg_value(argc, argv, &i, "--threads", &v)) {
            if (arg_int("--threads", v, 1, 1024, &n)) return 2;
            set_threads(n);
        } else if (!strcmp(argv[i], "--no-standardize")) {
            o.standardize = 0;
        } else {
            int rc = arg_last("prepare", argv[i], &o.quiet, usage);
            if (rc >= 0) return rc;
        }
    }
    if (!root || !out) {
        fprintf(stderr, "protoecg prepare: %s is required\n", !root ? "--ptbxl DIR" : "--out FILE");
        usage(stderr);
        return 2;
    }
    o.ptbxl_root = root;
    pe_prepare_report rep;
    pe_error e = {{0}};
    if (pe_cache_prepare(&o, out, &rep, &e)) {
        fprintf(stderr, "protoecg prepare: %s\n", e.msg);
        return 1;
    }
    printf("prepare: %s: %d records (%d skipped of %d rows)%s in %.1f s\n", out, rep.n_ok,
           rep.n_failed, rep.n_rows, rep.reused ? ", up to date (reused)" : "", rep.seconds);
    return 0;
}
