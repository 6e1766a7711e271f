/* Cosine decay, ReduceLROnPlateau (mode min, threshold 1e-4 relative, as torch's
 * defaults) and early stopping on a metric to maximize, with best-epoch tracking. */
#ifndef PE_TRAIN_SCHEDULE_H
#define PE_TRAIN_SCHEDULE_H

#include <math.h>

typedef struct {
    float factor;
    int patience;
    double best;     /* lowest loss seen */
    int bad_epochs;
} pe_plateau;

/* Returns the new learning rate after seeing this epoch's validation loss. */
static inline float pe_plateau_step(pe_plateau *p, double loss, float lr) {
    if (loss < p->best * (1.0 - 1e-4)) {
        p->best = loss;
        p->bad_epochs = 0;
        return lr;
    }
    if (++p->bad_epochs > p->patience) {
        p->bad_epochs = 0;
        return lr * p->factor;
    }
    return lr;
}

/* Cosine decay: the learning rate of epoch ep (0-based) of E, from lr at the first
 * epoch to lr / 100 at the last (SGDR without restarts; the floor keeps the last
 * epoch learning). */
static inline float pe_cosine_lr(float lr, int ep, int E) {
    const double lo = lr * 0.01, pi = 3.14159265358979323846;
    double t = E > 1 ? (double)ep / (E - 1) : 0.0;
    return (float)(lo + 0.5 * (lr - lo) * (1.0 + cos(pi * t)));
}

typedef struct {
    int patience;
    double best;     /* highest metric seen */
    int best_epoch;
    int since_best;
} pe_early_stop;

/* Returns 1 if this epoch is the new best. */
static inline int pe_early_stop_step(pe_early_stop *s, double metric, int epoch) {
    if (metric > s->best) {
        s->best = metric;
        s->best_epoch = epoch;
        s->since_best = 0;
        return 1;
    }
    s->since_best++;
    return 0;
}

static inline int pe_early_stop_done(const pe_early_stop *s) { return s->since_best >= s->patience; }

#endif
