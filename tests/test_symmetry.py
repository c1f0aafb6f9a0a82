"""Weight-space symmetries (§5.1.1): rearranged hidden units compute the same function."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prmlnet import Network, equivalent_weights, symmetry_count


@pytest.mark.parametrize("hidden", ["tanh", "identity", "logistic"])
def test_permutation_and_sign_flips_leave_outputs_unchanged(hidden, rng):
    net = Network((3, 5, 4, 2), hidden=hidden, output="softmax")
    w = net.init_weights(rng)
    X = rng.standard_normal((20, 3))
    for layer, M in [(0, 5), (1, 4)]:
        v = equivalent_weights(net, w, layer, perm=rng.permutation(M),
                               signs=rng.choice([-1.0, 1.0], size=M))
        assert not np.allclose(v, w)
        np.testing.assert_allclose(net.predict(v, X), net.predict(w, X), rtol=1e-13, atol=1e-15)


def test_permutation_alone_is_a_symmetry_of_relu(rng):
    net = Network((2, 6, 1), hidden="relu")
    w = net.init_weights(rng)
    X = rng.standard_normal((10, 2))
    v = equivalent_weights(net, w, 0, perm=[5, 4, 3, 2, 1, 0])
    np.testing.assert_allclose(net.predict(v, X), net.predict(w, X), rtol=1e-13)
    with pytest.raises(ValueError, match="not a symmetry"):
        equivalent_weights(net, w, 0, signs=[-1, 1, 1, 1, 1, 1])


def test_symmetry_count_is_m_factorial_times_2_to_the_m():
    assert symmetry_count(Network((1, 3, 1))) == 6 * 8            # M!·2^M, M = 3
    assert symmetry_count(Network((1, 4, 2, 1))) == (24 * 16) * (2 * 4)
    assert symmetry_count(Network((1, 3, 1), hidden="relu")) == 6


def test_all_m_factorial_2_to_the_m_settings_are_distinct_and_equivalent(rng):
    import itertools

    net = Network((2, 3, 1))
    w = net.init_weights(rng)
    X = rng.standard_normal((5, 2))
    seen = set()
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product([-1, 1], repeat=3):
            v = equivalent_weights(net, w, 0, perm=perm, signs=signs)
            np.testing.assert_allclose(net.predict(v, X), net.predict(w, X), rtol=1e-13)
            seen.add(tuple(np.round(v, 12)))
    assert len(seen) == symmetry_count(net) == 48


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), M=st.integers(1, 6))
def test_random_symmetries_property(seed, M):
    rng = np.random.default_rng(seed)
    net = Network((2, M, 2), hidden="tanh")
    w = net.init_weights(rng)
    X = rng.standard_normal((4, 2))
    v = equivalent_weights(net, w, 0, perm=rng.permutation(M), signs=rng.choice([-1, 1], M))
    np.testing.assert_allclose(net.predict(v, X), net.predict(w, X), rtol=1e-12, atol=1e-14)


def test_bad_arguments(rng):
    net = Network((2, 3, 1))
    w = net.init_weights(rng)
    with pytest.raises(ValueError, match="permutation"):
        equivalent_weights(net, w, 0, perm=[0, 0, 1])
    with pytest.raises(ValueError, match="hidden layer"):
        equivalent_weights(net, w, 1)
