/* Whole-file reading and atomic writing (temp file + fsync + rename). */
#ifndef PE_UTIL_FILEIO_H
#define PE_UTIL_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "protoecg.h"

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience;
 * *len excludes the terminator). Returns NULL and fills e on failure. */
char *pe_read_file(const char *path, size_t *len, pe_error *e);

/* Atomic writer: opens "<path>.tmp.<pid>"; pe_atomic_commit flushes, fsyncs and
 * renames it over path; pe_atomic_abort removes it. */
typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4160];
} pe_atomic_file;

int pe_atomic_open(pe_atomic_file *af, const char *path, pe_error *e);
int pe_atomic_commit(pe_atomic_file *af, pe_error *e);
void pe_atomic_abort(pe_atomic_file *af);

/* Writes len bytes atomically to path. */
int pe_write_file_atomic(const char *path, const void *data, size_t len, pe_error *e);

/* 1 if the path exists and is a regular file or directory, else 0. */
int pe_path_exists(const char *path);

/* 1 if the path names a CSV table (ends in ".csv", any case), else 0. */
int pe_path_is_csv(const char *path);

/* Joins dir and rel with exactly one '/' into out (size n). Returns -1 if too long. */
int pe_path_join(char *out, size_t n, const char *dir, const char *rel);

#endif
