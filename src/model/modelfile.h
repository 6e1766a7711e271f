/* Model files: a pe_net's tensors under PyTorch state_dict names in safetensors,
 * plus metadata (format version, label order, network shape, preprocessing
 * statistics, prototype sources, training config). See docs/formats.md. */
#ifndef PE_MODEL_MODELFILE_H
#define PE_MODEL_MODELFILE_H

#include "model/net.h"

#define PE_MODEL_FORMAT "protoecg-model"
#define PE_MODEL_FORMAT_VERSION 1
/* Metadata key of the int8 calibration (pe_int8_calib, version PE_INT8_CALIB_VERSION). */
#define PE_INT8_CALIB_KEY "int8_calibration"

/* Where a prototype was projected: the training record, its labels, the cosine. */
typedef struct {
    int ecg_id; /* -1 if never projected */
    float similarity;
    uint8_t labels[PE_NUM_CLASSES];
} pe_proto_source;

/* The preprocessing a model expects (applied by predict/explain to raw records). */
typedef struct {
    int filter_order;
    float cutoff_hz, fs;
    int standardized;
    float mean[PE_NUM_LEADS], std[PE_NUM_LEADS];
} pe_preproc;

typedef struct {
    pe_net net;
    pe_preproc pre;
    pe_proto_source *sources; /* n_protos entries (NULL for the baseline) */
    char *config_json;        /* training configuration, free text JSON (may be NULL) */
} pe_model;

/* Initializes a model with a fresh net (see pe_net_init). */
int pe_model_init(pe_model *m, const pe_net_config *cfg, int max_batch, uint64_t seed,
                  int use_dnnl, pe_error *e);
void pe_model_free(pe_model *m);

/* Writes the model atomically; bf16 = 1 stores parameters as bfloat16. */
int pe_model_save(const pe_model *m, const char *path, int bf16, pe_error *e);
/* Loads a model file written by pe_model_save (or converted from PyTorch). */
int pe_model_load(pe_model *m, const char *path, int max_batch, int use_dnnl, pe_error *e);
/* Same, from a buffer holding the file's bytes; `name` is used in messages. */
int pe_model_load_memory(pe_model *m, const void *data, size_t len, const char *name,
                         int max_batch, int use_dnnl, pe_error *e);

/* Copies every tensor (params, buffers) and the int8 calibration of src into dst (same
 * config). */
void pe_net_copy_weights(pe_net *dst, const pe_net *src);

#endif
