"""``functional_call``: run an ``nn.Module`` with parameters (and buffers) passed in, as torch.func does.

A module holds its parameters as attributes; the transforms differentiate
and batch *arguments*.  ``functional_call(model, params, x)`` runs
``model(x)`` with ``params`` (a dict from names such as ``"layers.0.weight"``
to tensors or arrays) in place of the module's own, so a model's loss is a
function of its parameters: ``vmap(grad(loss), in_axes=(None, 0, 0))`` gives
per-example gradients of any model in one line.
"""

from __future__ import annotations

from .._tensor import Tensor, as_tensor, shape_of

__all__ = ["functional_call"]


def _owner(module, path: str):
    """The module holding the attribute at ``path`` and the attribute's name."""
    *parents, attr = path.split(".")
    for name in parents:
        module = module._modules[name]
    return module, attr


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *, strict: bool = False):
    """Call ``module(*args, **kwargs)`` with the given parameters and buffers in place of its own.

    Parameters
    ----------
    module
        An ``nn.Module``.
    parameter_and_buffer_dicts
        A dict (or a tuple of dicts) from names as :meth:`Module.named_parameters`
        and :meth:`Module.named_buffers` give them to tensors or arrays of
        the same shapes.  Names left out keep the module's own values
        (``strict=True``: every parameter and buffer must be given).
    args
        The positional arguments (a single value that is not a tuple counts as one).
    kwargs
        The keyword arguments.

    Notes
    -----
    The module is left as it was, also when the call raises.  It is changed
    during the call, so two threads must not run ``functional_call`` on the
    same module at once.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import functional_call, grad, vmap
    >>> model = mg.nn.Linear(3, 1, rng=0)
    >>> params = {k: p.detach() for k, p in model.named_parameters()}
    >>> def loss(params, x, y):
    ...     return ((functional_call(model, params, x) - y) ** 2).sum()
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 1))
    >>> per_example = vmap(grad(loss), in_axes=(None, 0, 0))(params, X, Y)
    >>> per_example["weight"].shape
    (5, 1, 3)
    """
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) \
        else (parameter_and_buffer_dicts,)
    given: dict = {}
    for d in dicts:
        if not isinstance(d, dict):
            raise TypeError(f"functional_call: expected dicts of parameters and buffers, got {type(d).__name__}")
        for name, value in d.items():
            if name in given:
                raise ValueError(f"functional_call: {name!r} is given twice")
            given[name] = value
    own = dict(module.named_parameters())
    own.update(module.named_buffers())
    unknown = sorted(set(given) - set(own))
    if unknown:
        raise ValueError(f"functional_call: {type(module).__name__} has no parameter or buffer named "
                         f"{', '.join(map(repr, unknown))}; its names are {', '.join(map(repr, list(own)[:8]))}"
                         + (", ..." if len(own) > 8 else ""))
    if strict and set(own) - set(given):
        missing = sorted(set(own) - set(given))
        raise ValueError(f"functional_call(strict=True): missing {', '.join(map(repr, missing))}")
    swapped = []
    try:
        for name, value in given.items():
            old = own[name]
            new = value if isinstance(value, Tensor) else as_tensor(value) if isinstance(old, Tensor) else value
            if shape_of(new) != shape_of(old):
                raise ValueError(f"functional_call: {name!r} has shape {shape_of(old)} in "
                                 f"{type(module).__name__}, but the value given has shape {tuple(new.shape)}")
            owner, attr = _owner(module, name)
            swapped.append((owner, attr, owner.__dict__[attr]))
            object.__setattr__(owner, attr, new)
        return module(*(args if isinstance(args, tuple) else (args,)), **(kwargs or {}))
    finally:
        for owner, attr, old in reversed(swapped):
            object.__setattr__(owner, attr, old)
