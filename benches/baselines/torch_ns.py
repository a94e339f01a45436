#!/usr/bin/env python3
"""CPU reference baseline: pseudo-spectral 2-D incompressible Navier-Stokes in
vorticity form, written in plain PyTorch (own implementation).

    dw/dt + u . grad(w) = nu * lap(w) + f,     u = (d psi/dy, -d psi/dx),  -lap(psi) = w
    domain [0, 2 pi]^2 periodic, nu = 1e-3,  f = 0.1 (sin(x + y) + cos(x + y))

Spatial: rfft2, 2/3-rule dealiasing of the nonlinear term (|kx|, |ky| <= N/3).
Time: Crank-Nicolson for nu*lap(w); the advection term explicitly with one of
  heun  (default) predictor-corrector, 2 nonlinear evaluations per step
  ab2   Adams-Bashforth 2, 1 evaluation per step (first step forward Euler)
  euler forward Euler, 1 evaluation per step
One nonlinear evaluation = 4 batched irfft2 (u, v, w_x, w_y) + 1 rfft2.

Usage (from the repository root; README.md beside this file has figures):
  .venv/bin/python benches/baselines/torch_ns.py                        # timing table
  .venv/bin/python benches/baselines/torch_ns.py --check 256 --check-steps 5000
"""

import argparse
import json
import math
import os
import statistics
import time

import torch

from probes import calib_bw, calib_gflops, cpu_seconds

NU = 1e-3
TWO_PI = 2.0 * math.pi


