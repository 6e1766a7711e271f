#include "explain/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

const char *const pe_lead_names[PE_NUM_LEADS] = {
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
};

static const char *const class_descriptions[PE_NUM_CLASSES] = {
    "first-degree AV block",
    "intraventricular conduction disturbance",
    "third-degree AV block",
    "second-degree AV block",
    "sinus rhythm",
    "atrial fibrillation",
    "sinus tachycardia",
    "sinus arrhythmia",
    "sinus bradycardia",
    "pacemaker rhythm",
    "supraventricular arrhythmia",
    "bigeminal pattern",
    "atrial flutter",
    "supraventricular tachycardia",
    "paroxysmal supraventricular tachycardia",
    "trigeminal pattern",
};

const char *pe_class_description(int c) {
    return c >= 0 && c < PE_NUM_CLASSES ? class_descriptions[c] : "?";
}

static const char *class_code(int c) {
    return c >= 0 && c < PE_NUM_CLASSES ? pe_class_names[c] : "?";
}

void pe_html_escape(pe_sb *sb, const char *text) {
    if (!text) return;
    const char *run = text; /* start of the pending run of plain characters */
    for (const char *p = text; *p; p++) {
        const char *rep = NULL;
        unsigned char ch = (unsigned char)*p;
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f) rep = "";
        }
        if (rep) {
            pe_sb_appendn(sb, run, (size_t)(p - run));
            pe_sb_append(sb, rep);
            run = p + 1;
        }
    }
    pe_sb_append(sb, run);
}

