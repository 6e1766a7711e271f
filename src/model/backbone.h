/* 1D ResNet-18 backbone passes over the buffers of a pe_net (see net.h). */
#ifndef PE_MODEL_BACKBONE_H
#define PE_MODEL_BACKBONE_H

#include "model/net.h"

/* torch.nn.BatchNorm1d defaults */
#define PE_BN_EPS 1e-5f
#define PE_BN_MOMENTUM 0.1f

/* x (B, leads, len) -> net->h (B, F). */
int pe_backbone_forward(pe_net *net, const float *x, int B, int training, pe_error *e);
/* dh (B, F) -> accumulates backbone parameter gradients. */
int pe_backbone_backward(pe_net *net, const float *dh, int B, pe_error *e);

#endif
