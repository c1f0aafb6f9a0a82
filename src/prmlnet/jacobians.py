r"""The Jacobians of a network (PRML §5.3.4): derivatives of the outputs with respect to
the inputs, and per pattern with respect to the weights, by backpropagation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Jacobians"]


class Jacobians:
    """The Jacobian methods of :class:`~prmlnet.Network` (a mix-in; it holds no state)."""

    __slots__ = ()

    def _backprop_rows(self, w, cache, rows, stop=0, each=None):
        """Backpropagate K rows of output-side derivatives per pattern.

        ``rows`` is (N, K, n_out_L): for each pattern, K vectors ∂(·)/∂a_L. The
        rows travel down as (5.74) does; with ``each`` (N, K, W) the per-pattern
        weight derivatives are written into it. Returns the rows at the input of
        layer ``stop`` (∂(·)/∂x for stop = 0).
        """
        delta = rows
        for l in range(len(self.layers) - 1, stop - 1, -1):
            layer, s = self.layers[l], self._slices[l]
            if each is not None:
                layer.weight_grad_each(cache.inputs[l], delta, each[:, :, s])
            dz = layer.input_grad_at(w[s], cache.inputs[l], delta)
            if l > stop and l > 0:
                below = self.layers[l - 1]
                h1 = below.activation.dh(cache.a[l - 1], cache.inputs[l])
                delta = dz * h1[:, None, :]                       # (5.74)
            else:
                delta = dz
        return delta

    def jacobian(self, w, X):
        r"""The input Jacobian :math:`J_{nki} = \partial y_{nk} / \partial x_{ni}`.

        Returns
        -------
        ndarray of shape (N, K, D)

        Notes
        -----
        Computed by backpropagation (§5.3.4):

        .. math:: J_{ki} = \sum_j w_{ji} \frac{\partial y_k}{\partial a_j}, \qquad
                  \frac{\partial y_k}{\partial a_j} = h'(a_j) \sum_l w_{lj}
                  \frac{\partial y_k}{\partial a_l} \quad (5.73, 5.74)
        """
        w, X, _ = self.check_data(w, X)
        c = self._forward(w, X)
        rows = self.output.output_jacobian(c.a[-1], c.y)          # ∂y_k/∂a_l at the outputs
        return self._backprop_rows(w, c, rows)

    def output_gradients(self, w, X, wrt="y"):
        r"""Per-pattern derivatives of the outputs with respect to the weights.

        Parameters
        ----------
        wrt : {"y", "a"}
            ``"y"``: :math:`\partial y_{nk}/\partial \mathbf{w}`;
            ``"a"``: :math:`\mathbf{b}_{nk} = \partial a_{nk}/\partial \mathbf{w}`
            of the output pre-activations, the vectors of the outer-product
            approximation (5.84, 5.85).

        Returns
        -------
        ndarray of shape (N, K, W)
        """
        if wrt not in ("y", "a"):
            raise ValueError(f"wrt must be 'y' or 'a'; got {wrt!r}")
        w, X, _ = self.check_data(w, X)
        c = self._forward(w, X)
        N, K = c.y.shape
        if wrt == "y":
            rows = self.output.output_jacobian(c.a[-1], c.y)
        else:
            rows = np.broadcast_to(np.eye(K, dtype=self.dtype), (N, K, K)).copy()
        each = np.empty((N, K, self.n_weights), dtype=self.dtype)
        self._backprop_rows(w, c, rows, stop=0, each=each)
        return each
