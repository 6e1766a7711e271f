/* Library-internal access to a classifier's model (for the CLI's pages). */
#ifndef PE_API_INTERNAL_H
#define PE_API_INTERNAL_H

#include "model/modelfile.h"
#include "protoecg.h"

const pe_model *pe_classifier_model(const pe_classifier *c);

#endif
