/* The training checkpoint, RUNDIR/checkpoint.safetensors, written atomically after every
 * epoch: the run state (phase, epoch, learning rate, schedule counters) as metadata and,
 * within a phase, every tensor of the net with what the phase keeps beside it (best
 * epoch, weight average, Adam moments). `protoecg train --resume` continues from it. */
#ifndef PE_TRAIN_CHECKPOINT_H
#define PE_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "model/net.h"
#include "train/adam.h"
#include "train/schedule.h"
#include "util/error.h"

/* What a phase keeps besides the net, and its checkpoint saves: the optimizer state,
 * the best epoch's weights and, with --ema, the running average of the weights. */
typedef struct {
    pe_adam opt;
    float *best_p, *best_b; /* params, buffers */
    float *ema_p, *ema_b;   /* NULL without EMA */
} pe_phase_bufs;

/* Where a run stands. */
typedef struct {
    int phase, epoch; /* next phase to run, epochs of it completed */
    long seq;         /* metrics lines written */
    float lr;
    long adam_step;
    pe_plateau plateau;
    pe_early_stop stop;
    int64_t nbt, best_nbt; /* batch norm's num_batches_tracked: now, at the best epoch */
} pe_run_state;

/* Writes the checkpoint at path: the state and, when net is given (within a phase), its
 * tensors as net.<name>, best.<name>, ema.<name> (with EMA), adam_m.<name> and
 * adam_v.<name> (params, when the phase has Adam moments). */
int pe_checkpoint_save(const char *path, const pe_net *net, const pe_phase_bufs *pb,
                       const pe_run_state *s, pe_error *e);

/* Reads those tensors back into net and pb (shapes checked). */
int pe_checkpoint_load_tensors(const char *path, pe_net *net, pe_phase_bufs *pb, pe_error *e);

/* Reads the run state only. */
int pe_checkpoint_read_state(const char *path, pe_run_state *s, pe_error *e);

#endif
