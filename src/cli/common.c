#include "cli/common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

int cli_raw_cache(const pe_model *m, const char *model_path, const char *ptbxl,
                  const char *cache_path, int quiet, pe_cache *raw, pe_error *e) {
    char buf[4096];
    if (!cache_path) {
        const char *slash = strrchr(model_path, '/');
        int dl = slash ? (int)(slash - model_path) : 1;
        snprintf(buf, sizeof buf, "%.*s/cache_raw_f%d.bin", dl, slash ? model_path : ".",
                 m->pre.filter_order);
        cache_path = buf;
    }
    pe_prepare_opts o = pe_prepare_opts_default(ptbxl);
    o.filter_order = m->pre.filter_order;
    o.cutoff_hz = m->pre.cutoff_hz;
    o.standardize = 0;
    o.quiet = quiet;
    pe_prepare_report rep;
    if (pe_cache_prepare(&o, cache_path, &rep, e)) return -1;
    return pe_cache_open(cache_path, raw, e);
}

void cli_sigmoid(float *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + expf(-v[i]));
}
