"""Gradient-descent optimizers with PyTorch's semantics: SGD (momentum, Nesterov), Adam, AdamW, RMSprop, Adagrad.

An optimizer holds a list of parameters; ``step()`` updates their ``.data``
in place from their ``.grad`` (no graph is recorded), ``zero_grad()`` clears
the gradients.  A complex parameter is updated as PyTorch does it: SGD as it
is (linear in the gradient), Adam, AdamW, RMSprop and Adagrad with their
running averages of squared gradients taken over the real and imaginary parts
apart (PyTorch's ``view_as_real``; :func:`_squares`, :func:`_normalized`).

SGD, Adam and AdamW write their update once, as ``_update(way)``: ``way``
says what it runs on.  Outside ``mg.compile`` it is :data:`_EAGER`: the
arrays, updated in place, and the hyperparameters as numbers.  Inside
``mg.compile``'s trace it is :class:`_Traced`: the tensors, so that the trace
writes the update into the generated code, the learning rate read from its
parameter group at every replay (a scheduler changes it) and the Python
decisions (momentum or not, a first step) guarded.  Other optimizers'
``step()`` is replayed as a Python call.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _mode as _modes
from .._mode import no_grad
from .._tensor import Tensor, as_tensor, clear_grads, foreign_library, kind_of, mark_written

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


class _Eager:
    """How an update runs outside ``mg.compile``: on arrays, hyperparameters as numbers."""

    @staticmethod
    def array(t: Tensor):
        d = t.data  # writes through it mark the tensor written
        if not isinstance(d, np.ndarray):  # another library's array, written in place: noted here
            mark_written(t)
        return d

    @staticmethod
    def grad(optimizer: "Optimizer", p: Tensor):
        return _grad_array(optimizer, p)

    @staticmethod
    def setting(container: dict, key, like):
        return container[key]

    @staticmethod
    def increment(container: dict, key, like):
        container[key] += 1
        return container[key]

    @staticmethod
    def decide(container: dict, key):
        return container.get(key)

    @staticmethod
    def state(st: dict, key, like: np.ndarray):
        return _state(st, key, like).data


_EAGER = _Eager()


class _Traced:
    """How an update runs inside ``mg.compile``'s trace: on tensors, numbers read or decided through the trace."""

    def __init__(self, tracer, optimizer: "Optimizer"):
        self.tracer = tracer
        tracer.owners[id(optimizer)] = optimizer  # guarded: a replaced optimizer traces again

    @staticmethod
    def array(t: Tensor):
        return t

    @staticmethod
    def grad(optimizer: "Optimizer", p: Tensor):
        g = p.grad
        if g is not None and g.shape != p.shape:
            optimizer._wrong_shape(p)
        return g

    def setting(self, container: dict, key, like):
        return self.tracer.setting(container, key, like)

    def increment(self, container: dict, key, like):
        return self.tracer.increment(container, key, like)

    def decide(self, container: dict, key):
        return self.tracer.decide(container, key)

    def state(self, st: dict, key, like: np.ndarray):
        fresh = not isinstance(st.get(key), Tensor)
        t = _state(st, key, like)
        if fresh:
            self.tracer.adopt(t)  # made during the trace, kept after it: the replay reads it as the closure's
        return t


def _state(st: dict, key, like: np.ndarray) -> Tensor:
    """The state tensor ``st[key]``: zeros when absent (the first step then equals PyTorch's), an array loaded
    by ``load_state_dict`` made one; a Tensor, so that a compiled step updates it in place."""
    x = st.get(key)
    if not isinstance(x, Tensor):
        if like.__class__ is not np.ndarray and not isinstance(like, np.ndarray):  # another library's array
            import array_api_compat

            from ..backends import from_numpy, library_of, namespace_of

            x = st[key] = as_tensor(namespace_of(like).zeros_like(like) if x is None
                                    else from_numpy(np.asarray(x, dtype=float), library_of(like),
                                                    device=array_api_compat.device(like)))
            return x
        x = st[key] = as_tensor(np.zeros_like(like) if x is None else np.array(x, dtype=like.dtype, copy=True))
    return x


def _array_functions(array):
    """NumPy for a NumPy array; the Array API namespace of another library's (``sqrt``, ``zeros_like``, ``full_like``)."""
    if isinstance(array, np.ndarray):
        return np
    from ..backends import namespace_of

    return namespace_of(array)


