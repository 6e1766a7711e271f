#include "explain/gallery.h"

#include <math.h>
#include <string.h>

static double cosine(const float *a, const float *b, int D) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < D; d++) ab += (double)a[d] * b[d], aa += (double)a[d] * a[d], bb += (double)b[d] * b[d];
    return ab / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12));
}

void pe_gallery_stats_compute(const pe_model *m, pe_gallery_stats *st) {
    const pe_net *net = &m->net;
    int K = net->cfg.protos_per_class, P = net->n_protos, D = net->cfg.latent_dim;
    const float *pv = net->params + net->protos;
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        double within = 0, between = 0;
        long nw = 0, nb = 0;
        st->n_single_label[c] = 0;
        st->n_duplicates[c] = 0;
        for (int i = c * K; i < (c + 1) * K; i++) {
            for (int j = 0; j < P; j++) {
                if (j == i) continue;
                double cs = cosine(pv + (size_t)i * D, pv + (size_t)j * D, D);
                if (j / K == c) within += cs, nw++;
                else between += cs, nb++;
            }
            const pe_proto_source *s = &m->sources[i];
            int only = s->ecg_id >= 0 && s->labels[c];
            for (int k = 0; k < PE_NUM_CLASSES; k++)
                if (k != c && s->labels[k]) only = 0;
            st->n_single_label[c] += only;
            for (int j = 0; j < P && s->ecg_id >= 0; j++)
                if (j != i && m->sources[j].ecg_id == s->ecg_id) {
                    st->n_duplicates[c]++;
                    break;
                }
        }
        st->mean_within_cos[c] = nw ? within / (double)nw : NAN;
        st->mean_between_cos[c] = nb ? between / (double)nb : NAN;
    }
}
