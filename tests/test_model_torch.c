/* The whole network against PyTorch (scripts/golden_model.py): forward outputs,
 * every parameter gradient, BN running statistics after one step, and the
 * weights after 3 Adam steps; prototype model and plain baseline, with the
 * plain-C and the oneDNN convolutions. */
#include "check.h"
#include "model/net.h"
#include "model/safetensors.h"
#include "train/adam.h"

static pe_st_file *golden;
static pe_error err;

/* Compares n floats at a with golden tensor `name`; returns the relative error. */
static double cmp(const float *a, const char *name, size_t n, double tol) {
    float *ref = malloc(n * sizeof(float));
    const pe_st_tensor *t = pe_st_find(golden, name);
    CHECK_MSG(t && (size_t)t->numel == n, "golden tensor %s missing or of another size", name);
    double r = INFINITY;
    if (t && (size_t)t->numel == n && pe_st_read_f32(golden, name, ref, NULL, 0, &err) == 0) {
        r = max_rel_err(a, ref, n);
        CHECK_MSG(r <= tol, "%s: relative error %.3g > %.1g", name, r, tol);
    }
    free(ref);
    return r;
}

static void load_weights(pe_net *net, const char *prefix_head) {
    for (int i = 0; i < net->n_tensors; i++) {
        const pe_tensor_info *t = &net->tensors[i];
        char name[160];
        const char *src = t->name;
        if (prefix_head) { /* only the head, stored as <prefix>fc.* */
            if (strncmp(t->name, "fc.", 3)) continue;
            snprintf(name, sizeof name, "%s%s", prefix_head, t->name);
            src = name;
        }
        int rc = pe_st_read_f32(golden, src, pe_net_data(net, t), t->shape, t->ndim, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
    }
}

static float *read_all(const char *name, size_t *n) {
    const pe_st_tensor *t = pe_st_find(golden, name);
    if (!t) return NULL;
    float *v = malloc((size_t)t->numel * sizeof(float));
    pe_st_read_f32(golden, name, v, NULL, 0, &err);
    *n = (size_t)t->numel;
    return v;
}

static void run_case(pe_head_kind head, const char *golden_path, const char *init_path,
                     int use_dnnl) {
    pe_net_config cfg = pe_net_config_default(head);
    cfg.base_width = 8;
    cfg.latent_dim = 64;
    cfg.protos_per_class = 2;
    pe_net net;
    CHECK(pe_net_init(&net, &cfg, 4, 0, use_dnnl, &err) == 0);
    /* weights: the prototype model's init file; the baseline's head from init.fc.* */
    golden = pe_st_open(init_path, &err);
    CHECK_MSG(golden != NULL, "%s", err.msg);
    if (head == PE_HEAD_PROTO) {
        load_weights(&net, NULL);
    } else {
        for (int i = 0; i < net.n_tensors; i++) {
            const pe_tensor_info *t = &net.tensors[i];
            if (t->group == PE_GROUP_BACKBONE)
                CHECK(pe_st_read_f32(golden, t->name, pe_net_data(&net, t), t->shape, t->ndim, &err) == 0);
        }
    }
    pe_st_close(golden);
    golden = pe_st_open(golden_path, &err);
    CHECK_MSG(golden != NULL, "%s", err.msg);
    if (head == PE_HEAD_LINEAR) load_weights(&net, "init.");
    float *init_p = malloc(net.n_params * sizeof(float));
    float *init_b = malloc(net.n_buffers * sizeof(float));
    memcpy(init_p, net.params, net.n_params * sizeof(float));
    memcpy(init_b, net.buffers, net.n_buffers * sizeof(float));

    size_t nx = 0, nr = 0;
    float *x = read_all("input", &nx), *R = read_all("R", &nr);
    int B = 4, C = 16, P = net.n_protos, D = cfg.latent_dim, F = net.feat_dim;
    CHECK(x && R && nx == (size_t)B * 12 * 1000 && nr == (size_t)B * C);

    /* eval-mode forward at init */
    CHECK(pe_net_forward(&net, x, B, 0, &err) == 0);
    cmp(net.h, "eval.h", (size_t)B * F, 1e-4);
    cmp(net.logits, "eval.logits", (size_t)B * C, 1e-4);
    if (head == PE_HEAD_PROTO) {
        cmp(net.z, "eval.z", (size_t)B * D, 1e-4);
        cmp(net.sim, "eval.similarities", (size_t)B * P, 1e-4);
    }
    /* train-mode forward + backward of sum(logits * R) */
    pe_net_zero_grad(&net);
    CHECK(pe_net_forward(&net, x, B, 1, &err) == 0);
    cmp(net.h, "train.h", (size_t)B * F, 1e-4);
    double lr = cmp(net.logits, "train.logits", (size_t)B * C, 1e-4);
    if (head == PE_HEAD_PROTO) {
        cmp(net.z, "train.z", (size_t)B * D, 1e-4);
        cmp(net.sim, "train.similarities", (size_t)B * P, 1e-4);
    }
    CHECK(pe_net_backward(&net, R, NULL, 1, &err) == 0);
    double worst_grad = 0, worst_bn = 0;
    for (int i = 0; i < net.n_tensors; i++) {
        const pe_tensor_info *t = &net.tensors[i];
        char name[160];
        if (t->kind == PE_T_PARAM) {
            snprintf(name, sizeof name, "grad.%s", t->name);
            double r = cmp(net.grads + t->offset, name, t->numel, 1e-3);
            worst_grad = r > worst_grad ? r : worst_grad;
        } else if (strstr(t->name, "running_")) {
            snprintf(name, sizeof name, "after1.%s", t->name);
            double r = cmp(net.buffers + t->offset, name, t->numel, 1e-5);
            worst_bn = r > worst_bn ? r : worst_bn;
        }
    }
    /* 3 Adam steps from init; the last layer is frozen (joint stage) for the prototype model */
    memcpy(net.params, init_p, net.n_params * sizeof(float));
    memcpy(net.buffers, init_b, net.n_buffers * sizeof(float));
    net.num_batches_tracked = 0;
    pe_adam opt;
    CHECK(pe_adam_init(&opt, net.n_params, 1e-3f, 1e-4f, &err) == 0);
    float groups[PE_NUM_GROUPS] = {1, 1, 1, head == PE_HEAD_LINEAR ? 1.0f : 0.0f};
    for (int s = 0; s < 3; s++) {
        pe_net_zero_grad(&net);
        CHECK(pe_net_forward(&net, x, B, 1, &err) == 0);
        CHECK(pe_net_backward(&net, R, NULL, 1, &err) == 0);
        pe_adam_step(&opt, &net, groups);
    }
    double worst_step = 0;
    for (int i = 0; i < net.n_tensors; i++) {
        const pe_tensor_info *t = &net.tensors[i];
        if (t->kind == PE_T_BUFFER && !strstr(t->name, "running_")) continue;
        char name[160];
        snprintf(name, sizeof name, "step3.%s", t->name);
        if (!pe_st_find(golden, name)) continue; /* frozen tensors are not stored */
        double r = cmp(pe_net_data(&net, t), name, t->numel, 1e-4);
        worst_step = r > worst_step ? r : worst_step;
    }
    CHECK(net.num_batches_tracked == 3);
    printf("%s head, %s conv: logits rel err %.2g, worst grad %.2g, worst BN stat %.2g, "
           "worst weight after 3 Adam steps %.2g\n",
           head == PE_HEAD_PROTO ? "prototype" : "linear", use_dnnl ? "oneDNN" : "reference", lr,
           worst_grad, worst_bn, worst_step);
    pe_adam_free(&opt);
    free(x), free(R), free(init_p), free(init_b);
    pe_st_close(golden);
    pe_net_free(&net);
}

int main(void) {
    const char *dir = PE_SOURCE_DIR "/tests/golden/";
    char model[512], base[512], init[512];
    snprintf(model, sizeof model, "%smodel_small.safetensors", dir);
    snprintf(base, sizeof base, "%sbaseline_small.safetensors", dir);
    snprintf(init, sizeof init, "%smodel_init.safetensors", dir);
    for (int dnnl = 0; dnnl <= 1; dnnl++) {
        run_case(PE_HEAD_PROTO, model, init, dnnl);
        run_case(PE_HEAD_LINEAR, base, init, dnnl);
    }
    TEST_END();
}
