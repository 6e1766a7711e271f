/* Model files in the safetensors format (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes: N, little-endian u64] [N bytes: JSON header, space padded] [data section]
 *
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the data section) plus an optional "__metadata__" string->string
 * map. The reader validates strictly (like the reference implementation: the tensors
 * must tile the data section exactly, without gaps or overlaps) and converts on read;
 * the writer stores tensors sorted by name (as the Python library does) and writes the
 * file atomically. Little-endian host assumed (x86-64, aarch64). */
#ifndef PE_MODEL_SAFETENSORS_H
#define PE_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "protoecg.h"

#define PE_ST_MAX_DIMS 8

typedef enum {
    PE_ST_BOOL, PE_ST_U8, PE_ST_I8, PE_ST_I16, PE_ST_U16, PE_ST_I32, PE_ST_U32,
    PE_ST_I64, PE_ST_U64, PE_ST_F16, PE_ST_BF16, PE_ST_F32, PE_ST_F64,
} pe_st_dtype;

/* "F32", "BF16", ... */
const char *pe_st_dtype_name(pe_st_dtype dt);

/* One tensor's description, as read from the header. */
typedef struct {
    const char *name;
    pe_st_dtype dtype;
    int ndim;
    int64_t shape[PE_ST_MAX_DIMS];
    int64_t numel;
} pe_st_tensor;

/* ---- reader ---- */

typedef struct pe_st_file pe_st_file;

/* Reads and validates a whole file. NULL (and e filled, naming the file) on error. */
pe_st_file *pe_st_open(const char *path, pe_error *e);
/* Same, from a buffer (copied); `name` is used in messages. */
pe_st_file *pe_st_open_memory(const void *data, size_t len, const char *name, pe_error *e);
void pe_st_close(pe_st_file *f);

/* The path (or name) the file was opened with. */
const char *pe_st_path(const pe_st_file *f);
/* __metadata__[key], or NULL if absent. */
const char *pe_st_metadata(const pe_st_file *f, const char *key);

/* Tensors, sorted by name: i in [0, pe_st_count). */
int pe_st_count(const pe_st_file *f);
const pe_st_tensor *pe_st_at(const pe_st_file *f, int i);
const char *pe_st_name(const pe_st_file *f, int i);
/* The tensor called name, or NULL. */
const pe_st_tensor *pe_st_find(const pe_st_file *f, const char *name);

/* Copies tensor `name` into dst as float32, converting from F32/F64/F16/BF16.
 * If expect_shape is non-NULL the tensor's shape must equal it (expect_ndim dims);
 * if NULL, dst must hold pe_st_find(f, name)->numel values. Errors: "FILE: missing
 * tensor NAME", "FILE: tensor NAME: expected shape [..], got [..]", wrong dtype. */
int pe_st_read_f32(const pe_st_file *f, const char *name, float *dst,
                   const int64_t *expect_shape, int expect_ndim, pe_error *e);
/* Same as int64, converting from any integer dtype or BOOL (U64 must fit). */
int pe_st_read_i64(const pe_st_file *f, const char *name, int64_t *dst,
                   const int64_t *expect_shape, int expect_ndim, pe_error *e);

/* ---- writer ---- */

typedef struct pe_st_writer pe_st_writer;

pe_st_writer *pe_st_writer_new(void);  /* NULL if out of memory */
void pe_st_writer_free(pe_st_writer *w);

/* Add a tensor (data is copied). Fails on a duplicate or invalid name, ndim > 8,
 * a negative dimension, or out of memory. */
int pe_st_add_f32(pe_st_writer *w, const char *name, const float *data,
                  const int64_t *shape, int ndim, pe_error *e);
/* Stored as BF16, rounded to nearest, ties to even (NaN stays NaN). */
int pe_st_add_bf16(pe_st_writer *w, const char *name, const float *data,
                   const int64_t *shape, int ndim, pe_error *e);
int pe_st_add_i64(pe_st_writer *w, const char *name, const int64_t *data,
                  const int64_t *shape, int ndim, pe_error *e);
/* Sets (or replaces) __metadata__[key] = value. */
int pe_st_set_metadata(pe_st_writer *w, const char *key, const char *value, pe_error *e);

/* Writes the file atomically (temp file + rename): tensors sorted by name, laid out
 * contiguously in that order, metadata keys sorted, header padded with spaces to a
 * multiple of 8. */
int pe_st_write(const pe_st_writer *w, const char *path, pe_error *e);

/* float32 -> bfloat16 bits, round to nearest even (exposed for tests). */
uint16_t pe_f32_to_bf16(float x);
float pe_bf16_to_f32(uint16_t b);

#endif
