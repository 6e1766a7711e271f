/* Scoring a trained model on one split of PTB-XL: the predictions shared by
 * `protoecg eval` and `protoecg report`.
 *
 * The input is a raw cache: records high-pass filtered with the model's filter but not
 * standardized (see cli_raw_cache / pe_cache_prepare with standardize = 0). The split is
 * copied into memory, standardized with the model's own per-lead statistics, run through
 * the network in eval mode, and the logits turned into probabilities. */
#ifndef PE_EVAL_EVALUATE_H
#define PE_EVAL_EVALUATE_H

#include <stdint.h>

#include "data/cache.h"
#include "data/dataset.h"
#include "model/modelfile.h"

/* Probabilities and labels of every record of one split, in cache order. */
typedef struct {
    pe_cache data;      /* the split's records, standardized for the model */
    pe_split_view view; /* all records of data; n = view.n */
    float *probs;       /* (n, C) sigmoid probabilities */
    uint8_t *labels;    /* (n, C) true labels in {0,1} */
} pe_split_pred;

/* Predicts every record of `split` (PE_SPLIT_VAL or PE_SPLIT_TEST; PE_SPLIT_TRAIN works
 * too) of the raw cache with model m (its activations are overwritten, hence not const).
 * Fails on an empty split or out of memory. *out is zeroed first and may be passed to
 * pe_split_pred_free after a failure. */
int pe_evaluate_model(pe_model *m, const pe_cache *raw, int split, pe_split_pred *out,
                      pe_error *e);
void pe_split_pred_free(pe_split_pred *p);

/* ecg_id of the split's record i (0 <= i < view.n). */
static inline int pe_split_pred_ecg_id(const pe_split_pred *p, long i) {
    return p->data.ecg_id[p->view.idx[i]];
}

#endif
