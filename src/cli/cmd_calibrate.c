/* protoecg calibrate: adds (or replaces) a model's int8 calibration, the activation
 * ranges the int8 inference path needs (--precision int8), measured with the fp32
 * eval-mode backbone on records of the PTB-XL training split, and writes the model
 * (atomically) with it in the metadata (docs/formats.md, "int8_calibration"). Models
 * written by `protoecg train` are calibrated already. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "data/dataset.h"
#include "model/modelfile.h"
#include "train/train.h"
#include "util/error.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: protoecg calibrate --model M --ptbxl DIR --out FILE [options]\n"
            "  measures the activation ranges of int8 inference on training records (folds 1-8,\n"
            "  evenly spaced) and writes model M with them to FILE (FILE may be M)\n"
            "  --records N     calibration records (default %d)\n"
            "  --percentile P  range = this percentile of |activation| (default %g; 100 = max)\n"
            "  --cache FILE    filtered, unstandardized cache to use/create (default next to\n"
            "                  the model; not train's standardized cache.bin)\n"
            "  --threads N  --quiet\n",
            PE_INT8_CALIB_RECORDS, PE_INT8_PERCENTILE);
}

int cmd_calibrate(int argc, char **argv) {
    const char *model_path = NULL, *root = NULL, *out = NULL, *cache = NULL, *v;
    int n = PE_INT8_CALIB_RECORDS, threads = 0, quiet = 0;
    double pct = PE_INT8_PERCENTILE;
    for (int i = 1; i < argc; i++) {
        if (arg_value(argc, argv, &i, "--model", &model_path) ||
            arg_value(argc, argv, &i, "--ptbxl", &root) || arg_value(argc, argv, &i, "--out", &out) ||
            arg_value(argc, argv, &i, "--cache", &cache))
            continue;
        if (arg_value(argc, argv, &i, "--records", &v)) {
            if (arg_int("--records", v, 1, 100000, &n)) return 2;
        } else if (arg_value(argc, argv, &i, "--percentile", &v)) {
            if (arg_double("--percentile", v, &pct)) return 2;
            if (!(pct > 0 && pct <= 100)) {
                fprintf(stderr, "protoecg calibrate: --percentile must be in (0, 100]\n");
                return 2;
            }
        } else if (arg_value(argc, argv, &i, "--threads", &v)) {
            if (arg_int("--threads", v, 1, 1024, &threads)) return 2;
        } else {
            int rc = arg_last("calibrate", argv[i], &quiet, usage);
            if (rc >= 0) return rc;
        }
    }
    if (!model_path || !root || !out) {
        fprintf(stderr, "protoecg calibrate: --model, --ptbxl and --out are required\n");
        usage(stderr);
        return 2;
    }
    set_threads(threads);
    pe_error e = {{0}};
    pe_model m;
    pe_cache raw, data;
    pe_split_view view;
    memset(&raw, 0, sizeof raw);
    memset(&data, 0, sizeof data);
    memset(&view, 0, sizeof view);
    if (pe_model_load(&m, model_path, 64, 1, &e)) {
        fprintf(stderr, "protoecg calibrate: %s\n", e.msg);
        return 1;
    }
    /* the training split, standardized with the model's own statistics */
    const float *mean = m.pre.standardized ? m.pre.mean : NULL;
    int rc = cli_raw_cache(&m, model_path, root, cache, quiet, &raw, &e);
    if (rc == 0) rc = pe_cache_copy_split(&raw, PE_SPLIT_TRAIN, mean, m.pre.std, &data, &e);
    if (rc == 0) rc = pe_split_view_init(&view, &data, PE_SPLIT_TRAIN, &e);
    if (rc == 0) rc = pe_calibrate_int8_split(&m.net, &view, n, pct, &e);
    if (rc == 0) rc = pe_model_save(&m, out, 0, &e);
    if (rc == 0 && !quiet)
        printf("%s: int8 calibration on %d training records (percentile %g) -> %s\n", model_path,
               m.net.int8.n_records, pct, out);
    if (rc) fprintf(stderr, "protoecg calibrate: %s\n", e.msg);
    pe_split_view_free(&view);
    pe_cache_close(&data);
    pe_cache_close(&raw);
    pe_model_free(&m);
    return rc ? 1 : 0;
}
