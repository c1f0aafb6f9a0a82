"""h' and h'' of every activation against central differences of h and h'."""

import numpy as np
import pytest

from prmlnet import ACTIVATIONS


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_first_and_second_derivatives_match_central_differences(name):
    act = ACTIVATIONS[name]
    a = np.linspace(-4, 4, 41) + 0.013        # keeps relu's kink off the grid
    z = act.h(a)
    eps = 1e-5
    numeric1 = (act.h(a + eps) - act.h(a - eps)) / (2 * eps)
    dh = act.dh(a, z)
    np.testing.assert_allclose(dh, numeric1, rtol=1e-8, atol=1e-10)
    numeric2 = (act.dh(a + eps, act.h(a + eps)) - act.dh(a - eps, act.h(a - eps))) / (2 * eps)
    np.testing.assert_allclose(act.d2h(a, z), numeric2, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(act.d2h(a, z, dh), act.d2h(a, z), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_odd_flag_is_true_exactly_for_odd_functions(name):
    act = ACTIVATIONS[name]
    a = np.linspace(0.1, 3, 7)
    assert act.odd == bool(np.allclose(act.h(-a), -act.h(a)))


def test_softplus_and_logistic_do_not_overflow():
    a = np.array([-800.0, 0.0, 800.0])
    assert np.all(np.isfinite(ACTIVATIONS["softplus"].h(a)))
    assert ACTIVATIONS["softplus"].h(a)[2] == 800.0
    assert np.all(np.isfinite(ACTIVATIONS["logistic"].h(a)))
