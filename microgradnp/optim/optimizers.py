"""Gradient-descent optimizers with PyTorch's semantics: SGD (momentum, Nesterov), Adam, AdamW, RMSprop, Adagrad.

An optimizer holds a list of parameters; ``step()`` updates their ``.data``
in place from their ``.grad`` (no graph is recorded), ``zero_grad()`` clears
the gradients.
"""

from __future__ import annotations

import math

import numpy as np

from .._mode import no_grad
from ..tensor import Tensor, clear_grads

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _grad_array(optimizer: "Optimizer", p: Tensor):
    g = p.grad
    if g is not None and g.shape != p.shape:
        optimizer._wrong_shape(p)
    return g.data if isinstance(g, Tensor) else g


def _hyperparameter(owner: str, name: str, value, upper: float | None = None) -> float:
    """A finite, non-negative hyperparameter (below ``upper`` when given), as a float."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v >= 0.0 and (upper is None or v < upper)):
        where = f"in [0, {upper:g})" if upper is not None else ">= 0 and finite"
        raise ValueError(f"{owner}: {name} must be {where}, got {value!r}")
    return v


class Optimizer:
    """Base class: keeps the parameters and per-parameter state; subclasses define ``step()``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> class SignSGD(mg.optim.Optimizer):
    ...     def step(self):
    ...         for p in self.params:
    ...             if p.grad is not None:
    ...                 p.data -= self.lr * (p.grad > 0) - self.lr * (p.grad < 0)
    >>> w = mg.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = SignSGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([ 0.5, -0.5])
    """

    def __init__(self, params, lr: float):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors, got a single Tensor (wrap it in a list)")
        self.params = [p for p in params]
        if not self.params:
            raise ValueError(f"{name} got an empty list of parameters")
        seen = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameter {i} is not a Tensor with requires_grad=True")
            if not p.is_leaf:  # its .grad is never filled: backward fills leaves only
                raise ValueError(
                    f"{name}: parameter {i} is not a leaf (it was computed by {p.op}); optimize the tensors it "
                    "was computed from, or detach it: .detach().requires_grad_()"
                )
            if id(p) in seen:  # it would be updated twice per step
                raise ValueError(f"{name}: parameters {seen[id(p)]} and {i} are the same tensor")
            seen[id(p)] = i
        self.lr = _hyperparameter(name, "lr", lr)
        self.state: dict[int, dict] = {}

    def _wrong_shape(self, p: Tensor):
        i = next(i for i, q in enumerate(self.params) if q is p)
        raise ValueError(
            f"{type(self).__name__}: parameter {i} has shape {p.shape} but its .grad has shape {p.grad.shape} "
            "(was .data replaced with an array of another shape?)"
        )

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: to ``None`` (the default), or fill it with zeros in place.

        As in PyTorch, ``set_to_none=False`` zeroes each existing gradient array
        in place (so references to it see the zeros) and leaves ``None``
        gradients as they are; a gradient that is a Tensor (after
        ``create_graph=True``) is replaced by a zero array, cut from its graph.
        """
        clear_grads(self.params, set_to_none)

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, Nesterov momentum and weight decay.

    With ``g`` the gradient (plus ``weight_decay * p``), momentum keeps
    ``buf = momentum * buf + g`` and steps along ``buf`` (or
    ``g + momentum * buf`` with ``nesterov=True``); then
    ``p -= lr * step``.  This is PyTorch's formulation (no dampening).

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = mg.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([ 0.8, -1.6])
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        self.momentum = _hyperparameter("SGD", "momentum", momentum)
        self.weight_decay = _hyperparameter("SGD", "weight_decay", weight_decay)
        if nesterov and self.momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        lr, mom, wd = self.lr, self.momentum, self.weight_decay
        if not (mom or wd):  # plain SGD, the common case: one line per parameter
            for p in self.params:
                g = p.grad
                if g is not None:
                    if g.shape != p.shape:  # in-place broadcasting would hide it
                        self._wrong_shape(p)
                    p.data -= lr * (g.data if isinstance(g, Tensor) else g)
            return
        for p in self.params:
            g = _grad_array(self, p)
            if g is None:
                continue
            if wd:
                g = g + wd * p.data
            if mom:
                st = self.state.setdefault(id(p), {})
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
                else:
                    buf *= mom
                    buf += g
                g = g + mom * buf if self.nesterov else buf
            p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction; ``weight_decay`` adds ``wd * p`` to the gradient.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> opt = mg.optim.Adam([w], lr=0.1)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     ((w - 3.0) ** 2).sum().backward()
    ...     opt.step()
    >>> round(w.item(), 2)
    3.0
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_hyperparameter("Adam", "betas[0]", betas[0], 1.0), _hyperparameter("Adam", "betas[1]", betas[1], 1.0))
        self.eps = _hyperparameter("Adam", "eps", eps)
        self.weight_decay = _hyperparameter("Adam", "weight_decay", weight_decay)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        b1, b2 = self.betas
        for p in self.params:
            g = _grad_array(self, p)
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            st = self.state.setdefault(id(p), {})
            if not st:
                st["step"] = 0
                st["m"] = np.zeros_like(p.data)
                st["v"] = np.zeros_like(p.data)
            st["step"] += 1
            t, m, v = st["step"], st["m"], st["v"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            step_size = self.lr / (1 - b1 ** t)
            denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
            p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), PyTorch's ``AdamW``.

    Each step first shrinks every parameter, ``p -= lr * weight_decay * p``,
    then takes the Adam step on the plain gradient (where ``Adam``'s
    ``weight_decay`` adds ``wd * p`` to the gradient instead).

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> opt = mg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * 0.0).sum().backward()       # a zero gradient: only the decay acts
    >>> opt.step()
    >>> w.data
    array([0.95])
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, 0.0)
        self.decoupled_weight_decay = _hyperparameter("AdamW", "weight_decay", weight_decay)

    @no_grad()
    def step(self) -> None:
        """Decay every parameter that has a gradient, then take the Adam step."""
        shrink = 1.0 - self.lr * self.decoupled_weight_decay
        if shrink != 1.0:
            for p in self.params:
                if p.grad is not None:
                    p.data *= shrink
        super().step()


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012) as PyTorch writes it: a running average of squared gradients scales each step.

    ``v = alpha * v + (1 - alpha) * g^2``; with ``centered`` the running mean
    of ``g`` is subtracted, ``v - mean^2``; the step is ``g / (sqrt(v) + eps)``,
    accumulated with ``momentum`` when given, and ``p -= lr * step``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> opt = mg.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()                      # v = 0.01 * 4, step = 2 / 0.2 = 10
    >>> w.data.round(6)
    array([0.9])
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr)
        self.alpha = _hyperparameter("RMSprop", "alpha", alpha, 1.0 + 1e-12)
        self.eps = _hyperparameter("RMSprop", "eps", eps)
        self.weight_decay = _hyperparameter("RMSprop", "weight_decay", weight_decay)
        self.momentum = _hyperparameter("RMSprop", "momentum", momentum)
        self.centered = bool(centered)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        a = self.alpha
        for p in self.params:
            g = _grad_array(self, p)
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            st = self.state.setdefault(id(p), {})
            if not st:
                st["square_avg"] = np.zeros_like(p.data)
                if self.centered:
                    st["grad_avg"] = np.zeros_like(p.data)
                if self.momentum:
                    st["momentum_buffer"] = np.zeros_like(p.data)
            v = st["square_avg"]
            v *= a
            v += (1 - a) * (g * g)
            if self.centered:
                m = st["grad_avg"]
                m *= a
                m += (1 - a) * g
                denom = np.sqrt(v - m * m) + self.eps
            else:
                denom = np.sqrt(v) + self.eps
            if self.momentum:
                buf = st["momentum_buffer"]
                buf *= self.momentum
                buf += g / denom
                p.data -= self.lr * buf
            else:
                p.data -= self.lr * (g / denom)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) as PyTorch writes it: each step divided by the root of all squared gradients so far.

    ``sum += g^2`` and ``p -= lr_t * g / (sqrt(sum) + eps)``, with
    ``lr_t = lr / (1 + (t - 1) * lr_decay)`` at step ``t``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> opt = mg.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()                      # the first step has size lr
    >>> w.data
    array([0.5])
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, lr)
        self.lr_decay = _hyperparameter("Adagrad", "lr_decay", lr_decay)
        self.weight_decay = _hyperparameter("Adagrad", "weight_decay", weight_decay)
        self.initial_accumulator_value = _hyperparameter("Adagrad", "initial_accumulator_value",
                                                         initial_accumulator_value)
        self.eps = _hyperparameter("Adagrad", "eps", eps)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for p in self.params:
            g = _grad_array(self, p)
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            st = self.state.setdefault(id(p), {})
            if not st:
                st["step"] = 0
                st["sum"] = np.full_like(p.data, self.initial_accumulator_value)
            st["step"] += 1
            total = st["sum"]
            total += g * g
            clr = self.lr / (1 + (st["step"] - 1) * self.lr_decay)
            p.data -= clr * (g / (np.sqrt(total) + self.eps))
