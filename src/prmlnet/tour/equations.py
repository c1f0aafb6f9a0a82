r"""The equation index: each PRML Chapter 5 equation the library implements, the
function that computes it, and the test that checks it.

One line per equation in :data:`EQUATIONS`. To add one, append an :class:`Eq`
with the book's number (or a range, ``"5.155–5.157"``), a short statement
(``$...$`` for mathematics), the dotted path of the function, class or module
that implements it, and the test (``tests/FILE.py::test_name``) that pins it.
``tests/test_equation_index.py`` checks that every path imports, that its source
cites the number (docstring or the comment on the line), that the test exists,
and that ``docs/equations.md`` is :func:`markdown` of this list. Regenerate it with
``python -m prmlnet.tour.equations > docs/equations.md``.

Notation follows the book, with one exception written down where it occurs: the
mixture density network (§5.6) in the book has K components over an
L-dimensional target; the tour and this index use the book's letters, while
:mod:`prmlnet.mdn` stores them the other way round (``MixtureDensity(n_components,
n_targets)``, its docstring says so).
"""

from __future__ import annotations

import html
from typing import NamedTuple

from .page import render_inline

__all__ = ["Eq", "EQUATIONS", "markdown", "index_html", "INDEX_ID"]

INDEX_ID = "equation-index"


class Eq(NamedTuple):
    number: str       # "5.56" or a range "5.155–5.157"
    section: str      # "5.3.1"
    what: str         # a short statement, $...$ for mathematics
    where: str        # dotted path: prmlnet.network.Network.backward
    test: str         # tests/test_network.py::test_backprop_matches_central_differences


