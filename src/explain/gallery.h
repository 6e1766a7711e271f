/* Prototype statistics for the gallery (issue: explanations). */
#ifndef PE_EXPLAIN_GALLERY_H
#define PE_EXPLAIN_GALLERY_H

#include "explain/render.h"
#include "model/modelfile.h"

/* Per class: mean cosine between its prototypes, mean cosine to the other classes'
 * prototypes, prototypes whose source record carries their class only, and
 * prototypes that share their source record with another prototype. */
void pe_gallery_stats_compute(const pe_model *m, pe_gallery_stats *st);

#endif