def _sqrt(x):
    """``np.sqrt``, which a Tensor routes to ``mg.sqrt`` (inside ``mg.compile``'s trace); an array of another
    library takes its own namespace's."""
    if isinstance(x, (np.ndarray, np.generic, Tensor)):
        return np.sqrt(x)
    return _array_functions(x).sqrt(x)


def _squares(g, complex_: bool):
    """``g * g``; for a complex gradient, the squares of its real and imaginary parts apart, as the real and
    imaginary parts of the result (PyTorch's Adam on a complex parameter is Adam on ``view_as_real``)."""
    if not complex_:
        return g * g
    return g.real * g.real + 1j * (g.imag * g.imag)


def _normalized(m, v, c, eps, complex_: bool, sqrt=None):
    """``m / (sqrt(v) / c + eps)`` (``c`` None: ``m / (sqrt(v) + eps)``), the step of Adam, RMSprop and Adagrad;
    for a complex parameter, per real and imaginary part.  ``sqrt``: the array library's (the eager RMSprop and
    Adagrad), else :func:`_sqrt`."""
    sqrt = _sqrt if sqrt is None else sqrt

    def root(x):
        return sqrt(x) if c is None else sqrt(x) / c

    if not complex_:
        return m / (root(v) + eps)
    return m.real / (root(v.real) + eps) + 1j * (m.imag / (root(v.imag) + eps))


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
    """Base class: parameter groups, their hyperparameters and per-parameter state; subclasses define ``step()``.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups, as in
    PyTorch): ``{"params": [...], "lr": 0.1}``, each key given in a group
    overriding the optimizer's default for that group's parameters.  The
    hyperparameters live in ``param_groups`` (a learning-rate scheduler
    changes ``group["lr"]``); ``opt.lr`` reads the first group's and sets
    every group's.

    Examples
    --------
    >>> import microgradnp as mg
    >>> class SignSGD(mg.optim.Optimizer):
    ...     def __init__(self, params, lr):
    ...         super().__init__(params, lr=lr)
    ...     def step(self):
    ...         for group in self.param_groups:
    ...             for p in group["params"]:
    ...                 if p.grad is not None:
    ...                     p.data -= group["lr"] * ((p.grad > 0) * 1.0 - (p.grad < 0))
    >>> w = mg.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = SignSGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([ 0.5, -0.5])
    """

    #: How each hyperparameter is checked: ``bool``, ``"pair"`` (two numbers in
    #: [0, 1)), an upper bound, or (absent) any finite number >= 0.
    _kinds: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not hasattr(step, "replayed"):
            cls.step = _modes.replayed(step)  # mg.compile calls every optimizer's step again at each replay

    def __init__(self, params, *, foreach: bool | None = None, fused: bool | None = None, **defaults):
        name = type(self).__name__
        for key, value in (("foreach", foreach), ("fused", fused)):  # PyTorch's kernel choices; we have one loop
            if value not in (None, False):
                raise ValueError(f"{name}: {key}={value!r} asks for PyTorch's {key} kernels, which microgradnp does "
                                 f"not have (one NumPy loop per parameter, or mg.compile's generated code); leave "
                                 f"{key} as None or False")
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors, got a single Tensor (wrap it in a list)")
        given = list(params)
        groups = given if given and isinstance(given[0], dict) else [{"params": given}]
        self.defaults = {k: self._checked(k, v) for k, v in defaults.items()}
        self.param_groups: list[dict] = []
        self.params: list[Tensor] = []
        seen: dict[int, int] = {}
        for group in groups:
            if not isinstance(group, dict) or "params" not in group:
                raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry, got {group!r}")
            unknown = set(group) - {"params"} - set(self.defaults)
            if unknown:
                raise TypeError(f"{name}: unknown hyperparameter(s) {sorted(unknown)} in a parameter group "
                                f"(it takes {sorted(self.defaults)})")
            ps = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
            for p in ps:
                i = len(self.params)
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
                self.params.append(p)
            settings = {k: self._checked(k, v) for k, v in group.items() if k != "params"}
            self.param_groups.append({**self.defaults, **settings, "params": ps})
        if not self.params:
            raise ValueError(f"{name} got an empty list of parameters")
        self.state: dict[int, dict] = {}

    def _checked(self, key: str, value):
        owner = type(self).__name__
        kind = self._kinds.get(key)
        if kind is bool:
            return bool(value)
        if kind == "pair":
            if len(value) != 2:
                raise ValueError(f"{owner}: {key} must be a pair, got {value!r}")
            return (_hyperparameter(owner, f"{key}[0]", value[0], 1.0), _hyperparameter(owner, f"{key}[1]", value[1], 1.0))
        return _hyperparameter(owner, key, value, kind)

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group (setting it sets every group's)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value) -> None:
        value = self._checked("lr", value)
        for group in self.param_groups:
            group["lr"] = value

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

    def step(self) -> None:
        """Update every parameter that has a gradient (by the subclass's ``_update``)."""
        tracer = _modes.traced_update()
        if tracer is None:
            with no_grad():
                self._update(_EAGER)
        elif all(p.grad is None or id(p) in tracer.pending for p in self.params):
            with no_grad():  # every gradient computed in the traced step: the update goes into its code
                self._update(_Traced(tracer, self))
        else:  # gradients from outside the step: read again at each replay, by the step replayed whole
            tracer.host_call(_eager_step, (self,), {})

    def _update(self, way) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define step() (or _update(way))")

    def _gradients(self, groups=None, add_weight_decay: bool = True):
        """``(group, p, g, state)`` for every parameter with a gradient: the loop every ``step`` shares.

        ``g`` is the gradient array, plus ``weight_decay * p`` when the group
        has a weight decay and ``add_weight_decay`` (AdamW decays apart);
        ``state`` is the parameter's state dict (empty on its first step).
        """
        for group in self.param_groups if groups is None else groups:
            wd = group.get("weight_decay", 0.0) if add_weight_decay else 0.0
            for p in group["params"]:
                g = _grad_array(self, p)
                if g is None:
                    continue
                if wd:
                    g = g + wd * p.data
                yield group, p, g, self.state.setdefault(id(p), {})

    def state_dict(self) -> dict:
        """The hyperparameters of each group and the per-parameter state (copies), parameters by position.

        As PyTorch's: ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, to
        save with a checkpoint and give back to :meth:`load_state_dict` of an optimizer over the same
        parameters.

        Examples
        --------
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0], requires_grad=True)
        >>> opt = mg.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> opt.state_dict()["state"][0]["momentum_buffer"]
        array([2.])
        """
        index = {id(p): i for i, p in enumerate(self.params)}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        state = {index[k]: {n: _copied(v) for n, v in st.items()} for k, st in self.state.items() if k in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the hyperparameters and state of :meth:`state_dict` (from an optimizer over the same parameters)."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(mine["params"]) for g, mine in zip(groups, self.param_groups)):
            raise ValueError(f"{name}.load_state_dict: the saved parameter groups ({[len(g['params']) for g in groups]} "
                             f"parameters) do not match this optimizer's "
                             f"({[len(g['params']) for g in self.param_groups]})")
        for g, mine in zip(groups, self.param_groups):
            for k, v in g.items():
                if k != "params":
                    mine[k] = self._checked(k, v)
        self.state = {}
        for i, st in state_dict["state"].items():
            p = self.params[int(i)]
            self.state[id(p)] = {n: _loaded(v, p) for n, v in st.items()}

    def __repr__(self) -> str:
        groups = f", {len(self.param_groups)} groups" if len(self.param_groups) > 1 else ""
        return f"{type(self).__name__}({len(self.params)} parameters{groups}, lr={self.lr})"


def _copied(v):
    """A state entry for ``state_dict``: a copy of an array (on its own library and device), else as it is."""
    d = v._data if isinstance(v, Tensor) else v
    if isinstance(d, np.ndarray):
        return np.array(d, copy=True)
    if foreign_library(d) is not None:
        from ..backends import namespace_of

        return namespace_of(d).copy(d)
    return v


def _loaded(v, p: Tensor):
    """A saved state entry for parameter ``p``: an array becomes a copy on ``p``'s library, device and dtype."""
    if p.library == "numpy":
        return np.array(v, dtype=p.dtype, copy=True) if isinstance(v, np.ndarray) else v
    if not isinstance(v, np.ndarray) and foreign_library(v) is None:
        return v  # a step count, a number
    from ..backends import from_numpy, namespace_of, to_numpy

    ns = namespace_of(p._data)
    return as_tensor(ns.astype(from_numpy(to_numpy(v), p.library, device=p.device), p.dtype))


def _eager_step(optimizer: Optimizer) -> None:
    """An optimizer's update on arrays: what a compiled step replays when the gradients come from outside it."""
    with no_grad():
        optimizer._update(_EAGER)


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

    _kinds = {"nesterov": bool}

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, foreach: bool | None = None, fused: bool | None = None):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov,
                         foreach=foreach, fused=fused)
        for group in self.param_groups:
            if group["nesterov"] and group["momentum"] <= 0:
                raise ValueError("SGD: nesterov=True needs momentum > 0")

    def _update(self, way) -> None:
        for group in self.param_groups:
            mom, wd = way.decide(group, "momentum"), way.decide(group, "weight_decay")
            nesterov = way.decide(group, "nesterov")
            for p in group["params"]:
                g = way.grad(self, p)
                if g is None:
                    continue
                dt = p._data  # the dtype, array library and device of what a traced setting becomes
                if wd:
                    g = g + way.setting(group, "weight_decay", dt) * way.array(p)
                if mom:  # the buffer starts at zero: the first step's is the gradient, as in PyTorch
                    buf = way.state(self.state.setdefault(id(p), {}), "momentum_buffer", p.data)
                    buf *= way.setting(group, "momentum", dt)
                    buf += g
                    g = g + way.setting(group, "momentum", dt) * buf if nesterov else buf
                own = way.array(p)
                own -= way.setting(group, "lr", dt) * g


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

    _kinds = {"betas": "pair"}
    #: AdamW: the weight decay shrinks the parameters instead of joining the gradient.
    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 *, foreach: bool | None = None, fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, fused=fused)

    def _update(self, way) -> None:
        for group in self.param_groups:
            (b1, b2), eps, wd = way.decide(group, "betas"), way.decide(group, "eps"), way.decide(group, "weight_decay")
            for p in group["params"]:
                g = way.grad(self, p)
                if g is None:
                    continue
                dt = p._data  # the dtype, array library and device of what a traced setting becomes
                lr = way.setting(group, "lr", dt)
                if wd and not self._decoupled:
                    g = g + way.setting(group, "weight_decay", dt) * way.array(p)
                if wd and self._decoupled:
                    own = way.array(p)
                    own *= 1.0 - lr * way.setting(group, "weight_decay", dt)
                st = self.state.setdefault(id(p), {})
                st.setdefault("step", 0)
                t = way.increment(st, "step", dt)
                m, v = way.state(st, "m", p.data), way.state(st, "v", p.data)
                complex_ = kind_of(p._data) == "c"  # (the dtype is guarded in a compiled step: a fixed choice)
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * _squares(g, complex_)
                step_size = lr / (1 - b1 ** t)
                bias2 = 1 - b2 ** t  # a Python number, or a traced Tensor inside mg.compile (np.sqrt routes it)
                c = math.sqrt(bias2) if isinstance(bias2, float) else np.sqrt(bias2)
                own = way.array(p)
                own -= step_size * _normalized(m, v, c, eps, complex_)


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

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 *, foreach: bool | None = None, fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, fused=fused)


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
                 momentum: float = 0.0, centered: bool = False, *, foreach: bool | None = None):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered, foreach=foreach)

    _kinds = {"alpha": 1.0 + 1e-12, "centered": bool}

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for group, p, g, st in self._gradients():
            lr, a, eps, mom = group["lr"], group["alpha"], group["eps"], group["momentum"]
            xp = _array_functions(p.data)
            if not st:
                st["square_avg"] = xp.zeros_like(p.data)
                st["grad_avg"] = xp.zeros_like(p.data)
                st["momentum_buffer"] = xp.zeros_like(p.data)
            complex_ = kind_of(p._data) == "c"  # per real and imaginary part, as PyTorch (view_as_real)
            v = st["square_avg"]
            v *= a
            v += (1 - a) * _squares(g, complex_)
            if group["centered"]:
                m = st["grad_avg"]
                m *= a
                m += (1 - a) * g
                v = v - _squares(m, complex_)
            step = _normalized(g, v, None, eps, complex_, xp.sqrt)
            if mom:
                buf = st["momentum_buffer"]
                buf *= mom
                buf += step
                p.data -= lr * buf
            else:
                p.data -= lr * step


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
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, foreach: bool | None = None,
                 fused: bool | None = None):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps, foreach=foreach, fused=fused)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for group, p, g, st in self._gradients():
            lr, decay, eps = group["lr"], group["lr_decay"], group["eps"]
            xp = _array_functions(p.data)
            if not st:
                st["step"] = 0
                init = group["initial_accumulator_value"]  # (both parts of a complex one, as PyTorch)
                st["sum"] = xp.full_like(p.data, complex(init, init) if kind_of(p._data) == "c" else init)
            st["step"] += 1
            total = st["sum"]
            total += _squares(g, kind_of(p._data) == "c")  # per real and imaginary part, as PyTorch
            clr = lr / (1 + (st["step"] - 1) * decay)
            p.data -= clr * _normalized(g, total, None, eps, kind_of(p._data) == "c", xp.sqrt)
