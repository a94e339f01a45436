#!/usr/bin/env python3
"""Our GPU kernels (`diffclosure bench <section> --json`) beside the PyTorch
baselines of benches/baselines/, run alternately, and the ratios.

For every round and every section, in this order: `diffclosure bench
<section>` is run as a subprocess on its selected adapter (its default
cases), then the PyTorch baseline of the same shapes, read from our JSON, on
the CPU. Sections:

  fft      torch.fft.rfft2 + irfft2 and fft2 + ifft2 round trips
  ns       torch_ns.SpectralNS2D(n, dt, scheme).step     (heun, euler)
  model    torch_score_fno.ScoreFNO forward (no_grad)    (bench model f* cases)
  train    dsm_loss + backward + Adam step                (bench model t64x32)
  sampler  torch_score_fno.em_sampler (EM, same steps and t_max)

Both sides are timed the same way (`median_seconds` in src/bench/mod.rs):
one warm-up call, one call to size the repeats, then `repeats` repeats of
as many calls as fill `seconds`; the median repeat. A ratio is our speed
over PyTorch's, each side's fastest round (other work on the machine only
slows a run down; every round's ratio is kept too): > 1 means we are
faster. Without a GPU our kernels run on Mesa's software Vulkan driver
(lavapipe), i.e. on the same CPU as PyTorch, emulating a GPU.

    python3 benches/torch_baselines.py [--bin target/release/diffclosure]
        [--threads N] [--rounds 2] [--sections fft,ns,model,train,sampler]
        [--quick] [--json FILE]

Select the adapter with DIFFCLOSURE_BACKEND / DIFFCLOSURE_ADAPTER.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTIONS = ["fft", "ns", "model", "train", "sampler"]
# Per section: our subcommand and its extra options, and the defaults of
# --seconds / --repeats of that subcommand (the torch side uses the same).
OURS = {
    "fft": (["fft"], 0.5, 5),
    "ns": (["ns"], 1.0, 5),
    "model": (["model", "--cases", "f64x1,f64x16,f128x4,f256x4"], 1.0, 3),
    "train": (["model", "--cases", "t64x32"], 1.0, 3),
    "sampler": (["sampler"], 2.0, 3),
}
NOTE_CPU = ("the adapter is a CPU (e.g. lavapipe, Mesa's software Vulkan driver): our WGSL "
            "kernels run on a CPU emulating a GPU, PyTorch natively on the same CPU")


def cpu_meter():
    """(wall s, CPU s busy on the machine, CPU s of this process and its
    finished children): the difference of two readings gives the cores
    other work kept busy in between (Linux /proc/stat; NaN elsewhere)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        busy = float("nan")
    own = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    return time.perf_counter(), busy, own


def other_cores(since):
    """Mean cores busy with other processes since the cpu_meter() reading `since`."""
    (w0, b0, o0), (w1, b1, o1) = since, cpu_meter()
    return max(0.0, ((b1 - b0) - (o1 - o0)) / max(w1 - w0, 1e-9))