/* Appends v rounded to one decimal in the shortest form ("12", "-3.4"). */
static void put_num(pe_sb *sb, double v) {
    if (!isfinite(v)) v = 0.0;
    long long t = llround(v * 10.0);
    char buf[32];
    int k = 0;
    unsigned long long a = t < 0 ? (unsigned long long)(-t) : (unsigned long long)t;
    char digits[24];
    int nd = 0;
    unsigned long long ip = a / 10;
    do {
        digits[nd++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (t < 0) buf[k++] = '-';
    while (nd) buf[k++] = digits[--nd];
    if (a % 10) {
        buf[k++] = '.';
        buf[k++] = (char)('0' + a % 10);
    }
    pe_sb_appendn(sb, buf, (size_t)k);
}

/* ---- the ECG printout ---------------------------------------------------------------- */

/* Geometry in millimetres; the SVG's user unit is one real-size pixel (4 px/mm). */
#define PX_PER_MM 4.0
#define MM_PER_S 25.0
#define MM_PER_MV 10.0
#define ECG_LEFT_MM 10.0   /* room for the calibration pulse */
#define ECG_RIGHT_MM 5.0
#define ECG_HEADER_MM 7.0  /* title line */
#define ECG_ROW_MM 35.0    /* height of each of the 4 rows */
#define ECG_BASE_MM 20.0   /* baseline below the top of its row */
#define ECG_FOOTER_MM 3.0

/* Rows of the standard 3x4 layout: row r, column k shows lead layout[r][k]. */
static const int ecg_layout[3][4] = {{0, 3, 6, 9}, {1, 4, 7, 10}, {2, 5, 8, 11}};

/* Appends "x,y x,y ..." for samples [i0, i1) of one lead: x = x0 + i/fs seconds at
 * 25 mm/s, y = baseline - v at 10 mm/mV, clipped to [ylo, yhi]. */
static void put_trace(pe_sb *sb, const float *v, int i0, int i1, double fs, double x0,
                      double base, double ylo, double yhi) {
    double px_per_sample = MM_PER_S * PX_PER_MM / fs;
    double px_per_mv = MM_PER_MV * PX_PER_MM;
    for (int i = i0; i < i1; i++) {
        double y = base - (double)v[i] * px_per_mv;
        if (!(y >= ylo)) y = isnan(y) ? base : ylo; /* NaN sample: drawn on the baseline */
        if (y > yhi) y = yhi;
        if (i > i0) pe_sb_putc(sb, ' ');
        put_num(sb, x0 + i * px_per_sample);
        pe_sb_putc(sb, ',');
        put_num(sb, y);
    }
}

/* Text with a white halo so that it stays readable over the grid and the trace. */
static void put_label(pe_sb *sb, double x, double y, double size, const char *anchor,
                      const char *weight, const char *text) {
    pe_sb_append(sb, "<text x=\"");
    put_num(sb, x);
    pe_sb_append(sb, "\" y=\"");
    put_num(sb, y);
    pe_sb_append(sb, "\" font-size=\"");
    put_num(sb, size);
    pe_sb_appendf(sb, "\" text-anchor=\"%s\" font-weight=\"%s\">", anchor, weight);
    pe_html_escape(sb, text);
    pe_sb_append(sb, "</text>");
}

void pe_svg_ecg(pe_sb *sb, const float *sig, int n, double fs, const char *title, double scale) {
    if (!(scale > 0.0)) scale = 1.0;
    if (!sig || n < 4 || !(fs > 0.0)) {
        pe_sb_append(sb, "<p class=\"missing\">ECG not available</p>");
        return;
    }
    double dur = n / fs;
    double w_mm = ceil((ECG_LEFT_MM + dur * MM_PER_S + ECG_RIGHT_MM) / 5.0) * 5.0;
    double h_mm = ECG_HEADER_MM + 4 * ECG_ROW_MM + ECG_FOOTER_MM;
    double W = w_mm * PX_PER_MM, H = h_mm * PX_PER_MM;
    double x0 = ECG_LEFT_MM * PX_PER_MM;
    /* Strokes and text grow as the drawing shrinks, so that thumbnails stay legible. */
    double trace_w = fmax(1.3, 0.9 / scale);
    double font = fmax(14.0, 8.5 / scale);
    double minor_w = fmax(0.5, 0.35 / scale), major_w = fmax(1.0, 0.6 / scale);

    pe_sb_append(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ecg\" viewBox=\"0 0 ");
    put_num(sb, W);
    pe_sb_putc(sb, ' ');
    put_num(sb, H);
    pe_sb_append(sb, "\" width=\"");
    put_num(sb, W * scale);
    pe_sb_append(sb, "\" height=\"");
    put_num(sb, H * scale);
    pe_sb_append(sb, "\" role=\"img\" aria-label=\"12-lead ECG");
    if (title && *title) {
        pe_sb_append(sb, ": ");
        pe_html_escape(sb, title);
    }
    pe_sb_append(sb, "\" font-family=\"Helvetica, Arial, sans-serif\">");
    if (title && *title) {
        pe_sb_append(sb, "<title>");
        pe_html_escape(sb, title);
        pe_sb_append(sb, "</title>");
    }

    /* ECG paper: white background, 1 mm minor and 5 mm major lines. */
    pe_sb_append(sb, "<rect width=\"100%\" height=\"100%\" fill=\"#fffafa\"/>");
    pe_sb_append(sb, "<path stroke=\"#f6c4c4\" stroke-width=\"");
    put_num(sb, minor_w);
    pe_sb_append(sb, "\" d=\"");
    for (int k = 1; k < (int)w_mm; k++)
        if (k % 5) pe_sb_appendf(sb, "M%d 0v%d", k * 4, (int)H);
    for (int k = 1; k < (int)h_mm; k++)
        if (k % 5) pe_sb_appendf(sb, "M0 %dh%d", k * 4, (int)W);
    pe_sb_append(sb, "\"/><path stroke=\"#e48b8b\" stroke-width=\"");
    put_num(sb, major_w);
    pe_sb_append(sb, "\" d=\"");
    for (int k = 0; k <= (int)w_mm; k += 5) pe_sb_appendf(sb, "M%d 0v%d", k * 4, (int)H);
    for (int k = 0; k <= (int)h_mm; k += 5) pe_sb_appendf(sb, "M0 %dh%d", k * 4, (int)W);
    pe_sb_append(sb, "\"/>");

    /* Header: title left, recording settings right. */
    pe_sb_append(sb, "<g fill=\"#222\" stroke=\"#fffafa\" stroke-width=\"");
    put_num(sb, font * 0.25);
    pe_sb_append(sb, "\" paint-order=\"stroke\">");
    if (title && *title) put_label(sb, 2 * PX_PER_MM, 5.2 * PX_PER_MM, font, "start", "bold", title);
    char settings[96];
    snprintf(settings, sizeof settings, "25 mm/s \xc2\xb7 10 mm/mV \xc2\xb7 %g Hz \xc2\xb7 %g s", fs,
             dur);
    put_label(sb, W - 2 * PX_PER_MM, 5.2 * PX_PER_MM, font, "end", "normal", settings);

    /* Lead labels. */
    for (int r = 0; r < 4; r++) {
        double top = (ECG_HEADER_MM + r * ECG_ROW_MM) * PX_PER_MM;
        for (int k = 0; k < (r < 3 ? 4 : 1); k++) {
            const char *name = r < 3 ? pe_lead_names[ecg_layout[r][k]] : "II";
            double x = x0 + (double)((long)k * n / 4) / fs * MM_PER_S * PX_PER_MM;
            put_label(sb, x + 1.5 * PX_PER_MM, top + 7.5 * PX_PER_MM, font, "start", "bold",
                      name);
        }
    }
    pe_sb_append(sb, "</g>");

    /* Calibration pulses (1 mV, 0.2 s) and the column separators. */
    pe_sb_append(sb, "<path fill=\"none\" stroke=\"#111\" stroke-width=\"");
    put_num(sb, trace_w);
    pe_sb_append(sb, "\" d=\"");
    for (int r = 0; r < 4; r++) {
        double base = (ECG_HEADER_MM + r * ECG_ROW_MM + ECG_BASE_MM) * PX_PER_MM;
        pe_sb_append(sb, "M4 ");
        put_num(sb, base);
        pe_sb_append(sb, "h6v-40h20v40h6");
        for (int k = 1; r < 3 && k < 4; k++) {
            double x = x0 + (double)((long)k * n / 4) / fs * MM_PER_S * PX_PER_MM;
            pe_sb_putc(sb, 'M');
            put_num(sb, x);
            pe_sb_putc(sb, ' ');
            put_num(sb, base - 2.5 * PX_PER_MM);
            pe_sb_append(sb, "v20");
        }
    }
    pe_sb_append(sb, "\"/>");

    /* The traces. */
    double ylo = 0.5 * PX_PER_MM, yhi = H - 0.5 * PX_PER_MM;
    pe_sb_append(sb, "<g fill=\"none\" stroke=\"#111\" stroke-linejoin=\"round\" stroke-width=\"");
    put_num(sb, trace_w);
    pe_sb_append(sb, "\">");
    for (int r = 0; r < 3; r++) {
        double base = (ECG_HEADER_MM + r * ECG_ROW_MM + ECG_BASE_MM) * PX_PER_MM;
        for (int k = 0; k < 4; k++) {
            int lead = ecg_layout[r][k];
            int i0 = (int)((long)k * n / 4), i1 = (int)((long)(k + 1) * n / 4);
            pe_sb_appendf(sb, "<polyline class=\"lead\" data-lead=\"%s\" points=\"",
                          pe_lead_names[lead]);
            put_trace(sb, sig + (size_t)lead * (size_t)n, i0, i1, fs, x0, base, ylo, yhi);
            pe_sb_append(sb, "\"/>");
        }
    }
    double base = (ECG_HEADER_MM + 3 * ECG_ROW_MM + ECG_BASE_MM) * PX_PER_MM;
    pe_sb_append(sb, "<polyline class=\"rhythm\" data-lead=\"II\" points=\"");
    put_trace(sb, sig + (size_t)n, 0, n, fs, x0, base, ylo, yhi);
    pe_sb_append(sb, "\"/></g></svg>");
}

/* ---- charts ---------------------------------------------------------------------------- */

/* Colour-blind-safe palette (Okabe-Ito, then Tol's muted colours). */
static const char *const palette[] = {
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255",
    "#44AA99", "#999933", "#AA4499", "#117733", "#332288", "#DDCC77", "#661100", "#6699CC",
};
#define PALETTE_N ((int)(sizeof palette / sizeof palette[0]))

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks. */
static double nice_step(double range, int target) {
    if (!(range > 0.0)) return 1.0;
    double raw = range / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

/* Appends a tick value with as many decimals as the step needs. */
static void put_tick(pe_sb *sb, double v, double step) {
    int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0.0;
    pe_sb_appendf(sb, "%.*f", dec, v);
}

static void svg_open(pe_sb *sb, const char *cls, int w, int h, const char *title) {
    pe_sb_appendf(sb,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"%s\" viewBox=\"0 0 %d %d\" "
                  "width=\"%d\" height=\"%d\" role=\"img\" font-family=\"Helvetica, Arial, "
                  "sans-serif\" font-size=\"12\"",
                  cls, w, h, w, h);
    if (title && *title) {
        pe_sb_append(sb, " aria-label=\"");
        pe_html_escape(sb, title);
        pe_sb_append(sb, "\"><title>");
        pe_html_escape(sb, title);
        pe_sb_append(sb, "</title>");
    } else {
        pe_sb_append(sb, ">");
    }
}

static void svg_text(pe_sb *sb, double x, double y, const char *attrs, const char *text) {
    pe_sb_append(sb, "<text x=\"");
    put_num(sb, x);
    pe_sb_append(sb, "\" y=\"");
    put_num(sb, y);
    pe_sb_appendf(sb, "\"%s%s>", attrs ? " " : "", attrs ? attrs : "");
    pe_html_escape(sb, text);
    pe_sb_append(sb, "</text>");
}

void pe_svg_prob_bars(pe_sb *sb, const float *probs, const uint8_t *predicted,
                      const double *thresholds) {
    if (!probs) return;
    const int label_w = 330, bar_w = 320, row_h = 22, top = 24, W = label_w + bar_w + 70;
    const int H = top + PE_NUM_CLASSES * row_h + 34;
    svg_open(sb, "probs", W, H, "Probability of each rhythm class");
    /* Probability axis with grid lines every 0.25. */
    for (int t = 0; t <= 4; t++) {
        double x = label_w + bar_w * t / 4.0;
        pe_sb_append(sb, "<line x1=\"");
        put_num(sb, x);
        pe_sb_appendf(sb, "\" y1=\"%d\" x2=\"", top - 4);
        put_num(sb, x);
        pe_sb_appendf(sb, "\" y2=\"%d\" stroke=\"#ddd\"/>", top + PE_NUM_CLASSES * row_h);
        char lab[16];
        snprintf(lab, sizeof lab, "%.2g", t / 4.0);
        svg_text(sb, x, top - 8, "text-anchor=\"middle\" fill=\"#555\"", lab);
    }
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        double p = probs[c];
        if (!(p >= 0.0)) p = 0.0;
        if (p > 1.0) p = 1.0;
        double thr = thresholds ? thresholds[c] : 0.5;
        int pred = predicted ? predicted[c] != 0 : p >= thr;
        int y = top + c * row_h;
        char lab[96];
        snprintf(lab, sizeof lab, "%s", pe_class_names[c]);
        svg_text(sb, 6, y + 15, pred ? "font-weight=\"bold\"" : "fill=\"#333\"", lab);
        svg_text(sb, 62, y + 15, pred ? "font-weight=\"bold\"" : "fill=\"#555\"",
                 class_descriptions[c]);
        pe_sb_appendf(sb, "<rect x=\"%d\" y=\"%d\" width=\"", label_w, y + 4);
        put_num(sb, bar_w * p);
        pe_sb_appendf(sb, "\" height=\"%d\" fill=\"%s\"><title>%s: p = %.3f%s</title></rect>",
                      row_h - 8, pred ? "#c0392b" : "#9fb3c8", pe_class_names[c], p,
                      pred ? " (predicted)" : "");
        if (thresholds && isfinite(thresholds[c])) {
            double tx = label_w + bar_w * fmin(fmax(thresholds[c], 0.0), 1.0);
            pe_sb_append(sb, "<line class=\"threshold\" x1=\"");
            put_num(sb, tx);
            pe_sb_appendf(sb, "\" y1=\"%d\" x2=\"", y + 1);
            put_num(sb, tx);
            pe_sb_appendf(sb, "\" y2=\"%d\" stroke=\"#111\" stroke-width=\"2\"/>", y + row_h - 1);
        }
        snprintf(lab, sizeof lab, "%.3f", p);
        svg_text(sb, label_w + bar_w + 8, y + 15, pred ? "font-weight=\"bold\"" : "fill=\"#333\"",
                 lab);
    }
    /* Legend. */
    int ly = top + PE_NUM_CLASSES * row_h + 20;
    pe_sb_appendf(sb, "<rect x=\"6\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#c0392b\"/>",
                  ly - 10);
    svg_text(sb, 24, ly, NULL, "predicted");
    pe_sb_appendf(sb, "<rect x=\"100\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#9fb3c8\"/>",
                  ly - 10);
    svg_text(sb, 118, ly, NULL, "not predicted");
    if (thresholds) {
        pe_sb_appendf(sb, "<line x1=\"230\" y1=\"%d\" x2=\"230\" y2=\"%d\" stroke=\"#111\" "
                          "stroke-width=\"2\"/>",
                      ly - 11, ly + 3);
        svg_text(sb, 238, ly, NULL, "decision threshold");
    }
    pe_sb_append(sb, "</svg>");
}

/* Plot frame shared by the line chart and the ROC plot: maps data to pixels. */
typedef struct {
    double px0, py0, pw, ph;     /* plot area in pixels (top-left corner, size) */
    double x_lo, x_hi, y_lo, y_hi;
} plot_frame;

static double fx(const plot_frame *f, double x) {
    return f->px0 + (x - f->x_lo) / (f->x_hi - f->x_lo) * f->pw;
}
static double fy(const plot_frame *f, double y) {
    return f->py0 + f->ph - (y - f->y_lo) / (f->y_hi - f->y_lo) * f->ph;
}

/* Axes box, grid lines and tick labels every xs / ys, and the axis labels. */
static void draw_axes(pe_sb *sb, const plot_frame *f, double xs, double ys, const char *x_label,
                      const char *y_label) {
    for (double x = ceil(f->x_lo / xs - 1e-9) * xs; x <= f->x_hi + xs * 1e-9; x += xs) {
        double px = fx(f, x);
        pe_sb_append(sb, "<path stroke=\"#e4e4e4\" d=\"M");
        put_num(sb, px);
        pe_sb_putc(sb, ' ');
        put_num(sb, f->py0);
        pe_sb_append(sb, "v");
        put_num(sb, f->ph);
        pe_sb_append(sb, "\"/><text x=\"");
        put_num(sb, px);
        pe_sb_append(sb, "\" y=\"");
        put_num(sb, f->py0 + f->ph + 16);
        pe_sb_append(sb, "\" text-anchor=\"middle\" fill=\"#444\">");
        put_tick(sb, x, xs);
        pe_sb_append(sb, "</text>");
    }
    for (double y = ceil(f->y_lo / ys - 1e-9) * ys; y <= f->y_hi + ys * 1e-9; y += ys) {
        double py = fy(f, y);
        pe_sb_append(sb, "<path stroke=\"#e4e4e4\" d=\"M");
        put_num(sb, f->px0);
        pe_sb_putc(sb, ' ');
        put_num(sb, py);
        pe_sb_append(sb, "h");
        put_num(sb, f->pw);
        pe_sb_append(sb, "\"/><text x=\"");
        put_num(sb, f->px0 - 6);
        pe_sb_append(sb, "\" y=\"");
        put_num(sb, py + 4);
        pe_sb_append(sb, "\" text-anchor=\"end\" fill=\"#444\">");
        put_tick(sb, y, ys);
        pe_sb_append(sb, "</text>");
    }
    pe_sb_append(sb, "<rect fill=\"none\" stroke=\"#777\" x=\"");
    put_num(sb, f->px0);
    pe_sb_append(sb, "\" y=\"");
    put_num(sb, f->py0);
    pe_sb_append(sb, "\" width=\"");
    put_num(sb, f->pw);
    pe_sb_append(sb, "\" height=\"");
    put_num(sb, f->ph);
    pe_sb_append(sb, "\"/>");
    if (x_label) svg_text(sb, f->px0 + f->pw / 2, f->py0 + f->ph + 36, "text-anchor=\"middle\"",
                          x_label);
    if (y_label) {
        char attrs[128];
        double cx = f->px0 - 46, cy = f->py0 + f->ph / 2;
        snprintf(attrs, sizeof attrs, "text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\"",
                 cx, cy);
        svg_text(sb, cx, cy, attrs, y_label);
    }
}

/* A legend entry: a short line in the series' colour and dash, then its text. */
static void legend_entry(pe_sb *sb, double x, double y, int i, const char *text) {
    pe_sb_append(sb, "<path d=\"M");
    put_num(sb, x);
    pe_sb_putc(sb, ' ');
    put_num(sb, y - 4);
    pe_sb_appendf(sb, "h22\" stroke=\"%s\" stroke-width=\"2.5\"%s/>", palette[i % PALETTE_N],
                  i >= PALETTE_N ? " stroke-dasharray=\"5 3\"" : "");
    svg_text(sb, x + 28, y, NULL, text);
}

/* Appends one series as a path (NaN points break the line). */
static void series_path(pe_sb *sb, const plot_frame *f, const double *x, const double *y, int n,
                        int i) {
    pe_sb_appendf(sb, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                      "stroke-linejoin=\"round\"%s d=\"",
                  palette[i % PALETTE_N], i >= PALETTE_N ? " stroke-dasharray=\"5 3\"" : "");
    int pen = 0;
    for (int k = 0; k < n; k++) {
        if (!isfinite(x[k]) || !isfinite(y[k])) {
            pen = 0;
            continue;
        }
        pe_sb_putc(sb, pen ? 'L' : 'M');
        put_num(sb, fx(f, x[k]));
        pe_sb_putc(sb, ' ');
        put_num(sb, fy(f, fmin(fmax(y[k], f->y_lo), f->y_hi)));
        pen = 1;
    }
    pe_sb_append(sb, "\"/>");
    /* A single isolated point would be invisible as a path: mark every point when few. */
    if (n <= 60) {
        for (int k = 0; k < n; k++) {
            if (!isfinite(x[k]) || !isfinite(y[k])) continue;
            pe_sb_append(sb, "<circle r=\"2.5\" cx=\"");
            put_num(sb, fx(f, x[k]));
            pe_sb_append(sb, "\" cy=\"");
            put_num(sb, fy(f, fmin(fmax(y[k], f->y_lo), f->y_hi)));
            pe_sb_appendf(sb, "\" fill=\"%s\"/>", palette[i % PALETTE_N]);
        }
    }
}

void pe_svg_line_chart(pe_sb *sb, const char *title, const char *x_label, const char *y_label,
                       const pe_chart_series *series, int n_series, double y_min, double y_max) {
    const int W = 760, H = 380;
    plot_frame f = {70, 36, 470, H - 36 - 56, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int s = 0; s < n_series; s++) {
        for (int k = 0; k < series[s].n; k++) {
            double x = series[s].x[k], y = series[s].y[k];
            if (!isfinite(x) || !isfinite(y)) continue;
            f.x_lo = fmin(f.x_lo, x);
            f.x_hi = fmax(f.x_hi, x);
            f.y_lo = fmin(f.y_lo, y);
            f.y_hi = fmax(f.y_hi, y);
        }
    }
    if (!(f.x_lo <= f.x_hi)) f.x_lo = 0, f.x_hi = 1; /* no finite point */
    if (!(f.y_lo <= f.y_hi)) f.y_lo = 0, f.y_hi = 1;
    if (f.x_hi - f.x_lo < 1e-12) f.x_lo -= 0.5, f.x_hi += 0.5;
    if (f.y_hi - f.y_lo < 1e-12) {
        double d = fmax(fabs(f.y_lo) * 0.1, 0.5);
        f.y_lo -= d, f.y_hi += d;
    }
    double xs = nice_step(f.x_hi - f.x_lo, 8);
    double ys;
    if (y_min < y_max) {
        f.y_lo = y_min, f.y_hi = y_max;
        ys = nice_step(y_max - y_min, 6);
    } else {
        ys = nice_step(f.y_hi - f.y_lo, 6);
        f.y_lo = floor(f.y_lo / ys + 1e-9) * ys;
        f.y_hi = ceil(f.y_hi / ys - 1e-9) * ys;
    }
    svg_open(sb, "chart", W, H, title);
    if (title) svg_text(sb, f.px0, 22, "font-size=\"15\" font-weight=\"bold\"", title);
    draw_axes(sb, &f, xs, ys, x_label, y_label);
    for (int s = 0; s < n_series; s++)
        series_path(sb, &f, series[s].x, series[s].y, series[s].n, s);
    for (int s = 0; s < n_series; s++)
        legend_entry(sb, f.px0 + f.pw + 20, f.py0 + 12 + 20 * s, s,
                     series[s].name ? series[s].name : "");
    pe_sb_append(sb, "</svg>");
}

void pe_svg_roc(pe_sb *sb, const char *title, const pe_roc_series *curves, int n_curves) {
    const int W = 760, ph = 400;
    int legend_h = 36 + 20 * n_curves;
    int H = 36 + (ph > legend_h ? ph : legend_h) + 56;
    plot_frame f = {70, 36, ph, ph, 0.0, 1.0, 0.0, 1.0};
    svg_open(sb, "roc", W, H, title);
    if (title) svg_text(sb, f.px0, 22, "font-size=\"15\" font-weight=\"bold\"", title);
    draw_axes(sb, &f, 0.2, 0.2, "false positive rate (1 \xe2\x88\x92 specificity)",
              "true positive rate (sensitivity)");
    pe_sb_append(sb, "<path stroke=\"#999\" stroke-dasharray=\"6 4\" d=\"M");
    put_num(sb, fx(&f, 0));
    pe_sb_putc(sb, ' ');
    put_num(sb, fy(&f, 0));
    pe_sb_putc(sb, 'L');
    put_num(sb, fx(&f, 1));
    pe_sb_putc(sb, ' ');
    put_num(sb, fy(&f, 1));
    pe_sb_append(sb, "\"/>");
    for (int s = 0; s < n_curves; s++)
        series_path(sb, &f, curves[s].fpr, curves[s].tpr, curves[s].n, s);
    for (int s = 0; s < n_curves; s++) {
        char lab[160];
        if (isfinite(curves[s].auroc))
            snprintf(lab, sizeof lab, "%s (AUROC %.3f)", curves[s].name ? curves[s].name : "",
                     curves[s].auroc);
        else
            snprintf(lab, sizeof lab, "%s (AUROC undefined)", curves[s].name ? curves[s].name : "");
        legend_entry(sb, f.px0 + f.pw + 24, f.py0 + 12 + 20 * s, s, lab);
    }
    pe_sb_append(sb, "</svg>");
}

/* ---- pages ------------------------------------------------------------------------------ */

static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0 auto;max-width:1140px;padding:24px 28px 48px;color:#1d2733;background:#fff;"
    "font:15px/1.5 -apple-system,'Segoe UI',Roboto,'Helvetica Neue',Helvetica,Arial,sans-serif}"
    "h1{font-size:24px;margin:0 0 4px}"
    "h2{font-size:19px;margin:32px 0 8px;padding-bottom:4px;border-bottom:2px solid #e3e8ee}"
    "h3{font-size:16px;margin:18px 0 6px}"
    ".meta{color:#5b6775;margin:0 0 16px}"
    "figure{margin:8px 0}"
    "svg{max-width:100%;height:auto;display:block}"
    ".code{display:inline-block;font-weight:700;background:#1d2733;color:#fff;border-radius:4px;"
    "padding:0 7px;margin-right:6px}"
    ".lead-sentence{font-size:16px;margin:10px 0}"
    ".summary{font-size:16px;background:#f4f7fa;border-left:4px solid #c0392b;padding:8px 12px}"
    "table{border-collapse:collapse;margin:8px 0}"
    "td,th{padding:3px 10px;text-align:left;vertical-align:top}"
    "th{background:#f4f7fa;font-weight:600}"
    "table.stats td,table.stats th{border:1px solid #dde3ea}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.decomp td{border-bottom:1px solid #e3e8ee}"
    "table.decomp tr.total td{font-weight:700;border-top:2px solid #1d2733}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(470px,1fr));gap:14px}"
    ".card{border:1px solid #dde3ea;border-radius:6px;padding:10px;break-inside:avoid;"
    "page-break-inside:avoid}"
    ".card h3{margin:0 0 6px;font-size:15px}"
    ".card svg{width:100%;height:auto}"
    ".card table{margin:4px 0 0;font-size:14px}"
    ".card td{padding:1px 8px 1px 0}"
    ".tag{display:inline-block;border:1px solid #b8c2cc;border-radius:3px;padding:0 5px;"
    "margin:0 3px 2px 0;font-size:13px}"
    ".tag.hit{border-color:#c0392b;color:#c0392b;font-weight:700}"
    ".missing{color:#8a6d3b;background:#fcf8e3;padding:6px 10px;border-radius:4px}"
    ".note{color:#5b6775;font-size:13px}"
    "footer{margin-top:40px;color:#5b6775;font-size:13px}"
    "@media print{body{max-width:none;padding:0;font-size:11pt}"
    "h2{break-after:avoid;page-break-after:avoid}"
    ".cards{grid-template-columns:repeat(2,1fr)}"
    "figure,svg{break-inside:avoid;page-break-inside:avoid}}";

void pe_html_begin(pe_sb *sb, const char *title) {
    pe_sb_append(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>");
    pe_html_escape(sb, title ? title : "protoecg");
    pe_sb_append(sb, "</title>\n<style>");
    pe_sb_append(sb, page_css);
    pe_sb_append(sb, "</style>\n</head>\n<body>\n");
}

void pe_html_end(pe_sb *sb) {
    pe_sb_append(sb, "<footer>Generated by protoecg " PE_VERSION_STRING
                     ". For research use; not a medical device. The explanations show which "
                     "training ECGs the model found similar; they are not a diagnosis.</footer>\n"
                     "</body>\n</html>\n");
}

/* Tags for the classes a record carries; `hit` (or -1) is highlighted. */
static void put_label_tags(pe_sb *sb, const uint8_t *labels, int hit) {
    int any = 0;
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        if (!labels[c]) continue;
        pe_sb_appendf(sb, "<span class=\"tag%s\" title=\"%s\">%s</span>", c == hit ? " hit" : "",
                      class_descriptions[c], pe_class_names[c]);
        any = 1;
    }
    if (!any) pe_sb_append(sb, "<span class=\"note\">no rhythm label</span>");
}

/* Appends v with 3 decimals and a real minus sign. */
static void put_signed(pe_sb *sb, double v, int plus) {
    if (v < 0)
        pe_sb_appendf(sb, "\xe2\x88\x92%.3f", -v);
    else
        pe_sb_appendf(sb, "%s%.3f", plus ? "+" : "", v);
}

/* "st", "nd", "rd" or "th" for 1st, 2nd, 3rd, 4th, ... */
static const char *ordinal_suffix(int k) {
    if (k % 100 >= 11 && k % 100 <= 13) return "th";
    return k % 10 == 1 ? "st" : k % 10 == 2 ? "nd" : k % 10 == 3 ? "rd" : "th";
}

/* The other classes' prototypes with the largest contributions to x's logit, as a table
 * (their source ECGs are not drawn: a row each keeps the page short). */
static void other_prototypes_table(pe_sb *sb, const pe_class_explanation *x) {
    if (x->n_other <= 0) return;
    int c = x->class_idx;
    pe_sb_appendf(sb, "<p>The other classes&#39; prototypes with the largest contributions to "
                      "the %s logit, of either sign (a negative one: resembling that training "
                      "ECG lowers the %s score):</p>\n<table class=\"stats\"><tr><th>Prototype</th><th>Of class"
                      "</th><th>Source ECG</th><th>Its labels</th><th class=\"num\">Similarity"
                      "</th><th class=\"num\">Weight for %s</th><th class=\"num\">Contribution"
                      "</th></tr>\n",
                  pe_class_names[c], pe_class_names[c], pe_class_names[c]);
    for (int k = 0; k < x->n_other; k++) {
        const pe_proto_evidence *t = &x->other[k];
        pe_sb_appendf(sb, "<tr><td>#%d</td><td>%s</td><td>", t->prototype,
                      class_code(t->proto_class));
        if (t->source_ecg_id >= 0) pe_sb_appendf(sb, "ecg_id %d", t->source_ecg_id);
        else pe_sb_append(sb, "none");
        pe_sb_append(sb, "</td><td>");
        put_label_tags(sb, t->source_labels, t->proto_class);
        pe_sb_appendf(sb, "</td><td class=\"num\">%.3f</td><td class=\"num\">", t->similarity);
        put_signed(sb, t->weight, 0);
        pe_sb_append(sb, "</td><td class=\"num\">");
        put_signed(sb, t->contribution, 1);
        pe_sb_append(sb, "</td></tr>\n");
    }
    pe_sb_append(sb, "</table>\n");
}

/* One explained class: sentence, decomposition table and prototype cards, under an
 * <h{level}> heading, with the element id prefixed by id_prefix. */
static void explanation_section(pe_sb *sb, const pe_class_explanation *x, int n, double fs,
                                const float *const *srcs, int level, const char *id_prefix) {
    int c = x->class_idx;
    pe_sb_append(sb, "<section class=\"class-expl\" id=\"");
    pe_html_escape(sb, id_prefix);
    pe_sb_appendf(sb, "class-%s\">\n<h%d><span class=\"code\">%s</span>%s \xe2\x80\x94 p = %.2f"
                      "</h%d>\n",
                  pe_class_names[c], level, pe_class_names[c], class_descriptions[c],
                  x->probability, level);
    if (x->predicted)
        pe_sb_appendf(sb, "<p class=\"lead-sentence\">This ECG was classified as <b>%s</b> "
                          "(p = %.2f) mainly because it resembles these training ECGs of %s "
                          "(largest contributions first):</p>\n",
                      pe_class_names[c], x->probability, pe_class_names[c]);
    else
        pe_sb_appendf(sb, "<p class=\"lead-sentence\">This ECG was <b>not</b> classified as %s "
                          "(p = %.2f, below its decision threshold). The training ECGs of %s "
                          "that add most to its score are:</p>\n",
                      pe_class_names[c], x->probability, pe_class_names[c]);

    /* Logit decomposition. */
    double own = x->contrib_own, other = x->contrib_other, logit = x->logit;
    pe_sb_appendf(sb, "<table class=\"decomp\"><tr><td>Probability</td><td class=\"num\">%.3f"
                      "</td><td class=\"note\">= sigmoid(logit)</td></tr>\n",
                  x->probability);
    pe_sb_appendf(sb, "<tr><td>Contribution of the %s prototypes</td><td class=\"num\">",
                  pe_class_names[c]);
    put_signed(sb, own, 1);
    pe_sb_append(sb, "</td><td class=\"note\">own-class prototypes: sum of weight \xc3\x97 "
                     "similarity</td></tr>\n<tr><td>Contribution of the other classes&#39; "
                     "prototypes</td><td class=\"num\">");
    put_signed(sb, other, 1);
    pe_sb_append(sb, "</td><td class=\"note\">usually negative weights: resembling other "
                     "classes lowers the score</td></tr>\n");
    double rest = logit - own - other;
    if (fabs(rest) > 5e-4) {
        pe_sb_append(sb, "<tr><td>Remainder (bias)</td><td class=\"num\">");
        put_signed(sb, rest, 1);
        pe_sb_append(sb, "</td><td></td></tr>\n");
    }
    pe_sb_append(sb, "<tr class=\"total\"><td>Logit</td><td class=\"num\">");
    put_signed(sb, logit, 0);
    pe_sb_append(sb, "</td><td></td></tr></table>\n");

    if (x->n_top <= 0) {
        pe_sb_appendf(sb, "<p class=\"missing\">No prototype of %s is available.</p>\n",
                      pe_class_names[c]);
        other_prototypes_table(sb, x);
        pe_sb_append(sb, "</section>\n");
        return;
    }
    pe_sb_append(sb, "<div class=\"cards\">\n");
    for (int k = 0; k < x->n_top; k++) {
        const pe_proto_evidence *t = &x->top[k];
        const float *src = srcs ? srcs[k] : NULL;
        char rank[32] = "most similar";
        if (t->similarity_rank > 1)
            snprintf(rank, sizeof rank, "%d%s most similar", t->similarity_rank,
                     ordinal_suffix(t->similarity_rank));
        pe_sb_appendf(sb, "<div class=\"card\"><h3>Prototype #%d of %s (%s of its %s "
                          "prototypes)</h3>\n",
                      t->prototype, class_code(t->proto_class), rank, class_code(t->proto_class));
        char ttl[64];
        if (t->source_ecg_id >= 0)
            snprintf(ttl, sizeof ttl, "Training ECG %d", t->source_ecg_id);
        else
            snprintf(ttl, sizeof ttl, "Prototype %d", t->prototype);
        if (src) {
            pe_sb_append(sb, "<figure>");
            pe_svg_ecg(sb, src, n, fs, ttl, 0.48);
            pe_sb_append(sb, "</figure>\n");
        } else {
            pe_sb_append(sb, "<p class=\"missing\">Source ECG signal not available.</p>\n");
        }
        pe_sb_append(sb, "<table>");
        if (t->source_ecg_id >= 0)
            pe_sb_appendf(sb, "<tr><td>Source ECG</td><td>ecg_id <b>%d</b></td></tr>",
                          t->source_ecg_id);
        else
            pe_sb_append(sb, "<tr><td>Source ECG</td><td>none (not projected)</td></tr>");
        pe_sb_append(sb, "<tr><td>Its labels</td><td>");
        put_label_tags(sb, t->source_labels, c);
        pe_sb_appendf(sb, "</td></tr><tr><td>Similarity to this ECG</td><td class=\"num\">%.3f"
                          "</td></tr><tr><td>Weight for %s</td><td class=\"num\">",
                      t->similarity, pe_class_names[c]);
        put_signed(sb, t->weight, 0);
        pe_sb_append(sb, "</td></tr><tr><td>Contribution to the logit</td><td class=\"num\">");
        put_signed(sb, t->contribution, 1);
        pe_sb_appendf(sb, "</td></tr><tr><td>Prototype\xe2\x80\x93source match</td>"
                          "<td class=\"num\">%.3f</td></tr></table>",
                      t->source_similarity);
        if (t->weight == 0.0f)
            pe_sb_appendf(sb, "<p class=\"note\">Weight 0: this prototype does not count for %s "
                              "in this model.</p>",
                          pe_class_names[c]);
        pe_sb_append(sb, "</div>\n");
    }
    pe_sb_append(sb, "</div>\n");
    other_prototypes_table(sb, x);
    pe_sb_append(sb, "</section>\n");
}

/* Validates the arguments of an explanation page or body. */
static int check_explanation(const float *sig, int n, double fs, const float *probs,
                             const pe_class_explanation *ex, int n_ex, pe_error *e) {
    if (!sig || !probs || n < 4 || !(fs > 0.0) || n_ex < 0 || (n_ex > 0 && !ex))
        return pe_fail(e, "explanation page: invalid arguments (signal %s, n %d, fs %g, "
                          "%d explanations)",
                       sig ? "given" : "missing", n, fs, n_ex);
    for (int i = 0; i < n_ex; i++) {
        if (ex[i].class_idx < 0 || ex[i].class_idx >= PE_NUM_CLASSES)
            return pe_fail(e, "explanation page: explanation %d has class %d (not in 0..%d)", i,
                           ex[i].class_idx, PE_NUM_CLASSES - 1);
        if (ex[i].n_top < 0 || ex[i].n_top > PE_MAX_TOP || ex[i].n_other < 0 ||
            ex[i].n_other > PE_MAX_TOP)
            return pe_fail(e, "explanation page: explanation %d has %d + %d prototypes (max %d "
                              "each)",
                           i, ex[i].n_top, ex[i].n_other, PE_MAX_TOP);
    }
    return 0;
}

int pe_html_explanation_body(pe_sb *sb, const char *record_title, const float *sig, int n,
                             double fs, const float *probs, const pe_class_explanation *ex,
                             int n_ex, const float *const *source_sigs, int level,
                             const char *id_prefix, pe_error *e) {
    if (check_explanation(sig, n, fs, probs, ex, n_ex, e)) return -1;
    if (level < 1 || level > 5)
        return pe_fail(e, "explanation: heading level %d (not in 1..5)", level);
    const char *rt = record_title ? record_title : "ECG";

    /* Summary of the predictions. */
    uint8_t predicted[PE_NUM_CLASSES] = {0};
    for (int i = 0; i < n_ex; i++)
        if (ex[i].predicted) predicted[ex[i].class_idx] = 1;
    pe_sb_append(sb, "<p class=\"summary\">");
    int np = 0;
    for (int i = 0; i < n_ex; i++) {
        if (!ex[i].predicted) continue;
        int c = ex[i].class_idx;
        pe_sb_appendf(sb, "%s<b>%s</b> (%s, p = %.2f)", np ? ", " : "Predicted rhythm labels: ",
                      pe_class_names[c], class_descriptions[c], ex[i].probability);
        np++;
    }
    if (!np) pe_sb_append(sb, "No rhythm label reached its decision threshold.");
    pe_sb_append(sb, "</p>\n");

    pe_sb_appendf(sb, "<section><h%d>The ECG</h%d><figure>", level, level);
    pe_svg_ecg(sb, sig, n, fs, rt, 1.0);
    pe_sb_appendf(sb, "<figcaption class=\"note\">25 mm/s, 10 mm/mV: a small square is 1 mm "
                      "(0.04 s, 0.1 mV), a large square 5 mm (0.2 s, 0.5 mV). Rows show %g s of "
                      "each lead; the bottom strip is lead II over the whole %g s.</figcaption>"
                      "</figure></section>\n<section><h%d>Rhythm probabilities</h%d><figure>",
                  n / fs / 4, n / fs, level, level);
    pe_svg_prob_bars(sb, probs, predicted, NULL);
    pe_sb_append(sb, "</figure></section>\n");

    for (int i = 0; i < n_ex; i++)
        explanation_section(sb, &ex[i], n, fs,
                            source_sigs ? source_sigs + (size_t)i * PE_MAX_TOP : NULL, level,
                            id_prefix);
    return pe_sb_check(sb, "the explanation", e);
}

int pe_html_explanation_page(pe_sb *sb, const char *record_title, const float *sig, int n,
                             double fs, const float *probs, const pe_class_explanation *ex,
                             int n_ex, const float *const *source_sigs, const char *model_name,
                             const char *prelude_html, pe_error *e) {
    if (check_explanation(sig, n, fs, probs, ex, n_ex, e)) return -1;
    const char *rt = record_title ? record_title : "ECG";
    char title[512];
    snprintf(title, sizeof title, "Explanation \xe2\x80\x94 %s", rt);
    pe_html_begin(sb, title);
    pe_sb_append(sb, "<header><h1>");
    pe_html_escape(sb, title);
    pe_sb_append(sb, "</h1><p class=\"meta\">");
    if (model_name) {
        pe_sb_append(sb, "Model: ");
        pe_html_escape(sb, model_name);
        pe_sb_append(sb, " \xc2\xb7 ");
    }
    pe_sb_append(sb, "Interpretable rhythm classifier (prototype network): each class score "
                     "is the weighted similarity of this ECG to prototypes, and every prototype "
                     "is a real training ECG.</p></header>\n");
    if (prelude_html) pe_sb_append(sb, prelude_html);
    if (pe_html_explanation_body(sb, record_title, sig, n, fs, probs, ex, n_ex, source_sigs, 2,
                                 "", e))
        return -1;
    pe_html_end(sb);
    return pe_sb_check(sb, "the explanation page", e);
}

static void put_stat(pe_sb *sb, double v) {
    if (isfinite(v))
        pe_sb_appendf(sb, "<td class=\"num\">%.3f</td>", v);
    else
        pe_sb_append(sb, "<td class=\"num\">\xe2\x80\x93</td>");
}

static void put_count(pe_sb *sb, int v) {
    if (v >= 0)
        pe_sb_appendf(sb, "<td class=\"num\">%d</td>", v);
    else
        pe_sb_append(sb, "<td class=\"num\">\xe2\x80\x93</td>");
}

void pe_html_gallery_stats_table(pe_sb *sb, const pe_gallery_item *items, int n_items,
                                 const pe_gallery_stats *stats, int level) {
    int count[PE_NUM_CLASSES] = {0};
    for (int i = 0; items && i < n_items; i++)
        if (items[i].proto_class >= 0 && items[i].proto_class < PE_NUM_CLASSES)
            count[items[i].proto_class]++;
    pe_sb_appendf(sb, "<section><h%d>Prototypes per class</h%d><table class=\"stats\"><tr>"
                      "<th>Class</th><th>Name</th><th class=\"num\">Prototypes</th>"
                      "<th class=\"num\">Mean cosine within class</th>"
                      "<th class=\"num\">Mean cosine to other classes</th>"
                      "<th class=\"num\">Sources with only this class</th>"
                      "<th class=\"num\">Duplicates</th></tr>\n",
                  level, level);
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        pe_sb_appendf(sb, "<tr><td><b>%s</b></td><td>%s</td><td class=\"num\">%d</td>",
                      pe_class_names[c], class_descriptions[c], count[c]);
        if (stats) {
            put_stat(sb, stats->mean_within_cos[c]);
            put_stat(sb, stats->mean_between_cos[c]);
            put_count(sb, stats->n_single_label[c]);
            put_count(sb, stats->n_duplicates[c]);
        } else {
            put_stat(sb, NAN), put_stat(sb, NAN), put_count(sb, -1), put_count(sb, -1);
        }
        pe_sb_append(sb, "</tr>\n");
    }
    pe_sb_append(sb, "</table><p class=\"note\">Cosines are between prototype vectors. "
                     "Duplicates: prototypes projected onto the same training ECG as another "
                     "prototype.</p></section>\n");
}

void pe_html_prototype_card(pe_sb *sb, const pe_gallery_item *it, int n, double fs) {
    int c = it->proto_class;
    char ttl[96];
    if (it->source_ecg_id >= 0)
        snprintf(ttl, sizeof ttl, "Prototype %d \xc2\xb7 training ECG %d", it->prototype,
                 it->source_ecg_id);
    else
        snprintf(ttl, sizeof ttl, "Prototype %d", it->prototype);
    pe_sb_appendf(sb, "<div class=\"card\"><h3>Prototype #%d of %s</h3>\n", it->prototype,
                  class_code(c));
    if (it->source_sig && n >= 4 && fs > 0.0) {
        pe_sb_append(sb, "<figure>");
        pe_svg_ecg(sb, it->source_sig, n, fs, ttl, 0.48);
        pe_sb_append(sb, "</figure>\n");
    } else {
        pe_sb_append(sb, "<p class=\"missing\">Source ECG signal not available.</p>\n");
    }
    pe_sb_append(sb, "<table>");
    if (it->source_ecg_id >= 0)
        pe_sb_appendf(sb, "<tr><td>Source ECG</td><td>ecg_id <b>%d</b></td></tr>",
                      it->source_ecg_id);
    else
        pe_sb_append(sb, "<tr><td>Source ECG</td><td>none (not projected)</td></tr>");
    pe_sb_append(sb, "<tr><td>Its labels</td><td>");
    put_label_tags(sb, it->source_labels, c);
    pe_sb_appendf(sb, "</td></tr><tr><td>Prototype\xe2\x80\x93source match</td>"
                      "<td class=\"num\">%.3f</td></tr></table></div>\n",
                  it->similarity);
}

int pe_html_gallery_page(pe_sb *sb, const char *title, const char *model_name,
                         const pe_gallery_item *items, int n_items, int n, double fs,
                         const pe_gallery_stats *stats, pe_error *e) {
    if (n_items < 0 || (n_items > 0 && !items) || n < 4 || !(fs > 0.0))
        return pe_fail(e, "gallery page: invalid arguments (%d prototypes, n %d, fs %g)",
                       n_items, n, fs);
    int count[PE_NUM_CLASSES] = {0};
    for (int i = 0; i < n_items; i++) {
        if (items[i].proto_class < 0 || items[i].proto_class >= PE_NUM_CLASSES)
            return pe_fail(e, "gallery page: prototype %d has class %d (not in 0..%d)",
                           items[i].prototype, items[i].proto_class, PE_NUM_CLASSES - 1);
        count[items[i].proto_class]++;
    }
    const char *t = title ? title : "Prototype gallery";
    pe_html_begin(sb, t);
    pe_sb_append(sb, "<header><h1>");
    pe_html_escape(sb, t);
    pe_sb_append(sb, "</h1><p class=\"meta\">");
    if (model_name) {
        pe_sb_append(sb, "Model: ");
        pe_html_escape(sb, model_name);
        pe_sb_append(sb, " \xc2\xb7 ");
    }
    pe_sb_appendf(sb, "%d prototypes. Each prototype was projected onto the training ECG shown; "
                      "the model explains its predictions by similarity to these ECGs.</p>"
                      "</header>\n",
                  n_items);
    pe_html_gallery_stats_table(sb, items, n_items, stats, 2);

    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        if (!count[c]) continue;
        pe_sb_appendf(sb, "<section id=\"class-%s\"><h2><span class=\"code\">%s</span>%s \xe2\x80"
                          "\x94 %d prototype%s</h2>\n<div class=\"cards\">\n",
                      pe_class_names[c], pe_class_names[c], class_descriptions[c], count[c],
                      count[c] == 1 ? "" : "s");
        for (int i = 0; i < n_items; i++)
            if (items[i].proto_class == c) pe_html_prototype_card(sb, &items[i], n, fs);
        pe_sb_append(sb, "</div></section>\n");
    }
    pe_html_end(sb);
    return pe_sb_check(sb, "the gallery page", e);
}

int pe_html_write(const pe_sb *sb, const char *path, pe_error *e) {
    if (pe_sb_check(sb, path, e) != 0) return -1;
    return pe_write_file_atomic(path, pe_sb_str(sb), sb->len, e);
}
