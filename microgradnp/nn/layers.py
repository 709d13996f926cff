"""Layers: Linear, activations, Sequential and the MLP the reference notebooks train."""

from __future__ import annotations

import numpy as np

from .. import _mode as _modes
from .._tensor import Tensor
from ..api import embedding, flatten, linear, relu, sigmoid, sqrt, tanh
from ..creation import as_rng
from . import init as _init
from .module import Module, Parameter


def _flat_values(t: Tensor):
    """A batch statistic's values as a flat array of its library (no graph: a running statistic is data)."""
    d = t.data
    return d.reshape(-1) if isinstance(d, np.ndarray) else t.detach().reshape(-1).data


def _on_library_of(x: Tensor, array: np.ndarray):
    """``array`` (drawn or made with NumPy by a layer) on ``x``'s library and device, in ``x``'s dtype."""
    from .. import backends

    moved = backends.from_numpy(array, x.library, device=x.device)
    return backends.namespace(x.library).astype(moved, x.dtype)

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
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is None or not shape or shape[-1] != self.in_features or dtype != self.weight.dtype:
            self._refuse(x)
        return linear(x, self.weight, self.bias)

    def _refuse(self, x):
        """Raise for an input this layer cannot take, naming the layer by its path (as the issue tracker asked)."""
        who = f"{self.path + ' ' if self.path else ''}(Linear {self.in_features} -> {self.out_features})"
        shape = getattr(x, "shape", None)
        if shape is None:
            raise TypeError(f"{who}: expected a Tensor or an array, got {type(x).__name__}")
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"{who}: input of shape {tuple(shape)} has {shape[-1] if shape else 0} features on its "
                             f"last axis; the layer takes {self.in_features}")
        try:
            self._same_dtype(x, self.weight)
        except TypeError as exc:
            raise TypeError(f"{who}: {exc}") from None

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


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one (PyTorch's default keeps the batch axis: ``start_dim=1``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.Flatten()(mg.zeros(4, 2, 3)).shape
    (4, 6)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability ``p`` while training, scaling the rest by ``1 / (1 - p)``.

    In evaluation mode (``model.eval()``) it is the identity, as in PyTorch.
    The masks are drawn from ``rng`` (a seed gives the same masks at every
    run; ``mg.manual_seed`` seeds the default).

    Examples
    --------
    >>> import microgradnp as mg
    >>> drop = mg.nn.Dropout(0.5, rng=0)
    >>> y = drop(mg.ones(1000))
    >>> sorted(set(y.data.tolist()))      # dropped, or scaled by 2
    [0.0, 2.0]
    >>> drop.eval()(mg.ones(3))
    tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p = p
        # None: the global generator at each draw, so that mg.manual_seed after building the model decides the
        # masks, as torch.manual_seed does.
        self._rng = None if rng is None else as_rng(rng)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        _modes.note_unreplayable("Dropout (in training mode)", "draws random numbers: a replay would reuse its draws")
        rng = as_rng(self._rng)
        _modes.note_random_draw(rng)
        keep = rng.random(tuple(x.shape)) >= self.p
        scale = keep / (1.0 - self.p)
        if x.library != "numpy":  # drawn from the same generator as on NumPy, then moved to x's library
            return x * _on_library_of(x, scale)
        return x * scale.astype(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last axes: ``(x - mean) / sqrt(var + eps) * weight + bias`` (Ba et al., 2016).

    ``normalized_shape`` is the shape of those last axes (an int for one);
    the variance is the biased one, as in PyTorch.  ``weight`` starts at 1
    and ``bias`` at 0 (``elementwise_affine=False``: neither).

    Examples
    --------
    >>> import microgradnp as mg
    >>> y = mg.nn.LayerNorm(4)(mg.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> round(float(y.data.mean()), 12), round(float(y.data.std()), 4)
    (0.0, 1.0)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, dtype=np.float64):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape = tuple(_size("LayerNorm", "normalized_shape", n) for n in shape)
        self.eps = float(eps)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.weight = self.bias = None

    def forward(self, x):
        k = len(self.normalized_shape)
        self._same_dtype(x, self.weight)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected the input's last axes to be {self.normalized_shape}, got shape "
                             f"{x.shape}")
        axes = tuple(range(-k, 0))
        centered = x - x.mean(axis=axes, keepdims=True)
        y = centered / sqrt(x.var(axis=axes, keepdims=True) + self.eps)
        return y * self.weight + self.bias if self.weight is not None else y

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by integer indices.

    ``emb(indices)`` has shape ``indices.shape + (embedding_dim,)``; the
    gradient of a row is the sum over every place it was looked up.  The
    table starts standard normal, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> emb = mg.nn.Embedding(10, 3, rng=0)
    >>> emb(np.array([[1, 2], [1, 9]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng=None, dtype=np.float64):
        super().__init__()
        self.num_embeddings = _size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _size("Embedding", "embedding_dim", embedding_dim)
        self.weight = Parameter(as_rng(rng).standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype))

    def forward(self, indices):
        return embedding(self.weight, indices)  # checks the indices; vmap and mg.compile follow them

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class _BatchNorm(Module):
    """Batch normalisation over every axis but the channels (axis 1) (Ioffe and Szegedy, 2015)."""

    _ndims: tuple = ()

    #: saved by PyTorch and by us since momentum=None; a state saved before it loads (the count stays 0)
    _optional_buffers = ("num_batches_tracked",)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=np.float64):
        super().__init__()
        name = type(self).__name__
        self.num_features = _size(name, "num_features", num_features)
        self.eps, self.momentum = float(eps), None if momentum is None else float(momentum)
        if momentum is not None and not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"{name}: momentum must lie in [0, 1] or be None (a cumulative average), got {momentum}")
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        self.track_running_stats = bool(track_running_stats)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        name = type(self).__name__
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{self.path + ' ' if self.path else ''}({name} {self.num_features}): expected an input of "
                             f"{' or '.join(map(str, self._ndims))} dimensions with {self.num_features} channels on "
                             f"axis 1, got shape {x.shape}")
        self._same_dtype(x, self.weight if self.weight is not None else getattr(self, "running_mean", None))
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)
        if self.training or not self.track_running_stats:
            n = x.size // self.num_features
            if self.training and n < 2:
                raise ValueError(f"{name}: training needs more than one value per channel, got input shape {x.shape}")
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)
            if self.training and self.track_running_stats:  # PyTorch: the running variance is the unbiased one
                _modes.note_unreplayable(name, "updates its running statistics in NumPy, from the batch's values: "
                                               "a replay would not update them (use eval() for a step without)")
                self.num_batches_tracked += 1  # momentum None: the running statistics average every batch so far
                m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean *= 1 - m
                self.running_mean += m * _flat_values(mean)
                self.running_var *= 1 - m
                self.running_var += m * _flat_values(var) * (n / (n - 1))
            y = (x - mean) / sqrt(var + self.eps)
        elif isinstance(self.running_mean, np.ndarray):
            y = (x - self.running_mean.reshape(shape)) / np.sqrt(self.running_var.reshape(shape) + self.eps)
        else:  # running statistics on another library (model.to("torch")): the same formula with its ops
            running_mean, running_var = Tensor(self.running_mean), Tensor(self.running_var)
            y = (x - running_mean.reshape(shape)) / sqrt(running_var.reshape(shape) + self.eps)
        if self.weight is not None:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)``: per channel, over the batch (and length).

    While training it normalises with the batch's mean and (biased) variance
    and updates ``running_mean``/``running_var`` (buffers, saved with the
    model; the running variance is the unbiased one, as in PyTorch); in
    evaluation mode it uses them.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> bn = mg.nn.BatchNorm1d(2)
    >>> y = bn(mg.tensor([[1.0, 10.0], [3.0, 30.0]]))
    >>> y.data.round(4).tolist(), bn.running_mean.tolist()
    ([[-1.0, -1.0], [1.0, 1.0]], [0.2, 2.0])
    """

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images ``(N, C, H, W)``: per channel, over the batch and the pixels.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.BatchNorm2d(3)(mg.randn(4, 3, 5, 5, rng=0)).shape
    (4, 3, 5, 5)
    """

    _ndims = (4,)
