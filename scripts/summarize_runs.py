#!/usr/bin/env python3
"""Summarizes training runs (RUNDIRs of `protoecg train`, evaluated by `protoecg eval
--json RUNDIR/eval_test.json` and `.../eval_test_resnet18.json`) into the tables of
REPORT.md: test macro-AUROC per stage and seed, the plain ResNet-18, per-class AUROC,
wall time per stage; with `eval --compare RUNDIR/pretrain.safetensors` in eval_test.json,
the paired difference to the ResNet-18 and its interval. Standard library only.

  python3 scripts/summarize_runs.py RUNDIR... [--markdown FILE] [--json FILE]
"""
import argparse
import json
import os
import statistics


def load(path):
    with open(path) as f:
        return json.load(f)


def fmt(v):
    return "-" if v is None else f"{v:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows, out = [], {"runs": []}
    stages = []
    for run in a.runs:
        res = load(os.path.join(run, "results.json"))
        cfg = load(os.path.join(run, "config.json"))
        ev = load(os.path.join(run, "eval_test.json"))
        base = load(os.path.join(run, "eval_test_resnet18.json"))
        for s in res:
            if s not in stages:
                stages.append(s)
        out["runs"].append({"run": run, "seed": cfg.get("seed"), "results": res,
                            "final": ev, "resnet18": base})
    paired = all("comparison" in r["final"] for r in out["runs"])
    lines = ["| seed | plain ResNet-18 | " + " | ".join(f"after {s}" for s in stages if s != "pretrain")
             + " | final 95% CI |" + (" final - ResNet-18 (paired 95% CI) |" if paired else ""),
             "|---" * (len(stages) + 2 + paired) + "|"]
    cols = {s: [] for s in stages}
    base_vals, final_vals = [], []
    for r in out["runs"]:
        res = r["results"]
        vals = []
        for s in stages:
            v = res.get(s, {}).get("test_macro_auroc")
            cols[s].append(v)
            if s != "pretrain":
                vals.append(fmt(v))
        b = r["resnet18"]["macro_auroc"]
        f = r["final"]["macro_auroc"]
        base_vals.append(b)
        final_vals.append(f)
        ci = r["final"].get("macro_auroc_ci95", [None, None])
        diff = ""
        if paired:
            c = r["final"]["comparison"]
            lo, hi = c.get("difference_ci95", [None, None])
            diff = f" {c['difference']:+.3f} ({lo:+.3f} to {hi:+.3f}) |" if lo is not None else \
                f" {c['difference']:+.3f} |"
        lines.append(f"| {r['seed']} | {fmt(b)} | " + " | ".join(vals) +
                     f" | {fmt(ci[0])}-{fmt(ci[1])} |" + diff)
    mean = lambda xs: statistics.mean([x for x in xs if x is not None]) if any(
        x is not None for x in xs) else None
    lines.append(f"| mean | {fmt(mean(base_vals))} | " +
                 " | ".join(fmt(mean(cols[s])) for s in stages if s != "pretrain") + " | |" +
                 (f" {mean([r['final']['comparison']['difference'] for r in out['runs']]):+.3f} |"
                  if paired else ""))
    lines.append("")
    # wall time per stage
    lines.append("| seed | " + " | ".join(f"{s} (s)" for s in stages) + " |")
    lines.append("|---" * (len(stages) + 1) + "|")
    for r in out["runs"]:
        lines.append(f"| {r['seed']} | " + " | ".join(
            f"{r['results'].get(s, {}).get('seconds', 0):.0f}" for s in stages) + " |")
    lines.append("")
    # per-class test AUROC, final vs ResNet-18, mean over seeds
    names = [c["label"] for c in out["runs"][0]["final"]["per_class"]]
    lines.append("| class | test support | prototype model (mean AUROC) | plain ResNet-18 (mean AUROC) |")
    lines.append("|---|---|---|---|")
    for i, n in enumerate(names):
        sup = out["runs"][0]["final"]["per_class"][i]["support"]
        f = [r["final"]["per_class"][i]["auroc"] for r in out["runs"]]
        b = [r["resnet18"]["per_class"][i]["auroc"] for r in out["runs"]]
        lines.append(f"| {n} | {sup} | {fmt(mean(f))} | {fmt(mean(b))} |")
    out["mean_final_macro_auroc"] = mean(final_vals)
    out["mean_resnet18_macro_auroc"] = mean(base_vals)
    md = "\n".join(lines) + "\n"
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    if not a.markdown:
        print(md)


if __name__ == "__main__":
    main()
