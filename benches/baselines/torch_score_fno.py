#!/usr/bin/env python3
"""CPU reference baseline: conditional score network built from Fourier Neural
Operator (FNO) branches, used as a stochastic closure model for 2-D
Navier-Stokes (VE-SDE, sigma = 26).

Written from the architecture in docs/specification.md §6 of the diffclosure
repository (not copied from any existing implementation). Everything is
float32 on the CPU.

Network, per sample:
  x : noisy closure field (H x W)      -> FNO branch with time embedding
  w : vorticity field (H x W)          -> FNO branch
  s : sparse observations (16 x 16)    -> lift, bicubic upsample to H x W,
                                          SpectralConv, GELU, SpectralConv,
                                          FNO branch
  t : diffusion time (scalar)          -> Gaussian Fourier features
  fuse: concat(3*width) -> 1x1 conv 2w -> GELU -> 1x1 conv w -> GELU
        -> 1x1 conv w -> GELU -> Linear(w,128) -> GELU -> Linear(128,1)
  score = out / sigma_t,  sigma_t = sqrt((26^(2t) - 1) / (2 ln 26))

Usage:
  .venv/bin/python benches/baselines/torch_score_fno.py                 # everything
  .venv/bin/python benches/baselines/torch_score_fno.py --only forward,train
  .venv/bin/python benches/baselines/torch_score_fno.py --only flops
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from probes import calib_bw, calib_gflops, cpu_seconds

SIGMA = 26.0  # VE-SDE sigma


# --------------------------------------------------------------------------
# SDE helpers
# --------------------------------------------------------------------------
def marginal_std(t: torch.Tensor) -> torch.Tensor:
    """Std of p_{0t}(x_t | x_0) for the VE-SDE dx = sigma^t dW."""
    return torch.sqrt((SIGMA ** (2.0 * t) - 1.0) / (2.0 * math.log(SIGMA)))


def diffusion_coeff(t: torch.Tensor) -> torch.Tensor:
    """g(t) = sigma^t."""
    return SIGMA ** t


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------
class SpectralConv2d(nn.Module):
    """Truncated Fourier-space linear map.

    rfft2 over the two spatial axes; the modes kept are rows 0..m1-1 (low
    positive frequencies of the first axis) and rows H-m1..H-1 (low negative
    frequencies), and columns 0..m2-1 of the half spectrum. Each kept mode has
    its own complex (cin x cout) matrix.
    """

    def __init__(self, cin: int, cout: int, m1: int, m2: int):
        super().__init__()
        self.cin, self.cout, self.m1, self.m2 = cin, cout, m1, m2
        scale = 1.0 / (cin * cout)
        self.w_pos = nn.Parameter(scale * torch.rand(cin, cout, m1, m2, dtype=torch.cfloat))
        self.w_neg = nn.Parameter(scale * torch.rand(cin, cout, m1, m2, dtype=torch.cfloat))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        b, _, h, w = u.shape
        m1, m2 = self.m1, self.m2
        uh = torch.fft.rfft2(u)  # (b, cin, h, w//2+1), complex64
        out = torch.zeros(b, self.cout, h, w // 2 + 1, dtype=uh.dtype, device=u.device)
        out[:, :, :m1, :m2] = torch.einsum("bixy,ioxy->boxy", uh[:, :, :m1, :m2], self.w_pos)
        out[:, :, h - m1:, :m2] = torch.einsum("bixy,ioxy->boxy", uh[:, :, h - m1:, :m2], self.w_neg)
        return torch.fft.irfft2(out, s=(h, w))


class FourierStack(nn.Module):
    """n Fourier layers: h <- SpectralConv(h) + Conv1x1(h) [+ temb]; GELU
    between layers, none after the last."""

    def __init__(self, width: int, modes: int, n_layers: int = 4):
        super().__init__()
        self.spec = nn.ModuleList(SpectralConv2d(width, width, modes, modes) for _ in range(n_layers))
        self.pw = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(n_layers))

    def forward(self, h: torch.Tensor, temb: torch.Tensor = None) -> torch.Tensor:
        n = len(self.spec)
        for i in range(n):
            h = self.spec[i](h) + self.pw[i](h)
            if temb is not None:
                h = h + temb[:, :, None, None]
            if i < n - 1:
                h = F.gelu(h)
        return h


class GaussianFourierFeatures(nn.Module):
    """Fixed random features [sin(2 pi t W), cos(2 pi t W)], W ~ N(0, scale^2)."""

    def __init__(self, embed_dim: int = 256, scale: float = 30.0):
        super().__init__()
        self.register_buffer("W", torch.randn(embed_dim // 2) * scale)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        p = t[:, None] * self.W[None, :] * (2.0 * math.pi)
        return torch.cat([torch.sin(p), torch.cos(p)], dim=-1)


_GRID_CACHE = {}


def grid_channels(b: int, h: int, w: int, device, dtype) -> torch.Tensor:
    """(b, h, w, 2) coordinates in [0, 1] x [0, 1]."""
    key = (h, w, device, dtype)
    g = _GRID_CACHE.get(key)
    if g is None:
        gx = torch.linspace(0, 1, h, device=device, dtype=dtype)
        gy = torch.linspace(0, 1, w, device=device, dtype=dtype)
        g = torch.stack(torch.meshgrid(gx, gy, indexing="ij"), dim=-1)  # (h, w, 2)
        _GRID_CACHE[key] = g
    return g.unsqueeze(0).expand(b, h, w, 2)


class ScoreFNO(nn.Module):
    def __init__(self, width: int = 20, modes: int = 8, embed_dim: int = 256,
                 n_layers: int = 4, fc_hidden: int = 128):
        super().__init__()
        self.width, self.modes = width, modes
        # time embedding
        self.t_feat = GaussianFourierFeatures(embed_dim, 30.0)
        self.t_mlp = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.SiLU(),
                                   nn.Linear(embed_dim, width))
        # x branch
        self.lift_x = nn.Linear(3, width)
        self.fno_x = FourierStack(width, modes, n_layers)
        # w branch
        self.lift_w = nn.Linear(3, width)
        self.fno_w = FourierStack(width, modes, n_layers)
        # sparse branch
        self.lift_s = nn.Linear(3, width)
        self.s_spec_a = SpectralConv2d(width, width, modes, modes)
        self.s_spec_b = SpectralConv2d(width, width, modes, modes)
        self.fno_s = FourierStack(width, modes, n_layers)
        # fusion head
        self.fuse1 = nn.Conv2d(3 * width, 2 * width, 1)
        self.fuse2 = nn.Conv2d(2 * width, width, 1)
        self.fuse3 = nn.Conv2d(width, width, 1)
        self.fc1 = nn.Linear(width, fc_hidden)
        self.fc2 = nn.Linear(fc_hidden, 1)

    @staticmethod
    def _lift(field: torch.Tensor, lin: nn.Linear) -> torch.Tensor:
        b, h, w = field.shape
        inp = torch.cat([field.unsqueeze(-1), grid_channels(b, h, w, field.device, field.dtype)], dim=-1)
        return lin(inp).permute(0, 3, 1, 2)  # (b, width, h, w)

    def forward(self, x, w, s, t):
        b, H, W = x.shape
        temb = self.t_mlp(self.t_feat(t))  # (b, width)

        hx = self.fno_x(self._lift(x, self.lift_x), temb)
        hw = self.fno_w(self._lift(w, self.lift_w))

        hs = self._lift(s, self.lift_s)  # (b, width, 16, 16)
        hs = F.interpolate(hs, size=(H, W), mode="bicubic", align_corners=True)
        hs = self.s_spec_b(F.gelu(self.s_spec_a(hs)))
        hs = self.fno_s(hs)

        h = torch.cat([hx, hw, hs], dim=1)
        h = F.gelu(self.fuse1(h))
        h = F.gelu(self.fuse2(h))
        h = F.gelu(self.fuse3(h))
        h = h.permute(0, 2, 3, 1)
        h = self.fc2(F.gelu(self.fc1(h))).squeeze(-1)  # (b, H, W)
        return h / marginal_std(t)[:, None, None]


def count_params(model: nn.Module):
    n_elem = sum(p.numel() for p in model.parameters())
    n_real = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    return n_elem, n_real


# --------------------------------------------------------------------------
# Loss, training step, sampler
# --------------------------------------------------------------------------
def dsm_loss(model, x0, w, s, eps=1e-5, t_scale=2.0):
    """Denoising score matching; t ~ U(eps, 1) * t_scale (reference code: *2)."""
    b = x0.shape[0]
    t = (torch.rand(b, device=x0.device) * (1.0 - eps) + eps) * t_scale
    z = torch.randn_like(x0)
    std = marginal_std(t)[:, None, None]
    xt = x0 + std * z
    score = model(xt, w, s, t)
    return torch.mean(torch.sum((score * std + z) ** 2, dim=(1, 2)))


def karras_times(n_steps: int, t_max: float, t_min: float, rho: float = 7.0) -> torch.Tensor:
    """n_steps+1 decreasing times from t_max to t_min (Karras et al. 2022 spacing)."""
    i = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
    a, c = t_max ** (1.0 / rho), t_min ** (1.0 / rho)
    return ((a + i * (c - a)) ** rho).float()


@torch.no_grad()
def em_sampler(model, w, s, n_steps=10, t_max=0.1, t_min=1e-3, rho=7.0):
    """Euler-Maruyama for the reverse VE-SDE dx = -g^2 score dt + g dW_bar."""
    b, H, W = w.shape
    ts = karras_times(n_steps, t_max, t_min, rho)
    x = torch.randn(b, H, W) * marginal_std(torch.tensor(t_max))
    x_mean = x
    for k in range(n_steps):
        t = ts[k]
        dt = (ts[k] - ts[k + 1]).item()
        tb = torch.full((b,), t.item())
        g = diffusion_coeff(tb)[:, None, None]
        x_mean = x + g * g * model(x, w, s, tb) * dt
        x = x_mean + math.sqrt(dt) * g * torch.randn_like(x)
    return x_mean  # no noise on the last step


# --------------------------------------------------------------------------
# Analytic FLOP estimate
# --------------------------------------------------------------------------
def analytic_flops(H=64, W=64, width=20, modes=8, s_res=16, n_layers=4, fc_hidden=128,
                   embed_dim=256):
    """Real floating point operations of one forward pass for ONE sample.

    Model (c = width, P = H*W, m = modes):
      rfft2 or irfft2 of one real P-point field: 2.5 * P * log2(P)
          (half of the 5 N log2 N radix-2 complex-FFT count)
      spectral mixing: 2 * m^2 modes * c_in * c_out complex MACs * 8 flops
      dense / 1x1 conv: 2 * c_in * c_out * P  (+ c_out * P for the bias)
      bicubic upsample: 16 taps * 2 flops per output value
      elementwise: add = 1, GELU counted as 1 op per element (listed apart)
    """
    P = H * W
    c = width
    fft1 = 2.5 * P * math.log2(P)
    d = {}
    spec_fft = 2 * c * fft1                       # rfft2 + irfft2 of c channels
    spec_mix = 2 * modes * modes * c * c * 8      # two blocks of kept modes
    pw = 2 * c * c * P + c * P                    # 1x1 conv with bias
    n_spec = 3 * n_layers + 2                     # 14 SpectralConv2d
    n_pw = 3 * n_layers                           # 12 pointwise convs
    d["fft"] = n_spec * spec_fft
    d["spectral_mix"] = n_spec * spec_mix
    d["pointwise_conv_in_fourier_layers"] = n_pw * pw
    d["lifting"] = 2 * (2 * 3 * c + c) * P + (2 * 3 * c + c) * s_res * s_res
    d["bicubic"] = 32 * c * P
    d["fuse_convs"] = ((2 * 3 * c * 2 * c + 2 * c) + (2 * 2 * c * c + c) + (2 * c * c + c)) * P
    d["fuse_mlp"] = ((2 * c * fc_hidden + fc_hidden) + (2 * fc_hidden + 1)) * P
    d["time_mlp"] = 2 * embed_dim * embed_dim + 2 * embed_dim * c
    core = sum(d.values())
    # elementwise: per Fourier layer the spec+conv add (c P), x-branch temb add,
    # GELUs (3 stacks * (n_layers-1) + 1 in the sparse pre-block + 3 fuse + fc)
    ew = (n_pw * c * P + n_layers * c * P
          + (3 * (n_layers - 1) + 1) * c * P
          + (2 * c + c + c) * P + fc_hidden * P + P)
    d["elementwise_ops (adds, GELU as 1)"] = ew
    return core, ew, d


# --------------------------------------------------------------------------
# Timing harness
# --------------------------------------------------------------------------
LAST_TIMES = []


LAST_CPU_UTIL = [0.0]


def timeit(fn, warmup=2, reps=5, min_time=0.0):
    for _ in range(warmup):
        fn()
    times = []
    c0, w0 = cpu_seconds(), time.perf_counter()
    t_start = time.perf_counter()
    while len(times) < reps or (time.perf_counter() - t_start) < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    LAST_TIMES[:] = times
    LAST_CPU_UTIL[0] = (cpu_seconds() - c0) / (time.perf_counter() - w0)
    return statistics.median(times), min(times), len(times)


def make_inputs(b, H, W, s_res=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, H, W, generator=g)
    w = torch.randn(b, H, W, generator=g)
    s = torch.randn(b, s_res, s_res, generator=g)
    t = torch.rand(b, generator=g) * 0.999 + 1e-3
    return x, w, s, t


def probe(res, when):
    """Both machine-state probes into res["calib_gflops"][when] and
    res["calib_bw_GBs"][when], printed."""
    res.setdefault("calib_gflops", {})[when] = g = calib_gflops()
    res.setdefault("calib_bw_GBs", {})[when] = bw = calib_bw()
    print(f"[probe] GEMM 1024^3 fp32: {g:.0f} GFLOP/s; add 64MiB: {bw:.1f} GB/s", flush=True)


def time_forward(model, b, hw, core, label, args):
    """The timing row of model's no-grad forward on a batch of b random
    hw x hw inputs (core: the analytic FLOPs of one sample), printed after
    label."""
    x, w, s, t = make_inputs(b, hw, hw)
    with torch.no_grad():
        med, mn, n = timeit(lambda: model(x, w, s, t), args.warmup, args.reps, min_time=1.0)
    r = {"ms_batch": med * 1e3, "ms_sample": med * 1e3 / b, "min_ms_batch": mn * 1e3, "n": n,
         "gflops": core * b / med / 1e9, "all_ms": [round(v * 1e3, 2) for v in LAST_TIMES],
         "cpu_util_cores": LAST_CPU_UTIL[0]}
    print(f"{label}: {r['ms_batch']:9.2f} ms/batch  {r['ms_sample']:8.3f} ms/sample"
          f"  (min {r['min_ms_batch']:.2f}, n={n})  {r['gflops']:.2f} GFLOP/s", flush=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions (median reported)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default="params,flops,forward,train,hires,sampler",
                    help="comma list of: params,flops,forward,train,hires,sampler")
    ap.add_argument("--train-batches", default="32,200")
    ap.add_argument("--json", default=None, help="write results here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    what = set(args.only.split(","))
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "python": platform.python_version(),
           "env_OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
           "env_OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
           "env_THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"),
           "parallel_info": torch.__config__.parallel_info()}
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, "
          f"cuda_available={torch.cuda.is_available()}", flush=True)

    model = ScoreFNO().eval()
    n_elem, n_real = count_params(model)
    res["params_tensor_elements"] = n_elem
    res["params_real_scalars"] = n_real
    print(f"params: {n_elem} tensor elements ({n_real} real scalars, complex counted as 2)", flush=True)

    core64, ew64, br = analytic_flops(64, 64)
    res["flops_per_sample_64"] = {"core": core64, "elementwise": ew64, "breakdown": br}
    if "flops" in what:
        print(f"analytic forward FLOPs per 64x64 sample: core {core64/1e6:.1f} MFLOP "
              f"+ elementwise {ew64/1e6:.1f} Mop", flush=True)
        for k, v in br.items():
            print(f"   {k:40s} {v/1e6:9.2f} M")
        for HW in (128, 256):
            c, e, _ = analytic_flops(HW, HW)
            res[f"flops_per_sample_{HW}"] = {"core": c, "elementwise": e}
            print(f"   {HW}x{HW}: core {c/1e6:.1f} MFLOP + elementwise {e/1e6:.1f} Mop")
        # cross-check of the GEMM/conv part with torch's own counter
        try:
            from torch.utils.flop_counter import FlopCounterMode
            x, w, s, t = make_inputs(1, 64, 64)
            with FlopCounterMode(display=False) as fc, torch.no_grad():
                model(x, w, s, t)
            res["torch_flop_counter_64"] = fc.get_total_flops()
            print(f"   torch FlopCounterMode (GEMM/conv only, no FFT; complex einsum"
                  f" counted as real): {fc.get_total_flops()/1e6:.1f} MFLOP", flush=True)
        except Exception as e:  # pragma: no cover
            print("   FlopCounterMode failed:", e)

    if "forward" in what:
        probe(res, "before_forward")
        res["forward64"] = {}
        for b in (1, 16, 64):
            res["forward64"][b] = time_forward(model, b, 64, core64, f"forward 64x64 b={b:3d}", args)

    if "train" in what:
        probe(res, "before_train")
        res["train64"] = {}
        tmodel = ScoreFNO().train()
        opt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        for b in [int(v) for v in args.train_batches.split(",")]:
            x0, w, s, _ = make_inputs(b, 64, 64)

            def step():
                opt.zero_grad(set_to_none=True)
                loss = dsm_loss(tmodel, x0, w, s)
                loss.backward()
                opt.step()
                return loss

            reps = args.reps if b <= 64 else max(5, args.reps - 2)
            med, mn, n = timeit(step, args.warmup, reps, min_time=1.0)
            r = {"ms_step": med * 1e3, "ms_sample": med * 1e3 / b, "min_ms_step": mn * 1e3, "n": n,
                 "gflops_3x_fwd": 3 * core64 * b / med / 1e9, "all_ms": [round(v * 1e3, 1) for v in LAST_TIMES], "cpu_util_cores": LAST_CPU_UTIL[0]}
            res["train64"][b] = r
            print(f"train 64x64 b={b:3d}: {r['ms_step']:9.1f} ms/step  {r['ms_sample']:8.3f} ms/sample"
                  f"  (min {r['min_ms_step']:.1f}, n={n})  ~{r['gflops_3x_fwd']:.2f} GFLOP/s (3x fwd)"
                  f"  all: {r['all_ms']}",
                  flush=True)
        del tmodel, opt

    if "hires" in what:
        probe(res, "before_hires")
        res["forward_hires"] = {}
        for HW in (128, 256):
            b = 4
            core, _, _ = analytic_flops(HW, HW)
            res["forward_hires"][HW] = time_forward(model, b, HW, core, f"forward {HW}x{HW} b={b}", args)

    if "sampler" in what:
        probe(res, "before_sampler")
        b = 16
        _, w, s, _ = make_inputs(b, 64, 64)
        med, mn, n = timeit(lambda: em_sampler(model, w, s), 1, max(5, args.reps - 2))
        out = em_sampler(model, w, s)
        r = {"ms_total": med * 1e3, "min_ms_total": mn * 1e3, "n": n, "ms_per_score_eval": med * 1e3 / 10,
             "all_ms": [round(v * 1e3, 1) for v in LAST_TIMES], "cpu_util_cores": LAST_CPU_UTIL[0],
             "finite": bool(torch.isfinite(out).all()),
             "times": [float(v) for v in karras_times(10, 0.1, 1e-3)]}
        res["sampler64_b16"] = r
        print(f"EM sampler 10 steps 64x64 b=16: {r['ms_total']:.1f} ms total (min {r['min_ms_total']:.1f}, n={n}),"
              f" {r['ms_per_score_eval']:.1f} ms per score eval, finite={r['finite']}", flush=True)
        print("   Karras times:", ", ".join(f"{v:.5f}" for v in r["times"]))

    probe(res, "end")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
