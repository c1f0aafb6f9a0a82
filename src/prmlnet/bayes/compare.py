r"""Model comparison by the evidence across numbers of hidden units (PRML §5.7.2).

The evidence :math:`p(D \mid \alpha, \beta)` of a network with M hidden units
penalises both a poor fit (the :math:`-\beta E_D` term) and needless complexity
(the Occam factor :math:`-\frac12\ln|\mathbf{A}| + \frac{W}{2}\ln\alpha`), so it
can be compared between networks of different sizes trained on the same data,
without a validation set.

The posterior of a network with M hidden units in one layer has
:math:`M!\,2^M` equivalent modes (§5.1.1; :func:`prmlnet.symmetry_count`). The
Laplace approximation describes one of them; if the modes are far apart the
evidence of the whole posterior is that of one mode times their number, and
``symmetry=True`` adds :math:`\ln(M!\,2^M)` (MacKay 1992; Bishop 1995 §10.6).
The assumption fails exactly where model comparison matters: a hidden unit the
data do not need has weights near zero, its sign-flipped and permuted copies
are the same mode, and the factor then rewards useless units (it grows
faster than the Occam factor penalises them). It is therefore off by default.
"""

from __future__ import annotations

from math import log
from typing import NamedTuple

import numpy as np

from ..network import Network
from .loop import EvidenceResult, evidence_loop
from .._rng import as_rng

__all__ = ["compare_hidden_units", "ModelComparison"]


class ModelComparison(NamedTuple):
    """Evidence of each network size and restart.

    ``log_evidence`` (each run's :attr:`~prmlnet.bayes.EvidenceResult.log_evidence_compared`),
    ``train_error`` (E_D) and ``gamma`` are (n_sizes, n_restarts); ``best`` holds, per
    size, the restart with the largest evidence.
    """

    hidden_units: np.ndarray
    log_evidence: np.ndarray
    train_error: np.ndarray
    gamma: np.ndarray
    best: list

    @property
    def best_size(self) -> int:
        """The number of hidden units whose best restart has the largest evidence."""
        return int(self.hidden_units[int(np.argmax(self.log_evidence.max(axis=1)))])


def _log_symmetry(net) -> float:
    from ..symmetry import symmetry_count

    return log(symmetry_count(net))          # exact for Python integers of any size


def compare_hidden_units(X, T, hidden_units, *, n_restarts=3, hidden="tanh", output="linear",
                         symmetry=False, rng=None, **loop_options):
    """Run the evidence loop for each number of hidden units and each restart.

    Parameters
    ----------
    X, T : ndarray (N, D), (N, K)
    hidden_units : sequence of int
        Sizes M of the single hidden layer to compare.
    n_restarts : int
        Random initialisations per size (the evidence of a local mode varies).
    hidden, output : str
        As for :class:`prmlnet.Network`.
    symmetry : bool, default False
        Add ln(M! 2^M) for the equivalent modes (see the module docstring for why
        this is off by default).
    rng : numpy Generator or seed
    **loop_options
        Passed to :func:`prmlnet.bayes.evidence_loop`.

    Returns
    -------
    ModelComparison
    """
    sizes = [int(m) for m in hidden_units]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"hidden_units must list sizes >= 1; got {hidden_units!r}")
    if int(n_restarts) < 1:
        raise ValueError(f"n_restarts must be >= 1; got {n_restarts}")
    rng = as_rng(rng)
    X = np.asarray(X, dtype=float)
    T = np.asarray(T, dtype=float)
    if T.ndim == 1:
        T = T[:, None]
    ev = np.full((len(sizes), n_restarts), -np.inf)
    err = np.full_like(ev, np.nan)
    gam = np.full_like(ev, np.nan)
    best = []
    for i, M in enumerate(sizes):
        K = T.shape[1]
        net = Network((X.shape[1], M, K), hidden=hidden, output=output)
        extra = _log_symmetry(net) if symmetry else 0.0
        top: EvidenceResult | None = None
        for r in range(n_restarts):
            res = evidence_loop(net, X, T, rng=rng, **loop_options)
            ev[i, r] = res.log_evidence_compared + extra
            err[i, r] = res.history["E_D"][res.iteration]
            gam[i, r] = res.gamma_total
            if top is None or ev[i, r] > ev[i, :r].max(initial=-np.inf):
                top = res
        best.append(top)
    return ModelComparison(np.asarray(sizes), ev, err, gam, best)

