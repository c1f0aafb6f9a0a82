"""Bad input gets a ValueError that says what is wrong, before any work is done."""

import numpy as np
import pytest

from prmlnet import Network, get_activation


@pytest.fixture
def net():
    return Network((3, 4, 2), output="softmax")


@pytest.fixture
def data(net, rng):
    X = rng.standard_normal((5, 3))
    T = np.eye(2)[[0, 1, 0, 1, 1]]
    return net.init_weights(rng), X, T


def test_wrong_number_of_columns(net, data):
    w, X, T = data
    with pytest.raises(ValueError, match="X has 4 columns; this network takes 3 inputs"):
        net.error(w, np.hstack([X, X[:, :1]]), T)
    with pytest.raises(ValueError, match="T has 3 columns; this network has 2 targets"):
        net.error(w, X, np.eye(3)[[0, 1, 2, 0, 1]])


def test_one_dimensional_arrays_are_refused_with_a_fix(net, data):
    w, X, T = data
    with pytest.raises(ValueError, match="must be 2-D"):
        net.predict(w, X[0])
    one = Network((1, 2, 1))
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        one.error(one.init_weights(0), np.zeros((3, 1)), np.zeros(3))


def test_mismatched_number_of_patterns(net, data):
    w, X, T = data
    with pytest.raises(ValueError, match="X has 5 patterns but T has 4"):
        net.gradient(w, X, T[:4])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(net, data, bad):
    w, X, T = data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=r"X holds NaN or infinite values \(rows \[3\]\)"):
        net.error(w, X, T)
    w2 = w.copy()
    w2[0] = bad
    with pytest.raises(ValueError, match="weight vector holds NaN"):
        net.predict(w2, X[:3])
    T2 = T.astype(float)
    T2[1, 0] = bad
    with pytest.raises(ValueError, match="T holds NaN"):
        Network((3, 2), output="linear").error(np.zeros(8), X[:3] * 0, T2[:3])


def test_logistic_targets_must_be_0_or_1(rng):
    net = Network((3, 1), output="logistic")
    with pytest.raises(ValueError, match=r"targets in \{0, 1\}; found \[0.5, 2.0\]"):
        net.error(net.init_weights(0), rng.standard_normal((4, 3)), np.array([[0], [0.5], [2], [1]]))


def test_softmax_rows_must_be_one_hot(net, data):
    w, X, _ = data
    T = np.array([[1, 0], [1, 1], [0, 0], [0, 1], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"rows \[1, 2, 4\] are not"):
        net.error(w, X, T)


def test_weight_vector_of_the_wrong_length(net, data):
    _, X, T = data
    with pytest.raises(ValueError, match=f"vector of length {net.n_weights}"):
        net.error(np.zeros(net.n_weights + 1), X, T)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="identity, logistic, relu, softplus, tanh"):
        Network((2, 3, 1), hidden="sigmoid")
    with pytest.raises(ValueError, match="linear, logistic, softmax"):
        Network((2, 3, 1), output="poisson")
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("gelu")


def test_empty_and_non_numeric_data(net, data):
    w, X, T = data
    with pytest.raises(ValueError, match="empty"):
        net.predict(w, X[:0])
    with pytest.raises(ValueError, match="numeric"):
        net.predict(w, np.array([["a", "b", "c"]]))


def test_bad_sizes():
    with pytest.raises(ValueError, match="at least an input and an output"):
        Network((3,))
    with pytest.raises(ValueError, match="2 hidden activations for 1 hidden layers"):
        Network((2, 3, 1), hidden=["tanh", "relu"])
