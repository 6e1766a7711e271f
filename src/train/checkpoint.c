/* The training checkpoint: run state as JSON metadata, tensors by slot. */
#include "train/checkpoint.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/safetensors.h"

/* JSON has no infinities: an unset best (+-inf) is written as +-DBL_MAX, which
 * compares the same way. */
static double finite_or_max(double x) { return isfinite(x) ? x : copysign(DBL_MAX, x); }

static char *state_json(const pe_run_state *s) {
    char *buf = malloc(512);
    if (buf)
        snprintf(buf, 512,
                 "{\"phase\":%d,\"epoch\":%d,\"seq\":%ld,\"lr\":%.9g,\"adam_step\":%ld,"
                 "\"plateau_best\":%.17g,\"plateau_bad\":%d,\"stop_best\":%.17g,"
                 "\"stop_best_epoch\":%d,\"stop_since\":%d,\"nbt\":%lld,\"best_nbt\":%lld}",
                 s->phase, s->epoch, s->seq, s->lr, s->adam_step,
                 finite_or_max(s->plateau.best), s->plateau.bad_epochs,
                 finite_or_max(s->stop.best), s->stop.best_epoch, s->stop.since_best,
                 (long long)s->nbt, (long long)s->best_nbt);
    return buf;
}

static int parse_state(const char *txt, pe_run_state *s) {
    cJSON *j = cJSON_Parse(txt);
    if (!j) return -1;
    const char *keys[] = {"phase", "epoch", "seq", "lr", "adam_step", "plateau_best",
                          "plateau_bad", "stop_best", "stop_best_epoch", "stop_since", "nbt",
                          "best_nbt"};
    double v[12];
    int ok = 1;
    for (int k = 0; k < 12 && ok; k++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        ok = cJSON_IsNumber(x);
        if (ok) v[k] = x->valuedouble;
    }
    cJSON_Delete(j);
    if (!ok) return -1;
    s->phase = (int)v[0], s->epoch = (int)v[1], s->seq = (long)v[2], s->lr = (float)v[3];
    s->adam_step = (long)v[4], s->plateau.best = v[5], s->plateau.bad_epochs = (int)v[6];
    s->stop.best = v[7], s->stop.best_epoch = (int)v[8], s->stop.since_best = (int)v[9];
    s->nbt = (int64_t)v[10], s->best_nbt = (int64_t)v[11];
    return 0;
}

/* The checkpoint tensors of net tensor i: net.<name>, best.<name> and, with EMA,
 * ema.<name> (params and buffers), adam_m.<name> and adam_v.<name> (params, when the
 * phase has Adam state). */
enum { MAX_SLOTS = 5 };
static int checkpoint_slots(const pe_net *net, int i, const pe_phase_bufs *pb,
                            const char **prefix, float **data) {
    const pe_tensor_info *ti = &net->tensors[i];
    int n = 0, param = ti->kind == PE_T_PARAM;
    prefix[n] = "net.", data[n++] = pe_net_data(net, ti);
    prefix[n] = "best.", data[n++] = (param ? pb->best_p : pb->best_b) + ti->offset;
    if (pb->ema_p) prefix[n] = "ema.", data[n++] = (param ? pb->ema_p : pb->ema_b) + ti->offset;
    if (param && pb->opt.m) { /* Adam's moments, when the phase uses Adam */
        prefix[n] = "adam_m.", data[n++] = pb->opt.m + ti->offset;
        prefix[n] = "adam_v.", data[n++] = pb->opt.v + ti->offset;
    }
    return n;
}

/* Calls fn on each checkpoint_slots tensor of net with its checkpoint name. */
typedef int (*slot_fn)(void *io, const char *name, float *data, const pe_tensor_info *ti,
                       pe_error *e);

static int each_slot(const pe_net *net, const pe_phase_bufs *pb, slot_fn fn, void *io,
                     pe_error *e) {
    int rc = 0;
    for (int i = 0; rc == 0 && i < net->n_tensors; i++) {
        const char *prefix[MAX_SLOTS];
        float *data[MAX_SLOTS];
        int ns = checkpoint_slots(net, i, pb, prefix, data);
        for (int k = 0; rc == 0 && k < ns; k++) {
            const pe_tensor_info *ti = &net->tensors[i];
            char n[160];
            snprintf(n, sizeof n, "%s%s", prefix[k], ti->name);
            rc = fn(io, n, data[k], ti, e);
        }
    }
    return rc;
}

static int write_slot(void *w, const char *name, float *data, const pe_tensor_info *ti,
                      pe_error *e) {
    return pe_st_add_f32(w, name, data, ti->shape, ti->ndim, e);
}

static int read_slot(void *f, const char *name, float *data, const pe_tensor_info *ti,
                     pe_error *e) {
    return pe_st_read_f32(f, name, data, ti->shape, ti->ndim, e);
}

/* Writes the state and, within a phase (net != NULL), the checkpoint_slots tensors. */
int pe_checkpoint_save(const char *path, const pe_net *net, const pe_phase_bufs *pb,
                       const pe_run_state *s, pe_error *e) {
    pe_st_writer *w = pe_st_writer_new();
    if (!w) return pe_fail(e, "out of memory");
    char *st = state_json(s);
    int rc = st ? pe_st_set_metadata(w, "state", st, e) : pe_fail(e, "out of memory");
    free(st);
    if (rc == 0 && net) rc = each_slot(net, pb, write_slot, w, e);
    if (rc == 0) rc = pe_st_write(w, path, e);
    pe_st_writer_free(w);
    return rc;
}

int pe_checkpoint_load_tensors(const char *path, pe_net *net, pe_phase_bufs *pb, pe_error *e) {
    pe_st_file *f = pe_st_open(path, e);
    if (!f) return -1;
    int rc = each_slot(net, pb, read_slot, f, e);
    pe_st_close(f);
    return rc;
}

int pe_checkpoint_read_state(const char *path, pe_run_state *s, pe_error *e) {
    pe_st_file *f = pe_st_open(path, e);
    if (!f) return -1;
    const char *txt = pe_st_metadata(f, "state");
    int rc = (txt && parse_state(txt, s) == 0) ? 0
                                               : pe_fail(e, "%s: no valid training state", path);
    pe_st_close(f);
    return rc;
}
