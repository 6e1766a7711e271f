/* Tests of the string builder and the HTML/SVG rendering (src/explain/strbuf.h, render.h).
 *
 * Builds an explanation page and a prototype gallery from real PTB-XL records (read here
 * with fread, independently of the library's loaders) and synthetic explanation structs,
 * and checks the drawings against the ECG paper geometry: 25 mm/s and 10 mm/mV at 4 px/mm
 * (1 px per sample at 100 Hz, 40 px per mV), the 3x4 lead layout with 2.5 s per column,
 * 12 lead traces + one 10 s rhythm strip per ECG, clipping, escaping, balanced tags and
 * the absence of any network resource. The pages are written to $PE_RENDER_OUT (default
 * $TMPDIR/protoecg_render) for scripts/browser_check (tests/cli_browser.sh). */
#include "check.h"

#include <errno.h>
#include <stdint.h>

#include "explain/render.h"
#include "explain/strbuf.h"
#include "util/fileio.h"

#define NL PE_NUM_LEADS
#define NS PE_NUM_SAMPLES

/* Reads records100/NNNNN/NNNNN_lr.dat: int16 little-endian, 12 leads interleaved, gain
 * 1000/mV, into out (12, 1000) mV lead-major. 0 or -1. */
static int read_record(const char *dir, int ecg_id, float *out) {
    char path[4400];
    snprintf(path, sizeof path, "%s/records100/%05d/%05d_lr.dat", dir, ecg_id / 1000 * 1000,
             ecg_id);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    unsigned char buf[NL * NS * 2];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (got != sizeof buf) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, got, sizeof buf);
        return -1;
    }
    for (int i = 0; i < NS; i++)
        for (int l = 0; l < NL; l++) {
            size_t k = ((size_t)i * NL + l) * 2;
            int16_t v = (int16_t)(uint16_t)(buf[k] | (buf[k + 1] << 8));
            out[l * NS + i] = v / 1000.0f;
        }
    return 0;
}

/* The record's rhythm labels from ptbxl_database.csv (a label is positive when its code
 * appears in scp_codes). */
static void read_labels(const char *dir, int ecg_id, uint8_t *labels) {
    memset(labels, 0, PE_NUM_CLASSES);
    char path[4400];
    snprintf(path, sizeof path, "%s/ptbxl_database.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    static char line[1 << 16];
    char prefix[32];
    int np = snprintf(prefix, sizeof prefix, "%d,", ecg_id);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, (size_t)np) != 0) continue;
        for (int c = 0; c < PE_NUM_CLASSES; c++) {
            char code[24];
            snprintf(code, sizeof code, "'%s'", pe_class_names[c]);
            labels[c] = strstr(line, code) != NULL;
        }
        break;
    }
    fclose(f);
}

static int count_str(const char *s, const char *sub) {
    int k = 0;
    size_t m = strlen(sub);
    for (const char *p = strstr(s, sub); p; p = strstr(p + m, sub)) k++;
    return k;
}

/* Copies the value of attribute `name` of the element starting at tag into a malloc'd
 * string (NULL if absent). */
