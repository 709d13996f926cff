"""Weight initialisers, as the reference notebooks use them.

Each initialiser is a function ``init(shape, rng, dtype) -> ndarray`` for a
weight of shape ``(fan_out, fan_in)`` (PyTorch's and Ng's layout).  Random
numbers come only from ``rng``: a ``np.random.Generator``, a legacy
``np.random.RandomState`` (to replay code written with ``np.random.seed``), an
int seed, or ``None`` for a fresh generator.  NumPy's global state is never
touched.

=========================  ====================================================
``normal_fan_in``          N(0, 1/sqrt(fan_in)): the 2-2-2 notebook
``uniform(eps=0.12)``      U[-eps, eps]: Ng's ``randInitializeWeights``
``glorot_uniform``         U[-a, a], a = sqrt(6) / sqrt(fan_in + fan_out)
=========================  ====================================================
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..creation import as_rng

__all__ = ["normal_fan_in", "uniform", "glorot_uniform", "zeros", "get"]


def normal_fan_in(shape, rng=None, dtype=np.float64) -> np.ndarray:
    """Normal with mean 0 and standard deviation ``1 / sqrt(fan_in)``.

    Drawn with ``rng.normal(0, std, shape)``, the call the 2-2-2 notebook makes.

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.nn import init
    >>> init.normal_fan_in((2, 2), rng=np.random.RandomState(0)).shape
    (2, 2)
    """
    fan_in = shape[-1] if len(shape) else 1
    std = 1.0 / math.sqrt(max(fan_in, 1))  # fan_in 0: an empty weight, nothing is drawn
    return np.asarray(as_rng(rng).normal(0.0, std, size=shape), dtype=dtype)


def uniform(eps: float = 0.12) -> Callable:
    """Uniform in ``[-eps, eps]`` (Ng's exercise uses ``eps = 0.12``).

    Drawn as ``rng.random(shape) * 2 eps - eps``, as the exercise writes it.

    Examples
    --------
    >>> from microgradnp.nn import init
    >>> w = init.uniform(0.12)((25, 64), rng=0)
    >>> bool((abs(w) <= 0.12).all())
    True
    """

    def init(shape, rng=None, dtype=np.float64) -> np.ndarray:
        r = as_rng(rng)
        u = r.random(shape) if isinstance(r, np.random.Generator) else r.random_sample(shape)
        return np.asarray(u * (2 * eps) - eps, dtype=dtype)

    init.__name__ = f"uniform(eps={eps})"
    return init


def glorot_uniform(shape, rng=None, dtype=np.float64) -> np.ndarray:
    """Glorot (Xavier) uniform: ``U[-a, a]`` with ``a = sqrt(6) / sqrt(fan_in + fan_out)``.

    Examples
    --------
    >>> from microgradnp.nn import init
    >>> w = init.glorot_uniform((5, 2), rng=0)
    >>> bool((abs(w) <= (6 / 7) ** 0.5).all())
    True
    """
    fan_out, fan_in = (shape[0], shape[-1]) if len(shape) >= 2 else (1, shape[0])
    a = math.sqrt(6.0) / math.sqrt(max(fan_in + fan_out, 1))  # both 0: an empty weight
    return uniform(a)(shape, rng, dtype)


def zeros(shape, rng=None, dtype=np.float64) -> np.ndarray:
    """All zeros (the usual bias initialiser).

    Examples
    --------
    >>> from microgradnp.nn import init
    >>> init.zeros((3,)).tolist()
    [0.0, 0.0, 0.0]
    """
    return np.zeros(shape, dtype=dtype)


_BY_NAME = {
    "normal": normal_fan_in,
    "normal_fan_in": normal_fan_in,
    "uniform": uniform(0.12),
    "glorot": glorot_uniform,
    "glorot_uniform": glorot_uniform,
    "xavier": glorot_uniform,
    "zeros": zeros,
}


def get(init) -> Callable:
    """An initialiser from a name (``"normal"``, ``"uniform"``, ``"glorot"``, ``"zeros"``) or a callable.

    Examples
    --------
    >>> from microgradnp.nn import init
    >>> init.get("glorot") is init.glorot_uniform
    True
    """
    if callable(init):
        return init
    try:
        return _BY_NAME[init]
    except KeyError:
        raise ValueError(f"unknown initialiser {init!r}; choose one of {sorted(_BY_NAME)} or pass a function") from None
