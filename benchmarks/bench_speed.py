"""prmlnet against its peers on the chapter's networks: the whole table of speed goals.

Usage::

    python benchmarks/bench_speed.py [--quick] [--repeats R]

Every case runs prmlnet beside PyTorch eager, ``torch.func`` and ``jax.jit`` (CPU)
in one process, one BLAS/torch/XLA thread, the callables *interleaved* (one block
of calls each, in turn, ``R`` times), so that a change in the machine's load hits
all of them alike. Times are CPU seconds of the process (``time.process_time``;
with one thread each, the work done), the minimum over the R blocks; ratios are
the median over the blocks of the paired ratios (peer / prmlnet: > 1 means
prmlnet is faster). A peer that is not installed is skipped (``-``): the
benchmark-only dependencies are the ``bench`` extra (jax, torch).

Cases
-----
1. The 784-256-256-10 tanh/softmax training step (error, gradient, update) on
   batches of 32 and 128, float64 and float32; its share of time in its own
   matrix products (the same products alone, NumPy) and the bare products in
   PyTorch beside NumPy's (the BLAS each ships).
2. The 1-3-1 tanh net on 50 points: full-batch E and ∇E through ``Objective``,
   the checked ``Network`` call and the unchecked one.
3. H·v in gradients, N = 500 (W ≈ 100 / 1,000 / 5,000) and a softmax net.
4. The exact Hessian, W = 1,042, N = 500.
5. 20-200-5 on 500 patterns with the C library's default allocator: page faults
   and times with and without a workspace, against a child process run with large
   malloc thresholds (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``).
6. The diagonal of the outer-product (Gauss–Newton) matrix on a 10-50-1
   regression net and a 64-30-10 classifier: prmlnet's ``outer_product_diagonal``,
   the W×W matrix's diagonal, and DiagGGN in ``torch.func`` (per-pattern
   Jacobians by ``vmap(jacrev)``; BackPACK itself would pull a different torch).

Page faults are minor faults per call (``resource.getrusage``) after a warm-up.
The machines these run on are shared: quote the ratios, which interleaving keeps
honest, more than the absolute times. JAX runs with synchronous CPU dispatch
(``jax_cpu_enable_async_dispatch=False``), its fastest setting for calls waited
for at once; ``--jax-async`` measures its default instead.
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
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

import prmlnet  # noqa: E402
from prmlnet import Network, Objective, hessian  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
    from torch.func import functional_call, grad, grad_and_value, jacrev, jvp, vmap
except ImportError:                                    # pragma: no cover - optional peer
    torch = None
JAX_ASYNC = "--jax-async" in sys.argv
try:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    # Synchronous dispatch on the CPU (unless --jax-async): JAX's fastest setting for
    # calls that are waited for at once (the 1-3-1 step: 10 us against 33 us here), and
    # it leaves no worker threads spinning after a call, which would otherwise be
    # charged to the next peer's CPU time (measured: 2.5x on the exact Hessian).
    jax.config.update("jax_cpu_enable_async_dispatch", JAX_ASYNC)
except ImportError:                                    # pragma: no cover - optional peer
    jax = None

DASH = "-"


# -- timing ------------------------------------------------------------------------------
def interleaved(fns, repeats, budget=0.03):
    """Per-call CPU times, shape (repeats, len(fns)): each callable in turn, in blocks
    of calls lasting about ``budget`` seconds."""
    inner = []
    for f in fns:
        f()
        t0 = time.process_time()
        f()
        inner.append(max(1, int(budget / max(time.process_time() - t0, 1e-7))))
    t = np.empty((repeats, len(fns)))
    for r in range(repeats):
        for j, (f, n) in enumerate(zip(fns, inner)):
            t0 = time.process_time()
            for _ in range(n):
                f()
            t[r, j] = (time.process_time() - t0) / n
    return t


def ratio(t, j, ref):
    """Median over the blocks of t[:, j] / t[:, ref]."""
    return float(np.median(t[:, j] / t[:, ref]))


def faults(f, n=20):
    """Minor page faults per call of ``f`` after a warm-up."""
    for _ in range(3):
        f()
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        f()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / n


def fmt_ms(s):
    return f"{s * 1e3:8.3f}"


def fmt_r(x):
    return DASH if x is None else f"{x:.2f}"


class Peers:
    """The callables of one case by name; ``None`` for a peer not installed."""

    def __init__(self):
        self.names, self.fns = [], []

    def add(self, name, fn):
        if fn is not None:
            self.names.append(name)
            self.fns.append(fn)

    def run(self, repeats):
        self.t = interleaved(self.fns, repeats)
        self.best = dict(zip(self.names, self.t.min(axis=0)))
        return self

    def r(self, num, den):
        """Median paired ratio num/den, None if either is missing."""
        if num not in self.names or den not in self.names:
            return None
        return ratio(self.t, self.names.index(num), self.names.index(den))

    def ms(self, name):
        return fmt_ms(self.best[name]) if name in self.best else f"{DASH:>8}"


GOALS = []          # (workload, goal, measured, met)


def goal(workload, text, measured, met):
    GOALS.append((workload, text, measured, met))


# -- torch / jax models of the chapter's networks ---------------------------------------
def torch_mlp(net, dtype):
    mods = []
    for l, layer in enumerate(net.layers):
        mods.append(torch.nn.Linear(layer.n_in, layer.n_out))
        if l < len(net.layers) - 1:
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods).to(dtype)


def flat_error_torch(net, X, T):
    """E(w) over the flat weight vector in torch (tanh hidden units)."""
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    softmax = net.output.name == "softmax"

    def E(w):
        z, i = Xt, 0
        for l, (o, n) in enumerate(shapes):
            a = torch.nn.functional.linear(z, w[i:i + o * n].reshape(o, n), w[i + o * n:i + o * n + o])
            i += o * n + o
            z = torch.tanh(a) if l < len(shapes) - 1 else a
        if softmax:
            return -(Tt * torch.log_softmax(a, dim=1)).sum()
        return 0.5 * ((a - Tt) ** 2).sum()

    return E


def flat_net_jax(net):
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]

    def outputs(w, X):
        z, i = X, 0
        for l, (o, n) in enumerate(shapes):
            a = z @ w[i:i + o * n].reshape(o, n).T + w[i + o * n:i + o * n + o]
            i += o * n + o
            z = jnp.tanh(a) if l < len(shapes) - 1 else a
        return a

    return outputs


def flat_error_jax(net, X, T):
    outputs = flat_net_jax(net)
    Xj, Tj = jnp.asarray(X), jnp.asarray(T)
    softmax = net.output.name == "softmax"

    def E(w):
        a = outputs(w, Xj)
        if softmax:
            return -(Tj * jax.nn.log_softmax(a, axis=1)).sum()
        return 0.5 * ((a - Tj) ** 2).sum()

    return E


def problem(sizes, output, N, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    net = Network(sizes, hidden="tanh", output=output, dtype=dtype)
    X = rng.standard_normal((N, sizes[0])).astype(dtype)
    K = sizes[-1]
    T = (np.eye(K)[rng.integers(0, K, N)] if output == "softmax"
         else rng.standard_normal((N, K))).astype(dtype)
    return net, net.init_weights(rng), X, T


# -- 1. the big training step ---------------------------------------------------------------
def gemm_rate(dtype, n=1024, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n ** 3 / best


def _timed(f):
    t0 = time.process_time()
    f()
    return time.process_time() - t0


def step_flops(sizes, B):
    """FLOPs of the products of one forward and backward pass (no input gradient for
    the first layer)."""
    return sum(2 * B * n_in * n_out * (3 if l else 2)
               for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])))


def bench_step(repeats):
    print("\n== 1. 784-256-256-10 tanh/softmax, one training step (error, gradient, update) ==")
    print("   prmlnet: net.gradient_step(w, X, T, eta, out=w, workspace=ws) (the update fused with")
    print("   the weight-gradient products); 'separate': error_and_gradient(out=g) then w -= eta*g")
    print(f"{'dtype':>8} {'B':>4} | {'prmlnet':>8} {'separate':>8} {'torch':>8} {'t.func':>8} "
          f"{'jax.jit':>8} ms | {'torch/':>6} {'tfunc/':>6} {'jax/':>6} | {'GEMM':>5} {'FLOP':>5} "
          f"| {'torch/numpy':>11} {'bound':>5} | faults/call plain ws")
    sizes = (784, 256, 256, 10)
    for dtype in (np.float64, np.float32):
        peak = gemm_rate(dtype)
        for B in (32, 128):
            net, w, X, T = problem(sizes, "softmax", B, dtype)
            ws = net.workspace()
            g = np.empty_like(w)
            eta = 1e-4
            w1 = w.copy()
            w2 = w.copy()
            cells = Peers()
            cells.add("ours", lambda: net.gradient_step(w1, X, T, eta, out=w1, check=False,
                                                         workspace=ws))

            def separate():
                net.error_and_gradient(w2, X, T, out=g, check=False, workspace=ws)
                np.multiply(g, eta, out=g)
                np.subtract(w2, g, out=w2)
            cells.add("separate", separate)
            if torch is not None:
                tdt = torch.float64 if dtype == np.float64 else torch.float32
                model = torch_mlp(net, tdt)
                loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
                tX, ty = torch.from_numpy(X), torch.from_numpy(T.argmax(1))

                def eager():
                    model.zero_grad(set_to_none=False)
                    loss_fn(model(tX), ty).backward()
                    with torch.no_grad():
                        for p in model.parameters():
                            p.sub_(p.grad, alpha=eta)
                cells.add("torch", eager)
                fmodel = torch_mlp(net, tdt)
                params = {k: v.detach().clone() for k, v in fmodel.named_parameters()}

                def loss(p):
                    return torch.nn.functional.cross_entropy(functional_call(fmodel, p, (tX,)),
                                                             ty, reduction="sum")
                gv = grad_and_value(loss)

                def tfunc():
                    gr, _ = gv(params)
                    torch._foreach_sub_(list(params.values()), list(gr.values()), alpha=eta)
                cells.add("tfunc", tfunc)
            if jax is not None:
                jdt = jnp.float64 if dtype == np.float64 else jnp.float32
                jp = [(jnp.asarray(W, dtype=jdt), jnp.asarray(b, dtype=jdt)) for W, b in net.unpack(w)]
                jX, jy = jnp.asarray(X, dtype=jdt), jnp.asarray(T.argmax(1))

                def jloss(p):
                    z = jX
                    for l, (W, b) in enumerate(p):
                        a = z @ W.T + b
                        z = jnp.tanh(a) if l < len(p) - 1 else a
                    return -jnp.take_along_axis(jax.nn.log_softmax(a), jy[:, None], 1).sum()

                @jax.jit
                def jstep(p):
                    E, gr = jax.value_and_grad(jloss)(p)
                    return jax.tree_util.tree_map(lambda q, d: q - eta * d, p, gr), E
                state = [jp]

                def jx():
                    state[0], E = jstep(state[0])
                    E.block_until_ready()
                cells.add("jax", jx)
            Wn = [W for W, _ in net.unpack(w)]
            Z = [np.random.default_rng(1).standard_normal((B, n)).astype(dtype) for n in sizes]

            def our_gemms():                # the step's products alone, NumPy's BLAS
                for l, W in enumerate(Wn):
                    Z[l].dot(W.T)
                    Z[l + 1].T.dot(Z[l])
                    if l:
                        Z[l + 1].dot(W)
            cells.add("gemms", our_gemms)
            if torch is not None:
                Wt = [torch.from_numpy(W.copy()) for W in Wn]
                tZ = [torch.from_numpy(z) for z in Z]

                def their_gemms():          # the same products, PyTorch's BLAS
                    for l, W in enumerate(Wt):
                        tZ[l] @ W.T
                        tZ[l + 1].T @ tZ[l]
                        if l:
                            tZ[l + 1] @ W
                cells.add("tgemms", their_gemms)
            cells.run(repeats)
            share = cells.r("gemms", "ours")
            flop = step_flops(sizes, B) / cells.best["ours"] / peak
            f_plain = faults(lambda: net.error_and_gradient(w2, X, T, out=g, check=False))
            f_ws = faults(lambda: net.gradient_step(w1, X, T, eta, out=w1, check=False,
                                                     workspace=ws))
            bound = cells.r("torch", "gemms")
            print(f"{np.dtype(dtype).name:>8} {B:>4} | {cells.ms('ours')} {cells.ms('separate')} "
                  f"{cells.ms('torch')} {cells.ms('tfunc')} {cells.ms('jax')}    | "
                  f"{fmt_r(cells.r('torch', 'ours')):>6} {fmt_r(cells.r('tfunc', 'ours')):>6} "
                  f"{fmt_r(cells.r('jax', 'ours')):>6} | {100 * share:4.0f}% {100 * flop:4.0f}% | "
                  f"{fmt_r(cells.r('tgemms', 'gemms')):>11} {fmt_r(bound):>5} | "
                  f"{f_plain:6.0f} {f_ws:4.0f}")
            name = f"784-256-256-10 step, {np.dtype(dtype).name}, B={B}"
            rt, rj = cells.r("torch", "ours"), cells.r("jax", "ours")
            goal(name, ">= 1.25x torch eager, >= 1.0x jax.jit",
                 f"{fmt_r(rt)}x torch, {fmt_r(rj)}x jax (bound {fmt_r(bound)}x)",
                 (rt is None or rt >= 1.25) and (rj is None or rj >= 1.0))
            if B == 128:
                goal(name, ">= 85% of the GEMM rate (share of time in its products)",
                     f"{100 * share:.1f}%", share >= 0.85)
    print("   GEMM: the time of the step's products alone (NumPy) / the step; FLOP: the step's")
    print("   product FLOPs / time / a 1024² GEMM's rate; torch/numpy: the same products in")
    print("   PyTorch's BLAS over NumPy's (< 1: PyTorch's BLAS is faster); bound: torch eager's")
    print("   step over NumPy's products alone — the most any NumPy step could gain on it.")


# -- 2. the 1-3-1 network --------------------------------------------------------------------
def bench_tiny(repeats):
    print("\n== 2. 1-3-1 tanh, 50 points, full-batch E and ∇E (float64) ==")
    rng = np.random.default_rng(0)
    net = Network((1, 3, 1))
    X = rng.uniform(-1, 1, (50, 1))
    T = np.sin(np.pi * X)
    w = net.init_weights(rng)
    g = np.empty_like(w)
    obj = Objective(net, X, T)
    cells = Peers()
    cells.add("objective", lambda: obj(w))
    cells.add("checked", lambda: net.error_and_gradient(w, X, T))
    cells.add("unchecked", lambda: net.error_and_gradient(w, X, T, out=g, check=False))
    if torch is not None:
        model = torch_mlp(net, torch.float64)
        tX, tT = torch.from_numpy(X), torch.from_numpy(T)

        def eager():
            model.zero_grad(set_to_none=False)
            (0.5 * ((model(tX) - tT) ** 2).sum()).backward()
        cells.add("torch", eager)
        E = flat_error_torch(net, X, T)
        gv = grad_and_value(E)
        wt = torch.from_numpy(w)
        cells.add("tfunc", lambda: gv(wt))
    if jax is not None:
        vg = jax.jit(jax.value_and_grad(flat_error_jax(net, X, T)))
        wj = jnp.asarray(w)

        def jx():
            E_, g_ = vg(wj)
            g_.block_until_ready()
        cells.add("jax", jx)
    cells.run(repeats * 2)
    us = {k: v * 1e6 for k, v in cells.best.items()}
    for name, label in (("objective", "Objective(net, X, T)(w)"),
                        ("checked", "net.error_and_gradient(w, X, T)"),
                        ("unchecked", "... (out=g, check=False)"), ("torch", "torch eager"),
                        ("tfunc", "torch.func.grad_and_value"), ("jax", "jax.jit(value_and_grad)")):
        if name in us:
            extra = ""
            if name in ("torch", "tfunc", "jax"):
                extra = f"   ({name} / Objective {cells.r(name, 'objective'):.2f}x)"
            print(f"  {label:34s} {us[name]:7.1f} us{extra}")
    checked_over = cells.r("checked", "unchecked")
    print(f"  checked / unchecked: {checked_over:.2f}")
    rj = cells.r("jax", "objective")
    goal("1-3-1, N = 50, E + ∇E", "<= 15 us through Objective (>= 1.4x jax.jit)",
         f"{us['objective']:.1f} us, {fmt_r(rj)}x jax", us["objective"] <= 15 and (rj is None or rj >= 1.4))
    goal("1-3-1, N = 50, E + ∇E", "<= 20 us checked, <= 1.2x unchecked",
         f"{us['checked']:.1f} us, {checked_over:.2f}x", us["checked"] <= 20 and checked_over <= 1.2)


# -- 3. H·v ----------------------------------------------------------------------------------
def bench_hvp(repeats, quick):
    print("\n== 3. H·v in gradients (float64): prmlnet hessian.hvp / net.gradient, both with a "
          "workspace ==")
    print(f"{'network':>20} {'W':>5} {'N':>5} | {'grad':>8} {'H·v':>8} ms {'ratio':>5} "
          f"{'FLOPs':>5} | {'torch.func':>10} {'jax.jit':>7} ratios | {'tfunc/ours':>10} "
          f"{'jax/ours':>8} H·v | Objective H·v/E,∇E")
    cases = [((10, 8, 1), "linear", 500), ((10, 80, 2), "linear", 500),
             ((20, 200, 5), "linear", 500), ((50, 100, 10), "softmax", 2000)]
    worst, slower_than_jax = 0.0, []
    for sizes, output, N in cases[:3] if quick else cases:
        net, w, X, T = problem(sizes, output, N)
        v = np.random.default_rng(1).standard_normal(net.n_weights)
        ws = net.workspace()
        obj = Objective(net, X, T)
        cells = Peers()
        cells.add("grad", lambda: net.gradient(w, X, T, workspace=ws))
        cells.add("hvp", lambda: hessian.hvp(net, w, X, T, v, workspace=ws))
        cells.add("obj", lambda: obj(w))
        cells.add("objhvp", lambda: obj.hvp(w, v))
        if torch is not None:
            E = flat_error_torch(net, X, T)
            gt = grad(E)
            wt, vt = torch.from_numpy(w), torch.from_numpy(v)
            cells.add("tgrad", lambda: gt(wt))
            cells.add("thvp", lambda: jvp(gt, (wt,), (vt,))[1])
        if jax is not None:
            Ej = flat_error_jax(net, X, T)
            gj = jax.jit(jax.grad(Ej))
            hj = jax.jit(lambda w, v: jax.jvp(jax.grad(Ej), (w,), (v,))[1])
            wj, vj = jnp.asarray(w), jnp.asarray(v)
            cells.add("jgrad", lambda: gj(wj).block_until_ready())
            cells.add("jhvp", lambda: hj(wj, vj).block_until_ready())
        cells.run(repeats)
        r = cells.r("hvp", "grad")
        worst = max(worst, r)
        rj = cells.r("jhvp", "hvp")
        if rj is not None and rj < 1:
            slower_than_jax.append("-".join(map(str, sizes)))
        name = "-".join(map(str, sizes)) + " " + output
        print(f"{name:>20} {net.n_weights:>5} {N:>5} | {cells.ms('grad')} {cells.ms('hvp')}    "
              f"{r:5.2f} {hvp_flop_ratio(sizes):5.2f} | {fmt_r(cells.r('thvp', 'tgrad')):>10} "
              f"{fmt_r(cells.r('jhvp', 'jgrad')):>7}"
              f"        | {fmt_r(cells.r('thvp', 'hvp')):>10} {fmt_r(rj):>8}     | "
              f"{cells.r('objhvp', 'obj'):.2f}")
    print("   FLOPs: the product FLOPs of the R-passes over those of a gradient (a two-layer net:")
    print("   3NDM + 8NMK against 2NDM + 3NMK): the ratio no arrangement of the same products")
    print("   can beat; the rest is elementwise work, one NumPy pass per step where XLA fuses")
    goal("H·v in gradients, N = 500, W ≈ 100 / 1,000 / 5,000",
         "<= 1.7 everywhere, faster than jax.jit's H·v",
         f"worst {worst:.2f}; slower than jax on {', '.join(slower_than_jax) or 'none'}",
         worst <= 1.7 and not slower_than_jax)


def hvp_flop_ratio(sizes):
    """Product FLOPs of prmlnet's R-passes over those of a gradient, per pattern.

    Gradient: forward products n_in·n_out per layer, weight gradients the same,
    input gradients for every layer but the first. H·v (``_rop_dense``): the first
    layer's forward and R-forward and its R-weight gradient (3×); every later
    layer's stacked forward (2×), R-forward (1×), stacked R-weight gradient (2×),
    stacked input R-gradient (2×) and input gradient (1×): 8×.
    """
    pairs = list(zip(sizes[:-1], sizes[1:]))
    grad = sum(a * b * (3 if l else 2) for l, (a, b) in enumerate(pairs))
    hv = sum(a * b * (8 if l else 3) for l, (a, b) in enumerate(pairs))
    return hv / grad


# -- 4. the exact Hessian --------------------------------------------------------------------
def bench_exact(repeats):
    print("\n== 4. the exact Hessian, N = 500 (float64) ==")
    print(f"{'network':>10} {'W':>5} | {'prmlnet':>8} {'torch.func':>10} {'jax.jit':>8} s | "
          f"{'torch/ours':>10} {'jax/ours':>8}")
    for sizes in [(10, 30, 2), (10, 80, 2)]:
        net, w, X, T = problem(sizes, "linear", 500)
        cells = Peers()
        cells.add("ours", lambda: hessian.exact(net, w, X, T))
        if torch is not None:
            E = flat_error_torch(net, X, T)
            wt = torch.from_numpy(w)
            cells.add("torch", lambda: torch.func.hessian(E)(wt))
        if jax is not None:
            hj = jax.jit(jax.hessian(flat_error_jax(net, X, T)))
            wj = jnp.asarray(w)
            cells.add("jax", lambda: hj(wj).block_until_ready())
        cells.run(max(3, repeats // 3))
        b = cells.best
        print(f"{'-'.join(map(str, sizes)):>10} {net.n_weights:>5} | {b['ours']:8.4f} "
              f"{b.get('torch', float('nan')):10.3f} {b.get('jax', float('nan')):8.3f}   | "
              f"{fmt_r(cells.r('torch', 'ours')):>10} {fmt_r(cells.r('jax', 'ours')):>8}")
    rt, rj = cells.r("torch", "ours"), cells.r("jax", "ours")
    goal("exact Hessian, W = 1,042, N = 500", ">= 40x torch.func, >= 10x jax.jit",
         f"{cells.best['ours']:.3f} s, {fmt_r(rt)}x torch.func, {fmt_r(rj)}x jax",
         (rt is None or rt >= 40) and (rj is None or rj >= 10))


# -- 5. the allocator ------------------------------------------------------------------------
TUNED = {"MALLOC_MMAP_THRESHOLD_": str(64 * 2 ** 20), "MALLOC_TRIM_THRESHOLD_": str(256 * 2 ** 20),
         "MALLOC_TOP_PAD_": str(64 * 2 ** 20)}


def allocator_case():
    net, w, X, T = problem((20, 200, 5), "linear", 500)
    ws = net.workspace()
    obj = Objective(net, X, T)
    return {"plain": lambda: net.gradient(w, X, T),
            "workspace": lambda: net.gradient(w, X, T, workspace=ws),
            "objective": lambda: obj(w)}


def allocator_child(repeats):
    fns = allocator_case()
    names = list(fns)
    t = interleaved([fns[n] for n in names], repeats)
    print(json.dumps({n: {"s": float(t[:, i].min()), "faults": faults(fns[n])}
                      for i, n in enumerate(names)}))


def bench_allocator(repeats):
    print("\n== 5. 20-200-5 on 500 patterns, net.gradient (float64), each column a fresh process ==")

    def child(extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        env.update(extra)
        out = subprocess.run([sys.executable, __file__, "--allocator-child", "--repeats",
                              str(repeats)], env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    here, tuned = child({}), child(TUNED)
    print(f"{'':>30} {'default allocator':>24} {'large malloc thresholds':>26}")
    for n, label in (("plain", "net.gradient(w, X, T)"), ("workspace", "... workspace=ws"),
                     ("objective", "Objective(net, X, T)(w)")):
        print(f"  {label:28s} {here[n]['s'] * 1e3:8.3f} ms {here[n]['faults']:6.0f} faults"
              f"   {tuned[n]['s'] * 1e3:8.3f} ms {tuned[n]['faults']:6.0f} faults")
    ref = tuned["plain"]["s"]
    worst = max(here["workspace"]["s"], here["objective"]["s"]) / ref
    goal("20-200-5 on 500 patterns, default allocator",
         "within 10% of the tuned-allocator figure",
         f"workspace {here['workspace']['s'] * 1e3:.3f} ms, Objective "
         f"{here['objective']['s'] * 1e3:.3f} ms vs tuned {ref * 1e3:.3f} ms ({worst:.2f}x); "
         f"plain call {here['plain']['s'] * 1e3:.3f} ms", worst <= 1.10)


# -- 6. the outer-product diagonal -----------------------------------------------------------
def torch_diag_ggn(net, X, T):
    """DiagGGN in torch.func: per-pattern output Jacobians (vmap of jacrev), weighted by
    the output model's curvature C_n (I for sum-of-squares, diag(y) - y yᵀ for softmax)."""
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]
    Xt = torch.from_numpy(X)
    softmax = net.output.name == "softmax"

    def a_of(w, x):
        z, i = x, 0
        for l, (o, n) in enumerate(shapes):
            a = torch.nn.functional.linear(z, w[i:i + o * n].reshape(o, n), w[i + o * n:i + o * n + o])
            i += o * n + o
            z = torch.tanh(a) if l < len(shapes) - 1 else a
        return a

    per_pattern = vmap(jacrev(a_of), in_dims=(None, 0))

    def diag(w):
        J = per_pattern(w, Xt)                                  # (N, K, W)
        if not softmax:
            return (J * J).sum((0, 1))
        y = torch.softmax(vmap(a_of, in_dims=(None, 0))(w, Xt), dim=1)
        C = torch.diag_embed(y) - y[:, :, None] * y[:, None, :]
        return torch.einsum("nkw,nkl,nlw->w", J, C, J)

    return diag