def median_seconds(call, seconds, repeats):
    """(calls per repeat, median seconds per call), as ours."""
    def timed(calls):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        return time.perf_counter() - t0

    timed(1)
    per = timed(1)
    calls = min(10_000, max(1, round(seconds / max(per, 1e-6))))
    times = sorted(timed(calls) / calls for _ in range(repeats))
    return calls, times[len(times) // 2]


def per_sample(case, calls, t):
    """A network row (forward or training step) of our `case`'s shape."""
    b = case["batch"]
    return {"case": case["case"], "grid": case["grid"], "batch": b, "calls_per_repeat": calls,
            "ms_per_call": 1e3 * t, "ms_per_sample": 1e3 * t / b, "samples_per_s": b / t}


class Torch:
    """The PyTorch side: the baselines' own code at our cases' shapes."""

    def __init__(self, baselines, threads):
        sys.path.insert(0, baselines)
        import torch
        import torch_ns
        import torch_score_fno as tsf

        self.torch, self.tns, self.tsf = torch, torch_ns, tsf
        torch.set_num_threads(threads)
        torch.manual_seed(0)

    def fft(self, doc, seconds, repeats):
        torch = self.torch
        rows = []
        for c in doc["fft"]:
            n, b = c["grid"], c["batch"]
            if c["transform"] == "r2c+c2r":
                x = torch.randn(b, n, n)
                call = lambda: torch.fft.irfft2(torch.fft.rfft2(x), s=(n, n))
            else:
                z = torch.randn(b, n, n, dtype=torch.complex64)
                call = lambda: torch.fft.ifft2(torch.fft.fft2(z))
            calls, t = median_seconds(call, seconds, repeats)
            rows.append({"grid": n, "batch": b, "transform": c["transform"], "calls_per_repeat": calls,
                         "ms_per_transform": 1e3 * t / 2, "transforms_per_s": 2 / t})
        return rows

    def ns(self, doc, seconds, repeats):
        rows = []
        for c in doc["ns"]:
            n, b = c["grid"], c["batch"]
            solver = self.tns.SpectralNS2D(n, 1e-3, dtype=self.torch.float32, scheme=c["scheme"])
            state = [solver.random_ic(b)]

            def call():
                state[0] = solver.step(state[0])

            calls, t = median_seconds(call, seconds, repeats)
            rows.append({"grid": n, "batch": b, "scheme": c["scheme"], "calls_per_repeat": calls,
                         "steps_per_s": 1 / t, "ms_per_step": 1e3 * t})
        return rows

    def model(self, doc, seconds, repeats):
        torch, tsf = self.torch, self.tsf
        net = tsf.ScoreFNO().eval()
        rows = []
        for c in doc["model"]:
            n, b = c["grid"], c["batch"]
            x, w, s, t_ = tsf.make_inputs(b, n, n)

            def call():
                with torch.no_grad():
                    net(x, w, s, t_)

            rows.append(per_sample(c, *median_seconds(call, seconds, repeats)))
        return rows

    def train(self, doc, seconds, repeats):
        torch, tsf = self.torch, self.tsf
        rows = []
        for c in doc["model"]:
            n, b = c["grid"], c["batch"]
            net = tsf.ScoreFNO().train()
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            x0, w, s, _ = tsf.make_inputs(b, n, n)

            def call():
                opt.zero_grad(set_to_none=True)
                tsf.dsm_loss(net, x0, w, s).backward()
                opt.step()

            rows.append(per_sample(c, *median_seconds(call, seconds, repeats)))
        return rows

    def sampler(self, doc, seconds, repeats):
        tsf = self.tsf
        net = tsf.ScoreFNO().eval()
        rows = []
        for c in doc["sampler"]:
            if c["sampler"] != "em":
                raise SystemExit(f"the PyTorch baseline has only the EM sampler, not {c['sampler']}")
            n, b = c["grid"], c["batch"]
            _, w, s, _ = tsf.make_inputs(b, n, n)
            call = lambda: tsf.em_sampler(net, w, s, n_steps=c["steps"], t_max=c["t_max"])
            calls, t = median_seconds(call, seconds, repeats)
            rows.append({"grid": n, "batch": b, "steps": c["steps"], "t_max": c["t_max"],
                         "calls_per_repeat": calls, "ms_per_batch": 1e3 * t, "samples_per_s": b / t})
        return rows


# Per section: (results key in our JSON, case label, speed field, unit) on
# our rows; the torch rows carry the same case fields and speed field.
COMPARE = {
    "fft": ("fft", lambda c: f"{c['grid']}² x{c['batch']} {c['transform']}", "transforms_per_s",
            "transforms/s"),
    "ns": ("ns", lambda c: f"{c['grid']}² x{c['batch']} {c['scheme']}", "steps_per_s", "steps/s"),
    "model": ("model", lambda c: f"forward {c['grid']}² x{c['batch']}", "samples_per_s", "samples/s"),
    "train": ("model", lambda c: f"train step {c['grid']}² x{c['batch']}", "samples_per_s", "samples/s"),
    "sampler": ("sampler", lambda c: f"EM x{c['steps']} {c['grid']}² x{c['batch']}", "samples_per_s",
                "samples/s"),
}


def run_ours(binary, section, seconds, repeats, spectral, tmp, k):
    """`diffclosure bench <section> --json`, its document."""
    sub, _, _ = OURS[section]
    out = os.path.join(tmp, f"{section}-{k}.json")
    cmd = [binary, "bench", *sub, "--seconds", str(seconds), "--repeats", str(repeats), "--json", out]
    if sub[0] == "model":
        cmd += ["--spectral", spectral]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    with open(out) as f:
        return json.load(f)


def summarise(sections):
    """Per section and case: both sides' speeds per round, and the ratios."""
    ratios = {}
    for name, runs in sections.items():
        key, label, field, unit = COMPARE[name]
        cases = {}
        for ours_doc, torch_rows in zip(runs["ours"], runs["torch"]):
            for o, t in zip(ours_doc[key], torch_rows):
                e = cases.setdefault(label(o), {"unit": unit, "ours": [], "torch": []})
                e["ours"].append(o[field])
                e["torch"].append(t[field])
                if "spectral" in o:
                    e["spectral"] = o["spectral"]
        rows = []
        for case, e in cases.items():
            # Other work on the machine only slows a run down: each side's
            # fastest round is its least disturbed one.
            ours, torch_ = max(e["ours"]), max(e["torch"])
            rows.append({"case": case, **e, "ours_best": ours, "torch_best": torch_, "ratio": ours / torch_,
                         "ratio_per_round": [o / t for o, t in zip(e["ours"], e["torch"])],
                         "ratio_of_medians": statistics.median(e["ours"]) / statistics.median(e["torch"])})
        ratios[name] = rows
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "diffclosure"),
                    help="the diffclosure binary (default: target/release/diffclosure)")
    ap.add_argument("--baselines", default=os.path.join(HERE, "baselines"),
                    help="the PyTorch baselines (default: benches/baselines)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all CPUs)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--seconds", type=float, help="per repeat, both sides (default: each section's own)")
    ap.add_argument("--repeats", type=int, help="per case, both sides (default: each section's own)")
    ap.add_argument("--quick", action="store_true", help="--seconds 0.25 --repeats 1 unless given")
    ap.add_argument("--spectral", default="auto", help="our model's spectral route: auto, dft or fft")
    ap.add_argument("--json", help="write everything here")
    a = ap.parse_args()
    sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    bad = [s for s in sections if s not in OURS]
    if bad:
        ap.error(f"unknown section(s) {bad}: expected some of {SECTIONS}")
    if a.rounds < 1:
        ap.error("--rounds must be >= 1")
    if not os.access(a.bin, os.X_OK):
        ap.error(f"{a.bin}: no such executable (cargo build --release, or --bin PATH)")
    if a.json and os.path.exists(a.json):
        ap.error(f"{a.json} exists")
    if a.quick:
        a.seconds = 0.25 if a.seconds is None else a.seconds
        a.repeats = 1 if a.repeats is None else a.repeats
    tb = Torch(a.baselines, a.threads)
    torch = tb.torch
    started = time.time()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.rounds} round(s), "
          f"sections {','.join(sections)}", flush=True)
    runs = {s: {"ours": [], "torch": [], "other_cores_ours": [], "other_cores_torch": []}
            for s in sections}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for s in sections:
                _, seconds, repeats = OURS[s]
                seconds = a.seconds if a.seconds is not None else seconds
                repeats = a.repeats if a.repeats is not None else repeats
                m = cpu_meter()
                doc = run_ours(a.bin, s, seconds, repeats, a.spectral, tmp, r)
                runs[s]["ours"].append(doc)
                runs[s]["other_cores_ours"].append(other_cores(m))
                print(f"# torch {s}, round {r + 1}", flush=True)
                m = cpu_meter()
                runs[s]["torch"].append(getattr(tb, s)(doc, seconds, repeats))
                runs[s]["other_cores_torch"].append(other_cores(m))
    adapter = runs[sections[0]]["ours"][0]["adapter"]
    cpu = "Cpu" in adapter
    ratios = summarise(runs)
    print(f"\nours: diffclosure bench on {adapter}")
    print(f"PyTorch {torch.__version__} on the CPU, {torch.get_num_threads()} threads "
          f"({os.cpu_count()} CPUs); each side's fastest of {a.rounds} alternating round(s)")
    if cpu:
        print(f"note: {NOTE_CPU}")
    other = [v for r in runs.values() for k in ("other_cores_ours", "other_cores_torch") for v in r[k]]
    busy = max(other) > 0.25
    print(f"other processes kept {min(other):.2f}..{max(other):.2f} of {os.cpu_count()} CPUs busy during the runs"
          + (": other work was running, the ratios are less reliable" if busy else ""))
    print("ratio = our speed / PyTorch's: > 1 means we are faster\n")
    print(f"{'section':<8} {'case':<26} {'unit':<13} {'ours':>10} {'PyTorch':>10} {'ratio':>7}  per round")
    for s, rows in ratios.items():
        for e in rows:
            print(f"{s:<8} {e['case']:<26} {e['unit']:<13} {e['ours_best']:>10.2f} "
                  f"{e['torch_best']:>10.2f} {e['ratio']:>7.3f}  "
                  + " ".join(f"{r:.3f}" for r in e["ratio_per_round"]))
    if a.json:
        doc = {
            "adapter": adapter, "adapter_is_cpu": cpu, "note": NOTE_CPU if cpu else None,
            "ratio": "our speed / PyTorch's (the fastest round of each); > 1 = we are faster",
            "torch": {"version": torch.__version__, "threads": torch.get_num_threads(), "device": "cpu"},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "processor": platform.processor()},
            "date": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "unix_time": int(started), "other_cores_max": max(other), "other_work_running": busy, "wall_s": time.time() - started, "rounds": a.rounds,
            "seconds": a.seconds, "repeats": a.repeats, "spectral": a.spectral,
            "sections": runs, "ratios": ratios,
        }
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
        print("wrote", a.json)


if __name__ == "__main__":
    main()
