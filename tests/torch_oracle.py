"""The networks of prmlnet written again with torch.nn.functional, for the float64 oracle tests.

Import it only after ``pytest.importorskip("torch")``.
"""

import torch

ACT = {
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "identity": lambda a: a,
    "relu": torch.relu,
    "softplus": torch.nn.functional.softplus,
}


def torch_network(net, hidden):
    """The same network written with torch.nn.functional, over the same flat vector."""
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]

    def outputs_a(w, X):
        z, i = X, 0
        for l, (o, n) in enumerate(shapes):
            W = w[i:i + o * n].reshape(o, n)
            b = w[i + o * n:i + o * n + o]
            i += o * n + o
            a = torch.nn.functional.linear(z, W, b)      # W has torch.nn.Linear's layout
            z = ACT[hidden](a) if l < len(shapes) - 1 else a
        return a

    def error(w, X, T):
        a = outputs_a(w, X)
        if net.output.name == "linear":
            return 0.5 * ((a - T) ** 2).sum()
        if net.output.name == "logistic":
            return torch.nn.functional.binary_cross_entropy_with_logits(a, T, reduction="sum")
        return -(T * torch.log_softmax(a, dim=1)).sum()

    def predict(w, X):
        a = outputs_a(w, X)
        if net.output.name == "logistic":
            return torch.sigmoid(a)
        if net.output.name == "softmax":
            return torch.softmax(a, dim=1)
        return a

    return error, predict
