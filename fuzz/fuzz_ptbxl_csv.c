/* libFuzzer target: CSV text -> pe_csv_parse and pe_ptbxl_parse (from memory), and the
 * same bytes as a NUL-terminated scp_codes dict -> pe_scp_codes_to_labels. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/ptbxl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    pe_error e;

    pe_csv csv;
    if (pe_csv_parse(text, size, "fuzz.csv", &csv, &e) == 0) {
        for (int r = 0; r < csv.n_rows; r++)
            for (int c = 0; c < pe_csv_n_fields(&csv, r); c++)
                if (strlen(pe_csv_field(&csv, r, c)) > size) abort();
        pe_csv_free(&csv);
    }

    pe_ptbxl_db db;
    if (pe_ptbxl_parse(text, size, "fuzz.csv", &db, &e) == 0) {
        if (db.n < 1) abort();
        for (int i = 0; i < db.n; i++) {
            const pe_ptbxl_row *r = &db.rows[i];
            if (r->strat_fold < 1 || r->strat_fold > 10) abort();
            if (i && r->ecg_id <= db.rows[i - 1].ecg_id) abort();
            for (int c = 0; c < PE_NUM_CLASSES; c++)
                if (r->labels[c] > 1) abort();
        }
        pe_ptbxl_free(&db);
    } else if (db.rows) {
        abort();
    }

    char *dict = malloc(size + 1);
    if (!dict) return 0;
    memcpy(dict, data, size);
    dict[size] = '\0';
    uint8_t labels[PE_NUM_CLASSES];
    pe_scp_codes_to_labels(dict, labels, &e);
    free(dict);
    return 0;
}
