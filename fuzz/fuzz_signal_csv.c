/* libFuzzer target: bytes as an ECG table -> pe_signal_csv_parse (from memory), once with
 * the rate from a time column only and once with a given rate. On success: 12 leads, at
 * least one sample, a positive finite rate, every sample finite or NaN. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/signal_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const double rates[2] = {0.0, 100.0};
    for (int k = 0; k < 2; k++) {
        pe_error e;
        float *sig = NULL;
        int nl = 0;
        long ns = 0;
        double fs = 0;
        if (pe_signal_csv_parse((const char *)data, size, "fuzz.csv", rates[k], &sig, &nl, &ns,
                                &fs, &e) == 0) {
            if (!sig || nl != PE_NUM_LEADS || ns < 1 || !(fs > 0) || !isfinite(fs)) abort();
            for (size_t i = 0; i < (size_t)nl * (size_t)ns; i++)
                if (isinf(sig[i])) abort();
            free(sig);
        } else if (sig) {
            abort();
        }
    }
    return 0;
}
