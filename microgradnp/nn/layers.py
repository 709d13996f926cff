"""Layers: Linear, activations, Sequential and the MLP the reference notebooks train."""

from __future__ import annotations

import numpy as np

from ..api import linear, relu, sigmoid, tanh
from ..creation import as_rng
from . import init as _init
from .module import Module, Parameter

__all__ = ["Linear", "Sequential", "Sigmoid", "Tanh", "ReLU", "Identity", "MLP", "activation"]


def _size(owner: str, name: str, value) -> int:
    """A layer size: a non-negative integer (0 is allowed, as in PyTorch), never a truncated float."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be 0 or more, got {value}")
    return int(value)


class Linear(Module):
    """Dense layer ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features
        Sizes of the input and the output.
    bias
        Learn an additive bias (initialised to zero).
    init
        Weight initialiser: a name (``"normal"``, ``"uniform"``, ``"glorot"``)
        or a function ``(shape, rng, dtype) -> array``; see
        :mod:`microgradnp.nn.init`.
    rng
        ``np.random.Generator``, ``RandomState`` or seed for the weights.
    dtype
        float64 (default) or float32.

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_features, in_features)``, as in PyTorch and Ng's ``Theta``
        (without its bias column).
    bias : Parameter or None
        Shape ``(out_features,)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> layer = mg.nn.Linear(3, 2, rng=0)
    >>> layer(mg.zeros(5, 3)).shape
    (5, 2)
    >>> layer
    Linear(in_features=3, out_features=2, bias=True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init="glorot", rng=None, dtype=np.float64):
        super().__init__()
        self.in_features = _size("Linear", "in_features", in_features)
        self.out_features = _size("Linear", "out_features", out_features)
        w = _init.get(init)((self.out_features, self.in_features), as_rng(rng), dtype)
        self.weight = Parameter(w, dtype=dtype)
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    @classmethod
    def from_theta(cls, theta, dtype=np.float64) -> "Linear":
        """A layer from an Ng-style matrix ``(out, in + 1)`` whose first column is the bias.

        Examples
        --------
        >>> import numpy as np
        >>> import microgradnp as mg
        >>> layer = mg.nn.Linear.from_theta(np.array([[0.5, 1.0, 2.0]]))
        >>> layer.bias.data, layer.weight.data
        (array([0.5]), array([[1., 2.]]))
        """
        theta = np.asarray(theta, dtype=dtype)
        if theta.ndim != 2 or theta.shape[1] < 2:
            raise ValueError(f"from_theta: expected a matrix (out, in + 1) with the bias first, got shape {theta.shape}")
        layer = cls(theta.shape[1] - 1, theta.shape[0], bias=True, init="zeros", dtype=dtype)
        layer.weight.data[...] = theta[:, 1:]
        layer.bias.data[...] = theta[:, 0]
        return layer

    def to_theta(self) -> np.ndarray:
        """The Ng-style matrix ``[bias | weight]`` of shape ``(out, in + 1)``."""
        b = self.bias.data if self.bias is not None else np.zeros(self.out_features, dtype=self.weight.dtype)
        return np.concatenate([b[:, None], self.weight.data], axis=1)


class Sigmoid(Module):
    """Elementwise logistic sigmoid, as a module (see :func:`microgradnp.sigmoid`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.Sigmoid()(mg.tensor([0.0]))
    tensor([0.5])
    """

    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    """Elementwise hyperbolic tangent, as a module (see :func:`microgradnp.tanh`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.Tanh()(mg.tensor([0.0]))
    tensor([0.])
    """

    def forward(self, x):
        return tanh(x)


