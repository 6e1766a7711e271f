/* Embedding protoecg in a program: load a model, read a WFDB record, classify it and
 * explain the result. Uses only the public header include/protoecg.h.
 *
 *   embed_example MODEL RECORD [TOP_K]
 *
 * MODEL is a model file written by `protoecg train` (RUNDIR/model.safetensors), RECORD a
 * WFDB record path without extension (e.g. .../records100/00000/00001_lr): 12 leads,
 * 10 s, at 100 Hz or another integer rate such as 500 Hz (resampled). A longer record
 * is read in 10-s windows with pe_classify_windows and pe_explain_window (docs/api.md). */
#include <stdio.h>
#include <stdlib.h>

#include "protoecg.h"

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL RECORD [TOP_K]\n", argv[0]);
        return 2;
    }
    int top_k = argc == 4 ? atoi(argv[3]) : 3;
    pe_error e;

    /* 1. the model (weights, preprocessing statistics, prototype sources) */
    pe_classifier *clf = pe_classifier_load(argv[1], &e);
    if (!clf) {
        fprintf(stderr, "cannot load the model: %s\n", e.msg);
        return 1;
    }

    /* 2. the record, in mV, lead-major: signal[lead * n_samples + i] */
    float *signal = NULL;
    int n_leads;
    long n_samples;
    double fs;
    if (pe_record_read(argv[2], &signal, &n_leads, &n_samples, &fs, &e)) {
        fprintf(stderr, "cannot read the record: %s\n", e.msg);
        pe_classifier_free(clf);
        return 1;
    }
    printf("%s: %d leads, %ld samples at %g Hz\n", argv[2], n_leads, n_samples, fs);

    /* 3. probabilities of the 16 rhythm labels (resampling, filtering and
     *    standardization happen inside) */
    float probs[PE_NUM_CLASSES];
    if (pe_classify(clf, signal, n_leads, n_samples, fs, probs, &e)) {
        fprintf(stderr, "cannot classify: %s\n", e.msg);
        free(signal);
        pe_classifier_free(clf);
        return 1;
    }
    printf("\nprobabilities:\n");
    for (int c = 0; c < PE_NUM_CLASSES; c++)
        printf("  %-6s %.3f%s\n", pe_class_names[c], probs[c], probs[c] >= 0.5f ? "  <- predicted" : "");

    /* 4. the explanation: which prototypes (real training ECGs) drove each class */
    int rc = 0;
    if (pe_classifier_protos_per_class(clf) == 0) {
        printf("\n(a plain ResNet-18 model: no prototypes to explain with)\n");
    } else {
        pe_class_explanation ex[PE_NUM_CLASSES];
        if (pe_explain(clf, signal, n_leads, n_samples, fs, top_k, probs, ex, &e)) {
            fprintf(stderr, "cannot explain: %s\n", e.msg);
            rc = 1;
        } else {
            /* every predicted class; the most likely one when none is predicted */
            int best = 0, n_pred = 0;
            for (int c = 0; c < PE_NUM_CLASSES; c++) {
                if (probs[c] > probs[best]) best = c;
                n_pred += ex[c].predicted;
            }
            for (int c = 0; c < PE_NUM_CLASSES; c++) {
                const pe_class_explanation *x = &ex[c];
                if (!x->predicted && !(n_pred == 0 && c == best)) continue;
                printf("\n%s %s: p = %.3f, logit %.3f = %+.3f (own prototypes) %+.3f (others)\n",
                       x->predicted ? "predicted" : "most likely (not predicted)",
                       pe_class_names[x->class_idx], x->probability, x->logit, x->contrib_own,
                       x->contrib_other);
                /* its own prototypes by contribution, then the other classes' largest */
                for (int k = 0; k < x->n_top; k++) {
                    const pe_proto_evidence *t = &x->top[k];
                    printf("  prototype %3d  similarity %.3f  weight %+.3f  contribution %+.3f"
                           "  source ecg_id %d\n",
                           t->prototype, t->similarity, t->weight, t->contribution,
                           t->source_ecg_id);
                }
                for (int k = 0; k < x->n_other; k++) {
                    const pe_proto_evidence *t = &x->other[k];
                    printf("  other class %-5s prototype %3d  similarity %.3f  weight %+.3f"
                           "  contribution %+.3f\n",
                           pe_class_names[t->proto_class], t->prototype, t->similarity,
                           t->weight, t->contribution);
                }
            }
        }
    }
    free(signal);
    pe_classifier_free(clf);
    return rc;
}
