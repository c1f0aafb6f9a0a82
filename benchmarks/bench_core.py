"""One training step and one tiny full-batch gradient: prmlnet against PyTorch eager.

Usage::

    python benchmarks/bench_core.py [--quick]

Cases:

* a 784-256-256-10 tanh/softmax network, one training step (error and gradient of a
  mini-batch, then w ← w − η∇E) on batches of 32 and 128, float64 and float32, with 1
  and 2 BLAS threads; prmlnet and PyTorch eager run interleaved, and each cell prints
  the median time of each and the paired ratio torch/prmlnet (> 1: prmlnet faster);
* the effective GEMM rate of the prmlnet step (FLOPs of its matrix products / time)
  against the single-GEMM rate measured in the same run;
* the 1-3-1 tanh network on 50 points (the chapter's toy problems): one full-batch
  error and gradient, checked and unchecked, beside PyTorch eager.

The second core of these machines is noisy: quote the 1-thread figures. Without
PyTorch (the ``bench`` extra) the prmlnet columns are printed alone. The whole
table of speed goals, with jax.jit and torch.func as well, is ``bench_speed.py``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

try:
    import torch
except ImportError:                     # the peer is optional: prmlnet's columns alone
    torch = None

from prmlnet import Network


def paired(fa, fb, repeats, inner):
    """Interleave fa and fb; return per-call medians and the median paired ratio b/a."""
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fa()
        t1 = time.perf_counter()
        for _ in range(inner):
            fb()
        t2 = time.perf_counter()
        ta.append((t1 - t0) / inner)
        tb.append((t2 - t1) / inner)
    ta, tb = np.array(ta), np.array(tb)
    return np.median(ta), np.median(tb), float(np.median(tb / ta))


def gemm_rate(dtype, n=1024, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n ** 3 / best


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def step_flops(sizes, B):
    """FLOPs of the matrix products of one forward+backward pass (first layer's
    input gradient is not computed)."""
    fl = 0
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        fl += 2 * B * n_in * n_out * (3 if l > 0 else 2)
    return fl


def mlp_case(B, dtype, rng):
    sizes = (784, 256, 256, 10)
    net = Network(sizes, hidden="tanh", output="softmax", dtype=dtype)
    X = rng.standard_normal((B, 784)).astype(dtype)
    T = np.eye(10, dtype=dtype)[rng.integers(0, 10, B)]
    X, T = net.check_inputs(X), net.check_targets(T, B)
    w = net.init_weights(rng)
    ws = net.workspace()

    def ours():                                 # w ← w − η∇E in place: the update rides on
        net.gradient_step(w, X, T, 1e-4, out=w, check=False, workspace=ws)   # the products

    if torch is None:
        return ours, _none, step_flops(sizes, B), _none, _none

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Tanh(), torch.nn.Linear(256, 256),
                                torch.nn.Tanh(), torch.nn.Linear(256, 10)).to(tdtype)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    tX = torch.from_numpy(X)
    ty = torch.from_numpy(T.argmax(1))

    def theirs():
        model.zero_grad(set_to_none=False)
        loss = loss_fn(model(tX), ty)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(p.grad, alpha=1e-4)

    for _ in range(5):
        ours(), theirs()
    Wn = [W for W, _ in net.unpack(w)]
    Wt = [torch.from_numpy(W.copy()) for W in Wn]
    Z = [rng.standard_normal((B, n)).astype(dtype) for n in sizes]

    def our_gemms():            # the products of one step alone, with NumPy's BLAS
        for l, W in enumerate(Wn):
            Z[l].dot(W.T)
            Z[l + 1].T.dot(Z[l])
            if l:
                Z[l + 1].dot(W)

    tZ = [torch.from_numpy(z) for z in Z]

    def their_gemms():          # the same products with PyTorch's BLAS
        for l, W in enumerate(Wt):
            tZ[l] @ W.T
            tZ[l + 1].T @ tZ[l]
            if l:
                tZ[l + 1] @ W

    return ours, theirs, step_flops(sizes, B), our_gemms, their_gemms


def _none():
    pass


def tiny_case(rng):
    net = Network((1, 3, 1))
    X = rng.uniform(-1, 1, (50, 1))
    T = np.sin(np.pi * X)
    w = net.init_weights(rng)
    g = np.empty_like(w)

    def checked():
        net.error_and_gradient(w, X, T)

    def unchecked():
        net.error_and_gradient(w, X, T, out=g, check=False)

    if torch is None:
        return checked, unchecked, _none
    model = torch.nn.Sequential(torch.nn.Linear(1, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()
    tX, tT = torch.from_numpy(X), torch.from_numpy(T)

    def theirs():
        model.zero_grad(set_to_none=False)
        (0.5 * ((model(tX) - tT) ** 2).sum()).backward()

    return checked, unchecked, theirs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else '- (not installed)'}, "
          f"cpu count {os.cpu_count()}")
    print("\n784-256-256-10 tanh/softmax, one training step (error, gradient, update)")
    print(f"{'threads':>7} {'dtype':>7} {'batch':>5} {'prmlnet ms':>10} {'torch ms':>9} "
          f"{'torch/ours':>10} {'GEMM %':>7} {'in GEMMs':>9} {'GEMMs only':>12}")
    print("  (GEMM %: FLOPs of the step's products / time / single-GEMM rate; in GEMMs: share of the"
          " step spent in NumPy's products; GEMMs only: torch/NumPy time of the same products)")
    for threads in (1, 2):
        if torch is not None:
            torch.set_num_threads(threads)
        with threadpool_limits(threads):
            for dtype in (np.float64, np.float32):
                peak = gemm_rate(dtype)
                for B in (32, 128):
                    ours, theirs, flops, ogemm, tgemm = mlp_case(B, dtype, rng)
                    inner = 20 if B == 32 else 5
                    ta, tb, ratio = paired(ours, theirs, repeats, inner)
                    ga, gb, gratio = paired(ogemm, tgemm, repeats, inner)
                    print(f"{threads:>7} {np.dtype(dtype).name:>7} {B:>5} {ta * 1e3:10.3f} "
                          f"{tb * 1e3:9.3f} {ratio:10.2f} {100 * flops / ta / peak:6.0f}% "
                          f"{100 * ga / ta:9.0f}% {gratio:12.2f}")
                print(f"{'':>7} {np.dtype(dtype).name:>7} single-GEMM rate {peak / 1e9:.1f} GFLOP/s")
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(1):
        checked, unchecked, theirs = tiny_case(rng)
        tu, tt, r = paired(unchecked, theirs, repeats * 2, 2000)
        tc, _, _ = paired(checked, unchecked, repeats, 2000)
    print("\n1-3-1 tanh, 50 points, full-batch error and gradient (1 thread)")
    print(f"  prmlnet, data checked once (check=False): {tu * 1e6:6.1f} us")
    print(f"  prmlnet, checked on every call:           {tc * 1e6:6.1f} us")
    print(f"  torch eager:                              {tt * 1e6:6.1f} us   (torch/ours {r:.1f}x)")


if __name__ == "__main__":
    main()
