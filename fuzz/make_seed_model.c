/* Writes the seed corpus of fuzz_model_file: the smallest valid model files (base width
 * 1, latent 2, one prototype per class), one with a prototype head, its projection
 * sources, an int8 calibration and a training config, one with a linear head, and the
 * prototype one with its parameters in bfloat16.
 *   make_seed_model DIR */
#include <stdio.h>
#include <string.h>

#include "model/modelfile.h"

static int save(const pe_net_config *cfg, int extras, int bf16, const char *path) {
    pe_model m;
    pe_error e;
    if (pe_model_init(&m, cfg, 1, 1, 0, &e)) {
        fprintf(stderr, "make_seed_model: %s\n", e.msg);
        return 1;
    }
    if (extras) {
        for (int p = 0; p < m.net.n_protos; p++) {
            m.sources[p].ecg_id = 100 + p;
            m.sources[p].similarity = 0.5f;
            m.sources[p].labels[p % PE_NUM_CLASSES] = 1;
        }
        pe_int8_calib *c = &m.net.int8;
        c->valid = 1, c->percentile = 99.9, c->n_records = 4, c->stem = 1.0f;
        for (int i = 0; i < 8; i++) {
            c->c1[i] = c->out[i] = 2.0f;
            if (m.net.blocks[i].has_down) c->down[i] = 0.5f;
        }
        m.config_json = strdup("{\"seed\": 1, \"epochs_warmup\": 6}"); /* freed with m */
    }
    int rc = pe_model_save(&m, path, bf16, &e);
    if (rc) fprintf(stderr, "make_seed_model: %s\n", e.msg);
    pe_model_free(&m);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seed_model DIR\n");
        return 2;
    }
    char path[4096];
    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    cfg.base_width = 1, cfg.latent_dim = 2, cfg.protos_per_class = 1;
    int rc = 0;
    snprintf(path, sizeof path, "%s/proto.safetensors", argv[1]);
    rc |= save(&cfg, 1, 0, path);
    snprintf(path, sizeof path, "%s/proto_bf16.safetensors", argv[1]);
    rc |= save(&cfg, 1, 1, path);
    cfg.head = PE_HEAD_LINEAR;
    snprintf(path, sizeof path, "%s/linear.safetensors", argv[1]);
    rc |= save(&cfg, 0, 0, path);
    return rc;
}
