"""Mixture density networks: held-out likelihood and training time against PyTorch.

Run:  taskset -c 0 python benchmarks/bench_mdn.py [--quick]

1. Quality: the toy inverse problem of Figure 5.19, N = 1,000 training
   points, an MDN with 5 tanh hidden units and 3 components against a
   least-squares network with the same hidden layer and a Gaussian noise model
   (β by maximum likelihood, (5.62)), the unimodal baseline. Mean −ln p(t|x)
   per point on 5,000 held-out points, over several seeds. Both are trained with
   prmlnet's BFGS, 1,000 iterations, weight decay α = 0.01.
2. Time: the same 1-5-9 MDN trained by prmlnet and by a PyTorch MDN (float64,
   the same initial weights, the same summed negative log-likelihood) with the
   same optimizer budget: (a) full-batch Adam, 2,000 steps, η = 0.01, the same
   update in both (so the final errors must agree); (b) L-BFGS, 300 iterations
   (prmlnet "lbfgs" against torch.optim.LBFGS with a strong-Wolfe line search;
   the two implementations differ, so evaluations and errors are reported too).
   Peers run interleaved, one thread each; the minimum over repeats is quoted
   and the paired ratio per repeat.
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from prmlnet import Network, datasets  # noqa: E402
from prmlnet.mdn import MixtureDensity, init_weights  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.optim import minimize  # noqa: E402
from prmlnet.optim.online import adam  # noqa: E402

L, M = 3, 5


def toy(seed, n_train=1000, n_test=5000):
    rng = np.random.default_rng(seed)
    X, T = datasets.toy_inverse(n_train, rng)
    Xt, Tt = datasets.toy_inverse(n_test, rng)
    m, s = X.mean(), X.std()
    return (X - m) / s, T, (Xt - m) / s, Tt, rng


def quality(seeds, iters):
    rows = []
    for seed in seeds:
        X, T, Xt, Tt, rng = toy(seed)
        md = MixtureDensity(L, 1)
        net = Network((1, M, md.n_outputs), output=md)
        res = minimize(Objective(net, X, T, alpha=0.01), init_weights(net, T, rng),
                       method="bfgs", max_iter=iters)
        nll_mdn = net.error(res.x, Xt, Tt) / len(Tt)
        ls = Network((1, M, 1))
        r = minimize(Objective(ls, X, T, alpha=0.01), ls.init_weights(rng), method="bfgs",
                     max_iter=iters)
        resid = ls.predict(r.x, X) - T
        beta = len(T) / float(resid @ resid.T if resid.ndim == 1 else np.vdot(resid, resid))
        rt = ls.predict(r.x, Xt) - Tt
        nll_ls = 0.5 * np.log(2 * np.pi / beta) + 0.5 * beta * float(np.vdot(rt, rt)) / len(Tt)
        rows.append((seed, nll_mdn, nll_ls))
        print(f"  seed {seed}: MDN {nll_mdn:+.4f}   least squares + Gaussian {nll_ls:+.4f}")
    a = np.array(rows)
    print(f"  mean over {len(seeds)} seeds: MDN {a[:, 1].mean():+.4f} ± {a[:, 1].std():.4f}, "
          f"least squares {a[:, 2].mean():+.4f} ± {a[:, 2].std():.4f}  (nats per point, lower is better)")
    return a


# -- the PyTorch peer -------------------------------------------------------------------
def torch_mdn(torch, net, w):
    """A torch module with prmlnet's weights (W row-major, like nn.Linear.weight)."""
    (W1, b1), (W2, b2) = net.unpack(w)
    model = torch.nn.Sequential(torch.nn.Linear(1, M), torch.nn.Tanh(),
                                torch.nn.Linear(M, L * 3)).double()
    with torch.no_grad():
        for lin, (W, b) in zip((model[0], model[2]), ((W1, b1), (W2, b2))):
            lin.weight.copy_(torch.from_numpy(W.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
    return model


def torch_nll(torch, model, X, T, min_width):
    a = model(X)
    log_pi = torch.log_softmax(a[:, :L], dim=1)
    var = torch.exp(2 * a[:, L:2 * L]) + min_width ** 2
    d2 = (T - a[:, 2 * L:]) ** 2                                   # K = 1
    log_n = -0.5 * torch.log(2 * torch.pi * var) - 0.5 * d2 / var
    return -torch.logsumexp(log_pi + log_n, dim=1).sum()


def run_torch_adam(torch, model, X, T, steps, lr, mw):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch_nll(torch, model, X, T, mw)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(torch_nll(torch, model, X, T, mw))


def run_prml_adam(net, w, X, T, steps, lr):
    obj = Objective(net, X, T)
    method = adam(learning_rate=lr)
    state = method.init(w)
    for _ in range(steps):
        _, g = obj(w)
        w, state = method.update(w, g, state)
    return net.error(w, X, T)


def run_torch_lbfgs(torch, model, X, T, iters, mw):
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=iters, max_eval=iters * 5 // 4,
                            history_size=10, tolerance_grad=0, tolerance_change=0,
                            line_search_fn="strong_wolfe")
    nfev = [0]

    def closure():
        opt.zero_grad()
        loss = torch_nll(torch, model, X, T, mw)
        loss.backward()
        nfev[0] += 1
        return loss
    opt.step(closure)
    with torch.no_grad():
        return float(torch_nll(torch, model, X, T, mw)), nfev[0]


def timing(repeats, steps, iters):
    import torch
    torch.set_num_threads(1)
    X, T, _, _, rng = toy(0)
    md = MixtureDensity(L, 1)
    net = Network((1, M, md.n_outputs), output=md)
    w0 = init_weights(net, T, rng)
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    res = {"prml adam": [], "torch adam": [], "prml lbfgs": [], "torch lbfgs": []}
    info = {}
    for r in range(repeats):
        t = time.perf_counter()
        info["prml adam"] = run_prml_adam(net, w0.copy(), X, T, steps, 0.01)
        res["prml adam"].append(time.perf_counter() - t)
        model = torch_mdn(torch, net, w0)
        t = time.perf_counter()
        info["torch adam"] = run_torch_adam(torch, model, Xt, Tt, steps, 0.01, md.min_width)
        res["torch adam"].append(time.perf_counter() - t)
        t = time.perf_counter()
        out = minimize(Objective(net, X, T), w0, method="lbfgs", max_iter=iters, gtol=0, ftol=0)
        res["prml lbfgs"].append(time.perf_counter() - t)
        info["prml lbfgs"] = (out.fun, out.nfev, out.nit)
        model = torch_mdn(torch, net, w0)
        t = time.perf_counter()
        info["torch lbfgs"] = run_torch_lbfgs(torch, model, Xt, Tt, iters, md.min_width)
        res["torch lbfgs"].append(time.perf_counter() - t)
    print(f"  1-5-9 MDN, N = {len(X)}, float64, 1 thread, min over {repeats} interleaved repeats")
    a_p, a_t = np.array(res["prml adam"]), np.array(res["torch adam"])
    print(f"  Adam, {steps} full-batch steps: prmlnet {a_p.min():.3f} s "
          f"({1e6 * a_p.min() / steps:.0f} µs/step), PyTorch {a_t.min():.3f} s "
          f"({1e6 * a_t.min() / steps:.0f} µs/step); paired ratio torch/prmlnet "
          f"median {np.median(a_t / a_p):.2f} (range {np.min(a_t / a_p):.2f}–{np.max(a_t / a_p):.2f})")
    print(f"    final E: prmlnet {info['prml adam']:.6f}, PyTorch {info['torch adam']:.6f}")
    # same algorithm, same start: the two runs agree until rounding differences,
    # amplified by the optimisation, grow visible (about 1e-12 after 300 steps)
    w_p = w0.copy()
    obj, method = Objective(net, X, T), adam(learning_rate=0.01)
    state = method.init(w_p)
    model = torch_mdn(torch, net, w0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        _, g = obj(w_p)
        w_p, state = method.update(w_p, g, state)
        opt.zero_grad()
        torch_nll(torch, model, Xt, Tt, md.min_width).backward()
        opt.step()
    w_t = np.concatenate([q.detach().numpy().ravel() for q in model.parameters()])
    print(f"    agreement check: after 300 Adam steps max |w_prmlnet - w_torch| = "
          f"{np.max(np.abs(w_p - w_t)):.1e} (rounding differences grow with the steps)")
    l_p, l_t = np.array(res["prml lbfgs"]), np.array(res["torch lbfgs"])
    fp, nf, nit = info["prml lbfgs"]
    ft, nft = info["torch lbfgs"]
    print(f"  L-BFGS, {iters} iterations: prmlnet {l_p.min():.3f} s ({nit} it, {nf} evals, "
          f"E = {fp:.4f}), PyTorch {l_t.min():.3f} s ({nft} evals, E = {ft:.4f}); paired ratio "
          f"torch/prmlnet median {np.median(l_t / l_p):.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer seeds, steps and repeats")
    args = p.parse_args()
    q = args.quick
    print("Held-out mean negative log-likelihood per point, toy inverse problem (Figure 5.19):")
    quality(range(2) if q else range(5), 300 if q else 1000)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("Training time against PyTorch: skipped (PyTorch is not installed)")
        return
    print("Training time against PyTorch:")
    timing(2 if q else 5, 500 if q else 2000, 100 if q else 300)


if __name__ == "__main__":
    main()
