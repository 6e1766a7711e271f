#include "eval/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"
#include "util/error.h"

int pe_evaluate_model(pe_model *m, const pe_cache *raw, int split, pe_split_pred *out,
                      pe_error *e) {
    memset(out, 0, sizeof *out);
    const float *mean = m->pre.standardized ? m->pre.mean : NULL;
    if (pe_cache_copy_split(raw, split, mean, m->pre.std, &out->data, e)) return -1;
    if (pe_split_view_init(&out->view, &out->data, (pe_split)split, e)) return -1;
    if (out->view.n == 0) return pe_fail(e, "the %s split is empty", split == 2 ? "test" : "val");
    size_t nc = (size_t)out->view.n * PE_NUM_CLASSES;
    out->probs = malloc(nc * sizeof(float));
    out->labels = pe_split_labels(&out->view);
    if (!out->probs || !out->labels) return pe_fail(e, "out of memory");
    /* logits (n, C) -> probabilities in place */
    if (pe_predict_split(&m->net, &out->view, out->probs, NULL, NULL, NULL, e)) return -1;
    for (size_t i = 0; i < nc; i++) out->probs[i] = 1.0f / (1.0f + expf(-out->probs[i]));
    return 0;
}

void pe_split_pred_free(pe_split_pred *p) {
    pe_split_view_free(&p->view);
    pe_cache_close(&p->data);
    free(p->probs);
    free(p->labels);
    memset(p, 0, sizeof *p);
}
