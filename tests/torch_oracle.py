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


def torch_conv_network(net):
    """A network of Conv2D / Subsampling / MaxPool / Dense layers written again with
    torch.nn.functional over the same flat vector: conv2d for the convolutions, the
    subsampling as block means written out (not avg_pool2d), max_pool2d for pooling."""
    from prmlnet.convolution import Conv2D, MaxPool, Subsampling

    F = torch.nn.functional
    layers, slices = net.layers, net.layer_slices()

    def outputs_a(w, X):
        z = X
        for l, (layer, s) in enumerate(zip(layers, slices)):
            p = w[s]
            if isinstance(layer, Conv2D):
                C, H, W = layer.in_shape
                M = layer.n_maps
                K = p[:-M].reshape(M, C, *layer.kernel_size)
                a = F.conv2d(z.reshape(-1, C, H, W), K, p[-M:], padding=layer.padding)
            elif isinstance(layer, Subsampling):
                C, H, W = layer.in_shape
                k = layer.size
                m = z.reshape(-1, C, H // k, k, W // k, k).mean(dim=(3, 5))
                a = m * p[:C, None, None] + p[C:, None, None]
            elif isinstance(layer, MaxPool):
                C, H, W = layer.in_shape
                a = F.max_pool2d(z.reshape(-1, C, H, W), layer.size)
            else:
                Wl = p[:layer.n_out * layer.n_in].reshape(layer.n_out, layer.n_in)
                a = F.linear(z.reshape(z.shape[0], -1), Wl, p[layer.n_out * layer.n_in:])
            a = a.reshape(a.shape[0], -1)
            z = ACT[layer.activation.name](a) if l < len(layers) - 1 else a
        return a

    def error(w, X, T):
        a = outputs_a(w, X)
        if net.output.name == "linear":
            return 0.5 * ((a - T) ** 2).sum()
        if net.output.name == "logistic":
            return F.binary_cross_entropy_with_logits(a, T, reduction="sum")
        return -(T * torch.log_softmax(a, dim=1)).sum()

    def predict(w, X):
        a = outputs_a(w, X)
        if net.output.name == "logistic":
            return torch.sigmoid(a)
        if net.output.name == "softmax":
            return torch.softmax(a, dim=1)
        return a

    return error, predict
