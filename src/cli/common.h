/* Pieces shared by the subcommands that load a model and read PTB-XL. */
#ifndef PE_CLI_COMMON_H
#define PE_CLI_COMMON_H

#include "data/cache.h"
#include "model/modelfile.h"

/* Prepares (or reuses) a filtered but unstandardized cache of DIR for the model's
 * preprocessing: at cache_path if given, else next to the model file. */
int cli_raw_cache(const pe_model *m, const char *model_path, const char *ptbxl,
                  const char *cache_path, int quiet, pe_cache *raw, pe_error *e);

/* Logits (n, C) -> probabilities in place. */
void cli_sigmoid(float *v, size_t n);

#endif