class ReLU(Module):
    """Elementwise ``max(x, 0)``, as a module (see :func:`microgradnp.relu`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.ReLU()(mg.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def forward(self, x):
        return relu(x)


class Identity(Module):
    """Returns its input (an MLP's output "activation" when there is none).

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0])
    >>> mg.nn.Identity()(x) is x
    True
    """

    def forward(self, x):
        return x


_ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, None: Identity, "identity": Identity, "linear": Identity}


def activation(name) -> Module:
    """An activation module from its name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``None``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.activation("tanh")
    Tanh()
    """
    if isinstance(name, Module):
        return name
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose sigmoid, tanh, relu or None") from None


_activation_module = activation  # MLP's argument named "activation" shadows the function


class Sequential(Module):
    """Modules applied one after the other; indexable and iterable.

    Examples
    --------
    >>> import microgradnp as mg
    >>> net = mg.nn.Sequential(mg.nn.Linear(2, 3, rng=0), mg.nn.Tanh(), mg.nn.Linear(3, 1, rng=1))
    >>> net(mg.zeros(4, 2)).shape
    (4, 1)
    >>> len(net), type(net[1]).__name__
    (3, 'Tanh')
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class MLP(Module):
    """A multilayer perceptron: Linear layers with an activation between them.

    Parameters
    ----------
    sizes
        Layer widths, input first: ``[400, 25, 10]`` is Ng's digit network.
    activation
        Activation after every hidden layer (``"sigmoid"``, ``"tanh"``,
        ``"relu"``).
    output_activation
        Activation after the last layer; ``None`` (the default) returns
        logits, which the stable losses (``binary_cross_entropy_with_logits``,
        ``cross_entropy``) expect.
    bias
        Give every layer a bias.
    init
        Weight initialiser for every layer (see :mod:`microgradnp.nn.init`).
    rng
        Generator, ``RandomState`` or seed; layers draw from it in order.
    dtype
        float64 (default) or float32.

    Examples
    --------
    >>> import microgradnp as mg
    >>> net = mg.nn.MLP([400, 25, 10], rng=0)
    >>> net
    MLP(400 -> 25 -> 10, sigmoid)
    >>> net(mg.zeros(5, 400)).shape
    (5, 10)
    >>> net.num_parameters()
    10285
    """

    def __init__(self, sizes, activation="sigmoid", output_activation=None, bias: bool = True, init="glorot",
                 rng=None, dtype=np.float64):
        super().__init__()
        sizes = [_size("MLP", f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        self.sizes = sizes
        self.activation_name = activation
        self.output_activation_name = output_activation
        r = as_rng(rng)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, init=init, rng=r, dtype=dtype))
            last = i == len(sizes) - 2
            act = output_activation if last else activation
            if act is not None:
                layers.append(_activation_module(act))
        self.layers = Sequential(*layers)

    def forward(self, x):
        return self.layers(x)

    @property
    def linears(self) -> list[Linear]:
        """The Linear layers, input first."""
        return [m for m in self.layers if isinstance(m, Linear)]

    def __repr__(self) -> str:
        out = f", output {self.output_activation_name}" if self.output_activation_name else ""
        return f"MLP({' -> '.join(map(str, self.sizes))}, {self.activation_name}{out})"

    @classmethod
    def from_thetas(cls, thetas, activation="sigmoid", output_activation="sigmoid", dtype=np.float64) -> "MLP":
        """An MLP from Ng-style matrices ``Theta1, Theta2, ...`` (bias in the first column).

        With the exercise's ``ex4weights.mat``:
        ``MLP.from_thetas([w["Theta1"], w["Theta2"]])`` is the trained
        400-25-10 network, sigmoid outputs included.

        Examples
        --------
        >>> import numpy as np
        >>> import microgradnp as mg
        >>> net = mg.nn.MLP.from_thetas([np.zeros((25, 401)), np.zeros((10, 26))])
        >>> net
        MLP(400 -> 25 -> 10, sigmoid, output sigmoid)
        """
        thetas = [np.asarray(t) for t in thetas]
        for a, b in zip(thetas[:-1], thetas[1:]):
            if b.shape[1] != a.shape[0] + 1:
                raise ValueError(f"from_thetas: shapes {a.shape} then {b.shape} do not chain (need (n, m+1) then (k, n+1))")
        sizes = [thetas[0].shape[1] - 1] + [t.shape[0] for t in thetas]
        net = cls(sizes, activation=activation, output_activation=output_activation, init="zeros", dtype=dtype)
        for layer, theta in zip(net.linears, thetas):
            layer.weight.data[...] = theta[:, 1:]
            layer.bias.data[...] = theta[:, 0]
        return net

    def to_thetas(self) -> list[np.ndarray]:
        """The Ng-style matrices ``[bias | weight]``, one per layer."""
        return [layer.to_theta() for layer in self.linears]
