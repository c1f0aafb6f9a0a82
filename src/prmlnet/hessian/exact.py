r"""The exact Hessian :math:`\mathbf{H} = \nabla\nabla E` (PRML §5.4), fast.

Two assemblies, tested equal:

``method="blocks"`` (any depth, dense layers)
    The second derivatives of a layered network, collected per pair of layers
    (l, m) and written as a few matrix products. With :math:`\tilde{\mathbf{x}}^{(l)}`
    the input of layer l with a 1 appended (bias), :math:`\mathbf{P}^{(q,m)} =
    \partial\mathbf{a}^{(q)}/\partial\mathbf{a}^{(m)}` (products of :math:`\mathbf{W}`
    and :math:`\mathrm{diag}\,h'`, the Jacobians of §5.3.4),
    :math:`\mathbf{C}_n = \partial^2 E_n/\partial\mathbf{a}^{(L)2}` and
    :math:`s^{(q)}_j = h''(a^{(q)}_j)\,\partial E/\partial z^{(q)}_j`,

    .. math::
        \frac{\partial^2 E}{\partial w^{(l)}_{ji}\,\partial w^{(m)}_{j'i'}} =
        \sum_n \Big[\mathbf{P}^{(L,l)\mathrm{T}}\mathbf{C}_n\mathbf{P}^{(L,m)}
        + \sum_{q=l}^{L-1}\mathbf{P}^{(q,l)\mathrm{T}}\mathrm{diag}(\mathbf{s}^{(q)})
          \mathbf{P}^{(q,m)}\Big]_{jj'}\tilde x^{(l)}_i\tilde x^{(m)}_{i'}
        + \sum_n \delta^{(l)}_j\,\frac{\partial z^{(l-1)}_i}{\partial w^{(m)}_{j'i'}}

    for :math:`m \le l`; the upper blocks follow by symmetry. The first term is
    the outer-product (Gauss–Newton) part (5.84); the second holds the curvature
    of the hidden units (:math:`h''`); the third comes from :math:`a = \mathbf{W}\mathbf{z}`
    being bilinear. For two layers these are the explicit formulas of §5.4.5
    (see :mod:`prmlnet.hessian.two_layer`). Each (l, m) block is one GEMM over
    the patterns, so the cost is :math:`O(N W^2)` flops with no Python loop over
    weights.

``method="rop"`` (any layer type)
    The R-operator (:mod:`prmlnet.hessian.rop`) applied to blocks of columns of
    the identity, many directions per pass as matrix products.

A network with other layer types (convolution, subsampling) gets its dense top
layers by the block formulas and the other rows by the R-operator
(:mod:`prmlnet.hessian.mixed`).

All results are for the data error :math:`E_D` summed over patterns, computed in
chunks of patterns so that memory does not grow with N.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..layers import Dense
from ..testing import central_differences
from ._memory import PEAK_COPIES, WORKSPACE_BYTES, check_matrix_memory
from .rop import _hvp_many

__all__ = ["exact", "exact_diagonal", "finite_difference", "output_curvature"]

_WORKSPACE = 128 * 2 ** 20         # bytes of per-chunk workspace


def output_curvature(output, a, y, T):
    r""":math:`\mathbf{C}_n = \partial^2 E_n/\partial\mathbf{a}_n^2`, shape (N, K, K).

    Exact, from the output model's R-operator applied to the K unit directions
    (so it needs nothing but ``r_delta``).
    """
    N, K = a.shape
    eye = np.broadcast_to(np.eye(K, dtype=a.dtype)[:, None, :], (K, N, K))
    C = np.moveaxis(output.r_delta(a, y, T, eye), 0, -1)        # C[n, :, k] = C_n e_k
    return 0.5 * (C + np.swapaxes(C, 1, 2))


class _Pass(NamedTuple):
    """Forward and backward quantities of one chunk of patterns (layers 0..L-1)."""

    xt: list        # inputs of each layer with a column of ones appended, (N, n_in + 1)
    delta: list     # δ of each layer, (N, n_out)                      (5.56)
    dh: list        # h'(a) of each hidden layer, (N, n_out)
    s: list         # h''(a) ∂E/∂z of each hidden layer, (N, n_out)
    C: np.ndarray   # ∂²E_n/∂a², (N, K, K) at the outputs


def _second_order_pass(net, w, X, T, curvature=None):
    """Forward and backward propagation keeping what second derivatives need.

    ``curvature(a, y, T)`` gives the (N, K, K) output weights; default exact.
    """
    layers, params = net.layers, net.unpack(w)
    L = len(layers)
    xt, pre, x = [], [], X
    for layer, s in zip(layers, net.layer_slices()):
        xt.append(np.concatenate([x, np.ones((x.shape[0], 1), dtype=x.dtype)], axis=1))
        a, x = layer.forward(w[s], x)                     # (5.48, 5.49)
        pre.append(a)
    a = pre[-1]
    y = net.output.output(a)
    delta = [None] * L
    dh, s = [None] * L, [None] * L
    delta[-1] = net.output.delta(a, y, T)
    C = output_curvature(net.output, a, y, T) if curvature is None else curvature(a, y, T)
    for l in range(L - 2, -1, -1):
        g = delta[l + 1].dot(params[l + 1][0])            # ∂E/∂z_j = Σ_k w_kj δ_k
        act, z = layers[l].activation, xt[l + 1][:, :-1]
        dh[l] = act.dh(pre[l], z)
        s[l] = act.d2h(pre[l], z, dh[l]) * g
        delta[l] = dh[l] * g                              # (5.56)
    return _Pass(xt, delta, dh, s, C)


def _unit_jacobians(net, w, p):
    r"""``P[q][m]`` = :math:`\partial\mathbf{a}^{(q)}/\partial\mathbf{a}^{(m)}`, (N, n_q, n_m),
    for m < q (5.74)."""
    Ws = [Wl for Wl, _ in net.unpack(w)]
    L = len(Ws)
    P = [[None] * L for _ in range(L)]
    for m in range(L - 1):
        P[m + 1][m] = Ws[m + 1][None, :, :] * p.dh[m][:, None, :]
        for q in range(m + 1, L - 1):
            P[q + 1][m] = np.matmul(Ws[q + 1], p.dh[q][:, :, None] * P[q][m])   # (5.74)
    return P


def _curvature_block(p, P, l, m, residual=True):
    r"""The (N, n_l, n_m) weights :math:`M_n` of the Kronecker term for m <= l."""
    L = len(p.xt)
    top = L - 1
    CPm = p.C if m == top else np.matmul(p.C, P[top][m])
    M = CPm if l == top else np.matmul(np.swapaxes(P[top][l], 1, 2), CPm)
    if not residual:
        return M
    M = np.array(M, copy=True)
    for q in range(l, top):          # hidden layers q >= l >= m: P^(q,l)ᵀ diag(s^(q)) P^(q,m)
        if q == m:                   # then l = m = q and both P are the identity
            idx = np.arange(M.shape[1])
            M[:, idx, idx] += p.s[q]
            continue
        sPm = p.s[q][:, :, None] * P[q][m]
        M += sPm if q == l else np.matmul(np.swapaxes(P[q][l], 1, 2), sPm)
    return M


def _as_view(a, shape):
    v = a.view()
    v.shape = shape                          # raises rather than copy
    return v


def _geometry(net):
    return [(layer.n_out, layer.n_in, s.start) for layer, s in zip(net.layers, net.layer_slices())]


def _add_block(H, geo, l, m, B):
    """Add B (n_l, r, n_m, n_in_m + 1) into H's (l, m) block; r = n_in_l (+1 with bias rows)."""
    n_l, i_l, o_l = geo[l]
    n_m, i_m, o_m = geo[m]
    kl, km = n_l * i_l, n_m * i_m
    _as_view(H[o_l:o_l + kl, o_m:o_m + km], (n_l, i_l, n_m, i_m))[...] += B[:, :i_l, :, :i_m]
    _as_view(H[o_l:o_l + kl, o_m + km:o_m + km + n_m], (n_l, i_l, n_m))[...] += B[:, :i_l, :, i_m]
    if B.shape[1] > i_l:
        bias_rows = H[o_l + kl:o_l + kl + n_l, o_m:o_m + km]
        _as_view(bias_rows, (n_l, n_m, i_m))[...] += B[:, i_l, :, :i_m]
        H[o_l + kl:o_l + kl + n_l, o_m + km:o_m + km + n_m] += B[:, i_l, :, i_m]


