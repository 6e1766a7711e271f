/* protoecg train: prepare the cache (or reuse it) and run the training stages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "data/cache.h"
#include "data/statements.h"
#include "train/train.h"
#include "util/error.h"
#include "util/fileio.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: protoecg train --ptbxl DIR --out RUNDIR [options]\n"
        "  --ptbxl DIR            PTB-XL root (ptbxl_database.csv + records100/)\n"
        "  --cache FILE           prepared cache (default RUNDIR/cache.bin; built if missing)\n"
        "  --out RUNDIR           run directory: config.json, metrics.jsonl, results.json,\n"
        "                         checkpoint.safetensors, <stage>.safetensors, model.safetensors\n"
        "  --stage S              all (default) | pretrain | joint | project | last | baseline\n"
        "  --resume               continue an interrupted run in RUNDIR\n"
        "  --preset P             protoecg (default) | authors (spec section 5 settings)\n"
        "  --seed N               random seed (default 42)\n"
        "  --threads N            threads (default: all cores)\n"
        "  --epochs N             joint (and baseline) epochs     --epochs-last N\n"
        "  --epochs-pretrain N    plain-backbone pretraining epochs loaded into joint\n"
        "  --epochs-warmup N      prototype warm-up epochs before projection\n"
        "  --rounds N             joint + projection rounds\n"
        "  --batch N  --lr X  --lr-last X  --weight-decay X\n"
        "  --last-fista-iters N   last-layer stage: N full-batch FISTA steps per epoch, own-class\n"
        "                         weights kept >= 0 (default 1000; 0: minibatch Adam at\n"
        "                         --lr-last, the authors' way)\n"
        "  --clst X --sep X --div X --cnt X --l1 X   loss weights (spec: 0.004 0.0004 250 300\n"
        "                         1e-4, also the default of --l1); --warmup-clst X (default 0.1)\n"
        "  --patience N           early-stopping patience (val macro-AUROC)\n"
        "  --lr-schedule S        cosine (default) | plateau (ReduceLROnPlateau + early stop)\n"
        "                         (backbone phases: cosine decay to lr/100 over the epochs)\n"
        "  --weighted-sampler     draw training records by class weight\n"
        "  --pos-weight-power X   BCE pos_weight = w_c^X, w_c = (T - n_c) / n_c the spec's\n"
        "                         weight (default 0.5; 1 under --preset authors)\n"
        "  --augment / --no-augment   random gain and noise (and shift) on training batches\n"
        "  --aug-shift / --no-aug-shift   random circular time shift in the augmentation\n"
        "  --aug-scale X --aug-noise X    gain range (1 +- X) and noise std of the augmentation\n"
        "  --mixup A              mixup with Beta(A, A) weights in the plain-network phases\n"
        "                         (pretraining, baseline; default 0: off)\n"
        "  --crop S               those phases train on random S-second windows of each\n"
        "                         record (default 0: the whole 10 s)\n"
        "  --ema D                exponential moving average of the weights (decay D per step)\n"
        "                         evaluated and kept in those phases (default 0.995; 0: off);\n"
        "                         step t decays by min(D, (1 + t) / (10 + t)), so D matters\n"
        "                         only after t = (10 D - 1) / (1 - D) steps (1790 for 0.995)\n"
        "  --aux-statements N     the pretraining also learns PTB-XL's other SCP statements\n"
        "                         with >= N training positives and the five diagnostic\n"
        "                         superclasses (needs scp_statements.csv; 0: off)\n"
        "  --aux-weight X         weight of their BCE against the classes' (default 1)\n"
        "  --warmup-proto-lr X    prototype learning rate in the warm-up, times --lr\n"
        "  --warmup-addon-lr X    add-on learning rate in the warm-up, times --lr (default 0.1)\n"
        "  --warmup-backbone-lr X backbone learning rate in the warm-up, times --lr (default\n"
        "                         0: frozen)\n"
        "  --addon-init-gain G    the add-on starts as z = sigmoid(G (h - mean) / std) per\n"
        "                         feature over the training records (default 3; needs\n"
        "                         --latent = 8 x --width; 0: PyTorch's init, as the authors)\n"
        "  --warmup-projected N   the last N warm-up epochs keep the prototypes projected\n"
        "  --warmup-last / --no-warmup-last   the last layer trains during the warm-up (default on)\n"
        "  --last-keep-start / --no-last-keep-start   the last-layer stage keeps the warm-up's\n"
        "                         layer unless one of its epochs beats it on validation (default on)\n"
        "  --proto-init-latent / --proto-init-kmeans / --proto-init-normal   prototypes start\n"
        "                         on random training latents of their class, at the k-means\n"
        "                         centres of those latents, or N(0,1) as the authors\n"
        "  --no-standardize       do not standardize leads (cache option)\n"
        "  --width N --latent N --protos-per-class K   network shape\n"
        "  --reference-conv       plain-C convolutions instead of oneDNN (slow)\n"
        "  --precision P          fp32 (default) | bf16 (bf16 convolutions where the CPU has\n"
        "                         native bf16, else fp32 with a note)\n"
        "                         every model written is calibrated for --precision int8\n"
        "  --quiet\n");
}

/* Removes the temporary files "<name>.tmp.<pid>" that an atomic write of a killed run
 * left in dir (only those whose process is gone). */
