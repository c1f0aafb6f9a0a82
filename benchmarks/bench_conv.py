"""Convolutional networks (PRML §5.5.6): prmlnet against PyTorch eager and torch.func.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        python benchmarks/bench_conv.py [--quick]

Cases, one BLAS/torch thread, peers interleaved in one run:

* One training step of a LeNet-like network, on the 8×8 digits and on 28×28 synthetic
  images, float64 and float32, batches of 32 and 128. Both sides have the same
  architecture (tanh everywhere; the book's subsampling layer — 2×2 means × one weight
  + one bias per map — written in PyTorch as ``avg_pool2d`` times a weight plus a
  bias), the same weights and the same batch, softmax outputs with the summed
  cross-entropy. A step is forward + backward + the gradient-descent update
  ``w ← w − η∇E``: in prmlnet ``net.error_and_gradient(w, X, T, out=g, check=False,
  workspace=ws)`` (the unchecked fast path of a training loop, with the workspace that
  ``Objective`` keeps, as PyTorch's caching allocator keeps its memory) then
  ``w -= η g``; the "no workspace" columns time the same call without one (its arrays
  page-fault anew on every step). In PyTorch an
  ``nn.Module``, ``zero_grad``, ``cross_entropy(reduction="sum")``, ``backward`` and
  ``torch.optim.SGD.step``. Goal: prmlnet at least as fast in every cell.
* The 28×28 step at batch 128 again, in a fresh process that runs prmlnet alone, with
  and without the workspace: CPU time and page faults per step (the C library hands large
  freed blocks back to the system, so fresh arrays fault on every step; how many depends
  on what the process ran before, which is why the table above, where PyTorch runs too,
  shows few).
* The exact Hessian of a small CNN (W = 998, N = 500 digits), float64:
  ``hessian.exact`` against ``torch.func.hessian`` of the same error. Goal ≥ 10×.

Times are CPU seconds of the process, the minimum over interleaved repeats; ratios are
the median of the paired ratios (same repeat), torch time / prmlnet time (> 1: prmlnet
is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from prmlnet import Dense, datasets, hessian  # noqa: E402
from prmlnet.convolution import Conv2D, Subsampling, network_from_spec  # noqa: E402

torch.set_num_threads(1)

LENETS = {8: "conv:6x3x3-sub-conv:16x2x2-dense:30",
          28: "conv:6x5x5-sub-conv:16x5x5-sub-dense:120-dense:84"}
HESSIAN_SPEC = "conv:4x3x3-sub-dense:20"          # W = 998 on (1, 8, 8)
ETA = 1e-3


class TorchSubsampling(torch.nn.Module):
    """The book's subsampling: 2×2 means, times one weight plus one bias per map."""

    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = torch.nn.Parameter(w), torch.nn.Parameter(b)

    def forward(self, z):
        return F.avg_pool2d(z, 2) * self.w[:, None, None] + self.b[:, None, None]


def torch_module(net, w, dtype):
    """``net`` as a torch.nn.Sequential holding a copy of the weights ``w``."""
    mods = [torch.nn.Unflatten(1, net.layers[0].in_shape)]
    for l, (layer, (A, b)) in enumerate(zip(net.layers, net.unpack(w))):
        A, b = (torch.tensor(np.array(v), dtype=dtype) for v in (A, b))
        if isinstance(layer, Conv2D):
            m = torch.nn.Conv2d(layer.in_shape[0], layer.n_maps, layer.kernel_size)
            m = m.to(dtype)
            m.weight.data[...], m.bias.data[...] = A, b
        elif isinstance(layer, Subsampling):
            m = TorchSubsampling(A, b)
        else:
            if l and not isinstance(net.layers[l - 1], Dense):
                mods.append(torch.nn.Flatten())            # the image becomes its flat row
            m = torch.nn.Linear(layer.n_in, layer.n_out).to(dtype)
            m.weight.data[...], m.bias.data[...] = A, b
        mods.append(m)
        if l < len(net.layers) - 1:
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods)


