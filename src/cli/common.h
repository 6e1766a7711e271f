/* Pieces shared by the subcommands that load a model and read PTB-XL. */
#ifndef PE_CLI_COMMON_H
#define PE_CLI_COMMON_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "data/cache.h"
#include "data/ptbxl.h"
#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "model/modelfile.h"

/* Prepares (or reuses) a filtered but unstandardized cache of DIR for the model's
 * preprocessing: at cache_path if given, else next to the model file. */
int cli_raw_cache(const pe_model *m, const char *model_path, const char *ptbxl,
                  const char *cache_path, int quiet, pe_cache *raw, pe_error *e);

/* One model scored on one split of PTB-XL: predictions, macro/per-class AUROC and, with
 * n_boot > 0, bootstrap intervals drawn from `seed` (the same seed for every model makes
 * their resamples paired: pe_bootstrap_paired_diff); with with_val, also the
 * validation split's predictions (for tuned thresholds). */
typedef struct {
    char path[4096];
    int with_val; /* set by the caller, like path */
    pe_model m;
    int loaded;
    pe_split_pred pred, val;
    pe_auroc_report ar;
    pe_bootstrap_report br;
    int n_boot;
} cli_model_eval;

/* Loads me->path at precision prec (saying on stderr, as `protoecg CMD`, why it falls
 * back to fp32 if it does), prepares the raw cache (cache_path or next to the model),
 * predicts `split` (and the validation split if me->with_val) and scores it; the cache is
 * unmapped before it returns (the predicted records are copies). me must be zeroed
 * except for path and with_val; free it with cli_model_eval_free, also after a failure. */
int cli_model_evaluate(cli_model_eval *me, const char *ptbxl, const char *cache_path, int split,
                       pe_precision prec, const char *cmd, int n_boot, int seed, int quiet,
                       pe_error *e);
void cli_model_eval_free(cli_model_eval *me);

/* Macro and per-class AUROC of n records' probabilities (n, 16) against their labels y
 * (n, 16) into ar and, with n_boot > 0, bootstrap intervals drawn from `seed` into br. */
int cli_score(const uint8_t *y, const float *probs, size_t n, int n_boot, int seed,
              pe_auroc_report *ar, pe_bootstrap_report *br, pe_error *e);

/* ",p_1,...,p_16" (%.9g, so a float reads back exactly); empty cells when probs is NULL. */
void cli_csv_probs(FILE *f, const float *probs);

/* A predictions CSV (eval --predictions): the header (the record's id column, true_<label>
 * and prob_<label> for the 16), and the end of a record's row after its id (its labels and
 * probabilities, 9 significant digits, then the line end). */
void cli_predictions_header(FILE *f, const char *id_column);
void cli_predictions_row_end(FILE *f, const uint8_t *y, const float *probs);


/* Reads the 100 Hz record of ecg_id from a PTB-XL root (12 x 1000 mV, PTB-XL lead
 * order) into a malloc'd *sig. */
int cli_read_ptbxl_record(const pe_ptbxl_db *db, const char *root, int ecg_id, float **sig,
                          pe_error *e);

/* Resolves a RECORD argument: an ecg_id (digits; needs db, and without one digits name a
 * WFDB record when ARG.hea exists) or a WFDB path. Writes the WFDB path into out. */
int cli_resolve_record(const char *arg, const pe_ptbxl_db *db, const char *root, char *out,
                       size_t n, pe_error *e);

/* Resolves a RECORD argument (cli_resolve_record; its path into path) and reads it: a
 * WFDB record, or a CSV table (a path ending in .csv: pe_signal_csv_read, its rate from a
 * time column or csv_fs > 0, which a WFDB record refuses: its header gives the rate). */
int cli_read_record(const char *arg, const pe_ptbxl_db *db, const char *root, double csv_fs,
                    char *path, size_t n, float **sig, int *nl, long *ns, double *fs,
                    pe_error *e);

/* Prints "protoecg CMD: RECORD: MSG" to stderr, without "RECORD: " when the message
 * already starts with it (errors about a file name the file). */
void cli_record_error(const char *cmd, const char *record, const char *msg);

/* Writes s to f as a double-quoted CSV field (quotes doubled, RFC 4180). */
void cli_csv_quoted(FILE *f, const char *s);

/* One class's explanation (pe_explain) as JSON: probability, logit and its parts, the
 * own prototypes ("prototypes", by contribution) and the other classes' largest
 * contributions ("other_prototypes"), each with its source ECG. NULL when out of memory. */
cJSON *cli_explanation_json(const pe_class_explanation *x);

#endif