def _pairs(d):
    """Index pairs i <= i' of a symmetric d×d matrix and the map back to (d, d)."""
    iu = np.triu_indices(d)
    pair = np.empty((d, d), dtype=np.intp)
    pair[iu] = np.arange(iu[0].size)
    pair[iu[1], iu[0]] = pair[iu]
    return iu, pair


def _kron_gemm(M, xl, xm, same, acc):
    r"""Accumulate :math:`\sum_n M_n[j,j']\,x_l[n,i]\,x_m[n,i']` into ``acc``: one GEMM.

    ``acc`` is (n_l n_m, d_l d_m), or (n_l n_m, d(d+1)/2) for a diagonal block
    (``same``), where only the pairs i <= i' are multiplied (symmetry).
    """
    N = M.shape[0]
    if same:
        iu, _ = _pairs(xl.shape[1])
        XX = xl[:, iu[0]] * xl[:, iu[1]]
    else:
        XX = (xl[:, :, None] * xm[:, None, :]).reshape(N, -1)
    acc += M.reshape(N, -1).T.dot(XX)


def _kron_unpack(acc, n_l, n_m, d_l, d_m, same):
    """The accumulated GEMM as a block (n_l, d_l, n_m, d_m)."""
    G = acc.reshape(n_l, n_m, -1)
    if same:
        G = G[:, :, _pairs(d_l)[1]]
    return G.reshape(n_l, n_m, d_l, d_m).transpose(0, 2, 1, 3)


