r"""The book's synthetic data sets, each drawn with an explicit random generator.

Every function takes ``rng`` (a numpy Generator, an int seed or None) and
returns ``(X, T)`` with ``X`` of shape (N, D) and ``T`` of shape (N, K), ready
for :class:`prmlnet.Network`, unless its docstring says otherwise.
"""

from __future__ import annotations

import numpy as np

from ._rng import as_rng

__all__ = ["as_rng"]


# -- §5.1–5.3: regression and classification data for training -------------------
__all__ += ["sinusoidal", "figure_5_3", "FIGURE_5_3_FUNCTIONS", "two_class", "two_class_posterior"]


def sinusoidal(n, rng=None, noise=0.3, equally_spaced=False):
    r"""The sinusoidal data set of PRML Chapter 1 and Appendix A.

    Parameters
    ----------
    n : int
        Number of points.
    rng : numpy Generator, int seed or None
    noise : float, default 0.3
        Standard deviation of the Gaussian noise.
    equally_spaced : bool, default False
        True: x on an equally spaced grid over [0, 1] (as in Figure 1.2);
        False: x drawn uniformly from (0, 1) (as Appendix A describes).

    Returns
    -------
    X : ndarray of shape (n, 1)
    T : ndarray of shape (n, 1)

    Notes
    -----
    .. math:: t = \sin(2\pi x) + \epsilon, \qquad \epsilon \sim \mathcal{N}(0, \sigma^2)
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}")
    rng = as_rng(rng)
    x = np.linspace(0.0, 1.0, n) if equally_spaced else rng.uniform(0.0, 1.0, n)
    t = np.sin(2.0 * np.pi * x) + noise * rng.standard_normal(n)
    return x[:, None], t[:, None]


#: The four functions of PRML Figure 5.3, on (−1, 1).
FIGURE_5_3_FUNCTIONS = {
    "square": lambda x: x ** 2,
    "sin": np.sin,
    "abs": np.abs,
    "step": lambda x: np.heaviside(x, 0.5),
}


def figure_5_3(kind, n=50, rng=None):
    r"""Noise-free samples of one of the functions of Figure 5.3 (§5.1).

    Parameters
    ----------
    kind : {"square", "sin", "abs", "step"}
        f(x) = x², sin(x), |x| or the Heaviside step H(x).
    n : int, default 50
    rng : numpy Generator, int seed or None
        None: x equally spaced over [−1, 1]; otherwise x drawn uniformly from (−1, 1).

    Returns
    -------
    X : ndarray of shape (n, 1)
    T : ndarray of shape (n, 1)
    """
    if kind not in FIGURE_5_3_FUNCTIONS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {list(FIGURE_5_3_FUNCTIONS)}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}")
    x = np.linspace(-1.0, 1.0, n) if rng is None else np.sort(as_rng(rng).uniform(-1.0, 1.0, n))
    return x[:, None], FIGURE_5_3_FUNCTIONS[kind](x)[:, None]


# Class-conditional densities of two_class: (class, weight, mean, standard deviation).
_TWO_CLASS = (
    (0, 0.5, (-1.0, -0.6), 0.55),
    (0, 0.5, (1.1, 1.0), 0.45),
    (1, 1.0, (0.1, 0.2), 0.6),
)


def _two_class_densities(X):
    X = np.asarray(X, dtype=float)
    p = np.zeros((X.shape[0], 2))
    for k, weight, mean, sd in _TWO_CLASS:
        r2 = np.sum((X - np.asarray(mean)) ** 2, axis=1) / sd ** 2
        p[:, k] += weight * np.exp(-0.5 * r2) / (2.0 * np.pi * sd ** 2)
    return p


def two_class(n, rng=None):
    r"""A two-class problem in two dimensions with a known Bayes-optimal boundary
    (for Figure 5.4-style plots).

    Each class is equally likely. Class C1 is an isotropic Gaussian in the middle,
    class C2 a mixture of two isotropic Gaussians on either side of it (see
    ``_TWO_CLASS``), so the classes overlap and the optimal decision boundary is
    two curves around a band — which two hidden units can approximate.

    Returns
    -------
    X : ndarray of shape (n, 2)
    T : ndarray of shape (n, 1)
        1.0 for class C1, 0.0 for class C2 — targets for a ``logistic`` output.

    See Also
    --------
    two_class_posterior : the exact p(C1 | x); the Bayes boundary is its 0.5 contour.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}")
    rng = as_rng(rng)
    cls = rng.integers(0, 2, n)
    X = np.empty((n, 2))
    for k in (0, 1):
        comps = [c for c in _TWO_CLASS if c[0] == k]
        idx = np.flatnonzero(cls == k)
        pick = rng.choice(len(comps), size=idx.size, p=[c[1] for c in comps])
        means = np.array([comps[j][2] for j in pick]).reshape(-1, 2)
        sds = np.array([comps[j][3] for j in pick])
        X[idx] = means + sds[:, None] * rng.standard_normal((idx.size, 2))
    return X, cls[:, None].astype(float)


