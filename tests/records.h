/* Real PTB-XL records for engine tests. Include after check.h. */
#ifndef PE_TESTS_RECORDS_H
#define PE_TESTS_RECORDS_H

#include "protoecg.h"

/* Reads up to n of the first records of the shared data (ecg_id < 400) at 100 Hz into
 * x (n, 12, 1000), each lead standardized on its own (mean 0, std ~1), and returns how
 * many were read. Records that cannot be read are skipped. */
static inline int test_read_records(const char *dir, int n, float *x) {
    const size_t rec = (size_t)PE_NUM_LEADS * PE_NUM_SAMPLES;
    pe_error e;
    int got = 0;
    for (int id = 1; id < 400 && got < n; id++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/records100/%05d/%05d_lr", dir, id / 1000 * 1000, id);
        float *sig = NULL;
        int nl;
        long ns;
        double fs;
        if (pe_record_read(path, &sig, &nl, &ns, &fs, &e) ||
            pe_record_to_100hz(sig, nl, ns, fs, x + (size_t)got * rec, &e)) {
            free(sig);
            continue;
        }
        free(sig);
        for (int l = 0; l < PE_NUM_LEADS; l++) {
            float *v = x + (size_t)got * rec + (size_t)l * PE_NUM_SAMPLES;
            double m = 0, ss = 0;
            for (int i = 0; i < PE_NUM_SAMPLES; i++) m += v[i];
            m /= PE_NUM_SAMPLES;
            for (int i = 0; i < PE_NUM_SAMPLES; i++) ss += (v[i] - m) * (v[i] - m);
            double sd = sqrt(ss / PE_NUM_SAMPLES) + 1e-3;
            for (int i = 0; i < PE_NUM_SAMPLES; i++) v[i] = (float)((v[i] - m) / sd);
        }
        got++;
    }
    return got;
}

#endif
