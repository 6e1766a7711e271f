#include "explain/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int pe_sb_reserve(pe_sb *sb, size_t extra) {
    if (sb->oom) return -1;
    if (extra > (size_t)-1 / 2 - sb->len - 1) {
        sb->oom = 1;
        return -1;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap) return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        sb->oom = 1;
        return -1;
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

void pe_sb_appendn(pe_sb *sb, const char *s, size_t n) {
    if (pe_sb_reserve(sb, n) != 0) return;
    if (n) memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void pe_sb_append(pe_sb *sb, const char *s) {
    if (s) pe_sb_appendn(sb, s, strlen(s));
}

void pe_sb_putc(pe_sb *sb, char c) {
    pe_sb_appendn(sb, &c, 1);
}

void pe_sb_vappendf(pe_sb *sb, const char *fmt, va_list ap) {
    if (sb->oom) return;
    va_list ap2;
    va_copy(ap2, ap);
    /* First try into the free space; most appends are short and fit. */
    size_t room = sb->cap > sb->len ? sb->cap - sb->len : 0;
    int k = vsnprintf(room ? sb->data + sb->len : NULL, room, fmt, ap);
    if (k < 0) {
        sb->oom = 1; /* encoding error: treat as a failed append */
        va_end(ap2);
        return;
    }
    if ((size_t)k >= room) {
        if (pe_sb_reserve(sb, (size_t)k) != 0) {
            va_end(ap2);
            return;
        }
        vsnprintf(sb->data + sb->len, (size_t)k + 1, fmt, ap2);
    }
    va_end(ap2);
    sb->len += (size_t)k;
}

void pe_sb_appendf(pe_sb *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pe_sb_vappendf(sb, fmt, ap);
    va_end(ap);
}

const char *pe_sb_str(const pe_sb *sb) {
    return sb->data ? sb->data : "";
}

int pe_sb_check(const pe_sb *sb, const char *what, pe_error *e) {
    if (sb->oom) return pe_fail(e, "out of memory while building %s", what ? what : "text");
    return 0;
}

void pe_sb_free(pe_sb *sb) {
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->oom = 0;
}
