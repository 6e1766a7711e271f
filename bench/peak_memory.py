#!/usr/bin/python3
"""Runs a command and reports its peak memory, split by kind.

  /usr/bin/python3 bench/peak_memory.py [--json FILE] [--interval S] -- COMMAND [ARGS...]

The kernel's peak resident set (ru_maxrss of the finished process, the figure
/usr/bin/time prints) counts every resident page mapped by the process. This tool also
samples /proc/PID/status every --interval seconds (default 0.01) while the command runs
and keeps the largest values of its parts:
  RssAnon  anonymous memory (heap, buffers, tensors): what the process itself needs
  RssFile  pages of mapped files (shared libraries, memory-mapped data): clean page-cache
           pages the kernel can drop and read back under memory pressure
The sampled peaks can miss a spike shorter than the interval; ru_maxrss cannot. Prints
one line with the three figures in MB (and writes them as JSON with --json). The
command's own output goes to /dev/null; its exit status is returned.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def status_kb(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json")
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command given")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = {"RssAnon": 0, "RssFile": 0}
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        for k, v in status_kb(proc.pid).items():
            if k in peak:
                peak[k] = max(peak[k], v)
        time.sleep(a.interval)
    rc = os.waitstatus_to_exitcode(status)
    res = {"command": cmd, "exit_status": rc, "peak_rss_mb": usage.ru_maxrss / 1024,
           "peak_anon_mb": peak["RssAnon"] / 1024, "peak_file_mb": peak["RssFile"] / 1024}
    print(f"peak RSS {res['peak_rss_mb']:.0f} MB (sampled peaks: anonymous "
          f"{res['peak_anon_mb']:.0f} MB, mapped files {res['peak_file_mb']:.0f} MB)")
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=1)
        os.replace(tmp, a.json)
    return rc


if __name__ == "__main__":
    sys.exit(main())