EQUATIONS = (
    # §5.1 feed-forward network functions
    Eq("5.7", "5.1", r"two-layer network function $y_k(\mathbf{x},\mathbf{w})$",
       "prmlnet.network.Network", "tests/test_network.py::test_worked_example_2_2_1"),
    # §5.2 network training
    Eq("5.14", "5.2", r"sum-of-squares error $E = \frac12\sum_n\|\mathbf{y}_n-\mathbf{t}_n\|^2$",
       "prmlnet.outputs.Linear", "tests/test_network.py::test_errors_agree_with_the_books_formulas"),
    Eq("5.18", "5.2", r"output deltas of the canonical pairs $\partial E/\partial a_k = y_k - t_k$",
       "prmlnet.outputs.OutputModel.delta", "tests/test_network.py::test_output_deltas_are_y_minus_t"),
    Eq("5.21", "5.2", "cross-entropy error of a logistic output",
       "prmlnet.outputs.Logistic", "tests/test_network.py::test_errors_agree_with_the_books_formulas"),
    Eq("5.24", "5.2", "multiclass cross-entropy of softmax outputs",
       "prmlnet.outputs.Softmax", "tests/test_network.py::test_errors_agree_with_the_books_formulas"),
    Eq("5.41", "5.2.4", r"batch gradient descent $\mathbf{w} \leftarrow \mathbf{w} - \eta\nabla E$",
       "prmlnet.optim.gd.gd", "tests/test_optim_batch.py::test_gd_momentum_steps_by_hand"),
    Eq("5.43", "5.2.4", r"online gradient descent $\mathbf{w} \leftarrow \mathbf{w} - \eta\nabla E_n$",
       "prmlnet.optim.online.sgd", "tests/test_optim_online.py::test_sgd_step_by_hand"),
    # §5.3 error backpropagation
    Eq("5.48", "5.3.1", r"pre-activation $a_j = \sum_i w_{ji} z_i$",
       "prmlnet.layers.Dense.linear", "tests/test_network.py::test_worked_example_2_2_1"),
    Eq("5.49", "5.3.1", r"unit output $z_j = h(a_j)$",
       "prmlnet.layers.Layer.forward", "tests/test_network.py::test_worked_example_2_2_1"),
    Eq("5.51", "5.3.1", r"$\delta_j \equiv \partial E_n/\partial a_j$, the errors that travel back",
       "prmlnet.network.Network.backward",
       "tests/test_network.py::test_backprop_matches_central_differences"),
    Eq("5.53", "5.3.1", r"$\partial E_n/\partial w_{ji} = \delta_j z_i$",
       "prmlnet.layers.Dense.weight_grad",
       "tests/test_network.py::test_backprop_matches_central_differences"),
    Eq("5.56", "5.3.1", r"back-propagation $\delta_j = h'(a_j)\sum_k w_{kj}\delta_k$",
       "prmlnet.network.Network.backward",
       "tests/test_network.py::test_backprop_matches_central_differences"),
    Eq("5.57", "5.3.1", r"the gradient is a sum over patterns $\sum_n \partial E_n/\partial w_{ji}$",
       "prmlnet.network.Network.backward",
       "tests/test_network.py::test_gradient_is_sum_of_per_pattern_gradients"),
    Eq("5.69", "5.3.3", "central differences, the check on back-propagation",
       "prmlnet.testing", "tests/test_network.py::test_backprop_matches_central_differences"),
    Eq("5.73–5.74", "5.3.4", r"the Jacobian $J_{ki} = \partial y_k/\partial x_i$ by back-propagation",
       "prmlnet.network.Network.jacobian",
       "tests/test_network.py::test_input_jacobian_matches_central_differences"),
    # §5.4 the Hessian
    Eq("5.79", "5.4.1", "Becker–LeCun diagonal: second derivatives of the weights from those of the pre-activations",
       "prmlnet.hessian.approx.diagonal",
       "tests/test_hessian.py::test_becker_lecun_diagonal_follows_its_recursion"),
    Eq("5.81", "5.4.1", "Becker–LeCun diagonal: the back-propagated second derivatives, off-diagonal terms dropped",
       "prmlnet.hessian.approx.diagonal",
       "tests/test_hessian.py::test_becker_lecun_diagonal_follows_its_recursion"),
    Eq("5.84–5.85", "5.4.2", r"outer-product approximation $\mathbf{H} \simeq \sum_n \mathbf{b}_n\mathbf{b}_n^{\mathrm{T}}$",
       "prmlnet.hessian.approx.outer_product",
       "tests/test_hessian.py::test_outer_product_is_sum_of_b_c_b_over_patterns"),
    Eq("5.89", "5.4.3", "sequential inverse of the outer product, one pattern at a time",
       "prmlnet.hessian.approx.inverse_outer_product",
       "tests/test_hessian.py::test_inverse_outer_product_of_one_pattern_is_sherman_morrison"),
    Eq("5.93–5.95", "5.4.5", "exact Hessian of a two-layer network, block by block",
       "prmlnet.hessian.two_layer.exact_two_layer",
       "tests/test_hessian.py::test_two_layer_formulas_equal_the_general_assembly"),
    Eq("5.101–5.103", "5.4.6", r"R-forward pass $\mathcal{R}\{a_j\}$, $\mathcal{R}\{z_j\}$, $\mathcal{R}\{y_k\}$",
       "prmlnet.layers.Layer.r_forward",
       "tests/test_hessian.py::test_hvp_matches_central_differences_of_the_gradient"),
    Eq("5.107", "5.4.6", r"R-backward pass: the sums of $\mathcal{R}\{\delta_j\}$",
       "prmlnet.layers.Layer.r_backward",
       "tests/test_hessian.py::test_hvp_matches_central_differences_of_the_gradient"),
    Eq("5.110–5.111", "5.4.6", r"$\mathcal{R}\{\partial E/\partial w\}$: the Hessian-vector product",
       "prmlnet.layers.Layer.r_backward",
       "tests/test_hessian.py::test_hvp_equals_exact_hessian_times_v_and_is_symmetric"),
    # §5.5 regularization
    Eq("5.112", "5.5", r"weight decay $\widetilde{E} = E + \frac{\lambda}{2}\mathbf{w}^{\mathrm{T}}\mathbf{w}$ (per group)",
       "prmlnet.objective", "tests/test_objective.py::test_error_is_beta_data_error_plus_prior"),
    Eq("5.127–5.128", "5.5.4", r"tangent propagation $\widetilde{E} = E + \lambda\Omega$, $\Omega = \frac12\sum_n\sum_k\big(\sum_i J_{nki}\tau_{ni}\big)^2$",
       "prmlnet.invariance.tangent.TangentPropagation",
       "tests/test_invariance.py::test_objective_with_tangent_propagation"),
    Eq("5.135", "5.5.5", r"Tikhonov regularizer $\Omega = \frac12\int\|\nabla\mathbf{y}(\mathbf{x})\|^2 p(\mathbf{x})\,\mathrm{d}\mathbf{x}$, over the training inputs",
       "prmlnet.invariance.tangent.Tikhonov",
       "tests/test_invariance.py::test_tikhonov_is_half_the_squared_jacobian_norm"),
    # §5.6 mixture density networks (book letters: K components, L target dimensions)
    Eq("5.148", "5.6", r"$p(\mathbf{t}|\mathbf{x}) = \sum_{k=1}^{K}\pi_k\mathcal{N}(\mathbf{t}|\boldsymbol{\mu}_k,\sigma_k^2\mathbf{I})$",
       "prmlnet.mdn", "tests/test_mdn.py::test_error_matches_direct_density_formula"),
    Eq("5.150–5.152", "5.6", r"$\pi_k$ by softmax, $\sigma_k = \exp(a^\sigma_k)$, $\mu_{kl} = a^\mu_{kl}$",
       "prmlnet.mdn.MixtureDensity.output", "tests/test_mdn.py::test_error_matches_direct_density_formula"),
    Eq("5.153", "5.6", "negative log-likelihood of the mixture, by log-sum-exp",
       "prmlnet.mdn.MixtureDensity.error", "tests/test_mdn.py::test_error_matches_direct_density_formula"),
    Eq("5.154", "5.6", r"responsibilities $\gamma_k$",
       "prmlnet.mdn.MixtureDensity.responsibilities",
       "tests/test_mdn.py::test_responsibilities_are_posterior_probabilities"),
    Eq("5.155–5.157", "5.6", r"output deltas $\partial E_n/\partial a^\pi_k$, $\partial E_n/\partial a^\mu_{kl}$, $\partial E_n/\partial a^\sigma_k$",
       "prmlnet.mdn.MixtureDensity", "tests/test_mdn.py::test_deltas_match_central_differences"),
    Eq("5.158", "5.6", "conditional mean of the mixture",
       "prmlnet.mixture", "tests/test_mdn.py::test_mean_variance_and_mode_match_the_density_on_a_grid"),
    Eq("5.160", "5.6", "conditional variance of the mixture",
       "prmlnet.mixture", "tests/test_mdn.py::test_mean_variance_and_mode_match_the_density_on_a_grid"),
    # §5.7 Bayesian neural networks
    Eq("5.166", "5.7.1", r"posterior precision $\mathbf{A} = \alpha\mathbf{I} + \beta\mathbf{H}$",
       "prmlnet.bayes.laplace.laplace",
       "tests/test_bayes_laplace.py::test_linear_network_reproduces_bayesian_linear_regression"),
    Eq("5.172–5.173", "5.7.1", r"predictive variance $\sigma^2(\mathbf{x}) = \beta^{-1} + \mathbf{g}^{\mathrm{T}}\mathbf{A}^{-1}\mathbf{g}$",
       "prmlnet.bayes.laplace.LaplacePosterior.predict",
       "tests/test_bayes_laplace.py::test_predictive_covariance_against_central_differences"),
    Eq("5.175", "5.7.2", "log evidence of a regression network",
       "prmlnet.bayes.evidence.log_evidence",
       "tests/test_bayes_laplace.py::test_grouped_log_evidence_equals_direct_laplace_integral"),
    Eq("5.178", "5.7.2", r"re-estimation $\alpha = \gamma/\mathbf{w}_{\mathrm{MAP}}^{\mathrm{T}}\mathbf{w}_{\mathrm{MAP}}$",
       "prmlnet.bayes.evidence.reestimate",
       "tests/test_bayes_laplace.py::test_scalar_evidence_step_balances_errors"),
    Eq("5.179", "5.7.2", r"effective number of parameters $\gamma = \sum_i \lambda_i/(\alpha+\lambda_i)$",
       "prmlnet.bayes.evidence.gamma_from_eigenvalues",
       "tests/test_bayes_laplace.py::test_gamma_trace_formula_equals_eigenvalue_formula"),
    Eq("5.180", "5.7.2", r"re-estimation $1/\beta = \frac{1}{N-\gamma}\sum_n\{y(\mathbf{x}_n,\mathbf{w}_{\mathrm{MAP}})-t_n\}^2$",
       "prmlnet.bayes.evidence.reestimate",
       "tests/test_bayes_laplace.py::test_scalar_evidence_step_balances_errors"),
    Eq("5.183", "5.7.3", "log evidence of a classifier (no β)",
       "prmlnet.bayes.evidence.log_evidence", "tests/test_bayes_evidence.py::test_classifier_evidence_has_no_beta"),
)