def bench_diag(repeats):
    print("\n== 6. diagonal of the outer-product (Gauss–Newton) matrix, N = 500 (float64) ==")
    print(f"{'network':>20} {'W':>5} | {'prmlnet':>8} {'diag(W×W)':>9} {'torch.func':>10} ms | "
          f"{'W×W/ours':>8} {'tfunc/ours':>10} | max rel. diff")
    slowest = None
    for sizes, output in [((10, 50, 1), "linear"), ((64, 30, 10), "softmax")]:
        net, w, X, T = problem(sizes, output, 500)
        cells = Peers()
        cells.add("ours", lambda: hessian.outer_product_diagonal(net, w, X, T))
        cells.add("full", lambda: np.diag(hessian.outer_product(net, w, X, T)))
        if torch is not None:
            dg = torch_diag_ggn(net, X, T)
            wt = torch.from_numpy(w)
            cells.add("torch", lambda: dg(wt))
            ref = dg(wt).numpy()
        else:
            ref = np.diag(hessian.outer_product(net, w, X, T))
        cells.run(repeats)
        d = hessian.outer_product_diagonal(net, w, X, T)
        err = float(np.abs(d - ref).max() / np.abs(ref).max())
        rt = cells.r("torch", "ours")
        slowest = rt if slowest is None or (rt is not None and rt < slowest) else slowest
        name = "-".join(map(str, sizes)) + " " + output
        print(f"{name:>20} {net.n_weights:>5} | {cells.ms('ours')} {cells.ms('full'):>9} "
              f"{cells.ms('torch'):>10}    | {cells.r('full', 'ours'):8.1f} {fmt_r(rt):>10} | {err:.1e}")
    goal("diagonal of the outer product, 10-50-1 and 64-30-10",
         "faster than DiagGGN (torch.func here)", f"{fmt_r(slowest)}x the slower",
         slowest is None or slowest > 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and cases")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--jax-async", action="store_true",
                    help="JAX's default asynchronous CPU dispatch (slower for these calls, "
                         "and its spinning threads bill the other peers)")
    ap.add_argument("--allocator-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeats = args.repeats or (5 if args.quick else 15)
    if args.allocator_child:
        allocator_child(repeats)
        return
    print(f"prmlnet {prmlnet.__version__}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else DASH}, jax {jax.__version__ if jax else DASH}, "
          f"{os.cpu_count()} CPUs; one thread; {repeats} interleaved blocks per case; jax "
          f"{'asynchronous' if JAX_ASYNC else 'synchronous'} CPU dispatch")
    bench_tiny(repeats)
    bench_step(repeats)
    bench_hvp(repeats, args.quick)
    bench_exact(repeats)
    bench_allocator(repeats)
    bench_diag(repeats)
    print("\n== the goals ==")
    w0 = max(len(g[0]) for g in GOALS)
    for workload, text, measured, met in GOALS:
        print(f"  [{'met' if met else 'NOT met':>7}] {workload:{w0}s} | {text} | {measured}")


if __name__ == "__main__":
    main()
