"""Loss modules: PyTorch's names over :mod:`microgradnp.nn.functional`.

Each holds its ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``; also
``"batchmean"`` where the function takes it) and is called as
``loss_fn(input, target)``.
"""

from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]


class _Loss(Module):
    function = None  # the nn.functional loss this module calls

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum', 'none' or 'batchmean', "
                             f"got {reduction!r}")
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).function(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error, ``mean((input - target)^2)`` (see :func:`~microgradnp.nn.functional.mse_loss`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.MSELoss()(mg.tensor([1.0, 3.0]), mg.tensor([0.0, 0.0])).item()
    5.0
    """

    function = staticmethod(F.mse_loss)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (see :func:`~microgradnp.nn.functional.binary_cross_entropy`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> round(mg.nn.BCELoss()(mg.tensor([0.5]), mg.tensor([1.0])).item(), 6)
    0.693147
    """

    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, stable (see :func:`~microgradnp.nn.functional.binary_cross_entropy_with_logits`).

    Examples
    --------
    >>> import microgradnp as mg
    >>> round(mg.nn.BCEWithLogitsLoss()(mg.tensor([0.0]), mg.tensor([1.0])).item(), 6)
    0.693147
    """

    function = staticmethod(F.binary_cross_entropy_with_logits)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against class labels or probabilities (see
    :func:`~microgradnp.nn.functional.cross_entropy`).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> loss_fn = mg.nn.CrossEntropyLoss()
    >>> round(loss_fn(mg.tensor([[0.0, 0.0]]), np.array([1])).item(), 6)
    0.693147
    """

    function = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities at the labels (see :func:`~microgradnp.nn.functional.nll_loss`).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.nn.NLLLoss()(mg.tensor([[-1.0, -2.0]]), np.array([1])).item()
    2.0
    """

    function = staticmethod(F.nll_loss)