def torch_error(net, X, T):
    """E(w) of the same network for torch.func, over one flat weight vector."""
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    slices = net.layer_slices()

    def E(w):
        z = Xt.reshape(-1, *net.layers[0].in_shape)
        for l, (layer, s) in enumerate(zip(net.layers, slices)):
            p = w[s]
            if isinstance(layer, Conv2D):
                K = p[:-layer.n_maps].reshape(layer.n_maps, layer.in_shape[0], *layer.kernel_size)
                a = F.conv2d(z, K, p[-layer.n_maps:])
            elif isinstance(layer, Subsampling):
                C = layer.in_shape[0]
                a = F.avg_pool2d(z, 2) * p[:C, None, None] + p[C:, None, None]
            else:
                z = z.reshape(z.shape[0], -1)
                a = F.linear(z, p[:-layer.n_out].reshape(layer.n_out, layer.n_in),
                             p[-layer.n_out:])
            z = torch.tanh(a) if l < len(net.layers) - 1 else a
        return -(Tt * torch.log_softmax(a, dim=1)).sum()

    return E


def interleaved(fns, repeats, inner):
    """Per-call CPU seconds (repeats, len(fns)), the callables run in turn."""
    t = np.empty((repeats, len(fns)))
    for f in fns:
        f()
    for r in range(repeats):
        for j, f in enumerate(fns):
            t0 = time.process_time()
            for _ in range(inner):
                f()
            t[r, j] = (time.process_time() - t0) / inner
    return t


def images(side, N, rng):
    if side == 8:
        X, y = datasets.digits()
        idx = rng.choice(X.shape[0], N, replace=False)
        return X[idx], y[idx]
    # 28×28 synthetic images: a few bright Gaussian blobs on a dark background
    g = np.arange(side)
    c = rng.uniform(4, side - 4, (N, 3, 2))
    img = np.exp(-((g[None, None, :, None] - c[:, :, None, None, 0]) ** 2
                   + (g[None, None, None, :] - c[:, :, None, None, 1]) ** 2) / 8.0).sum(1)
    return np.clip(img, 0, 1).reshape(N, -1), rng.integers(0, 10, N)


def bench_training(repeats, quick):
    print("\n== one training step of a LeNet-like net (1 thread); CPU time per step, "
          "min over repeats ==")
    print(f"{'input':>6} {'W':>6} {'dtype':>8} {'N':>4} | {'prmlnet':>9} {'torch':>9} | "
          f"{'torch/prmlnet':>13} | {'no workspace':>15} | max rel. diff of ∇E")
    rows = []
    for side in (8, 28):
        for dtype in (np.float64, np.float32):
            tdtype = torch.float64 if dtype == np.float64 else torch.float32
            for N in (32, 128):
                rng = np.random.default_rng(side + N)
                net = network_from_spec(LENETS[side], (1, side, side), 10, output="softmax",
                                        dtype=dtype)
                X, y = images(side, N, rng)
                X = X.astype(dtype)
                T = np.eye(10, dtype=dtype)[y]
                w0 = net.init_weights(rng)
                w, g = w0.copy(), np.empty_like(w0)
                module = torch_module(net, w0, tdtype)
                opt = torch.optim.SGD(module.parameters(), lr=ETA)
                Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

                ws = net.workspace()

                def ours():
                    net.error_and_gradient(w, X, T, out=g, check=False, workspace=ws)
                    w[...] -= ETA * g

                def plain():
                    net.error_and_gradient(w, X, T, out=g, check=False)
                    w[...] -= ETA * g

                def theirs():
                    opt.zero_grad()
                    F.cross_entropy(module(Xt), yt, reduction="sum").backward()
                    opt.step()

                # the same gradient at the same weights, before any step
                module.zero_grad()
                F.cross_entropy(module(Xt), yt, reduction="sum").backward()
                gt = np.concatenate([p.grad.detach().numpy().ravel()
                                     for p in module.parameters()])
                gp = net.gradient(w0, X, T)
                diff = np.abs(gp - gt).max() / np.abs(gp).max()
                inner = 3 if quick else max(1, int(0.03 / max(1e-5, _once(ours))))
                t = interleaved([ours, theirs, plain], repeats, inner)
                best = t.min(axis=0)
                ratio = np.median(t[:, 1] / t[:, 0])
                rows.append((side, dtype, N, ratio))
                print(f"{side}x{side:<3} {net.n_weights:>6} {np.dtype(dtype).name:>8} {N:>4} | "
                      f"{best[0] * 1e3:>7.2f}ms {best[1] * 1e3:>7.2f}ms | {ratio:>13.2f} | "
                      f"{best[2] * 1e3:>7.2f}ms {np.median(t[:, 1] / t[:, 2]):>6.2f} | {diff:.1e}")
    return rows


