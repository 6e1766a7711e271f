/* A crop-length view of a net (pe_net_init_view), as the pretraining with --crop uses:
 *  - it holds the base net's parameters, gradients and BN buffers (the same memory);
 *  - a training-mode forward + backward through it gives the logits, gradients and BN
 *    running statistics of an independent net of that input length with a copy of the
 *    weights, bit for bit, and they land in the base net;
 *  - the base net still works at its own length afterwards, and freeing the view leaves
 *    the base's weights alone (ASan in CI would catch a double free);
 *  - on the oneDNN path and on the plain-C reference path. */
#include "check.h"
#include "model/net.h"
#include "util/rng.h"

enum { B = 3, FULL = 400, CROP = 150 };

static pe_error err;

static void check_view(int use_dnnl, pe_head_kind head) {
    pe_net_config cfg = pe_net_config_default(head);
    cfg.base_width = 8;
    cfg.latent_dim = 64;
    cfg.in_len = FULL;
    pe_net base, view, ref;
    CHECK_MSG(pe_net_init(&base, &cfg, B, 7, use_dnnl, &err) == 0, "%s", err.msg);
    CHECK_MSG(pe_net_init_view(&view, &base, CROP, B, &err) == 0, "%s", err.msg);
    CHECK(view.params == base.params && view.grads == base.grads && view.buffers == base.buffers);
    CHECK(view.cfg.in_len == CROP && base.cfg.in_len == FULL);

    pe_net_config rc = cfg;
    rc.in_len = CROP;
    CHECK_MSG(pe_net_init(&ref, &rc, B, 99, use_dnnl, &err) == 0, "%s", err.msg);
    CHECK(ref.n_params == base.n_params && ref.n_buffers == base.n_buffers);
    memcpy(ref.params, base.params, base.n_params * sizeof(float));
    memcpy(ref.buffers, base.buffers, base.n_buffers * sizeof(float));

    static float x[B * 12 * CROP], R[B * 16];
    pe_rng r;
    pe_rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = (float)pe_rng_normal(&r);
    for (size_t i = 0; i < sizeof R / sizeof *R; i++) R[i] = (float)pe_rng_normal(&r);
    pe_net *nets[2] = {&view, &ref};
    for (int k = 0; k < 2; k++) {
        pe_net_zero_grad(nets[k]);
        CHECK_MSG(pe_net_forward(nets[k], x, B, 1, &err) == 0, "%s", err.msg);
        /* prototype head: its gradient comes through dsim = 0 plus the logits' */
        static float dsim[B * 80];
        CHECK_MSG(pe_net_backward(nets[k], R, head == PE_HEAD_PROTO ? dsim : NULL, 1, &err) == 0,
                  "%s", err.msg);
    }
    CHECK(!memcmp(view.logits, ref.logits, B * 16 * sizeof(float)));
    CHECK(!memcmp(base.grads, ref.grads, base.n_params * sizeof(float)));
    CHECK(!memcmp(base.buffers, ref.buffers, base.n_buffers * sizeof(float)));
    double g = 0;
    for (size_t i = 0; i < base.n_params; i++) g += fabs(base.grads[i]);
    CHECK(g > 0); /* the backward reached the weights */
    CHECK(view.num_batches_tracked == 1);

    /* the base at its own length, then the view freed first */
    static float xf[B * 12 * FULL];
    for (size_t i = 0; i < sizeof xf / sizeof *xf; i++) xf[i] = (float)pe_rng_normal(&r);
    CHECK_MSG(pe_net_forward(&base, xf, B, 0, &err) == 0, "%s", err.msg);
    for (int i = 0; i < B * 16; i++) CHECK(isfinite(base.logits[i]));
    pe_net_free(&view);
    pe_net_free(&ref);
    CHECK(base.params != NULL);
    CHECK_MSG(pe_net_forward(&base, xf, B, 0, &err) == 0, "%s", err.msg);
    pe_net_free(&base);
}

int main(void) {
    check_view(1, PE_HEAD_LINEAR);
    check_view(0, PE_HEAD_LINEAR);
    check_view(1, PE_HEAD_PROTO);
    TEST_END();
}