def _path_parts(eq):
    file, _, test = eq.test.partition("::")
    return file, test


def markdown(equations=EQUATIONS) -> str:
    """The index as a Markdown page (``docs/equations.md``)."""
    lines = [
        "# Equation index",
        "",
        "Each equation of PRML Chapter 5 that prmlnet implements, the function that computes",
        "it and the test that checks it. Generated from `prmlnet.tour.equations` (a test keeps",
        "this page equal to it): `python -m prmlnet.tour.equations > docs/equations.md`.",
        "The same table closes the tour report.",
        "",
        "Notation is the book's. For the mixture density network (§5.6) that means K",
        "components over an L-dimensional target, (5.148)–(5.157); `prmlnet.mdn` stores the",
        "two counts the other way round (`MixtureDensity(n_components, n_targets)`), as its",
        "docstring says.",
        "",
        "| PRML | § | what | implemented by | checked by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for eq in equations:
        file, test = _path_parts(eq)
        what = eq.what.replace(r"\|", r"\Vert ").replace("|", r"\vert ")   # no bare | in a table
        lines.append(f"| ({eq.number}) | {eq.section} | {what} | `{eq.where}` | "
                     f"`{file}::{test}` |")
    return "\n".join(lines) + "\n"


def index_html(equations=EQUATIONS) -> str:
    """The index as a section of the tour report."""
    rows = "".join(
        f"<tr><td>({html.escape(eq.number)})</td><td>§{html.escape(eq.section)}</td>"
        f"<td class='what'>{render_inline(eq.what)}</td><td><code>{html.escape(eq.where)}</code></td>"
        f"<td><code>{html.escape(_path_parts(eq)[0])}</code><br>"
        f"<code>{html.escape(_path_parts(eq)[1])}</code></td></tr>"
        for eq in equations)
    return (f'<section id="{INDEX_ID}"><h2>Equation index</h2>'
            "<p>Each equation of the chapter that prmlnet implements, the function that "
            "computes it (its docstring or the line that does it cites the number) and the "
            "test that checks it against an independent computation. For the mixture density "
            "network the letters are the book's: K components, an L-dimensional target.</p>"
            '<div class="table"><table class="eqindex"><thead><tr><th>PRML</th><th>§</th>'
            "<th>what</th><th>implemented by</th><th>checked by</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div></section>")


if __name__ == "__main__":          # python -m prmlnet.tour.equations > docs/equations.md
    print(markdown(), end="")