def two_class_posterior(X):
    r"""The exact posterior p(C1 | x) of :func:`two_class` (equal class priors).

    .. math:: p(\mathcal{C}_1|\mathbf{x}) = \frac{p(\mathbf{x}|\mathcal{C}_1)}
              {p(\mathbf{x}|\mathcal{C}_1) + p(\mathbf{x}|\mathcal{C}_2)}

    Parameters
    ----------
    X : array of shape (N, 2)

    Returns
    -------
    ndarray of shape (N,)
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2); got {X.shape}")
    p = _two_class_densities(X)
    total = p.sum(axis=1)
    return np.divide(p[:, 1], total, out=np.full(X.shape[0], 0.5), where=total > 0)


# -- §5.6: multi-valued inverse problems (mixture density networks) ------------
__all__ += ["toy_inverse", "robot_arm", "robot_arm_forward"]


def toy_inverse(n, rng=None, noise=0.1, inverse=True):
    r"""The book's toy inverse problem of Figure 5.19 (§5.6).

    Parameters
    ----------
    n : int
        Number of points.
    rng : numpy Generator, int seed or None
    noise : float, default 0.1
        Half-width of the uniform noise.
    inverse : bool, default True
        True: the inverse problem (input x, target t below, roles swapped), which
        is multi-valued for x in roughly (0.35, 0.65). False: the forward problem.

    Returns
    -------
    X : ndarray of shape (n, 1)
    T : ndarray of shape (n, 1)

    Notes
    -----
    The forward problem draws :math:`u \sim \mathcal{U}(0, 1)` and

    .. math:: v = u + 0.3 \sin(2\pi u) + \epsilon, \qquad \epsilon \sim \mathcal{U}(-0.1, 0.1);

    the forward data set is (input u, target v) and the inverse one swaps the
    roles: (input v, target u).
    """
    n = _n_points_mdn(n)
    rng = as_rng(rng)
    u = rng.uniform(0.0, 1.0, n)
    v = u + 0.3 * np.sin(2.0 * np.pi * u) + rng.uniform(-noise, noise, n)
    return (v[:, None], u[:, None]) if inverse else (u[:, None], v[:, None])


def robot_arm_forward(theta, lengths=(0.8, 0.2)):
    r"""End-effector position (x1, x2) of the two-link arm for joint angles θ.

    Parameters
    ----------
    theta : ndarray of shape (N, 2)
        (θ1, θ2): the angle of the first link from the x1 axis, and the elbow
        angle between the two links.
    lengths : (float, float)
        Link lengths (L1, L2).

    Returns
    -------
    ndarray of shape (N, 2)

    Notes
    -----
    .. math:: x_1 = L_1\cos\theta_1 - L_2\cos(\theta_1 + \theta_2), \qquad
              x_2 = L_1\sin\theta_1 - L_2\sin(\theta_1 + \theta_2)

    (Bishop 1994, "Mixture density networks", as recalled; Figure 5.18.)
    """
    theta = np.asarray(theta, dtype=float)
    if theta.ndim != 2 or theta.shape[1] != 2:
        raise ValueError(f"theta must have shape (N, 2) holding (θ1, θ2); got {theta.shape}")
    L1, L2 = lengths
    t1, t12 = theta[:, 0], theta[:, 0] + theta[:, 1]
    return np.column_stack([L1 * np.cos(t1) - L2 * np.cos(t12), L1 * np.sin(t1) - L2 * np.sin(t12)])


def robot_arm(n, rng=None, lengths=(0.8, 0.2), theta1=(0.3, 1.2),
              theta2=(np.pi / 2, 3 * np.pi / 2), noise=0.0):
    r"""Inverse kinematics of a two-link robot arm (Figure 5.18).

    Joint angles are drawn uniformly, θ1 ~ U(theta1), θ2 ~ U(theta2); the
    inputs are the end-effector positions of :func:`robot_arm_forward` (plus
    optional Gaussian noise of standard deviation ``noise``), the targets the
    angles. The inverse problem is two-valued: a position reached with elbow
    angle θ2 is also reached "elbow the other way" with θ2' = 2π − θ2 and a
    different θ1, whenever both lie in the sampled ranges.

    Returns
    -------
    X : ndarray of shape (n, 2)   end-effector positions (x1, x2)
    T : ndarray of shape (n, 2)   joint angles (θ1, θ2)
    """
    n = _n_points_mdn(n)
    rng = as_rng(rng)
    theta = np.column_stack([rng.uniform(*theta1, n), rng.uniform(*theta2, n)])
    X = robot_arm_forward(theta, lengths)
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X, theta


def robot_arm_other_elbow(theta, lengths=(0.8, 0.2)):
    r"""The second joint-angle solution reaching the same position as ``theta``.

    The elbow reflects, :math:`\theta_2' = 2\pi - \theta_2`, and the shoulder
    turns by twice the angle between the first link and the line to the end
    effector: :math:`\theta_1' = 2\phi - \theta_1` with φ the polar angle of
    the end-effector position.
    """
    theta = np.asarray(theta, dtype=float)
    x = robot_arm_forward(theta, lengths)
    phi = np.arctan2(x[:, 1], x[:, 0])
    return np.column_stack([2.0 * phi - theta[:, 0], 2.0 * np.pi - theta[:, 1]])


__all__ += ["robot_arm_other_elbow"]


def _n_points_mdn(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (the number of points); got {n!r}")
    return int(n)


# -- §5.5.3–5.5.6: images for invariances and convolutional networks -----------------
__all__ += ["digits"]


def digits():
    """scikit-learn's bundled handwritten digits: 1,797 images of 8×8 pixels.

    Returns
    -------
    X : ndarray of shape (1797, 64)
        Each image as one flat row in (C, H, W) = (1, 8, 8) order, row-major,
        grey levels scaled from 0..16 to [0, 1].
    y : ndarray of shape (1797,)
        The digit shown, 0..9.

    Nothing is downloaded: the images ship with scikit-learn (imported here only).
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float64) / 16.0, d.target.astype(np.intp)
