"""Machine-state probes shared by the CPU baselines torch_ns.py and
torch_score_fno.py (imported from this folder, which is on sys.path when
either runs as a script or is imported by torch_cuda.py,
benches/torch_baselines.py or scripts/torch_crosscheck.py).

On a shared VM the host sometimes slows the guest; a low probe flags it.
"""

import resource
import statistics
import time

import torch


def cpu_seconds():
    """User + system CPU time of this process, in seconds."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def median_seconds(op, reps):
    """Median wall time of op() over reps calls, after one untimed call."""
    op()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        op()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def calib_gflops(n=1024, reps=5):
    """fp32 GEMM n^3 GFLOP/s (median of reps)."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    return 2 * n ** 3 / median_seconds(lambda: torch.mm(a, b, out=c), reps) / 1e9


def calib_bw(n=1 << 24, reps=5):
    """out = a + b on 64 MiB float32 arrays (3 x 64 MiB moved), GB/s. Flags
    memory-bandwidth contention the GEMM probe misses."""
    a, b, c = torch.randn(n), torch.randn(n), torch.empty(n)
    return 3 * 4 * n / median_seconds(lambda: torch.add(a, b, out=c), reps) / 1e9
