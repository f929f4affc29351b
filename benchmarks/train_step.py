"""Time a full training step and its peak memory, minioptim next to PyTorch CPU.

    python benchmarks/train_step.py [--workload resnet20|lstm|all] [--steps 10] [--threads 2]

Each (framework, workload) runs in its own subprocess, so peak memory (the growth of the resident
set from just before the first step to its high-water mark) is not mixed up between them; the
frameworks alternate, round after round, and the median step time of each is compared as a ratio
in the same run (the machines are shared and noisy: never compare absolute times across runs).
Targets on a 2-core CPU: each step at most 1.5x PyTorch's time, peak memory at most 2x.
PyTorch is optional (`pip install -e ".[bench]"`); without it only minioptim is timed.
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


def run(framework, workload, steps, threads) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, __file__, "--child", framework, workload, str(steps),
                          str(threads)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{framework} {workload} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        fw, wl, steps, threads = sys.argv[2:6]
        print(json.dumps(child(fw, wl, int(steps), int(threads))))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", default="all", choices=["all", "resnet20", "lstm"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2, help="alternations of the frameworks")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    frameworks = ["minioptim"] + (["torch"] if importlib.util.find_spec("torch") else [])
    workloads = ["resnet20", "lstm"] if args.workload == "all" else [args.workload]
    for wl in workloads:
        results = {fw: [] for fw in frameworks}
        for _ in range(args.rounds):
            for fw in frameworks:
                results[fw].append(run(fw, wl, args.steps, args.threads))
        line = [f"{wl:9s}"]
        summary = {}
        for fw in frameworks:
            t = statistics.median(r["median_s"] for r in results[fw])
            m = max(r["peak_growth_mib"] for r in results[fw])
            summary[fw] = (t, m)
            line.append(f"{fw}: {t * 1000:7.1f} ms/step, peak +{m:6.1f} MiB")
        if "torch" in summary:
            (t0, m0), (t1, m1) = summary["minioptim"], summary["torch"]
            rounds = sorted(a["median_s"] / b["median_s"]
                            for a, b in zip(results["minioptim"], results["torch"]))
            best = min(r["min_s"] for r in results["minioptim"]) / \
                min(r["min_s"] for r in results["torch"])
            line.append(f"ratio time {t0 / t1:.2f}x (target <= 1.5; rounds {rounds[0]:.2f}-"
                        f"{rounds[-1]:.2f}, fastest steps {best:.2f}), memory "
                        f"{m0 / max(m1, 1e-9):.2f}x (target <= 2)")
        print("  ".join(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
