"""Time a full training step and its peak memory, minioptim next to PyTorch CPU.

    python benchmarks/train_step.py [--workload resnet20|lstm|transformer|all] [--steps 6]
                                    [--rounds 5]
    python benchmarks/train_step.py --reference          # also the reference path (no kernels)
    python benchmarks/train_step.py --load 4             # four busy processes beside it: the
                                                         # default thread setting against one thread

Each (variant, workload) runs in its own subprocess, so peak memory (the growth of the resident
set from just before the first step to its high-water mark) is not mixed up between them; the
variants alternate, round after round, and each round gives a ratio of medians, so the ratios
compare runs made at the same moment (these machines are shared and noisy: never compare
absolute times across runs). Targets on a quiet 2-core CPU, kernels on: ResNet-20 at most 1.5x
PyTorch's time, the LSTM LM at most 1.0x, the Transformer at most 1.5x, peak memory at most
1.5x; under load (``--load 4``) the default threads at most 1.25x the time of one thread. The
reference path (``MINIOPTIM_KERNELS=0``) is timed for information: it is for reading, not for
speed.

The machine's load is printed first; a warning says when it is not quiet, because under load
PyTorch loses more than minioptim and the ratios flatter minioptim.
PyTorch is optional (``pip install -e ".[bench]"``); without it only minioptim is timed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# variant -> (framework, environment it runs with)
VARIANTS = {
    "minioptim": ("minioptim", {}),
    "reference": ("minioptim", {"MINIOPTIM_KERNELS": "0"}),
    "one-thread": ("minioptim", {"MINIOPTIM_NUM_THREADS": "1"}),
    "torch": ("torch", {}),
}


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def child(framework: str, workload: str, steps: int, threads: int) -> dict:
    """Runs inside the subprocess: build, warm up once, then time ``steps`` steps."""
    sys.path.insert(0, HERE)
    import workloads

    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        step = workloads.torch_step(workload)
    else:
        step = workloads.minioptim_step(workload)
    before = _rss_mib()
    step()                                            # warm-up (allocations, caches)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"median_s": statistics.median(times), "min_s": min(times),
            "peak_growth_mib": peak - before}


def run(variant: str, workload: str, steps: int, threads: int) -> dict:
    framework, extra = VARIANTS[variant]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "MINIOPTIM_NUM_THREADS": str(threads), **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, __file__, "--child", framework, workload, str(steps),
                          str(threads)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} {workload} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_load(n: int) -> list:
    """n CPU-bound processes (a shared machine's other users); stopped by stop_load."""
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def stop_load(procs) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def report_machine(cores: int) -> None:
    load = os.getloadavg()
    print(f"machine: {cores} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
          flush=True)
    if load[0] > 0.5:
        print("WARNING: the machine is not quiet (load average above 0.5): other work slows "
              "PyTorch more than minioptim, so these ratios flatter minioptim. Measure again "
              "when `uptime` shows a load near 0.", flush=True)


def compare(workload, variants, steps, rounds, threads) -> None:
    results = {v: [] for v in variants}
    for _ in range(rounds):
        for v in variants:
            results[v].append(run(v, workload, steps if v != "reference" else 2, threads))
    line = [f"{workload:9s}"]
    for v in variants:
        t = statistics.median(r["median_s"] for r in results[v])
        m = max(r["peak_growth_mib"] for r in results[v])
        line.append(f"{v}: {t * 1000:7.1f} ms/step, peak +{m:6.1f} MiB")
    print("  ".join(line), flush=True)
    base = variants[-1]                              # torch, or one-thread under --load
    for v in variants[:-1]:
        per_round = sorted(a["median_s"] / b["median_s"]
                           for a, b in zip(results[v], results[base]))
        fastest = min(r["min_s"] for r in results[v]) / min(r["min_s"] for r in results[base])
        memory = max(r["peak_growth_mib"] for r in results[v]) / \
            max(1e-9, max(r["peak_growth_mib"] for r in results[base]))
        print(f"  {v} / {base}: time {statistics.median(per_round):.2f}x (rounds "
              f"{per_round[0]:.2f}-{per_round[-1]:.2f}, fastest steps {fastest:.2f}x), "
              f"peak memory {memory:.2f}x", flush=True)


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        fw, wl, steps, threads = sys.argv[2:6]
        print(json.dumps(child(fw, wl, int(steps), int(threads))))
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", default="all", choices=["all", "resnet20", "lstm",
                                                          "transformer"])
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--rounds", type=int, default=5, help="alternations of the variants")
    p.add_argument("--threads", type=int, default=cores, help="threads of both frameworks")
    p.add_argument("--reference", action="store_true",
                   help="also time minioptim's reference path (MINIOPTIM_KERNELS=0)")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="run N busy processes beside it and compare the default thread setting "
                        "with one thread")
    args = p.parse_args(argv)
    workloads = ["resnet20", "lstm", "transformer"] if args.workload == "all" \
        else [args.workload]
    report_machine(cores)
    if args.load:
        procs = start_load(args.load)
        try:
            time.sleep(1.0)
            print(f"under load: {args.load} busy processes beside each run", flush=True)
            for wl in workloads:
                compare(wl, ["minioptim", "one-thread"], args.steps, args.rounds, cores)
        finally:
            stop_load(procs)
        return 0
    variants = ["minioptim"] + (["reference"] if args.reference else [])
    if importlib.util.find_spec("torch"):
        variants.append("torch")
    else:
        print("PyTorch is not installed (pip install -e '.[bench]'): timing minioptim alone")
    for wl in workloads:
        compare(wl, variants, args.steps, args.rounds, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