def _bilinear_blocks(H, geo, p, P, q):
    r"""Add :math:`\sum_n\delta^{(q)}_j\,\partial z^{(q-1)}_i/\partial w^{(m)}` for all m < q."""
    delta = p.delta[q]
    n_q, i_q, o_q = geo[q]
    # m = q - 1: ∂z_i/∂w_{j'i'} = h'(a_i) x_i' δ_ij' — a diagonal in (i, j')
    m = q - 1
    n_m, i_m, o_m = geo[m]
    xm = p.xt[m]
    T3 = delta.T.dot((p.dh[m][:, :, None] * xm[:, None, :]).reshape(len(xm), -1))
    T3 = T3.reshape(n_q, i_q, i_m + 1)
    rows = o_q + np.arange(n_q)[:, None, None] * i_q + np.arange(i_q)[None, :, None]
    ii = np.arange(i_q)[None, :, None]
    cols = np.where(np.arange(i_m + 1)[None, None, :] < i_m,
                    o_m + ii * i_m + np.arange(i_m + 1)[None, None, :],
                    o_m + n_m * i_m + ii)
    H[rows, cols] += T3
    # m < q - 1: ∂z^{(q-1)}/∂a^{(m)} = diag(h') P dense
    for m in range(q - 1):
        n_m, i_m, o_m = geo[m]
        xm = p.xt[m]
        N = len(xm)
        Q = (p.dh[q - 1][:, :, None] * P[q - 1][m]).reshape(N, -1)
        A = (delta[:, :, None] * xm[:, None, :]).reshape(N, -1)
        B = A.T.dot(Q).reshape(n_q, i_m + 1, i_q, n_m).transpose(0, 2, 3, 1)
        _add_block(H, geo, q, m, B)


