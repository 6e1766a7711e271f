#!/usr/bin/python3
"""PyTorch counterpart of `protoecg bench`: the full-size ProtoNet (W = 64, D = 512,
K = 5, C = 16) on random (B, 12, 1000) inputs, CPU.

  (a) training step at batch 32: forward, BCE-with-logits + small prototype terms
      (clustering, separation, diversity with the spec weights), backward, Adam step
      (lr 1e-3, weight decay 1e-4, classifier.weight frozen as in the joint stage);
      --threads T intra-op threads; samples/s and ms/step after warm-up.
  (b) inference at batch 256 (eval mode, no_grad), T threads: samples/s.
  (c) single-record inference latency on 1 thread: median ms over --single-runs runs.
  (d) peak RSS of the process (resource.getrusage ru_maxrss), MB: the maximum over all
      three phases (peak_rss_mb_after_train in the JSON: after phase (a) alone).
Medians of the timed runs are reported. The machine may be shared: the JSON also holds
the load average before/after and the process CPU time per training step (summed over
threads), which contention inflates less than wall time.
--bf16 runs all three under torch.autocast('cpu', dtype=torch.bfloat16).

  /usr/bin/python3 bench/torch_bench.py --threads 2 [--bf16] [--json out.json]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import torch_model  # noqa: E402


def autocast(bf16):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()


def train_loss(model, x, y):
    """BCE-with-logits + 0.004 clst + 0.0004 sep + 250 div (spec section 4)."""
    logits, s, _ = model(x)
    bce = F.binary_cross_entropy_with_logits(logits.float(), y)
    ident = model.prototype_class_identity                     # (P, C)
    s = s.float()
    mask = ident.t().unsqueeze(0) * y.unsqueeze(2)              # (B, C, P)
    clst = -(s.unsqueeze(1) * mask).amax(dim=2).mean()
    sep = (s.unsqueeze(1) * (1 - mask)).amax(dim=2).mean()
    q = F.normalize(model.prototype_vectors, dim=1, eps=1e-12)
    P = q.shape[0]
    div = ((q @ q.t() - torch.eye(P)) ** 2).sum() / (P * P)
    return bce + 0.004 * clst + 0.0004 * sep + 250.0 * div


def bench_train(model, batch, threads, bf16, warmup, min_steps, min_seconds):
    torch.set_num_threads(threads)
    model.train()
    model.classifier.weight.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                           lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
    x = torch.randn(batch, 12, 1000)
    y = (torch.rand(batch, torch_model.NUM_CLASSES) < 0.15).float()

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(bf16):
            loss = train_loss(model, x, y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    times = []
    t_start, c_start = time.perf_counter(), time.process_time()
    while len(times) < min_steps or time.perf_counter() - t_start < min_seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    cpu_ms = 1000.0 * (time.process_time() - c_start) / len(times)
    ms = 1000.0 * statistics.median(times)
    return {"train_ms_per_step": ms, "train_samples_per_s": batch * 1000.0 / ms,
            "train_steps_timed": len(times), "train_cpu_ms_per_step": cpu_ms}


def bench_infer(model, batch, threads, bf16, warmup, min_runs, min_seconds):
    torch.set_num_threads(threads)
    model.eval()
    x = torch.randn(batch, 12, 1000)
    times = []
    with torch.no_grad(), autocast(bf16):
        for _ in range(warmup):
            model(x)
        t_start = time.perf_counter()
        while len(times) < min_runs or time.perf_counter() - t_start < min_seconds:
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--infer-batch", type=int, default=256)
    ap.add_argument("--single-runs", type=int, default=50)
    ap.add_argument("--min-seconds", type=float, default=10.0,
                    help="minimum timed duration of (a) and (b)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = torch_model.ProtoNet(base_width=64, add_on_dim=512, protos_per_class=5)
    n_params = sum(p.numel() for p in model.parameters())
    load0 = os.getloadavg()[0]

    r = bench_train(model, args.train_batch, args.threads, args.bf16,
                    warmup=3, min_steps=5, min_seconds=args.min_seconds)
    r["peak_rss_mb_after_train"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t, n = bench_infer(model, args.infer_batch, args.threads, args.bf16,
                       warmup=1, min_runs=3, min_seconds=args.min_seconds)
    r["infer_batch_samples_per_s"] = args.infer_batch / t
    r["infer_batch_ms"] = 1000.0 * t
    r["infer_batch_runs_timed"] = n
    t, n = bench_infer(model, 1, 1, args.bf16, warmup=5, min_runs=args.single_runs,
                       min_seconds=0.0)
    r["infer_single_ms"] = 1000.0 * t
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    r.update({"impl": "pytorch", "torch": torch.__version__, "threads": args.threads,
              "precision": "bf16-autocast" if args.bf16 else "fp32",
              "train_batch": args.train_batch, "infer_batch": args.infer_batch,
              "params": n_params, "cpu": cpu_name(), "ncpu": os.cpu_count(),
              "loadavg_start": load0, "loadavg_end": os.getloadavg()[0]})

    print(f"PyTorch {torch.__version__}  {r['precision']}  threads={args.threads}  "
          f"params={n_params}  loadavg {load0:.2f} -> {r['loadavg_end']:.2f}")
    rows = [("train step, batch %d" % args.train_batch,
             f"{r['train_samples_per_s']:.1f} samples/s",
             f"{r['train_ms_per_step']:.1f} ms/step (cpu {r['train_cpu_ms_per_step']:.0f})"),
            ("inference, batch %d" % args.infer_batch,
             f"{r['infer_batch_samples_per_s']:.1f} samples/s", f"{r['infer_batch_ms']:.1f} ms/batch"),
            ("inference, 1 record, 1 thread", "", f"{r['infer_single_ms']:.2f} ms (median)"),
            ("peak RSS", "", f"{r['peak_rss_mb']:.0f} MB")]
    for a, b, c in rows:
        print(f"  {a:<32} {b:>20} {c:>22}")
    if args.json:  # written whole or not at all (temp file + rename)
        with open(args.json + ".tmp", "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
