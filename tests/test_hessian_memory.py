"""The memory guard of the W×W computations covers their measured peak (tracemalloc).

NumPy reports its allocations to tracemalloc, so the traced peak of a call is
the memory its arrays took at their most. A network with one wide input layer
is the worst case of the block assembly: its peak is about 3.5 W×W matrices,
which the former guard of two copies under-budgeted.
"""

import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import prmlnet
from conftest import make_targets
from prmlnet import hessian
from prmlnet.bayes import laplace
from prmlnet.hessian._memory import PEAK_COPIES, WORKSPACE_BYTES


def traced_peak(fn):
    with threadpool_limits(1):           # one BLAS thread: fast on a shared machine
        tracemalloc.start()
        try:
            out = fn()
            return tracemalloc.get_traced_memory()[1], out
        finally:
            tracemalloc.stop()


def problem(sizes, output, N=40, seed=0):
    rng = np.random.default_rng(seed)
    net = prmlnet.Network(sizes, output=output)
    return net, net.init_weights(rng), rng.standard_normal((N, sizes[0])), \
        make_targets(output, N, sizes[-1], rng)


@pytest.mark.parametrize("sizes, output", [((120, 12, 1), "linear"), ((50, 24, 2), "softmax"),
                                           ((4, 25, 25, 3), "logistic")])
@pytest.mark.parametrize("name", ["exact", "outer_product"])
def test_the_block_assembly_peaks_within_its_guard(sizes, output, name):
    net, w, X, T = problem(sizes, output)
    one = 8 * net.n_weights ** 2
    peak, H = traced_peak(lambda: getattr(hessian, name)(net, w, X, T))
    assert H.shape == (net.n_weights,) * 2
    assert peak <= PEAK_COPIES[name] * one            # the W×W part alone covers it
    if sizes == (120, 12, 1):
        assert peak > 3.0 * one                        # why two copies were not enough


def test_the_r_operator_assembly_peaks_within_its_guard():
    net, w, X, T = problem((4, 25, 25, 3), "linear")
    peak, _ = traced_peak(lambda: hessian.exact(net, w, X, T, method="rop"))
    assert peak <= PEAK_COPIES["exact"] * 8 * net.n_weights ** 2 + WORKSPACE_BYTES


def test_the_laplace_posterior_peaks_within_its_guard():
    net, w, X, T = problem((30, 12, 2), "softmax")
    one = 8 * net.n_weights ** 2
    peak, post = traced_peak(lambda: laplace(net, w, X, T, 1.0))
    assert post.chol.shape == (net.n_weights,) * 2
    assert 3.5 * one < peak <= PEAK_COPIES["laplace"] * one


def test_the_guard_refuses_exactly_what_it_budgets():
    net, w, X, T = problem((6, 5, 1), "linear")
    need = int(PEAK_COPIES["exact"] * 8 * net.n_weights ** 2) + WORKSPACE_BYTES
    with pytest.raises(hessian.HessianMemoryError, match=f"W = {net.n_weights}"):
        hessian.exact(net, w, X, T, max_bytes=need - 1)
    assert hessian.exact(net, w, X, T, max_bytes=need).shape == (net.n_weights,) * 2


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_a_chunk_size_that_is_not_a_positive_integer_is_refused(bad):
    net, w, X, T = problem((3, 4, 1), "linear")
    for fn in (hessian.exact, hessian.outer_product):
        with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
            fn(net, w, X, T, chunk_size=bad)
