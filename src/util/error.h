/* Error reporting: every fallible function takes a pe_error* and returns -1 on
 * failure after writing a message that names the file and what is wrong. */
#ifndef PE_UTIL_ERROR_H
#define PE_UTIL_ERROR_H

#include "protoecg.h"

/* Writes the formatted message into e (if e != NULL) and returns -1. */
int pe_fail(pe_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
