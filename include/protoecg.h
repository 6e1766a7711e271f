/* protoecg: an interpretable ECG rhythm classifier (the rhythm branch of
 * ProtoECGNet) as a C library. See docs/ and README.md.
 *
 * Every fallible call takes a pe_error* and returns non-zero (or NULL) on
 * failure, with a message naming the file and what is wrong. */
#ifndef PROTOECG_H
#define PROTOECG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PE_VERSION_STRING "0.1.0"

typedef struct {
    char msg[1024];
} pe_error;

/* The 16 rhythm labels in model order (spec section 1). */
#define PE_NUM_CLASSES 16
#define PE_NUM_LEADS 12
#define PE_NUM_SAMPLES 1000
#define PE_SAMPLING_HZ 100
extern const char *const pe_class_names[PE_NUM_CLASSES];

#ifdef __cplusplus
}
#endif

#endif
