/* libFuzzer target: WFDB header text -> pe_wfdb_parse_header (from memory). A parsed
 * header must be consistent (n_signals entries, finite gains) and is freed again. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "data/wfdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pe_wfdb_header h;
    pe_error e;
    if (pe_wfdb_parse_header((const char *)data, size, "fuzz.hea", &h, &e) == 0) {
        if (h.n_signals < 1 || !h.signals || !(h.fs > 0) || h.n_samples < 0) abort();
        for (int s = 0; s < h.n_signals; s++)
            if (!isfinite(h.signals[s].gain) || h.signals[s].gain == 0) abort();
        pe_wfdb_header_free(&h);
    } else if (h.signals || e.msg[0] == '\0') {
        abort(); /* a failure leaves the header empty and says why */
    }
    return 0;
}
