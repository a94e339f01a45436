#!/usr/bin/env python3
"""Samples/s of the PyTorch baseline's 10-step Euler-Maruyama sampler
(../shared/baselines/torch_score_fno.py: em_sampler, reference network
sizes, 16x16 sensors) at 64x64, batch 1 and 16, for comparison with
`diffclosure bench sampler` run in the same window.

    python3 benches/torch_sampler.py [--baselines DIR] [--threads 2] [--json FILE]
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--baselines", default=os.path.join(here, "..", "..", "shared", "baselines"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=2.0, help="per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    sys.path.insert(0, a.baselines)
    import torch
    import torch_score_fno as tsf

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = tsf.ScoreFNO().eval()
    rows = []
    print(f"torch {torch.__version__}, {a.threads} threads; EM x{a.steps} from t_max = 0.1, 64x64")
    print(f"{'batch':>6} {'ms/batch':>12} {'samples/s':>10} {'ms/eval/sample':>16}")
    for b in [int(v) for v in a.batches.split(",")]:
        _, w, s, _ = tsf.make_inputs(b, 64, 64)
        run = lambda: tsf.em_sampler(model, w, s, n_steps=a.steps)
        run()
        t0 = time.perf_counter()
        run()
        per = time.perf_counter() - t0
        calls = max(1, round(a.seconds / per))
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                run()
            times.append((time.perf_counter() - t0) / calls)
        t = statistics.median(times)
        r = {"grid": 64, "batch": b, "steps": a.steps, "ms_per_batch": 1e3 * t,
             "samples_per_s": b / t, "ms_per_eval_per_sample": 1e3 * t / (b * a.steps)}
        rows.append(r)
        print(f"{b:>6} {r['ms_per_batch']:>12.1f} {r['samples_per_s']:>10.2f} {r['ms_per_eval_per_sample']:>16.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": a.threads, "sampler": rows}, f, indent=1)


if __name__ == "__main__":
    main()
