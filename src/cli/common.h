/* Pieces shared by the subcommands that load a model and read PTB-XL. */
#ifndef PE_CLI_COMMON_H
#define PE_CLI_COMMON_H

#include <cjson/cJSON.h>

#include "data/cache.h"
#include "data/ptbxl.h"
#include "model/modelfile.h"

/* Prepares (or reuses) a filtered but unstandardized cache of DIR for the model's
 * preprocessing: at cache_path if given, else next to the model file. */
int cli_raw_cache(const pe_model *m, const char *model_path, const char *ptbxl,
                  const char *cache_path, int quiet, pe_cache *raw, pe_error *e);


/* Reads the 100 Hz record of ecg_id from a PTB-XL root (12 x 1000 mV, PTB-XL lead
 * order) into a malloc'd *sig. */
int cli_read_ptbxl_record(const pe_ptbxl_db *db, const char *root, int ecg_id, float **sig,
                          pe_error *e);

/* Resolves a RECORD argument: an ecg_id (digits; needs db) or a WFDB path. Writes the
 * WFDB path into out. */
int cli_resolve_record(const char *arg, const pe_ptbxl_db *db, const char *root, char *out,
                       size_t n, pe_error *e);

/* One class's explanation (pe_explain) as JSON: probability, logit and its parts, the
 * own prototypes ("prototypes", by contribution) and the other classes' largest
 * contributions ("other_prototypes"), each with its source ECG. NULL when out of memory. */
cJSON *cli_explanation_json(const pe_class_explanation *x);

#endif
