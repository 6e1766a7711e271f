/* Adam with coupled L2 weight decay, exactly as torch.optim.Adam:
 *   g += wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * lr_scale[g] multiplies the learning rate of parameter group g; 0 freezes the group. */
#ifndef PE_TRAIN_ADAM_H
#define PE_TRAIN_ADAM_H

#include "model/net.h"

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    long step;
    float *m, *v; /* n_params each */
    size_t n;
} pe_adam;

int pe_adam_init(pe_adam *a, size_t n_params, float lr, float weight_decay, pe_error *e);
void pe_adam_free(pe_adam *a);
void pe_adam_step(pe_adam *a, pe_net *net, const float lr_scale[PE_NUM_GROUPS]);

#endif