static void remove_stale_tmp(const char *dir, int quiet) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".tmp.");
        if (!t) continue;
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* still running */
        char path[4096];
        if (pe_path_join(path, sizeof path, dir, de->d_name)) continue;
        if (unlink(path) == 0 && !quiet)
            fprintf(stderr, "removed %s (left by an interrupted run)\n", path);
    }
    closedir(d);
}

/* Before a run in dir: --resume needs a checkpoint, or at least a run's config.json (a
 * run killed before its first checkpoint starts again from its first epoch); a fresh
 * run without a checkpoint drops metrics/results that such a run left. */
static int check_run_dir(const char *dir, pe_stage stage, int *resume, int quiet) {
    char ck[4096], p[4096];
    if (pe_path_join(ck, sizeof ck, dir, "checkpoint.safetensors")) return 0;
    int have = pe_path_exists(ck);
    if (*resume) {
        if (!have && (pe_path_join(p, sizeof p, dir, "config.json") || !pe_path_exists(p))) {
            fprintf(stderr, "protoecg train: nothing to resume in %s (no checkpoint.safetensors);"
                            " start the run without --resume\n", dir);
            return -1;
        }
        if (!have && !quiet)
            fprintf(stderr, "train: the run in %s stopped before its first checkpoint: it "
                            "starts again from its first epoch\n", dir);
        remove_stale_tmp(dir, quiet);
        *resume = have;
    }
    if (!*resume && !have && stage == PE_STAGE_ALL) {
        const char *stale[] = {"metrics.jsonl", "results.json"};
        for (int k = 0; k < 2; k++)
            if (!pe_path_join(p, sizeof p, dir, stale[k])) unlink(p);
    }
    return 0;
}

static int parse_stage(const char *v, pe_stage *s) {
    const char *names[] = {"all", "pretrain", "joint", "project", "last", "baseline"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(v, names[i])) {
            *s = (pe_stage)i;
            return 0;
        }
    fprintf(stderr, "protoecg train: unknown stage '%s'\n", v);
    return -1;
}

/* The pretraining's auxiliary statements, listed in RUNDIR/aux_statements.json (name
 * and training positives of each output after the 16 classes). */