class SpectralNS2D:
    def __init__(self, n: int, dt: float, nu: float = NU, dtype=torch.float32, scheme: str = "heun"):
        self.n, self.dt, self.nu, self.scheme = n, dt, nu, scheme
        self.dtype = dtype
        cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        self.cdtype = cdtype
        kx = torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64)    # integer wavenumbers, axis -2 (x)
        ky = torch.fft.rfftfreq(n, 1.0 / n, dtype=torch.float64)   # axis -1 (y), half spectrum
        KX, KY = torch.meshgrid(kx, ky, indexing="ij")
        K2 = KX ** 2 + KY ** 2
        inv_k2 = torch.where(K2 > 0, 1.0 / torch.where(K2 > 0, K2, 1.0), torch.zeros_like(K2))
        kmax = n // 2
        mask = (KX.abs() <= (2.0 / 3.0) * kmax) & (KY.abs() <= (2.0 / 3.0) * kmax)
        self.ikx = (1j * KX).to(cdtype)
        self.iky = (1j * KY).to(cdtype)
        self.inv_k2 = inv_k2.to(dtype)
        self.mask = mask.to(dtype)
        a = 0.5 * dt * nu * K2
        self.cn_plus = (1.0 - a).to(dtype)          # explicit half of CN
        self.cn_minus_inv = (1.0 / (1.0 + a)).to(dtype)  # implicit half of CN
        x = torch.arange(n, dtype=torch.float64) * TWO_PI / n
        X, Y = torch.meshgrid(x, x, indexing="ij")
        f = 0.1 * (torch.sin(X + Y) + torch.cos(X + Y))
        self.f_hat = torch.fft.rfft2(f.to(dtype))
        self.dx = TWO_PI / n
        self._prev_nl = None

    # --- physics -------------------------------------------------------------
    def velocity_and_grad(self, w_hat):
        psi = w_hat * self.inv_k2
        spec = torch.stack([self.iky * psi, -self.ikx * psi, self.ikx * w_hat, self.iky * w_hat], dim=-3)
        return torch.fft.irfft2(spec, s=(self.n, self.n))  # (..., 4, n, n): u, v, w_x, w_y

    def nonlinear(self, w_hat):
        p = self.velocity_and_grad(w_hat)
        adv = p[..., 0, :, :] * p[..., 2, :, :] + p[..., 1, :, :] * p[..., 3, :, :]
        return torch.fft.rfft2(adv) * self.mask

    def step(self, w_hat):
        dt = self.dt
        base = self.cn_plus * w_hat
        n1 = self.nonlinear(w_hat)
        if self.scheme == "euler":
            return (base + dt * (self.f_hat - n1)) * self.cn_minus_inv
        if self.scheme == "ab2":
            prev = self._prev_nl if self._prev_nl is not None else n1
            self._prev_nl = n1
            return (base + dt * (self.f_hat - 1.5 * n1 + 0.5 * prev)) * self.cn_minus_inv
        # heun: CN-FE predictor, trapezoidal corrector on the advection term
        w1 = (base + dt * (self.f_hat - n1)) * self.cn_minus_inv
        n2 = self.nonlinear(w1)
        return (base + dt * (self.f_hat - 0.5 * (n1 + n2))) * self.cn_minus_inv

    def evals_per_step(self):
        return 2 if self.scheme == "heun" else 1

    # --- initial condition -----------------------------------------------------
    def random_ic(self, batch: int, seed: int = 0, rms: float = 1.0, alpha=2.5, tau=7.0):
        """Gaussian random field with spectrum (|k|^2 + tau^2)^(-alpha/2), mean 0,
        rescaled to the given rms vorticity."""
        g = torch.Generator().manual_seed(seed)
        n = self.n
        shape = (batch, n, n // 2 + 1)
        k2 = (self.ikx.imag.double() ** 2 + self.iky.imag.double() ** 2)
        amp = (k2 + tau ** 2) ** (-alpha / 2)
        amp[0, 0] = 0.0
        coef = torch.complex(torch.randn(shape, generator=g, dtype=torch.float64),
                             torch.randn(shape, generator=g, dtype=torch.float64)) * amp
        w = torch.fft.irfft2(coef, s=(n, n))
        w = w / w.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt() * rms
        return torch.fft.rfft2(w.to(self.dtype))

    def diagnostics(self, w_hat):
        p = self.velocity_and_grad(w_hat)
        umax = torch.sqrt(p[..., 0, :, :] ** 2 + p[..., 1, :, :] ** 2).max().item()
        w = torch.fft.irfft2(w_hat, s=(self.n, self.n))
        return {"umax": umax, "cfl": umax * self.dt / self.dx, "w_rms": w.pow(2).mean().sqrt().item(),
                "finite": bool(torch.isfinite(w).all())}


def steal_seconds():
    """Host steal time of this VM (all vCPUs), /proc/stat, in seconds."""
    try:
        with open("/proc/stat") as fh:
            f = fh.readline().split()
        return int(f[8]) / os.sysconf("SC_CLK_TCK")
    except Exception:
        return float("nan")


def time_solver(n, batch, dtype, scheme, dt, reps=7, block_seconds=0.5):
    s = SpectralNS2D(n, dt, dtype=dtype, scheme=scheme)
    w = s.random_ic(batch)
    for _ in range(5):  # warm-up
        w = s.step(w)
    # size a block to ~block_seconds
    t0 = time.perf_counter()
    k = 0
    while time.perf_counter() - t0 < 0.2:
        w = s.step(w)
        k += 1
    per = (time.perf_counter() - t0) / k
    block = max(5, int(block_seconds / per))
    rates = []
    cpu0, wall0, st0 = cpu_seconds(), time.perf_counter(), steal_seconds()
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(block):
            w = s.step(w)
        rates.append(block / (time.perf_counter() - t0))
    cpu_util = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
    steal_frac = (steal_seconds() - st0) / (time.perf_counter() - wall0)
    d = s.diagnostics(w)
    med = statistics.median(rates)
    return {"n": n, "batch": batch, "dtype": str(dtype).replace("torch.", ""), "scheme": scheme, "dt": dt,
            "steps_per_s": med, "max_steps_per_s": max(rates),
            "sample_steps_per_s": med * batch,
            "rhs_evals_per_s": med * s.evals_per_step(),
            "block": block, "reps": reps, "all_steps_per_s": [round(r, 2) for r in rates],
            "cpu_util_cores": cpu_util, "steal_cores": steal_frac, "final": d}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dt", type=float, default=1e-3)
    ap.add_argument("--schemes", default="heun,ab2")
    ap.add_argument("--configs", default="256x1,64x16", help="NxBATCH list")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--check", type=int, default=0, help="run a stability check at this N instead")
    ap.add_argument("--check-steps", type=int, default=5000)
    ap.add_argument("--check-scheme", default="heun")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}", flush=True)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "env_THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"), "runs": []}

    if args.check:
        s = SpectralNS2D(args.check, args.dt, dtype=torch.float32 if "32" in args.dtypes.split(",")[0] else torch.float64,
                         scheme=args.check_scheme)
        w = s.random_ic(1)
        print(f"stability check N={args.check} dt={args.dt} scheme={args.check_scheme} "
              f"dx={s.dx:.4f}", flush=True)
        every = max(1, args.check_steps // 10)
        t0 = time.perf_counter()
        hist = []
        for i in range(1, args.check_steps + 1):
            w = s.step(w)
            if i % every == 0:
                d = s.diagnostics(w)
                d["t"] = i * args.dt
                hist.append(d)
                print(f"  t={d['t']:8.3f}  max|u|={d['umax']:.4f}  CFL={d['cfl']:.4f}  "
                      f"w_rms={d['w_rms']:.4f}  finite={d['finite']}", flush=True)
        print(f"  {args.check_steps} steps in {time.perf_counter() - t0:.1f} s")
        out["check"] = hist
    else:
        for cfg in args.configs.split(","):
            n, b = (int(v) for v in cfg.split("x"))
            for dts in args.dtypes.split(","):
                dtype = getattr(torch, dts)
                for sch in args.schemes.split(","):
                    g, bw = calib_gflops(), calib_bw()
                    r = time_solver(n, b, dtype, sch, args.dt, reps=args.reps)
                    r["calib_gflops_before"] = g
                    r["calib_bw_GBs_before"] = bw
                    out["runs"].append(r)
                    print(f"N={n:4d} batch={b:3d} {r['dtype']:8s} {sch:5s}: {r['steps_per_s']:9.1f} steps/s "
                          f"(max {r['max_steps_per_s']:.1f}; {r['sample_steps_per_s']:.1f} sample-steps/s; "
                          f"{r['rhs_evals_per_s']:.1f} RHS evals/s; cpu {r['cpu_util_cores']:.2f} cores; steal {r['steal_cores']:.2f})  CFL={r['final']['cfl']:.3f} "
                          f"[probe {g:.0f} GFLOP/s, {bw:.1f} GB/s]", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
