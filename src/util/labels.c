#include "protoecg.h"

const char *const pe_class_names[PE_NUM_CLASSES] = {
    "1AVB", "IVCD", "3AVB", "2AVB", "SR",   "AFIB", "STACH", "SARRH",
    "SBRAD", "PACE", "SVARR", "BIGU", "AFLT", "SVTAC", "PSVT", "TRIGU",
};
