/* pe_net_addon_standardize (the add-on started as a standardization of the backbone
 * features, `train --addon-init-gain`), through the network's own forward pass: after
 * the call, the eval-mode z of every record must satisfy logit(z_d) = gain (h_d - m_d) /
 * s_d with m_d, s_d the mean and population standard deviation of h_d over the records
 * (computed here in double from the forward's h); so over the records logit(z_d) has
 * mean 0 and standard deviation gain, and z_d orders the records as h_d does. (Where
 * gain |h_d - m_d| / s_d > 8, float z is too close to 0 or 1 for its logit: skipped.) Also:
 * a feature that is constant over the records gives z_d = 1/2 for any input, and a
 * latent size other than the feature width, a linear-head net, or no records are
 * refused with a message. */
#include "check.h"
#include "model/net.h"
#include "nets.h"
#include "util/error.h"
#include "util/rng.h"

#define NREC 24

static double logit(double z) { return log(z / (1.0 - z)); }

static void check_gain(pe_net *net, const float *x, float gain) {
    pe_error e = {{0}};
    int F = net->feat_dim;
    CHECK(pe_net_forward(net, x, NREC, 0, &e) == 0);
    float *h = malloc(sizeof(float) * NREC * F);
    memcpy(h, net->h, sizeof(float) * NREC * F);
    int flat = 7; /* make feature 7 constant over the records: the floor of the std */
    for (int j = 0; j < NREC; j++) h[j * F + flat] = 0.25f;
    int rc = pe_net_addon_standardize(net, h, NREC, gain, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    /* the forward's z of the same records (eval mode: the same h; feature 7 aside) */
    double worst = 0, worst_mean = 0, worst_sd = 0;
    int order_bad = 0;
    CHECK(pe_net_forward(net, x, NREC, 0, &e) == 0);
    for (int d = 0; d < F; d++) {
        if (d == flat) continue;
        double m = 0, v = 0;
        for (int j = 0; j < NREC; j++) m += h[j * F + d];
        m /= NREC;
        for (int j = 0; j < NREC; j++) v += (h[j * F + d] - m) * (h[j * F + d] - m);
        double s = sqrt(v / NREC);
        if (s < 1e-3) continue; /* a dead feature: nothing to standardize */
        double lm = 0, lv = 0;
        for (int j = 0; j < NREC; j++) {
            double z = net->z[j * F + d], want = gain * (h[j * F + d] - m) / s;
            if (fabs(want) < 8) /* beyond, float z is too close to 0 or 1 for its logit */
                worst = fmax(worst, fabs(logit(z) - want));
            lm += logit(z);
            for (int k = 0; k < NREC; k++)
                order_bad += (h[j * F + d] < h[k * F + d]) && !(z <= net->z[k * F + d]);
        }
        lm /= NREC;
        for (int j = 0; j < NREC; j++) lv += (logit(net->z[j * F + d]) - lm) * (logit(net->z[j * F + d]) - lm);
        worst_mean = fmax(worst_mean, fabs(lm));
        worst_sd = fmax(worst_sd, fabs(sqrt(lv / NREC) - gain));
    }
    printf("gain %g: max |logit(z) - gain (h - mean) / std| %.2g, max |mean logit(z)| %.2g, "
           "max |std logit(z) - gain| %.2g, order violations %d\n",
           gain, worst, worst_mean, worst_sd, order_bad);
    CHECK_MSG(worst < 2e-3 * fmax(1.0, gain), "z is not the standardized feature (%g)", worst);
    if (gain <= 1.5f) { /* |h - m| / s <= sqrt(NREC - 1): every logit(z) is accurate */
        CHECK(worst_mean < 2e-3);
        CHECK(worst_sd < 2e-3);
    }
    CHECK(order_bad == 0);
    /* the constant feature (0.25 for every record): z = 1/2 whatever its value, also one
     * never seen (the forward's own h of feature 7 varies over the records) */
    for (int j = 0; j < NREC; j++)
        CHECK_MSG(net->z[j * F + flat] == 0.5f, "constant feature: z %g for h %g",
                  net->z[j * F + flat], net->h[j * F + flat]);
    free(h);
}

int main(void) {
    pe_error e = {{0}};
    size_t rec = 12 * 1000;
    float *x = malloc(sizeof(float) * NREC * rec);
    pe_rng r;
    pe_rng_seed(&r, 3);
    for (size_t i = 0; i < NREC * rec; i++) x[i] = (float)pe_rng_normal(&r);

    pe_net_config cfg = pe_net_config_default(PE_HEAD_PROTO);
    cfg.base_width = 8;
    cfg.latent_dim = 8 * cfg.base_width; /* the feature width */
    pe_net net;
    int rc = pe_net_init(&net, &cfg, NREC, 5, 1, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        test_make_bn_nontrivial(&net, x, NREC, 9);
        check_gain(&net, x, 1.0f);
        check_gain(&net, x, 3.0f);
        CHECK(pe_net_addon_standardize(&net, net.h, 0, 3.0f, &e) != 0);
        pe_net_free(&net);
    }

    cfg.latent_dim = 32; /* not the feature width (64) */
    rc = pe_net_init(&net, &cfg, NREC, 5, 1, &e);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(pe_net_addon_standardize(&net, x, NREC, 3.0f, &e) != 0);
        CHECK_MSG(strstr(e.msg, "64") && strstr(e.msg, "32"), "message: %s", e.msg);
        pe_net_free(&net);
    }
    pe_net_config lin = pe_net_config_default(PE_HEAD_LINEAR);
    lin.base_width = 8;
    lin.latent_dim = 64;
    rc = pe_net_init(&net, &lin, NREC, 5, 1, &e);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(pe_net_addon_standardize(&net, x, NREC, 3.0f, &e) != 0);
        pe_net_free(&net);
    }
    free(x);
    return check_failures;
}