static int aux_statements(const char *root, const pe_cache *cache, const char *dir,
                          const pe_train_config *c, pe_aux_labels *aux, pe_error *e) {
    if (pe_aux_labels_build(root, cache, c->aux_statements, aux, e)) return -1;
    cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "min_positives", c->aux_statements);
    cJSON_AddNumberToObject(o, "weight", c->aux_weight);
    for (int a = 0; a < aux->n; a++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "name", aux->names[a]);
        cJSON_AddNumberToObject(it, "train_positives", (double)aux->train_pos[a]);
        cJSON_AddItemToArray(list, it);
    }
    cJSON_AddItemToObject(o, "outputs", list);
    char *txt = cJSON_Print(o), path[4096];
    cJSON_Delete(o);
    int rc = !txt ? pe_fail(e, "out of memory")
             : pe_path_join(path, sizeof path, dir, "aux_statements.json")
                 ? pe_fail(e, "%s: path too long", dir)
                 : pe_write_file_atomic(path, txt, strlen(txt), e);
    free(txt);
    if (rc == 0 && !c->quiet)
        fprintf(stderr, "pretraining: %d auxiliary outputs (statements with >= %d training "
                        "positives, superclasses; %s)\n", aux->n, c->aux_statements, path);
    return rc;
}

/* The command line of train: the training configuration and what surrounds it. */
typedef struct {
    const char *root, *out, *cache_path;
    pe_stage stage;
    int resume, standardize;
    pe_train_config c;
} train_args;

/* Reads argv into a; returns -1 when the run can go on, else the exit code (usage or
 * an invalid value, said on stderr). */