static char *attr(const char *tag, const char *name) {
    const char *end = strchr(tag, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(tag, key);
    if (!p || (end && p > end)) return NULL;
    p += strlen(key);
    const char *q = strchr(p, '"');
    if (!q) return NULL;
    char *v = malloc((size_t)(q - p) + 1);
    memcpy(v, p, (size_t)(q - p));
    v[q - p] = '\0';
    return v;
}

/* Parses "x,y x,y ..." into xs, ys (capacity cap). Returns the point count, -1 if malformed. */
static int parse_points(const char *s, double *xs, double *ys, int cap) {
    int k = 0;
    while (*s) {
        char *e1, *e2;
        double x = strtod(s, &e1);
        if (e1 == s || *e1 != ',') return -1;
        double y = strtod(e1 + 1, &e2);
        if (e2 == e1 + 1 || (*e2 && *e2 != ' ')) return -1;
        if (k < cap) xs[k] = x, ys[k] = y;
        k++;
        s = *e2 ? e2 + 1 : e2;
    }
    return k;
}

/* Checks one <svg class="ecg"> ... </svg> drawing of the signal sig (12, n) at 100 Hz:
 * 12 lead polylines in the standard layout and one rhythm strip, points in the drawing,
 * x at 1 px per sample, y at -40 px per mV about one baseline per row (unclipped
 * points). Returns the number of polylines checked. */
static int check_ecg_svg(const char *svg, const float *sig, int n) {
    static const char *layout[3][4] = {
        {"I", "aVR", "V1", "V4"}, {"II", "aVL", "V2", "V5"}, {"III", "aVF", "V3", "V6"}};
    char *vb = attr(svg, "viewBox");
    double W = 0, H = 0;
    CHECK(vb && sscanf(vb, "0 0 %lf %lf", &W, &H) == 2);
    free(vb);
    const char *end = strstr(svg, "</svg>");
    CHECK(end != NULL);
    /* Count within this drawing only. */
    size_t len = (size_t)(end - svg);
    char *body = malloc(len + 1);
    memcpy(body, svg, len);
    body[len] = '\0';
    CHECK_MSG(count_str(body, "class=\"lead\"") == 12, "%d lead traces",
              count_str(body, "class=\"lead\""));
    CHECK_MSG(count_str(body, "class=\"rhythm\"") == 1, "%d rhythm strips",
              count_str(body, "class=\"rhythm\""));
    CHECK(count_str(body, "<polyline") == 13);
    CHECK(strstr(body, "nan") == NULL && strstr(body, "inf") == NULL);

    double *xs = malloc(sizeof(double) * (size_t)n), *ys = malloc(sizeof(double) * (size_t)n);
    int checked = 0, lead_points = 0;
    double row_base[4] = {NAN, NAN, NAN, NAN}, col_x0[4] = {NAN, NAN, NAN, NAN};
    int idx = 0;
    for (const char *p = strstr(body, "<polyline"); p; p = strstr(p + 1, "<polyline"), idx++) {
        char *cls = attr(p, "class"), *name = attr(p, "data-lead"), *pts = attr(p, "points");
        CHECK(cls && name && pts);
        if (!cls || !name || !pts) {
            free(cls), free(name), free(pts);
            continue;
        }
        int rhythm = strcmp(cls, "rhythm") == 0;
        int r = rhythm ? 3 : idx / 4, k = rhythm ? 0 : idx % 4;
        CHECK_MSG(strcmp(name, rhythm ? "II" : layout[r][k]) == 0, "polyline %d is %s", idx, name);
        int lead = 0;
        for (int l = 0; l < NL; l++)
            if (strcmp(pe_lead_names[l], name) == 0) lead = l;
        int i0 = rhythm ? 0 : k * n / 4, i1 = rhythm ? n : (k + 1) * n / 4;
        int np = parse_points(pts, xs, ys, n);
        CHECK_MSG(np == i1 - i0, "%s %s: %d points, expected %d", cls, name, np, i1 - i0);
        if (!rhythm) lead_points += np;
        if (np == i1 - i0) {
            double base = NAN;
            int bad_x = 0, bad_y = 0, outside = 0;
            for (int j = 0; j < np; j++) {
                if (xs[j] < 0 || xs[j] > W || ys[j] < 0 || ys[j] > H) outside++;
                if (j > 0 && fabs(xs[j] - xs[j - 1] - 1.0) > 0.11) bad_x++;
                double v = sig[lead * n + i0 + j];
                if (ys[j] <= 2.0 + 0.05 || ys[j] >= H - 2.0 - 0.05) continue; /* clipped */
                double b = ys[j] + 40.0 * v;                              /* the baseline */
                if (isnan(base)) base = b;
                if (fabs(b - base) > 0.11) bad_y++;
            }
            CHECK_MSG(outside == 0, "%s: %d points outside the drawing", name, outside);
            CHECK_MSG(bad_x == 0, "%s: %d steps differ from 1 px/sample", name, bad_x);
            CHECK_MSG(bad_y == 0, "%s: %d points off 10 mm/mV", name, bad_y);
            /* One baseline per row; column k starts 2.5 s (250 px) after column 0. */
            if (!isnan(base)) {
                if (isnan(row_base[r])) row_base[r] = base;
                CHECK_CLOSE(base, row_base[r], 0.11, 0);
            }
            if (!rhythm) {
                if (isnan(col_x0[k])) col_x0[k] = xs[0];
                CHECK_CLOSE(xs[0], col_x0[0] + (double)(k * n / 4), 0.11, 0); /* 2.5 s at n = 1000 */
            } else {
                CHECK_CLOSE(xs[0], col_x0[0], 0.11, 0);
                CHECK_CLOSE(xs[np - 1] - xs[0], n - 1, 0.11, 0);
            }
        }
        checked++;
        free(cls), free(name), free(pts);
    }
    CHECK_MSG(lead_points == 3 * n, "the 12 lead segments have %d points, expected 3n", lead_points);
    /* Rows are 35 mm (140 px) apart. */
    for (int r = 1; r < 4; r++)
        if (!isnan(row_base[r]) && !isnan(row_base[r - 1]))
            CHECK_CLOSE(row_base[r] - row_base[r - 1], 140.0, 0.11, 0);
    free(xs), free(ys), free(body);
    return checked;
}

/* Checks every ECG drawing of a page; returns how many there are. */
static int check_page_ecgs(const char *page, const float *const *sigs, int n_sigs, int n) {
    int k = 0;
    for (const char *p = strstr(page, "<svg"); p; p = strstr(p + 1, "<svg")) {
        char *cls = attr(p, "class");
        if (cls && strcmp(cls, "ecg") == 0) {
            CHECK(k < n_sigs);
            if (k < n_sigs) CHECK(check_ecg_svg(p, sigs[k], n) == 13);
            k++;
        }
        free(cls);
    }
    return k;
}

/* Tags must nest: every element is closed (or self-closed, or void) in order. */
static int tags_balanced(const char *s) {
    const char *stack[256];
    size_t lens[256];
    int depth = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        if (p[1] == '!') continue; /* doctype */
        int closing = p[1] == '/';
        const char *nm = p + 1 + closing;
        size_t nl = strcspn(nm, " >/\n");
        const char *gt = strchr(p, '>');
        if (!gt || nl == 0) return 0;
        if (!closing && gt[-1] == '/') continue;
        if (!closing && ((nl == 4 && strncmp(nm, "meta", 4) == 0) ||
                         (nl == 2 && strncmp(nm, "br", 2) == 0)))
            continue; /* void elements */
        if (!closing) {
            if (depth == 256) return 0;
            stack[depth] = nm, lens[depth++] = nl;
        } else {
            if (depth == 0 || lens[depth - 1] != nl || strncmp(stack[depth - 1], nm, nl) != 0) {
                fprintf(stderr, "unbalanced </%.*s> at offset %ld\n", (int)nl, nm, (long)(p - s));
                return 0;
            }
            depth--;
        }
    }
    return depth == 0;
}

