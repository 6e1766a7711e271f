"""PyTorch counterpart of bench/bench_conv.c: the 20 convolutions of the 1D ResNet-18
at batch B, forward + backward (grad of input and weight; the stem input needs no
grad), timed per training step. Usage:
    /usr/bin/python3 bench/bench_conv_torch.py [B] [steps] [threads]"""
import sys
import time

import torch
import torch.nn.functional as F

SPECS = [  # name, count, Cin, Cout, Lin, K, stride, pad
    ("stem 12->64 k7 s2 L1000", 1, 12, 64, 1000, 7, 2, 3),
    ("l1 64->64 k3 L250", 4, 64, 64, 250, 3, 1, 1),
    ("l2 64->128 k3 s2 L250", 1, 64, 128, 250, 3, 2, 1),
    ("l2 128->128 k3 L125", 3, 128, 128, 125, 3, 1, 1),
    ("l2 short 64->128 k1 s2", 1, 64, 128, 250, 1, 2, 0),
    ("l3 128->256 k3 s2 L125", 1, 128, 256, 125, 3, 2, 1),
    ("l3 256->256 k3 L63", 3, 256, 256, 63, 3, 1, 1),
    ("l3 short 128->256 k1 s2", 1, 128, 256, 125, 1, 2, 0),
    ("l4 256->512 k3 s2 L63", 1, 256, 512, 63, 3, 2, 1),
    ("l4 512->512 k3 L32", 3, 512, 512, 32, 3, 1, 1),
    ("l4 short 256->512 k1 s2", 1, 256, 512, 63, 1, 2, 0),
]


def main():
    B = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = []
    for i, (name, count, cin, cout, lin, k, s, p) in enumerate(SPECS):
        x = torch.randn(B, cin, lin, requires_grad=(i != 0))
        w = torch.randn(cout, cin, k, requires_grad=True)
        lout = (lin + 2 * p - k) // s + 1
        g = torch.randn(B, cout, lout)
        data.append((x, w, g))
    best_f = [1e30] * len(SPECS)
    best_b = [1e30] * len(SPECS)
    step_t, cpu_t = [], []
    for it in range(-2, steps):
        t0, c0 = time.perf_counter(), time.process_time()
        for i, (name, count, cin, cout, lin, k, s, p) in enumerate(SPECS):
            x, w, g = data[i]
            tf = tb = 0.0
            for _ in range(count):
                a = time.perf_counter()
                y = F.conv1d(x, w, stride=s, padding=p)
                b = time.perf_counter()
                inputs = [w] if i == 0 else [x, w]
                torch.autograd.grad(y, inputs, g)
                tf += b - a
                tb += time.perf_counter() - b
            if it >= 0:
                best_f[i] = min(best_f[i], tf)
                best_b[i] = min(best_b[i], tb)
        if it >= 0:
            step_t.append(time.perf_counter() - t0)
            cpu_t.append(time.process_time() - c0)
    step_t.sort()
    cpu_t.sort()
    print(f"torch {torch.__version__} conv1d, B={B}, threads={torch.get_num_threads()}, "
          f"{steps} steps")
    for i, spec in enumerate(SPECS):
        print(f"  {spec[0]:<26} x{spec[1]}  fwd {1e3 * best_f[i]:7.2f} ms  "
              f"bwd {1e3 * best_b[i]:7.2f} ms")
    sf, sb = sum(best_f), sum(best_b)
    print(f"  sum of per-shape bests: fwd {1e3 * sf:.1f} ms + bwd {1e3 * sb:.1f} ms = "
          f"{1e3 * (sf + sb):.1f} ms")
    print(f"  step (all 20 convs fwd+bwd): min {1e3 * step_t[0]:.1f} ms, median "
          f"{1e3 * step_t[len(step_t) // 2]:.1f} ms -> {B / step_t[0]:.0f} samples/s "
          f"(conv only, at the min)")
    print(f"  step CPU time (all threads): min {1e3 * cpu_t[0]:.1f} ms, median "
          f"{1e3 * cpu_t[len(cpu_t) // 2]:.1f} ms")


if __name__ == "__main__":
    main()
