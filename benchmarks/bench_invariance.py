"""Invariances on the digits: the cost of tangent propagation, and what invariances buy.

1. **Cost of an epoch** with tangent propagation relative to plain training, on
   scikit-learn's 1,797 8×8 digits (64-M-10 softmax networks, M = 20 and 100):
   one full-data gradient of the objective (an iteration of a batch method) and
   one online epoch (``train_online``, mini-batches of 32), for S = 1, 2 and 5
   tangent vectors per pattern (precomputed), and the Tikhonov term (64 inputs,
   10 outputs: computed in reverse mode). The contenders are interleaved within
   every repeat and timed in CPU time of this process (one thread: what a free
   core would take; wall-clock on the shared machine swings with its load); the
   figure is the median of the paired ratios, with the ratio of the fastest
   runs beside it. Goal: ≤ 3× for one tangent, ≤ 1 + S in general.
2. **The digits table**: test error on the 1,597 digits left out after training
   on 200, for plain training, tangent propagation, transformed data and both,
   over ``--seeds`` random splits (the tour's settings, more splits); mean,
   standard deviation and the mean paired difference from plain training.

3. ``--cnn``: both for convolutional networks instead — the cost of an epoch of the
   tour's CNN (conv:6x3x3-sub-dense:20) and of one with max pooling
   (conv:6x3x3:relu-max-dense:20), and the tour's §5.5.6 table (CNN beside a 64-18-10
   MLP of as many weights, each plain, with tangent propagation and with transformed
   data; ``sec_11_convolutional.train_pair``) over ``--seeds`` splits of
   ``--n-train`` digits (200 and 150 iterations: the tour's settings).

Usage (1 thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_invariance.py [--seeds 10]
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_invariance.py --cnn \
        --seeds 10 [--n-train 300 --max-iter 200]

Measured 2026-12-01 on the shared development machine (load average 6-7 from other
work; CPU-time ratios), ``--seeds 10 --repeats 31``. Cost relative to plain training,
median of paired ratios:

============== ===== ===== ===== ========
64-M-10, kind  S = 1 S = 2 S = 5 Tikhonov
============== ===== ===== ===== ========
M=20 gradient  2.15  2.97  5.29  15.8
M=20 online    2.00  2.55  3.70   8.2
M=100 gradient 2.16  2.86  4.87  13.5
M=100 online   2.17  2.80  4.67  11.1
============== ===== ===== ===== ========

(plain: 1.4 ms and 3.9 ms per full gradient, 8.3 ms and 14.9 ms per online epoch).
Test error on the 1,597 digits left out, 200 training images, 10 splits:

==================== ====== ===== ======================
training             mean   std   minus plain (± s.e.)
==================== ====== ===== ======================
plain                0.0699 0.0107
tangent propagation  0.0636 0.0117 −0.0063 (0.0013)
transformed data     0.0662 0.0113 −0.0037 (0.0024)
both                 0.0639 0.0115 −0.0060 (0.0026)
==================== ====== ===== ======================

(tangent propagation: translations and rotation, λ = 3; transformed data: the
originals and 2 elastic warps of each, 0.5 pixels rms, σ = 1.5 pixels.)

``--cnn --seeds 10 --repeats 15``, measured 2026-12-01 on the same shared machine (load
average 1-3). Cost relative to plain training, median of paired CPU-time ratios:

========================== ===== ===== ===== ========
network, kind              S = 1 S = 2 S = 5 Tikhonov
========================== ===== ===== ===== ========
conv-sub-dense gradient    2.49  3.18  8.17  14.8
conv-sub-dense online      2.61  3.24  6.10  15.1
conv-max-dense gradient    2.28  2.60  5.09  10.9
conv-max-dense online      2.41  2.73  4.07   9.3
========================== ===== ===== ===== ========

(plain: 7.6 ms and 14.4 ms per full gradient, 26 ms and 47 ms per online epoch). The
goal of at most 1 + S is met except for S = 5 on the subsampling network (8.2× per
gradient); a profile of it puts the column matrices of the S tangent streams, the 2×2
spreading of the subsampling layer's deltas (``np.repeat``) and the element-wise products
with h′ and h″ at the top, work that weighs more against this network's small matrix
products than in a dense one. Test error on the digits left out, 10 splits, the tour's settings (200 training
images, 150 iterations) and a fuller run (300 images, 200 iterations):

===== ==================== ============== ================== ============== ==================
model training             200: mean, std minus plain (s.e.) 300: mean, std minus plain (s.e.)
===== ==================== ============== ================== ============== ==================
CNN   plain                0.0654 0.0101                     0.0472 0.0084
CNN   tangent propagation  0.0612 0.0071  −0.0042 (0.0019)   0.0454 0.0104  −0.0018 (0.0023)
CNN   transformed data     0.0644 0.0115  −0.0009 (0.0031)   0.0478 0.0075  +0.0007 (0.0028)
MLP   plain                0.0688 0.0094                     0.0538 0.0077
MLP   tangent propagation  0.0647 0.0102  −0.0041 (0.0015)   0.0494 0.0086  −0.0043 (0.0011)
MLP   transformed data     0.0710 0.0105  +0.0022 (0.0020)   0.0506 0.0077  −0.0031 (0.0018)
===== ==================== ============== ================== ============== ==================

(median fit, wall-clock, 200 images: CNN 0.38 s plain, 1.58 s with tangent propagation,
1.14 s with transformed data; MLP 0.04, 0.32 and 0.17 s.)
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from prmlnet import MLPClassifier, Network  # noqa: E402
from prmlnet.convolution import network_from_spec  # noqa: E402
from prmlnet.datasets import digits  # noqa: E402
from prmlnet.invariance import TangentPropagation, Tikhonov, image_tangents  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.optim import online, train_online  # noqa: E402


def epoch_costs(X, Y, tau, net, repeats):
    w = net.init_weights(0)
    objectives = {"plain": Objective(net, X, Y, alpha=0.1)}
    for S in (1, 2, 5):
        objectives[f"S={S}"] = Objective(net, X, Y, alpha=0.1,
                                         terms=[TangentPropagation(net, tau[:, :S], 1.0)])
    objectives["Tikhonov"] = Objective(net, X, Y, alpha=0.1, terms=[Tikhonov(net, 1.0)])
    sgd = online.sgd(1e-3)
    rows = {}
    for kind in ("gradient", "online epoch"):
        times = {k: [] for k in objectives}
        for _ in range(repeats):
            for name, obj in objectives.items():          # interleaved
                t0 = time.process_time()
                if kind == "gradient":
                    obj(w)
                else:
                    train_online(obj.minibatch, w, X, Y, sgd, batch_size=32, n_epochs=1,
                                 rng=0)
                times[name].append(time.process_time() - t0)
        base = np.array(times["plain"])
        rows[kind] = {name: (float(np.median(np.array(t) / base)), min(t) / base.min())
                      for name, t in times.items() if name != "plain"}
        rows[kind]["plain ms"] = (1e3 * float(np.median(base)), 1e3 * base.min())
    return rows


def digits_table(X, y, seeds, max_iter):
    settings = dict(hidden_layer_sizes=(20,), alpha=0.1, max_iter=max_iter, image_shape=(8, 8))
    tp = dict(invariances=("translate", "rotate"), tangent_prop=3.0)
    aug = dict(augment="elastic", n_augment=2)
    configs = {"plain": {}, "tangent propagation": tp, "transformed data": aug,
               "both": {**tp, **aug}}
    errors = {k: [] for k in configs}
    seconds = {k: [] for k in configs}
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(X))
        train, test = order[:200], order[200:]
        for name, extra in configs.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = MLPClassifier(random_state=seed, **settings, **extra).fit(X[train],
                                                                               y[train])
            seconds[name].append(time.perf_counter() - t0)
            errors[name].append(float(np.mean(clf.predict(X[test]) != y[test])))
    plain = np.array(errors["plain"])
    print(f"\ntest error on 1597 digits after training on 200 ({seeds} splits, "
          f"64-20-10 softmax, alpha = 0.1, {max_iter} scg iterations)")
    print(f"{'training':<22}{'mean':>8}{'std':>8}{'minus plain':>13}{'s.e.':>7}{'fit s':>8}")
    for name, e in errors.items():
        e = np.array(e)
        d = e - plain
        sem = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        print(f"{name:<22}{e.mean():8.4f}{e.std():8.4f}{d.mean():+13.4f}{sem:7.4f}"
              f"{np.median(seconds[name]):8.2f}")


def cnn_table(X, y, seeds, n_train, max_iter, n_augment):
    """The tour's §5.5.6 table (sec_11_convolutional.train_pair) over more splits."""
    from prmlnet.tour.sec_11_convolutional import MLP_UNITS, SPEC, TRAININGS, train_pair
    errors = {(m, t): [] for m in ("CNN", "MLP") for t in TRAININGS}
    seconds = {k: [] for k in errors}
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(X))
        train, test = order[:n_train], order[n_train:]
        for t in TRAININGS:
            cnn, mlp = train_pair(X[train], y[train], seed, max_iter, t, n_augment)
            for m, clf in (("CNN", cnn), ("MLP", mlp)):
                errors[m, t].append(float(np.mean(clf.predict(X[test]) != y[test])))
                seconds[m, t].append(clf.training_["seconds"])      # wall-clock of fit
    print(f"\ntest error on {len(X) - n_train} digits after training on {n_train} ({seeds} "
          f"splits, alpha = 0.1, {max_iter} scg iterations): CNN {SPEC} (W = "
          f"{cnn.net_.n_weights}) and MLP 64-{MLP_UNITS}-10 (W = {mlp.net_.n_weights})")
    print(f"{'model':<6}{'training':<22}{'mean':>8}{'std':>8}{'minus plain':>13}{'s.e.':>7}"
          f"{'fit s':>8} (median wall-clock)")
    for (m, t), e in errors.items():
        e = np.array(e)
        d = e - np.array(errors[m, "plain"])
        sem = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        print(f"{m:<6}{t:<22}{e.mean():8.4f}{e.std():8.4f}{d.mean():+13.4f}{sem:7.4f}"
              f"{np.median(seconds[m, t]):8.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--no-table", action="store_true", help="only the cost of an epoch")
    parser.add_argument("--max-iter", type=int, default=150)
    parser.add_argument("--cnn", action="store_true",
                        help="the convolutional networks instead: their cost of an epoch and "
                             "the tour's CNN-beside-MLP table (section 5.5.6)")
    parser.add_argument("--n-train", type=int, default=200, help="training digits (--cnn)")
    parser.add_argument("--n-augment", type=int, default=2, help="warped copies (--cnn)")
    args = parser.parse_args()
    X, y = digits()
    Y = np.eye(10)[y]
    tau = image_tangents(X, (8, 8), ["translate_x", "translate_y", "rotate", "scale",
                                     "thicken"])
    nets = ({f"CNN {spec}": network_from_spec(spec, (1, 8, 8), 10, output="softmax")
             for spec in ("conv:6x3x3-sub-dense:20", "conv:6x3x3:relu-max-dense:20")}
            if args.cnn else
            {f"64-{M}-10": Network((64, M, 10), output="softmax") for M in (20, 100)})
    for name, net in nets.items():
        rows = epoch_costs(X, Y, tau, net, args.repeats)
        print(f"\ncost relative to plain training, {name} network, N = {len(X)}: "
              f"median of {args.repeats} paired ratios (ratio of the fastest runs)")
        for kind, r in rows.items():
            print(f"  {kind:<13}" + "  ".join(f"{k} {a:5.2f} ({b:5.2f})" for k, (a, b)
                                              in r.items()))
    if args.no_table:
        return
    if args.cnn:
        cnn_table(X, y, args.seeds, args.n_train, args.max_iter, args.n_augment)
    else:
        digits_table(X, y, args.seeds, args.max_iter)


if __name__ == "__main__":
    main()
