"""Second derivatives: prmlnet against PyTorch's torch.func (and JAX, if installed).

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 \\
        python benchmarks/bench_hessian.py [--quick]

Cases, float64, one BLAS/torch thread, peers interleaved in one run:

* H·v against one gradient: a 50-100-10 softmax network on 2,000 patterns and the
  10-8-1, 10-80-2 and 20-200-5 tanh networks with linear outputs on 500 patterns.
  prmlnet's R-operator (``hessian.hvp``) over its own ``net.gradient``; PyTorch's
  forward-over-reverse ``jvp(grad)`` over its ``grad``. Goal: prmlnet ≤ 2 gradients.
* The exact Hessian, N = 500: prmlnet's block assembly (``hessian.exact``), the plain
  R-operator on blocks of identity columns (``method="rop"``), ``torch.func.hessian``.
  Goal: ≤ 0.15 s at W ≈ 1,000 and ≥ 10× torch.func.hessian.
* W = 5,205 (20-200-5): prmlnet's time and peak memory (tracemalloc); torch.func.hessian
  only where the machine has the memory it needs (it needs more than 16 GB).

Times are CPU seconds of the process, the minimum over interleaved repeats; ratios are
the median of the paired ratios (same repeat).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from prmlnet import Network, hessian  # noqa: E402
from prmlnet.hessian._memory import available_memory  # noqa: E402

try:  # noqa: SIM105
    import jax  # noqa: F401
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    # synchronous CPU dispatch: no JAX worker thread left spinning into the next
    # peer's CPU time (see bench_speed.py)
    jax.config.update("jax_cpu_enable_async_dispatch", False)
except ImportError:
    jax = None

try:
    import torch
    torch.set_num_threads(1)
except ImportError:             # the peers are optional (the ``bench`` extra)
    torch = None


def problem(sizes, output, N, seed=0):
    rng = np.random.default_rng(seed)
    net = Network(sizes, hidden="tanh", output=output)
    X = rng.standard_normal((N, sizes[0]))
    if output == "softmax":
        T = np.eye(sizes[-1])[rng.integers(0, sizes[-1], N)]
    else:
        T = rng.standard_normal((N, sizes[-1]))
    return net, net.init_weights(rng), X, T


def torch_error(net, X, T):
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    softmax = net.output.name == "softmax"

    def E(w):
        z, i = Xt, 0
        for l, (o, n) in enumerate(shapes):
            Wl, bl = w[i:i + o * n].reshape(o, n), w[i + o * n:i + o * n + o]
            a = torch.nn.functional.linear(z, Wl, bl)
            i += o * n + o
            z = torch.tanh(a) if l < len(shapes) - 1 else a
        if softmax:
            return -(Tt * torch.log_softmax(a, dim=1)).sum()
        return 0.5 * ((a - Tt) ** 2).sum()

    return E


def jax_error(net, X, T):
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]
    Xj, Tj = jnp.asarray(X), jnp.asarray(T)
    softmax = net.output.name == "softmax"

    def E(w):
        z, i = Xj, 0
        for l, (o, n) in enumerate(shapes):
            a = z @ w[i:i + o * n].reshape(o, n).T + w[i + o * n:i + o * n + o]
            i += o * n + o
            z = jnp.tanh(a) if l < len(shapes) - 1 else a
        if softmax:
            return -(Tj * jax.nn.log_softmax(a, axis=1)).sum()
        return 0.5 * ((a - Tj) ** 2).sum()

    return E


def interleaved(fns, repeats, inner):
    """Run the callables in turn ``repeats`` times; per-call times (repeats, len(fns)).

    Times are CPU seconds of this process (``time.process_time``): with one BLAS and
    one torch thread that is the work done, and other jobs on a busy machine do not
    inflate it the way they inflate wall-clock time.
    """
    t = np.empty((repeats, len(fns)))
    for f in fns:
        f()                                             # warm up
    for r in range(repeats):
        for j, f in enumerate(fns):
            t0 = time.process_time()
            for _ in range(inner):
                f()
            t[r, j] = (time.process_time() - t0) / inner
    return t


def bench_hvp(cases, repeats):
    print("\n== H·v against one gradient (float64, 1 thread); time per call, min over repeats ==")
    print(f"{'network':>22} {'W':>6} {'N':>5} | {'grad':>9} {'H·v':>9} {'H·v/grad':>8} | "
          f"{'torch grad':>10} {'torch H·v':>10} {'H·v/grad':>8} | {'torch/ours H·v':>14}"
          + ("  | jax H·v/grad" if jax else ""))
    for sizes, output, N in cases:
        net, w, X, T = problem(sizes, output, N)
        v = np.random.default_rng(1).standard_normal(net.n_weights)
        ws = net.workspace()
        fns = [lambda: net.gradient(w, X, T, workspace=ws),
               lambda: hessian.hvp(net, w, X, T, v, workspace=ws)]
        if torch is not None:
            E = torch_error(net, X, T)
            wt, vt = torch.from_numpy(w), torch.from_numpy(v)
            gt = torch.func.grad(E)
            fns += [lambda: gt(wt), lambda: torch.func.jvp(gt, (wt,), (vt,))[1]]
        else:                                   # columns of '-' (nan) without torch
            fns += [_nothing, _nothing]
        if jax:
            Ej = jax_error(net, X, T)
            gj = jax.jit(jax.grad(Ej))
            hj = jax.jit(lambda w, v: jax.jvp(jax.grad(Ej), (w,), (v,))[1])
            wj, vj = jnp.asarray(w), jnp.asarray(v)
            fns += [lambda: gj(wj).block_until_ready(), lambda: hj(wj, vj).block_until_ready()]
        inner = max(1, int(0.05 / max(1e-6, _once(fns[1]))))
        t = interleaved(fns, repeats, inner)
        if torch is None:
            t[:, 2:4] = np.nan
        best = t.min(axis=0)
        ratio = np.median(t[:, 1] / t[:, 0])
        tratio = np.median(t[:, 3] / t[:, 2])
        vs = np.median(t[:, 3] / t[:, 1])
        name = "-".join(map(str, sizes)) + f" {output}"
        line = (f"{name:>22} {net.n_weights:>6} {N:>5} | "
                f"{best[0] * 1e3:>7.3f}ms {best[1] * 1e3:>7.3f}ms "
                f"{ratio:>8.2f} | {best[2] * 1e3:>8.3f}ms {best[3] * 1e3:>8.3f}ms {tratio:>8.2f} | "
                f"{vs:>14.2f}")
        if jax:
            line += f"  | {np.median(t[:, 5] / t[:, 4]):>12.2f}"
        print(line)


def _nothing():
    return float("nan")


def _once(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def bench_exact(cases, repeats, torch_too=True):
    print("\n== the exact Hessian, N = 500 (float64, 1 thread); min over repeats ==")
    print(f"{'network':>12} {'W':>6} | {'blocks':>8} {'rop cols':>9} {'torch.func':>10} | "
          f"{'torch/blocks':>12} {'rop/blocks':>10}" + ("  | jax.hessian" if jax else ""))
    torch_too = torch_too and torch is not None
    for sizes in cases:
        net, w, X, T = problem(sizes, "linear", 500)
        if torch_too:
            E = torch_error(net, X, T)
            wt = torch.from_numpy(w)
        fns = [lambda: hessian.exact(net, w, X, T),
               lambda: hessian.exact(net, w, X, T, method="rop")]
        if torch_too:
            fns.append(lambda: torch.func.hessian(E)(wt))
        if jax:
            hj = jax.jit(jax.hessian(jax_error(net, X, T)))
            wj = jnp.asarray(w)
            fns.append(lambda: hj(wj).block_until_ready())
        t = interleaved(fns, repeats, 1)
        best = t.min(axis=0)
        H = hessian.exact(net, w, X, T)
        if torch_too:
            err = np.abs(H - torch.func.hessian(E)(wt).numpy()).max() / np.abs(H).max()
        line = (f"{'-'.join(map(str, sizes)):>12} {net.n_weights:>6} | {best[0]:>7.3f}s "
                f"{best[1]:>8.3f}s " + (f"{best[2]:>9.3f}s | {np.median(t[:, 2] / t[:, 0]):>12.1f} "
                                         if torch_too else f"{'-':>10} | {'-':>12} ")
                + f"{np.median(t[:, 1] / t[:, 0]):>10.1f}")
        if jax:
            line += f"  | {best[-1]:.3f}s ({np.median(t[:, -1] / t[:, 0]):.1f}x)"
        print(line + (f"   max rel. diff vs torch {err:.1e}" if torch_too else ""))


def bench_large(sizes=(20, 200, 5), N=500):
    net, w, X, T = problem(sizes, "linear", N)
    W = net.n_weights
    print(f"\n== W = {W} ({'-'.join(map(str, sizes))}, N = {N}): bounded memory ==")
    hessian.exact(net, w, X[:20], T[:20])
    tracemalloc.start()
    t0 = time.perf_counter()
    H = hessian.exact(net, w, X, T)
    t = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"prmlnet hessian.exact: {t:.2f} s, peak {peak / 2**20:.0f} MiB "
          f"(the W×W result alone is {H.nbytes / 2**20:.0f} MiB)")
    # torch.func.hessian vmaps W reverse passes over N patterns: about W·N·(sum of widths)
    # floats of activations at once
    need = 8 * W * N * sum(net.sizes) * 3
    if torch is None:
        print("torch.func.hessian: skipped — PyTorch is not installed")
    elif available_memory() > 2 * need:
        E = torch_error(net, X, T)
        t0 = time.perf_counter()
        torch.func.hessian(E)(torch.from_numpy(w))
        print(f"torch.func.hessian: {time.perf_counter() - t0:.2f} s")
    else:
        print(f"torch.func.hessian: skipped — needs about {need / 2**30:.0f} GiB at once, "
              f"this machine has {available_memory() / 2**30:.0f} GiB available")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller cases")
    args = ap.parse_args()
    repeats = 3 if args.quick else 9
    with threadpool_limits(1):
        bench_hvp([((50, 100, 10), "softmax", 2000), ((10, 8, 1), "linear", 500),
                   ((10, 80, 2), "linear", 500), ((20, 200, 5), "linear", 500)], repeats)
        bench_exact([(10, 80, 2)] if args.quick else [(10, 30, 2), (10, 80, 2)],
                    3 if args.quick else 5)
        if not args.quick:
            bench_large()


if __name__ == "__main__":
    main()