static int parse_args(int argc, char **argv, train_args *a) {
    const char *v;
    double crop_s = -1; /* --crop in seconds (-1: not given) */
    pe_train_config c = pe_train_config_default();
    a->root = a->out = a->cache_path = NULL;
    a->stage = PE_STAGE_ALL;
    a->resume = 0, a->standardize = 1;
    for (int i = 1; i < argc; i++) { /* the preset first, so other options override it */
        if (!strcmp(argv[i], "--preset") && i + 1 < argc) {
            if (!strcmp(argv[i + 1], "authors")) c = pe_train_config_authors();
            else if (strcmp(argv[i + 1], "protoecg")) {
                fprintf(stderr, "protoecg train: unknown preset '%s'\n", argv[i + 1]);
                return 2;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        double d;
        int n;
#define INT_OPT(name, field, lo, hi)                                           \
    if (arg_value(argc, argv, &i, name, &v)) {                                 \
        if (arg_int(name, v, lo, hi, &n)) return 2;                            \
        field = n;                                                             \
        continue;                                                              \
    }
#define DBL_OPT(name, field)                                                   \
    if (arg_value(argc, argv, &i, name, &v)) {                                 \
        if (arg_double(name, v, &d)) return 2;                                 \
        if (d < 0) {                                                           \
            fprintf(stderr, "protoecg train: %s must not be negative, got %s\n", \
                    name, v);                                                  \
            return 2;                                                          \
        }                                                                      \
        field = d;                                                             \
        continue;                                                              \
    }
        if (arg_value(argc, argv, &i, "--ptbxl", &a->root) ||
            arg_value(argc, argv, &i, "--out", &a->out) ||
            arg_value(argc, argv, &i, "--cache", &a->cache_path) ||
            arg_value(argc, argv, &i, "--preset", &v))
            continue;
        if (arg_value(argc, argv, &i, "--stage", &v)) {
            if (parse_stage(v, &a->stage)) return 2;
            continue;
        }
        INT_OPT("--seed", c.seed, 0, 2147483647)
        INT_OPT("--threads", c.threads, 1, 1024)
        INT_OPT("--epochs", c.epochs_joint, 0, 100000)
        INT_OPT("--epochs-last", c.epochs_last, 0, 100000)
        INT_OPT("--last-fista-iters", c.last_fista_iters, 0, 1000000)
        INT_OPT("--epochs-pretrain", c.epochs_pretrain, 0, 100000)
        INT_OPT("--epochs-warmup", c.epochs_warmup, 0, 100000)
        INT_OPT("--rounds", c.rounds, 1, 10)
        INT_OPT("--warmup-projected", c.warmup_projected, 0, 100000)
        INT_OPT("--batch", c.batch_size, 2, 4096)
        INT_OPT("--patience", c.early_stop_patience, 1, 100000)
        INT_OPT("--width", c.base_width, 1, 512)
        INT_OPT("--latent", c.latent_dim, 1, 4096)
        INT_OPT("--protos-per-class", c.protos_per_class, 1, 64)
        INT_OPT("--aux-statements", c.aux_statements, 0, 1000000)
        DBL_OPT("--lr", c.lr)
        DBL_OPT("--lr-last", c.lr_last)
        DBL_OPT("--weight-decay", c.weight_decay)
        DBL_OPT("--clst", c.lw.clst)
        DBL_OPT("--sep", c.lw.sep)
        DBL_OPT("--div", c.lw.div)
        DBL_OPT("--cnt", c.lw.cnt)
        DBL_OPT("--l1", c.lw.l1)
        DBL_OPT("--warmup-clst", c.warmup_clst)
        DBL_OPT("--pos-weight-power", c.pos_weight_power)
        DBL_OPT("--warmup-proto-lr", c.warmup_proto_lr)
        DBL_OPT("--addon-init-gain", c.addon_init_gain)
        DBL_OPT("--warmup-backbone-lr", c.warmup_backbone_lr)
        DBL_OPT("--warmup-addon-lr", c.warmup_addon_lr)
        DBL_OPT("--aug-scale", c.aug_scale)
        DBL_OPT("--aug-noise", c.aug_noise)
        DBL_OPT("--mixup", c.mixup)
        DBL_OPT("--crop", crop_s)
        DBL_OPT("--ema", c.ema)
        DBL_OPT("--aux-weight", c.aux_weight)
#undef INT_OPT
#undef DBL_OPT
        if (!strcmp(argv[i], "--resume")) a->resume = 1;
        else if (!strcmp(argv[i], "--weighted-sampler")) c.weighted_sampler = 1;
        else if (!strcmp(argv[i], "--augment")) c.augment = 1;
        else if (arg_value(argc, argv, &i, "--lr-schedule", &v)) {
            if (strcmp(v, "cosine") && strcmp(v, "plateau")) {
                fprintf(stderr, "protoecg train: --lr-schedule must be cosine or plateau\n");
                return 2;
            }
            c.lr_cosine = !strcmp(v, "cosine");
        }
        else if (!strcmp(argv[i], "--proto-init-latent")) c.proto_init_latent = 1;
        else if (!strcmp(argv[i], "--proto-init-kmeans")) c.proto_init_latent = 2;
        else if (!strcmp(argv[i], "--warmup-last")) c.warmup_last = 1;
        else if (!strcmp(argv[i], "--no-warmup-last")) c.warmup_last = 0;
        else if (!strcmp(argv[i], "--last-keep-start")) c.last_keep_start = 1;
        else if (!strcmp(argv[i], "--no-last-keep-start")) c.last_keep_start = 0;
        else if (!strcmp(argv[i], "--proto-init-normal")) c.proto_init_latent = 0;
        else if (!strcmp(argv[i], "--no-augment")) c.augment = 0;
        else if (!strcmp(argv[i], "--aug-shift")) c.aug_shift = 1;
        else if (!strcmp(argv[i], "--no-aug-shift")) c.aug_shift = 0;
        else if (!strcmp(argv[i], "--no-standardize")) a->standardize = 0;
        else if (!strcmp(argv[i], "--reference-conv")) c.use_dnnl = 0;
        else if (arg_value(argc, argv, &i, "--precision", &v)) {
            if (pe_precision_parse(v, &c.precision) || c.precision == PE_PREC_INT8) {
                fprintf(stderr, "protoecg train: --precision must be fp32 or bf16 (int8 is for "
                                "inference; the trained model is calibrated for it)\n");
                return 2;
            }
        }
        else {
            int rc = arg_last("train", argv[i], &c.quiet, usage);
            if (rc >= 0) return rc;
        }
    }
    if (!a->root || !a->out) {
        fprintf(stderr, "protoecg train: %s is required\n",
                !a->root ? "--ptbxl DIR" : "--out RUNDIR");
        usage(stderr);
        return 2;
    }
    if (crop_s >= 0) {
        c.crop = (int)lround(crop_s * PE_SAMPLING_HZ);
        if (c.crop != 0 && (c.crop < PE_NET_MIN_LEN || c.crop > PE_NUM_SAMPLES)) {
            fprintf(stderr, "protoecg train: --crop must be 0 or %g-%g s (a window of %d-%d "
                            "samples at %d Hz), got %g\n", (double)PE_NET_MIN_LEN / PE_SAMPLING_HZ,
                    (double)PE_NUM_SAMPLES / PE_SAMPLING_HZ, PE_NET_MIN_LEN, PE_NUM_SAMPLES,
                    PE_SAMPLING_HZ, crop_s);
            return 2;
        }
        if (c.crop == PE_NUM_SAMPLES) c.crop = 0;
    }
    if (c.ema >= 1.0f) {
        fprintf(stderr, "protoecg train: --ema must be below 1 (a decay per step, e.g. 0.999)\n");
        return 2;
    }
    if (c.addon_init_gain > 0 && c.latent_dim != 8 * c.base_width) {
        int asked = 0;
        for (int i = 1; i < argc; i++) asked |= !strcmp(argv[i], "--addon-init-gain");
        if (asked) {
            fprintf(stderr, "protoecg train: --addon-init-gain needs --latent equal to the "
                            "backbone's feature width, 8 x --width = %d (not %d)\n",
                    8 * c.base_width, c.latent_dim);
            return 2;
        }
        c.addon_init_gain = 0; /* the default start needs D = F: PyTorch's init instead */
        if (!c.quiet)
            fprintf(stderr, "train: --latent %d differs from the feature width %d: the add-on "
                            "starts from PyTorch's random init\n", c.latent_dim, 8 * c.base_width);
    }
    a->c = c;
    return -1;
}

int cmd_train(int argc, char **argv) {
    train_args a;
    int parsed = parse_args(argc, argv, &a);
    if (parsed >= 0) return parsed;
    const pe_train_config *c = &a.c;
    set_threads(c->threads);
    if (check_run_dir(a.out, a.stage, &a.resume, c->quiet)) return 1;
    pe_error e = {{0}};
    char cache_buf[4096];
    if (make_dir(a.out, &e)) {
        fprintf(stderr, "protoecg train: %s\n", e.msg);
        return 1;
    }
    if (!a.cache_path) {
        snprintf(cache_buf, sizeof cache_buf, "%s/cache%s.bin", a.out,
                 a.standardize ? "" : "_raw");
        a.cache_path = cache_buf;
    }
    pe_prepare_opts po = pe_prepare_opts_default(a.root);
    po.standardize = a.standardize;
    po.quiet = c->quiet;
    pe_prepare_report rep;
    if (pe_cache_prepare(&po, a.cache_path, &rep, &e)) {
        fprintf(stderr, "protoecg train: %s\n", e.msg);
        return 1;
    }
    if (!c->quiet)
        fprintf(stderr, "data: %d records from %s (%d skipped)%s\n", rep.n_ok, a.root,
                rep.n_failed, rep.reused ? ", cache reused" : "");
    pe_cache cache;
    if (pe_cache_open(a.cache_path, &cache, &e)) {
        fprintf(stderr, "protoecg train: %s\n", e.msg);
        return 1;
    }
    pe_aux_labels aux = {0};
    int rc = 0, with_aux = c->aux_statements > 0 && c->epochs_pretrain > 0 &&
                          (a.stage == PE_STAGE_ALL || a.stage == PE_STAGE_PRETRAIN);
    if (with_aux) rc = aux_statements(a.root, &cache, a.out, c, &aux, &e);
    if (rc == 0)
        rc = pe_train_run(c, &cache, with_aux ? &aux : NULL, a.out, a.stage, a.resume, &e);
    pe_aux_labels_free(&aux);
    pe_cache_close(&cache);
    if (rc) {
        fprintf(stderr, "protoecg train: %s\n", e.msg);
        return 1;
    }
    return 0;
}
