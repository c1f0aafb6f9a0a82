r"""The Hessian matrix of a network's error (PRML §5.4), exact and approximate.

=========================  ==================================================
``hvp``                    exact H·v by the R-operator (§5.4.6)
``exact``                  the full H, per-layer-pair matrix products (§5.4.5)
``exact_two_layer``        the explicit two-layer formulas (5.93)–(5.95)
``exact_diagonal``         the diagonal of H without forming H
``diagonal``               Becker–LeCun diagonal approximation (5.79)–(5.81)
``outer_product``          outer-product / Gauss–Newton approximation (5.84, 5.85)
``inverse_outer_product``  its inverse plus αI, one pattern at a time (§5.4.3)
``finite_difference``      central differences of the gradient (§5.4.4)
``linear_operator``        H (+ αI) as a scipy LinearOperator, never formed
``extreme_eigenvalues``    the ends of the spectrum by Lanczos (eigsh)
=========================  ==================================================

Every function is for the data error :math:`E_D`, a **sum over patterns**
(5.44). The prior's curvature (:math:`\mathbf{H} + \alpha\mathbf{I}`, per-group
α) is added by :class:`prmlnet.Objective`, which calls these per chunk of
patterns; :func:`linear_operator` and :func:`extreme_eigenvalues` accept an
Objective directly, and take an ``alpha`` themselves.

Every function takes networks of any layer types (convolution, subsampling,
pooling, §5.5.6): the dense layers by the block formulas, the others through
the layer primitives (:mod:`prmlnet.hessian.mixed`).

Functions that form a W×W matrix check first that it fits in memory and raise
:class:`HessianMemoryError` (a ``MemoryError``) with the bytes needed if not.
"""

from ._memory import HessianMemoryError
from .approx import diagonal, inverse_outer_product, outer_product
from .exact import exact, exact_diagonal, finite_difference, output_curvature
from .operators import Eigenvalues, extreme_eigenvalues, linear_operator
from .rop import hvp, hvp_many
from .two_layer import exact_two_layer

__all__ = [
    "hvp", "hvp_many", "exact", "exact_two_layer", "exact_diagonal", "diagonal",
    "outer_product", "inverse_outer_product", "finite_difference", "output_curvature",
    "linear_operator", "extreme_eigenvalues", "Eigenvalues", "HessianMemoryError",
]
