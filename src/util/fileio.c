#include "util/fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

char *pe_read_file(const char *path, size_t *len, pe_error *e) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        pe_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        pe_fail(e, "%s: out of memory", path);
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                pe_fail(e, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        pe_fail(e, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int pe_atomic_open(pe_atomic_file *af, const char *path, pe_error *e) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return pe_fail(e, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return pe_fail(e, "%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

int pe_atomic_commit(pe_atomic_file *af, pe_error *e) {
    if (!af->f) return pe_fail(e, "%s: not open", af->path);
    int bad = fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0;
    if (fclose(af->f) != 0) bad = 1;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return pe_fail(e, "%s: write failed: %s", af->path, strerror(errno));
    }
    if (rename(af->tmp, af->path) != 0) {
        int en = errno;
        unlink(af->tmp);
        return pe_fail(e, "%s: cannot rename into place: %s", af->path, strerror(en));
    }
    return 0;
}

void pe_atomic_abort(pe_atomic_file *af) {
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
    }
    if (af->tmp[0]) unlink(af->tmp);
}

int pe_write_file_atomic(const char *path, const void *data, size_t len, pe_error *e) {
    pe_atomic_file af;
    if (pe_atomic_open(&af, path, e)) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        pe_atomic_abort(&af);
        return pe_fail(e, "%s: write failed", path);
    }
    return pe_atomic_commit(&af, e);
}

int pe_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int pe_path_is_csv(const char *path) {
    size_t len = strlen(path);
    return len > 4 && strcasecmp(path + len - 4, ".csv") == 0;
}

int pe_path_join(char *out, size_t n, const char *dir, const char *rel) {
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    int w = snprintf(out, n, "%.*s/%s", (int)dl, dir, rel);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}
