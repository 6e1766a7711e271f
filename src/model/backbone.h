/* 1D ResNet-18 backbone passes over the buffers of a pe_net (see net.h). */
#ifndef PE_MODEL_BACKBONE_H
#define PE_MODEL_BACKBONE_H

#include "model/net.h"

/* torch.nn.BatchNorm1d defaults */
#define PE_BN_EPS 1e-5f
#define PE_BN_MOMENTUM 0.1f

/* x (B, leads, len) -> net->h (B, F). With oneDNN the saved activations are (B, L, C). */
int pe_backbone_forward(pe_net *net, const float *x, int B, int training, pe_error *e);
/* dh (B, F) -> accumulates backbone parameter gradients. */
int pe_backbone_backward(pe_net *net, const float *dh, int B, pe_error *e);

/* The same passes on the fused channels-last path (backbone_nwc.c), used by the two
 * functions above when the net has oneDNN: activations (B, L, C) in the net's buffers. */
int pe_backbone_nwc_forward(pe_net *net, const float *x, int B, int training, pe_error *e);
int pe_backbone_nwc_backward(pe_net *net, const float *dh, int B, pe_error *e);

#endif
