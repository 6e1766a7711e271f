/* The 20 convolutions of the 1D ResNet-18 at 12 leads x 1000 samples, with how many
 * times each shape occurs (shared by the development benchmarks bench_conv.c and
 * bench_prims.c). */
#ifndef PE_BENCH_RESNET18_CONVS_H
#define PE_BENCH_RESNET18_CONVS_H

typedef struct {
    const char *name;
    int count, Cin, Cout, Lin, K, stride, pad;
} conv_spec;

static const conv_spec specs[] = {
    {"stem 12->64 k7 s2 L1000", 1, 12, 64, 1000, 7, 2, 3},
    {"l1 64->64 k3 L250", 4, 64, 64, 250, 3, 1, 1},
    {"l2 64->128 k3 s2 L250", 1, 64, 128, 250, 3, 2, 1},
    {"l2 128->128 k3 L125", 3, 128, 128, 125, 3, 1, 1},
    {"l2 down 64->128 k1 s2", 1, 64, 128, 250, 1, 2, 0},
    {"l3 128->256 k3 s2 L125", 1, 128, 256, 125, 3, 2, 1},
    {"l3 256->256 k3 L63", 3, 256, 256, 63, 3, 1, 1},
    {"l3 down 128->256 k1 s2", 1, 128, 256, 125, 1, 2, 0},
    {"l4 256->512 k3 s2 L63", 1, 256, 512, 63, 3, 2, 1},
    {"l4 512->512 k3 L32", 3, 512, 512, 32, 3, 1, 1},
    {"l4 down 256->512 k1 s2", 1, 256, 512, 63, 1, 2, 0},
};
#define NSPEC (int)(sizeof specs / sizeof *specs)

#endif
