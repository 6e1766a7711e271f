/* A growable, NUL-terminated string builder for generated text (HTML, SVG, JSON).
 *
 * Appends never fail loudly: on out-of-memory the builder sets a sticky `oom` flag and
 * ignores further appends, so a long sequence of appends is checked once at the end
 * with pe_sb_check(). A zero-initialized pe_sb (pe_sb sb = {0};) is empty and valid. */
#ifndef PE_EXPLAIN_STRBUF_H
#define PE_EXPLAIN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "protoecg.h"

typedef struct {
    char *data; /* NUL-terminated when len > 0 (NULL while nothing was appended) */
    size_t len; /* bytes, excluding the terminator */
    size_t cap; /* allocated bytes */
    int oom;    /* sticky: an allocation failed, the content is incomplete */
} pe_sb;

/* Makes sure at least `extra` more bytes (plus the terminator) fit. 0 or -1 (sets oom). */
int pe_sb_reserve(pe_sb *sb, size_t extra);
/* Appends n bytes of s. */
void pe_sb_appendn(pe_sb *sb, const char *s, size_t n);
/* Appends the NUL-terminated string s (NULL appends nothing). */
void pe_sb_append(pe_sb *sb, const char *s);
/* Appends one character. */
void pe_sb_putc(pe_sb *sb, char c);
/* Appends printf-style formatted text. */
void pe_sb_appendf(pe_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pe_sb_vappendf(pe_sb *sb, const char *fmt, va_list ap);
/* The content as a C string ("" when empty). */
const char *pe_sb_str(const pe_sb *sb);
/* 0 if every append succeeded, else -1 with "out of memory while building <what>". */
int pe_sb_check(const pe_sb *sb, const char *what, pe_error *e);
/* Frees the buffer and resets sb to empty (the oom flag too). */
void pe_sb_free(pe_sb *sb);

#endif