def _chunk_size(net, N, chunk_size):
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
                or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer (patterns per chunk); "
                             f"got {chunk_size!r}")
        return int(chunk_size)
    n = [layer.n_out for layer in net.layers]
    d = [layer.n_in + 1 for layer in net.layers]
    per = sum(a * b for i, a in enumerate(n) for b in n[:i])          # the P matrices
    per += 3 * max(a * b for a in n for b in n) + 2 * max(a * b for a in d for b in d)
    return int(max(16, min(N, _WORKSPACE // (8 * per))))


def _assemble(net, w, X, T, *, residual=True, curvature=None, chunk_size=None):
    """The (W, W) matrix of the block formulas, summed over chunks of patterns."""
    W = net.n_weights
    geo = _geometry(net)
    L = len(net.layers)
    H = np.zeros((W, W), dtype=net.dtype)
    n = [layer.n_out for layer in net.layers]
    d = [layer.n_in + 1 for layer in net.layers]
    # the Kronecker GEMMs accumulate over chunks, unpacked into H once at the end
    acc = {(l, m): np.zeros((n[l] * n[m], d[l] * (d[l] + 1) // 2 if l == m else d[l] * d[m]),
                            dtype=net.dtype)
           for l in range(L) for m in range(l + 1)}
    N = X.shape[0]
    step = _chunk_size(net, N, chunk_size)
    for start in range(0, N, step):
        Xc, Tc = X[start:start + step], T[start:start + step]
        p = _second_order_pass(net, w, Xc, Tc, curvature)
        P = _unit_jacobians(net, w, p)
        for l in range(L):
            for m in range(l + 1):
                M = _curvature_block(p, P, l, m, residual)
                _kron_gemm(M, p.xt[l], p.xt[m], l == m, acc[l, m])
            if residual and l > 0:
                _bilinear_blocks(H, geo, p, P, l)
    for (l, m), G in acc.items():
        _add_block(H, geo, l, m, _kron_unpack(G, n[l], n[m], d[l], d[m], l == m))
    _symmetrize_blocks(H, net)
    return H


def _symmetrize_blocks(H, net):
    """Copy the lower blocks to the upper ones; make diagonal blocks exactly symmetric."""
    sl = net.layer_slices()
    for l, s in enumerate(sl):
        D = H[s, s]
        D[...] = 0.5 * (D + D.T)
        for m in range(l):
            H[sl[m], s] = H[s, sl[m]].T


def exact(net, w, X, T, *, method="auto", chunk_size=None, max_bytes=None):
    r"""The exact Hessian :math:`\mathbf{H} = \nabla\nabla E` of the error, (W, W).

    Parameters
    ----------
    net : Network
    w : ndarray of shape (W,)
    X : ndarray of shape (N, D)
    T : ndarray of shape (N, K)
    method : {"auto", "blocks", "rop"}
        ``"blocks"``: per-layer-pair matrix products (dense layers only; the
        fast path); ``"rop"``: the R-operator on blocks of identity columns
        (any layer type). ``"auto"`` picks ``"blocks"`` for dense networks;
        for others it uses the blocks on the dense layers that end the network
        and the R-operator on the rows of the layers below them
        (:mod:`prmlnet.hessian.mixed`).
    chunk_size : int, optional
        Patterns per chunk (default: what fits in a 64 MiB workspace).
    max_bytes : int, optional
        Memory limit for the guard (default: half the available memory).

    Returns
    -------
    ndarray of shape (W, W), symmetric, for the error **summed** over patterns.
    It may be indefinite away from a minimum: nothing is clipped.

    Raises
    ------
    HessianMemoryError
        If the W×W matrix does not fit; use :func:`hvp` or
        :func:`linear_operator` then.

    Notes
    -----
    See the module docstring for the block formulas; for a two-layer network
    they are (5.93)–(5.95) of §5.4.5.
    """
    w, X, T = net.check_data(w, X, T)
    if method not in ("auto", "blocks", "rop"):
        raise ValueError(f"method must be 'auto', 'blocks' or 'rop'; got {method!r}")
    dense = all(type(layer) is Dense for layer in net.layers)
    if method == "blocks" and not dense:
        raise ValueError("method='blocks' needs dense layers only; use method='rop'")
    _chunk_size(net, X.shape[0], chunk_size)                # a bad chunk_size fails first
    check_matrix_memory(net.n_weights, net.dtype.itemsize, PEAK_COPIES["exact"],
                        max_bytes=max_bytes, workspace=WORKSPACE_BYTES)
    from .mixed import exact_mixed, rop_rows
    if method == "rop":
        H = np.empty((net.n_weights,) * 2, dtype=net.dtype)
        for r0, r1, rows in rop_rows(net, w, X, T, net.n_weights):
            H[r0:r1] = rows
        H += H.T
        H *= 0.5
        return H
    if not dense:
        return exact_mixed(net, w, X, T, chunk_size)
    return _assemble(net, w, X, T, chunk_size=chunk_size)


def exact_diagonal(net, w, X, T, *, chunk_size=None):
    r"""The diagonal of the exact Hessian, (W,), without forming :math:`\mathbf{H}`.

    Notes
    -----
    For dense layers, the diagonal of the (l, l) block formula (module docstring):

    .. math:: H_{(ji),(ji)} = \sum_n \Big[(\mathbf{P}^\mathrm{T}\mathbf{C}_n\mathbf{P})_{jj}
              + \sum_q s^{(q)}_k (P^{(q,l)}_{kj})^2\Big]\tilde x_i^2

    It keeps the off-diagonal output and hidden curvature that the
    Becker–LeCun approximation (:func:`diagonal`) drops. Cost :math:`O(N W)`
    times the layer widths, like a few Jacobian evaluations.

    Layers of other types (convolution, subsampling) get theirs from blocks of
    rows :math:`\mathbf{H}\mathbf{e}_i` by the R-operator, never stored whole
    (:mod:`prmlnet.hessian.mixed`): a shared weight's diagonal entry sums the
    curvature between *all pairs* of the connections it serves, which no
    per-unit recursion holds. The dense layers that end such a network still use
    the formula above, on the outputs of the layers below them.
    """
    w, X, T = net.check_data(w, X, T)
    if not all(type(layer) is Dense for layer in net.layers):
        from .mixed import exact_diagonal_mixed
        return exact_diagonal_mixed(net, w, X, T, chunk_size)
    return _dense_diagonal(net, w, X, T, chunk_size)


def _dense_diagonal(net, w, X, T, chunk_size=None):
    """:func:`exact_diagonal` for dense layers; inputs already checked."""
    L = len(net.layers)
    out = np.zeros(net.n_weights, dtype=net.dtype)
    N = X.shape[0]
    step = _chunk_size(net, N, chunk_size)
    for start in range(0, N, step):
        p = _second_order_pass(net, w, X[start:start + step], T[start:start + step])
        P = _unit_jacobians(net, w, p)
        for l, (layer, s) in enumerate(zip(net.layers, net.layer_slices())):
            top = L - 1
            if l == top:
                m = np.diagonal(p.C, axis1=1, axis2=2)
            else:
                m = np.einsum("nkj,nkj->nj", P[top][l], np.matmul(p.C, P[top][l]))
                m = m + p.s[l]
                for q in range(l + 1, top):
                    m += np.einsum("nk,nkj->nj", p.s[q], P[q][l] ** 2)
            d = m.T.dot(p.xt[l] ** 2)                 # (n_out, n_in + 1)
            k = layer.n_out * layer.n_in
            out[s][:k] += d[:, :-1].ravel()
            out[s][k:] += d[:, -1]
    return out


def finite_difference(net, w, X, T, h=1e-5, *, max_bytes=None):
    r"""The Hessian by central differences of the analytic gradient (§5.4.4), (W, W).

    Column i is :math:`(\nabla E(\mathbf{w} + \epsilon_i\mathbf{e}_i) -
    \nabla E(\mathbf{w} - \epsilon_i\mathbf{e}_i)) / 2\epsilon_i` with the step
    scaled to the weight, :math:`\epsilon_i = h\max(1, |w_i|)`. Errors are
    :math:`O(\epsilon^2)`; costs 2W backpropagations, :math:`O(W^2)` — a test
    oracle and a learner's check, not a method for large W. The result is
    returned as computed (not symmetrised), so its asymmetry shows the error.
    """
    w, X, T = net.check_data(w, X, T)
    if not h > 0:
        raise ValueError(f"step h must be positive; got {h}")
    check_matrix_memory(net.n_weights, 8, PEAK_COPIES["finite_difference"],
                        "the finite-difference Hessian", max_bytes)
    # column i: central differences of ∇E along w_i (§5.4.4), by prmlnet.testing
    return central_differences(lambda v: net._error_and_gradient(v, X, T)[1], w, h)
