/* RFC 4180 CSV reader (see csv.h). One pass over the text; all field texts go into one
 * buffer sized up front (unquoted text is never longer than its source, plus one NUL per
 * field), so field pointers stay valid. */
#include "data/csv.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

void pe_csv_free(pe_csv *csv) {
    if (!csv) return;
    free(csv->buf);
    free(csv->fields);
    free(csv->row_start);
    free(csv->row_line);
    memset(csv, 0, sizeof *csv);
}

/* 1 if text[pos] ends a line: '\n', or '\r' followed by '\n' or the end of the text. */
static int at_eol(const char *text, size_t len, size_t pos) {
    return text[pos] == '\n' || (text[pos] == '\r' && (pos + 1 == len || text[pos + 1] == '\n'));
}

int pe_csv_parse(const char *text, size_t len, const char *path, pe_csv *csv, pe_error *e) {
    memset(csv, 0, sizeof *csv);
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++) line += *q == '\n';
        return pe_fail(e, "%s:%d: NUL byte in CSV text", path, line);
    }
    /* Upper bounds: fields <= commas + line breaks + 1, rows <= line breaks + 1. */
    size_t n_breaks = 0, n_commas = 0;
    for (size_t i = 0; i < len; i++) {
        n_breaks += text[i] == '\n';
        n_commas += text[i] == ',';
    }
    size_t max_fields = n_commas + n_breaks + 1, max_rows = n_breaks + 1;
    if (max_rows > (size_t)0x7fffffff) return pe_fail(e, "%s: too many lines", path);
    csv->buf = malloc(len + max_fields + 1);
    csv->fields = malloc(max_fields * sizeof *csv->fields);
    csv->row_start = malloc((max_rows + 1) * sizeof *csv->row_start);
    csv->row_line = malloc(max_rows * sizeof *csv->row_line);
    if (!csv->buf || !csv->fields || !csv->row_start || !csv->row_line) {
        pe_csv_free(csv);
        return pe_fail(e, "%s: out of memory", path);
    }

    char *out = csv->buf;
    size_t pos = 0, nf = 0;
    int line = 1, nr = 0;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) pos = 3; /* UTF-8 BOM */
    while (pos < len) {
        if (at_eol(text, len, pos)) { /* blank line */
            pos += text[pos] == '\r' ? 1 : 0;
            if (pos < len) pos++, line++;
            continue;
        }
        csv->row_start[nr] = nf;
        csv->row_line[nr] = line;
        for (;;) { /* one field per iteration */
            csv->fields[nf++] = out;
            if (pos < len && text[pos] == '"') {
                int qline = line;
                pos++;
                for (;;) {
                    if (pos >= len) {
                        pe_csv_free(csv);
                        return pe_fail(e, "%s:%d: unterminated quoted field (the quote opened on "
                                       "line %d is never closed)", path, qline, qline);
                    }
                    char c = text[pos];
                    if (c == '"') {
                        if (pos + 1 < len && text[pos + 1] == '"') {
                            *out++ = '"';
                            pos += 2;
                            continue;
                        }
                        pos++;
                        break;
                    }
                    if (c == '\n') line++;
                    *out++ = c;
                    pos++;
                }
                if (pos < len && text[pos] != ',' && !at_eol(text, len, pos)) {
                    pe_csv_free(csv);
                    return pe_fail(e, "%s:%d: unexpected character '%c' after a closing quote",
                                   path, line, text[pos]);
                }
            } else {
                while (pos < len && text[pos] != ',' && !at_eol(text, len, pos))
                    *out++ = text[pos++];
            }
            *out++ = '\0';
            if (pos < len && text[pos] == ',') {
                pos++;
                continue;
            }
            /* End of record: consume the line break, if any. */
            if (pos < len && text[pos] == '\r') pos++;
            if (pos < len && text[pos] == '\n') pos++, line++;
            break;
        }
        nr++;
    }
    csv->row_start[nr] = nf;
    csv->n_rows = nr;
    return 0;
}

int pe_csv_load(const char *path, pe_csv *csv, pe_error *e) {
    memset(csv, 0, sizeof *csv);
    size_t len = 0;
    char *text = pe_read_file(path, &len, e);
    if (!text) return -1;
    int rc = pe_csv_parse(text, len, path, csv, e);
    free(text);
    return rc;
}

int pe_csv_column(const pe_csv *csv, const char *name) {
    for (int c = 0; csv->n_rows > 0 && c < pe_csv_n_fields(csv, 0); c++)
        if (!strcmp(pe_csv_field(csv, 0, c), name)) return c;
    return -1;
}