/* The page's visible text (tags removed, entities left as they are). */
static char *strip_tags(const char *s) {
    char *out = malloc(strlen(s) + 1);
    size_t k = 0;
    int in = 0;
    for (; *s; s++) {
        if (*s == '<') in = 1;
        else if (*s == '>') in = 0;
        else if (!in) out[k++] = *s;
    }
    out[k] = '\0';
    return out;
}

/* No network resource: the only URL is the SVG namespace, no script, no external file. */
static void check_self_contained(const char *page) {
    CHECK_MSG(count_str(page, "http") == count_str(page, "xmlns=\"http://www.w3.org/2000/svg\""),
              "%d http vs %d svg xmlns", count_str(page, "http"),
              count_str(page, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(strstr(page, "<script") == NULL);
    CHECK(strstr(page, " src=") == NULL);
    CHECK(strstr(page, "href=") == NULL);
    CHECK(strstr(page, "url(") == NULL);
    CHECK(strstr(page, "@import") == NULL);
    CHECK(strstr(page, "<link") == NULL);
    CHECK(strstr(page, "<img") == NULL);
    CHECK(strstr(page, "//") == NULL || count_str(page, "//") == count_str(page, "http://"));
    CHECK(tags_balanced(page));
}

static void write_page(const pe_sb *sb, const char *dir, const char *name) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pe_error e = {{0}};
    CHECK_MSG(pe_html_write(sb, path, &e) == 0, "%s", e.msg);
    size_t len = 0;
    char *back = pe_read_file(path, &len, &e);
    CHECK_MSG(back && len == sb->len && memcmp(back, sb->data, len) == 0, "%s read back", path);
    free(back);
}

static void test_strbuf(void) {
    pe_sb sb = {0};
    CHECK(strcmp(pe_sb_str(&sb), "") == 0);
    char ref[40000];
    size_t k = 0;
    for (int i = 0; i < 2000; i++) {
        pe_sb_appendf(&sb, "%d:%.2f;", i, i * 0.25);
        k += (size_t)snprintf(ref + k, sizeof ref - k, "%d:%.2f;", i, i * 0.25);
    }
    pe_sb_append(&sb, "end");
    pe_sb_putc(&sb, '!');
    pe_sb_appendn(&sb, "xyz", 2);
    k += (size_t)snprintf(ref + k, sizeof ref - k, "end!xy");
    CHECK(sb.len == k && strcmp(sb.data, ref) == 0);
    /* A long single append (larger than the free space). */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pe_sb_appendf(&sb, "%s", big);
    CHECK(sb.len == k + sizeof big - 1 && sb.data[sb.len] == '\0');
    pe_error e = {{0}};
    CHECK(pe_sb_check(&sb, "x", &e) == 0);
    /* The out-of-memory flag is sticky: appends are ignored and the check fails. */
    sb.oom = 1;
    size_t before = sb.len;
    pe_sb_append(&sb, "more");
    pe_sb_appendf(&sb, "%d", 5);
    CHECK(sb.len == before);
    CHECK(pe_sb_check(&sb, "the test page", &e) == -1);
    CHECK_CONTAINS(e.msg, "out of memory while building the test page");
    CHECK(pe_html_write(&sb, "/tmp/protoecg_never_written.html", &e) == -1);
    CHECK(!pe_path_exists("/tmp/protoecg_never_written.html"));
    pe_sb_free(&sb);
    CHECK(sb.len == 0 && sb.data == NULL && sb.oom == 0);

    pe_html_escape(&sb, "<a href='x'>&\"\x01ok\n");
    CHECK(strcmp(pe_sb_str(&sb), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;ok\n") == 0);
    pe_sb_free(&sb);
}

/* Clipping: huge values and NaN stay inside the drawing and produce valid numbers. */
static void test_clipping(void) {
    int n = 400;
    float *sig = calloc((size_t)NL * n, sizeof(float));
    for (int l = 0; l < NL; l++)
        for (int i = 0; i < n; i++) sig[l * n + i] = (i % 50 == 0) ? 80.0f : (i % 50 == 1) ? -80.0f
                                                                                         : 0.1f * l;
    sig[1 * n + 7] = NAN;
    pe_sb sb = {0};
    pe_svg_ecg(&sb, sig, n, 100.0, "clip", 0.5);
    CHECK(check_ecg_svg(pe_sb_str(&sb), sig, n) == 13);
    char *w = attr(pe_sb_str(&sb), "width"), *vb = attr(pe_sb_str(&sb), "viewBox");
    double W = 0, H = 0;
    CHECK(vb && sscanf(vb, "0 0 %lf %lf", &W, &H) == 2);
    CHECK(w && fabs(atof(w) - 0.5 * W) < 0.11);
    /* A 4 s record: the paper is 10 + 100 + 5 mm wide, i.e. 115 mm = 460 px. */
    CHECK_CLOSE(W, 460.0, 0, 0);
    free(w), free(vb);
    pe_sb_free(&sb);
    /* Invalid input draws a notice, not a broken drawing. */
    pe_svg_ecg(&sb, NULL, n, 100.0, "none", 1.0);
    CHECK(strstr(pe_sb_str(&sb), "<svg") == NULL);
    pe_sb_free(&sb);
    free(sig);
}

static float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

int main(void) {
    test_strbuf();
    test_clipping();
    REQUIRE_DATA(dir);

    char out_dir[4096];
    const char *env = getenv("PE_RENDER_OUT");
    const char *tmp = getenv("TMPDIR");
    snprintf(out_dir, sizeof out_dir, "%s", env && *env ? env : "");
    if (!*out_dir) snprintf(out_dir, sizeof out_dir, "%s/protoecg_render", tmp && *tmp ? tmp : "/tmp");
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", out_dir);
        return 1;
    }

    /* Input: record 452 (AFIB, test fold); prototype sources from the training folds. */
    enum { N_SRC = 12 };
    static const int src_ids[N_SRC] = {282, 307, 321, 1, 3, 4, 103, 108, 2, 12, 102, 385};
    static const int src_class[N_SRC] = {5, 5, 5, 4, 4, 4, 6, 6, 8, 8, 0, 9};
    float *input = malloc(sizeof(float) * NL * NS);
    float *src = malloc(sizeof(float) * NL * NS * N_SRC);
    uint8_t src_labels[N_SRC][PE_NUM_CLASSES];
    if (read_record(dir, 452, input) != 0) return 1;
    for (int s = 0; s < N_SRC; s++) {
        if (read_record(dir, src_ids[s], src + (size_t)s * NL * NS) != 0) return 1;
        read_labels(dir, src_ids[s], src_labels[s]);
        CHECK_MSG(src_labels[s][src_class[s]], "record %d lacks %s", src_ids[s],
                  pe_class_names[src_class[s]]);
    }

    /* ---- explanation page: AFIB (predicted, 3 prototypes), SR (not predicted, 2) ---- */
    float probs[PE_NUM_CLASSES] = {0.031f, 0.052f, 0.004f, 0.007f, 0.21f, 0.f,    0.046f, 0.018f,
                                   0.012f, 0.009f, 0.061f, 0.015f, 0.083f, 0.011f, 0.006f, 0.008f};
    pe_class_explanation ex[2];
    memset(ex, 0, sizeof ex);
    static const float sims[2][3] = {{0.91f, 0.87f, 0.82f}, {0.41f, 0.33f, 0}};
    const float *sources[2 * PE_MAX_TOP] = {0};
    for (int i = 0; i < 2; i++) {
        pe_class_explanation *x = &ex[i];
        x->class_idx = i == 0 ? 5 : 4;
        x->n_top = i == 0 ? 3 : 2;
        x->predicted = i == 0;
        for (int k = 0; k < x->n_top; k++) {
            int s = i == 0 ? k : 3 + k;
            pe_proto_evidence *t = &x->top[k];
            t->prototype = x->class_idx * 5 + k;
            t->proto_class = x->class_idx;
            t->similarity = sims[i][k];
            t->weight = 1.0f;
            t->contribution = t->weight * t->similarity;
            t->source_ecg_id = src_ids[s];
            memcpy(t->source_labels, src_labels[s], PE_NUM_CLASSES);
            t->source_similarity = 0.99f - 0.01f * k;
            t->similarity_rank = k + 1;
            x->contrib_own += t->contribution;
            /* The second SR prototype's signal is "unavailable". */
            if (!(i == 1 && k == 1)) sources[i * PE_MAX_TOP + k] = src + (size_t)s * NL * NS;
        }
        /* SR's most similar prototype has weight 0 (listed after the one that counts) */
        if (i == 1) {
            x->top[0].weight = x->top[0].contribution = 0.0f;
            x->contrib_own = x->top[1].contribution;
            pe_proto_evidence t = x->top[0];
            x->top[0] = x->top[1];
            x->top[1] = t;
            const float *sw = sources[i * PE_MAX_TOP];
            sources[i * PE_MAX_TOP] = sources[i * PE_MAX_TOP + 1];
            sources[i * PE_MAX_TOP + 1] = sw;
        }
        /* the other classes' largest contributions: AFLT and SR prototypes */
        x->n_other = 2;
        for (int k = 0; k < 2; k++) {
            pe_proto_evidence *t = &x->other[k];
            t->prototype = (k == 0 ? 12 : i == 0 ? 4 : 5) * 5 + k;
            t->proto_class = t->prototype / 5;
            t->similarity = 0.8f - 0.2f * (float)k;
            t->weight = -0.5f;
            t->contribution = t->weight * t->similarity;
            t->source_ecg_id = 900 + k;
            t->source_labels[t->proto_class] = 1;
            t->similarity_rank = 1;
        }
        x->contrib_other = i == 0 ? -0.9f : -1.6f;
        x->logit = x->contrib_own + x->contrib_other;
        x->probability = sigmoidf_(x->logit);
        probs[x->class_idx] = x->probability;
    }
    /* Escaping: a title and a model name with markup characters. */
    const char *title = "ecg_id 452 <test fold> & \"AFIB\"";
    pe_sb sb = {0};
    pe_error e = {{0}};
    CHECK_MSG(pe_html_explanation_page(&sb, title, input, NS, 100.0, probs, ex, 2, sources,
                                       "rhythm-k5 <demo>", NULL, &e) == 0,
              "%s", e.msg);
    const char *page = pe_sb_str(&sb);
    CHECK(strstr(page, "<test fold>") == NULL && strstr(page, "& \"AFIB\"") == NULL);
    CHECK(strstr(page, "<demo>") == NULL);
    CHECK_CONTAINS(page, "<title>Explanation \xe2\x80\x94 ecg_id 452 &lt;test fold&gt; &amp; "
                         "&quot;AFIB&quot;</title>");
    CHECK_CONTAINS(page, "<h1>Explanation \xe2\x80\x94 ecg_id 452 &lt;test fold&gt; &amp; "
                         "&quot;AFIB&quot;</h1>");
    CHECK_CONTAINS(page, "aria-label=\"12-lead ECG: ecg_id 452 &lt;test fold&gt; &amp; "
                         "&quot;AFIB&quot;\"");
    CHECK_CONTAINS(page, "rhythm-k5 &lt;demo&gt;");
    CHECK(tags_balanced(page));
    pe_sb_free(&sb);

    /* The page written for the browser check (and docs/img/explanation.png). */
    CHECK_MSG(pe_html_explanation_page(&sb, "PTB-XL ecg_id 452 (test fold)", input, NS, 100.0,
                                       probs, ex, 2, sources,
                                       "synthetic explanation (rendering test, no trained model)",
                                       NULL, &e) == 0,
              "%s", e.msg);
    page = pe_sb_str(&sb);
    const float *drawn[5] = {input, src, src + (size_t)NL * NS, src + (size_t)2 * NL * NS,
                             src + (size_t)3 * NL * NS};
    CHECK_MSG(check_page_ecgs(page, drawn, 5, NS) == 5, "expected 5 ECG drawings");
    check_self_contained(page);
    CHECK(count_str(page, "<svg class=\"probs\"") + count_str(page, "class=\"probs\"") >= 1);
    CHECK(count_str(page, "class=\"card\"") == 5);
    CHECK(count_str(page, "Source ECG signal not available") == 1);
    char *text = strip_tags(page);
    char want[256];
    snprintf(want, sizeof want, "This ECG was classified as AFIB (p = %.2f) mainly because it "
                                "resembles these training ECGs of AFIB (largest contributions "
                                "first):",
             ex[0].probability);
    CHECK_CONTAINS(text, want);
    snprintf(want, sizeof want, "This ECG was not classified as SR (p = %.2f", ex[1].probability);
    CHECK_CONTAINS(text, want);
    /* The decomposition: own + other = logit, as printed. */
    snprintf(want, sizeof want, "+%.3f", ex[0].contrib_own);
    CHECK_CONTAINS(text, want);
    CHECK_CONTAINS(text, "\xe2\x88\x92" "0.900");
    snprintf(want, sizeof want, "Logit%.3f", ex[0].logit);
    CHECK_CONTAINS(text, want);
    CHECK_CONTAINS(text, "ecg_id 282");
    CHECK(strstr(text, "Remainder") == NULL);
    /* cards name their rank by similarity; a zero weight is said to count for nothing */
    CHECK_CONTAINS(text, "Prototype #21 of SR (2nd most similar of its SR prototypes)");
    CHECK_CONTAINS(text, "Prototype #20 of SR (most similar of its SR prototypes)");
    CHECK(count_str(text, "Weight 0: this prototype does not count for SR") == 1);
    /* the other classes' prototypes: a table row each, signed contributions */
    CHECK(count_str(page, "The other classes&#39; prototypes with the largest contributions") == 2);
    CHECK_CONTAINS(text, "#60AFLTecg_id 900");
    CHECK_CONTAINS(text, "\xe2\x88\x92" "0.400");
    free(text);
    write_page(&sb, out_dir, "explanation.html");
    printf("explanation page: %zu bytes\n", sb.len);
    pe_sb_free(&sb);

    /* Invalid explanations are refused with a message. */
    ex[1].class_idx = 16;
    CHECK(pe_html_explanation_page(&sb, title, input, NS, 100.0, probs, ex, 2, NULL, NULL, NULL, &e) ==
          -1);
    CHECK_CONTAINS(e.msg, "class 16");
    pe_sb_free(&sb);

    /* ---- gallery ---- */
    pe_gallery_item items[N_SRC];
    memset(items, 0, sizeof items);
    for (int s = 0; s < N_SRC; s++) {
        items[s].prototype = src_class[s] * 5 + s % 3;
        items[s].proto_class = src_class[s];
        items[s].source_ecg_id = src_ids[s];
        memcpy(items[s].source_labels, src_labels[s], PE_NUM_CLASSES);
        items[s].similarity = 0.95f - 0.01f * (float)s;
        items[s].source_sig = s == N_SRC - 1 ? NULL : src + (size_t)s * NL * NS;
    }
    pe_gallery_stats st;
    for (int c = 0; c < PE_NUM_CLASSES; c++) { /* unknown, except for 5 classes */
        int known = c == 0 || c == 4 || c == 5 || c == 6 || c == 8;
        st.mean_within_cos[c] = known ? 0.81 - 0.03 * c : NAN;
        st.mean_between_cos[c] = known ? -0.06 + 0.01 * c : NAN;
        st.n_single_label[c] = known ? (c == 0 ? 0 : 2 + c % 2) : -1;
        st.n_duplicates[c] = known ? c % 2 : -1;
    }
    CHECK_MSG(pe_html_gallery_page(&sb, "Prototype gallery (K = 5)",
                                   "synthetic gallery <rendering test, no trained model>", items,
                                   N_SRC, NS, 100.0, &st, &e) == 0,
              "%s", e.msg);
    page = pe_sb_str(&sb);
    const float *gdrawn[N_SRC];
    for (int s = 0; s < N_SRC; s++) gdrawn[s] = src + (size_t)s * NL * NS;
    /* Cards are grouped by class in class order: 1AVB, SR, AFIB, STACH, SBRAD, PACE. */
    static const int order[N_SRC - 1] = {10, 3, 4, 5, 0, 1, 2, 6, 7, 8, 9};
    const float *gsorted[N_SRC - 1];
    for (int k = 0; k < N_SRC - 1; k++) gsorted[k] = gdrawn[order[k]];
    CHECK(check_page_ecgs(page, gsorted, N_SRC - 1, NS) == N_SRC - 1);
    check_self_contained(page);
    CHECK(count_str(page, "class=\"card\"") == N_SRC);
    CHECK_CONTAINS(page, "<h1>Prototype gallery (K = 5)</h1>");
    CHECK_CONTAINS(page, "synthetic gallery &lt;rendering test, no trained model&gt;");
    text = strip_tags(page);
    /* The AFIB row: 3 prototypes, then its statistics; unknown statistics are dashes. */
    CHECK_CONTAINS(text, "AFIBatrial fibrillation30.660-0.01031");
    CHECK_CONTAINS(text, "PACEpacemaker rhythm1\xe2\x80\x93\xe2\x80\x93\xe2\x80\x93\xe2\x80\x93");
    free(text);
    write_page(&sb, out_dir, "gallery.html");
    printf("gallery page: %zu bytes\n", sb.len);
    pe_sb_free(&sb);

    /* ---- charts: training curves and ROC ---- */
    double ep[20], tl[20], vl[20], va[20], fpr[5] = {0, 0, 0.25, 0.5, 1}, tpr[5] = {0, 0.5, 0.75,
                                                                                     1, 1};
    for (int i = 0; i < 20; i++) {
        ep[i] = i + 1;
        tl[i] = 0.7 * exp(-0.15 * i) + 0.1;
        vl[i] = i == 5 ? NAN : 0.75 * exp(-0.12 * i) + 0.15;
        va[i] = 0.95 - 0.4 * exp(-0.3 * i);
    }
    pe_chart_series ser[3] = {{"train loss", ep, tl, 20}, {"validation loss", ep, vl, 20},
                              {"validation macro-AUROC", ep, va, 20}};
    pe_roc_series roc[2] = {{"AFIB", fpr, tpr, 5, 0.8125}, {"3AVB", fpr, fpr, 5, NAN}};
    pe_html_begin(&sb, "Charts");
    pe_svg_line_chart(&sb, "Training curves", "epoch", "value", ser, 3, 0, 0);
    pe_svg_line_chart(&sb, "Flat", "epoch", NULL, ser, 1, 0.0, 1.0);
    pe_svg_roc(&sb, "ROC (test fold)", roc, 2);
    pe_svg_prob_bars(&sb, probs, NULL, (const double[PE_NUM_CLASSES]){
                                           0.5, 0.5, 0.5, 0.5, 0.3, 0.4, 0.5, 0.5,
                                           0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
    pe_html_end(&sb);
    page = pe_sb_str(&sb);
    check_self_contained(page);
    CHECK(strstr(page, "nan") == NULL && strstr(page, "inf") == NULL);
    CHECK_CONTAINS(page, "AFIB (AUROC 0.812)");
    CHECK_CONTAINS(page, "3AVB (AUROC undefined)");
    CHECK_CONTAINS(page, "validation macro-AUROC");
    CHECK(count_str(page, "class=\"threshold\"") == PE_NUM_CLASSES);
    /* The NaN in the validation loss (2nd series) breaks its line into two pieces. */
    const char *vpath = strstr(page, "<path fill=\"none\" stroke=\"#D55E00\"");
    char *d = vpath ? attr(vpath, "d") : NULL;
    CHECK(d && count_str(d, "M") == 2 && count_str(d, "L") == 17);
    free(d);
    write_page(&sb, out_dir, "charts.html");
    pe_sb_free(&sb);

    printf("pages written to %s\n", out_dir);
    free(input);
    free(src);
    TEST_END();
}
