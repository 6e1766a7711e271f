#include "util/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double pe_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pe_progress_start(pe_progress *p, const char *label, long total, int quiet) {
    p->label = label;
    p->total = total;
    p->t0 = p->last = pe_now();
    p->tty = isatty(2);
    p->quiet = quiet;
}

static void print_line(pe_progress *p, long done, const char *extra, int final) {
    double el = pe_now() - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = (rate > 0 && p->total > done) ? (double)(p->total - done) / rate : 0;
    fprintf(stderr, "%s%-10s %6ld/%-6ld %3.0f%%  %7.1f/s  %s %5.0fs  %s%s", p->tty ? "\r" : "",
            p->label, done, p->total, p->total ? 100.0 * (double)done / (double)p->total : 100.0,
            rate, final ? "took" : "ETA ", final ? el : eta, extra ? extra : "",
            (p->tty && !final) ? "\033[K" : "\n");
    fflush(stderr);
}

void pe_progress_update(pe_progress *p, long done, const char *extra) {
    if (p->quiet) return;
    double now = pe_now();
    if (now - p->last < (p->tty ? 0.2 : 10.0)) return;
    p->last = now;
    print_line(p, done, extra, 0);
}

void pe_progress_end(pe_progress *p, const char *extra) {
    if (p->quiet) return;
    print_line(p, p->total, extra, 1);
}
