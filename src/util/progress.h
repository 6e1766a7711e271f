/* Progress lines on stderr for long work: "label  done/total  pct  rate  ETA  extra".
 * On a terminal the line is redrawn in place; otherwise a line is printed at most
 * every 10 seconds (and at the end), so logs stay readable. */
#ifndef PE_UTIL_PROGRESS_H
#define PE_UTIL_PROGRESS_H

typedef struct {
    const char *label;
    long total;
    double t0, last;
    int tty, quiet;
} pe_progress;

/* Monotonic seconds. */
double pe_now(void);

void pe_progress_start(pe_progress *p, const char *label, long total, int quiet);
/* extra: free text such as "loss 0.231" (may be NULL). */
void pe_progress_update(pe_progress *p, long done, const char *extra);
void pe_progress_end(pe_progress *p, const char *extra);

#endif