def bench_hessian(repeats):
    print("\n== the exact Hessian of a small CNN, N = 500 digits (float64, 1 thread) ==")
    rng = np.random.default_rng(0)
    net = network_from_spec(HESSIAN_SPEC, (1, 8, 8), 10, output="softmax")
    X, y = images(8, 500, rng)
    T = np.eye(10)[y]
    w = net.init_weights(rng)
    E = torch_error(net, X, T)
    wt = torch.from_numpy(w)
    H = hessian.exact(net, w, X, T)
    Ht = torch.func.hessian(E)(wt).numpy()
    err = np.abs(H - Ht).max() / np.abs(H).max()
    t = interleaved([lambda: hessian.exact(net, w, X, T),
                     lambda: torch.func.hessian(E)(wt)], repeats, 1)
    best = t.min(axis=0)
    ratio = np.median(t[:, 1] / t[:, 0])
    print(f"{HESSIAN_SPEC} (W = {net.n_weights}) | prmlnet {best[0]:.3f}s | torch.func.hessian "
          f"{best[1]:.3f}s | torch/prmlnet {ratio:.1f} | max rel. diff {err:.1e}")
    return ratio


def fresh_process_case(dtype, N, repeats):
    """In this (fresh, prmlnet-only) process: the 28×28 step with and without a
    workspace, interleaved — CPU ms per step and minor page faults per step."""
    rng = np.random.default_rng(28 + N)
    net = network_from_spec(LENETS[28], (1, 28, 28), 10, output="softmax", dtype=dtype)
    X, y = images(28, N, rng)
    X, T = X.astype(dtype), np.eye(10, dtype=dtype)[y]
    w, ws = net.init_weights(rng), net.workspace()
    g = np.empty_like(w)
    calls = [lambda: net.error_and_gradient(w, X, T, out=g, check=False, workspace=ws),
             lambda: net.error_and_gradient(w, X, T, out=g, check=False)]
    for f in calls + calls:
        f()
    t, faults = np.empty((repeats, 2)), np.zeros(2)
    for r in range(repeats):
        for j, f in enumerate(calls):
            f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
            f()
            t[r, j] = time.process_time() - t0
            faults[j] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    return {"ms": (t.min(axis=0) * 1e3).tolist(), "faults": (faults / repeats).tolist(),
            "ratio": float(np.median(t[:, 1] / t[:, 0]))}


def bench_fresh_process(repeats):
    print("\n== the 28×28 step in a fresh process that runs prmlnet alone (C library's default "
          "allocator) ==")
    print(f"{'dtype':>8} {'N':>4} | {'workspace':>9} {'faults':>7} | {'plain':>8} {'faults':>7} | "
          f"plain/workspace")
    for dtype in ("float64", "float32"):
        out = subprocess.run([sys.executable, __file__, "--fresh-child", dtype, "128",
                              str(repeats)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{dtype:>8} {128:>4} | {r['ms'][0]:>7.2f}ms {r['faults'][0]:>7.0f} | "
              f"{r['ms'][1]:>6.2f}ms {r['faults'][1]:>7.0f} | {r['ratio']:.2f}")


def _once(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke test)")
    parser.add_argument("--fresh-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fresh_child:
        dtype, N, repeats = args.fresh_child
        print(json.dumps(fresh_process_case(np.dtype(dtype), int(N), int(repeats))))
        return
    repeats = 3 if args.quick else 15
    print(f"numpy {np.__version__}, torch {torch.__version__}, "
          f"{os.environ.get('OMP_NUM_THREADS')} thread(s)")
    rows = bench_training(repeats, args.quick)
    bench_fresh_process(3 if args.quick else 15)
    ratio = bench_hessian(2 if args.quick else 5)
    short = [f"{s}x{s} {np.dtype(d).name} N={n}" for s, d, n, r in rows if r < 1.0]
    print("\ntraining-step goal (≥ 1.0× torch) missed in: " + (", ".join(short) or "none"))
    print(f"exact-Hessian goal (≥ 10× torch.func.hessian): {'met' if ratio >= 10 else 'missed'}")


if __name__ == "__main__":
    main()
