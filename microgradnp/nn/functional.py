"""Losses and activations as functions (PyTorch's names and semantics), built from core ops.

Every loss takes ``reduction``:

* ``"mean"``: average over all elements (PyTorch's default);
* ``"sum"``: sum over all elements;
* ``"batchmean"``: sum over all elements divided by the batch size (the size
  of the first axis): the cost of Ng's exercise and of the moons notebook,
  a per-example loss summed over the K outputs and averaged over examples;
* ``"none"``: the elementwise (or per-example) losses.

Shapes of ``input`` and ``target`` must match exactly: a ``(3, 1)`` prediction
against a ``(3,)`` target raises instead of silently broadcasting to
``(3, 3)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._tensor import Tensor, as_array, foreign_library
from ..api import (
    bce,
    bce_with_logits,
    linear,
    log_sigmoid,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    squared_error,
    tanh,
)
from ..api import (
    embedding as _embedding,
)
from ..api import (
    pick as _pick,
)
from .conv import avg_pool2d, conv1d, conv2d, max_pool2d

__all__ = [
    "mse_loss", "squared_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "nll_loss", "l2_penalty", "one_hot", "linear", "embedding",
    "sigmoid", "relu", "tanh", "softmax", "log_softmax", "log_sigmoid",
    "conv1d", "conv2d", "max_pool2d", "avg_pool2d",
]

_REDUCTIONS = ("mean", "sum", "batchmean", "none")


def _as_target(target, like: Tensor):
    """The target as a Tensor or an array of the input's dtype (no silent float64 upcast)."""
    if isinstance(target, Tensor) or (target.__class__ is np.ndarray and target.dtype == like.dtype):
        return target
    if foreign_library(target) is not None:  # another library's array: a Tensor on it (ops refuse a mix by name)
        return Tensor(target, dtype=like.dtype)
    t = as_array(target, "the loss's target")
    return t.astype(like.dtype) if t.dtype.kind in "fiub" else t


def _shape(x) -> tuple:
    return x.shape if hasattr(x, "shape") else np.shape(x)


def _same_shape(name: str, input, target) -> None:
    if _shape(input) != _shape(target):
        raise ValueError(
            f"{name}: input has shape {_shape(input)} but target has shape {_shape(target)}; they must match "
            "exactly (reshape one of them: broadcasting here would silently compare every pair)"
        )


def _check_reduction(reduction: str, name: str, input) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if reduction == "mean" or reduction == "batchmean":
        shape = _shape(input)
        if 0 in (shape if reduction == "mean" else shape[:1]):
            raise ValueError(
                f"{name}: reduction={reduction!r} over an empty batch (input of shape {shape}) divides by zero "
                "(PyTorch returns nan); skip empty batches or use reduction='sum'"
            )
    return reduction


def _reduce(loss: Tensor, reduction: str):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "batchmean":
        n = loss.shape[0] if loss.ndim else 1
        return loss.sum() * (1.0 / n)
    return loss  # "none"


def _squared_error(name: str, input, target, reduction: str, scale: float):
    target = _as_target(target, input)
    if input.shape != target.shape:
        _same_shape(name, input, target)  # raises with the full message
    if reduction != "sum":  # the per-example SGD path skips the check
        _check_reduction(reduction, name, input)
    return squared_error(input, target, reduction, scale)


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error ``mean((input - target)^2)``, one fused graph node.

    Examples
    --------
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> F.mse_loss(mg.tensor([1.0, 3.0]), mg.tensor([0.0, 1.0])).item()
    2.5
    """
    return _squared_error("mse_loss", input, target, reduction, 1.0)


def squared_loss(input, target, reduction: str = "sum"):
    """Half the squared error, ``1/2 * sum((input - target)^2)``: the 2-2-2 notebook's loss.

    The 1/2 makes the gradient with respect to ``input`` exactly
    ``input - target``.  One fused graph node.

    Examples
    --------
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> F.squared_loss(mg.tensor([1.0, 3.0]), mg.tensor([0.0, 1.0])).item()
    2.5
    """
    return _squared_error("squared_loss", input, target, reduction, 0.5)


def binary_cross_entropy(probs, target, reduction: str = "mean"):
    """Binary cross-entropy of probabilities: ``-(t log p + (1 - t) log(1 - p))``.

    As in PyTorch: each ``log`` is clamped at -100, so probabilities of
    exactly 0 or 1 give a finite loss; the gradient is ``(p - t) / (p (1 -
    p))`` with the denominator held at ``1e-12`` or more, so a confidently
    wrong probability gets a large finite gradient, never 0 or NaN; inputs
    outside [0, 1] raise ``ValueError``.  One fused graph node.  When you have
    logits, :func:`binary_cross_entropy_with_logits` is more accurate.

    Examples
    --------
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> F.binary_cross_entropy(mg.tensor([0.0, 1.0]), mg.tensor([1.0, 1.0]), reduction="sum").item()
    100.0
    """
    target = _as_target(target, probs)
    _same_shape("binary_cross_entropy", probs, target)
    values = probs.data if isinstance(probs, Tensor) else np.asarray(probs)
    if values.size and not (np.all(values >= 0) and np.all(values <= 1)):  # NaN fails both
        bad = values[~((values >= 0) & (values <= 1))].ravel()[0]
        raise ValueError(
            f"binary_cross_entropy: every input must be a probability in [0, 1], got {bad} (input of shape "
            f"{values.shape}); for logits use binary_cross_entropy_with_logits"
        )
    return bce(probs, target, _check_reduction(reduction, "binary_cross_entropy", probs))


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean"):
    """Binary cross-entropy of ``sigmoid(logits)``, computed from the logits: stable at +-1000.

    Uses ``-log(sigmoid(z)) = softplus(-z)``, so the loss is
    ``softplus(z) - t z``, exact for any ``z``.  Its gradient is
    ``sigmoid(z) - t``.  One fused graph node.

    Examples
    --------
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> F.binary_cross_entropy_with_logits(mg.tensor([1000.0, -1000.0]), mg.tensor([0.0, 1.0]), reduction="none")
    tensor([1000., 1000.])
    """
    target = _as_target(target, logits)
    _same_shape("binary_cross_entropy_with_logits", logits, target)
    return bce_with_logits(logits, target, _check_reduction(reduction, "binary_cross_entropy_with_logits", logits))


def _labels(target, n: int, num_classes: int, name: str) -> np.ndarray:
    t = as_array(target, f"{name}'s target")  # a Tensor gives its array through __array__
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or not np.all(t == np.round(t)):
            raise ValueError(f"{name}: class labels must be whole numbers, got {t.dtype} values that are not")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise TypeError(f"{name}: class labels must be integers, got dtype {t.dtype}")
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"{name}: {n} examples of logits but labels of shape {t.shape}; give one label per example")
    if n and (t.min() < 0 or t.max() >= num_classes):
        bad = t[(t < 0) | (t >= num_classes)]
        raise ValueError(
            f"{name}: labels must lie in [0, {num_classes - 1}] for {num_classes} classes; got {bad[:5].tolist()}"
        )
    return t


def nll_loss(log_probs, target, reduction: str = "mean"):
    """Negative log-likelihood of integer class labels given log-probabilities ``(N, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> F.nll_loss(mg.tensor(np.log([[0.5, 0.5], [0.1, 0.9]])), np.array([0, 1])).item()
    0.39925
    """
    return _nll(log_probs, target, reduction, "nll_loss")


def _nll(log_probs, target, reduction: str, name: str):
    if log_probs.ndim != 2:
        raise ValueError(f"{name}: expected log-probabilities of shape (N, C), got {log_probs.shape}")
    n, c = log_probs.shape
    _check_reduction(reduction, name, log_probs)
    labels: Any
    if isinstance(target, Tensor):
        labels = target
    elif foreign_library(target) is not None:
        labels = Tensor(target, dtype=target.dtype)  # on its own library, its integer dtype kept
    else:
        labels = as_array(target, f"{name}'s target")
    try:
        picked = _pick(log_probs, labels)  # the labels are an input: checked by the op, followed by vmap and compile
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc.__cause__ or exc}") from None  # the op's own words, under our name
    return _reduce(-picked, reduction)


def cross_entropy(logits, target, reduction: str = "mean"):
    """Softmax cross-entropy of logits ``(N, C)`` (or ``(C,)``), stable via ``log_softmax``.

    ``target`` is either integer class labels ``(N,)`` in ``[0, C)`` (whole
    numbers stored as floats are accepted), or floating-point class
    probabilities ``(N, C)`` such as one-hot rows.  Probability targets that
    require grad get their gradient ``-log_softmax(logits)``.  Labels out of
    range and a batch-size mismatch raise ``ValueError``; an integer target
    shaped like the logits raises ``TypeError`` (as in PyTorch, integers are
    labels, never probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> logits = mg.tensor([[1000.0, -1000.0], [0.0, 0.0]], requires_grad=True)
    >>> F.cross_entropy(logits, np.array([0, 1])).item()  # (0 + log 2) / 2
    0.34657
    >>> F.cross_entropy(logits, np.array([[1.0, 0.0], [0.0, 1.0]])).item()
    0.34657
    """
    if logits.ndim not in (1, 2):
        raise ValueError(f"cross_entropy: expected logits of shape (N, C) or (C,), got {logits.shape}")
    axis = logits.ndim - 1
    if axis:
        _check_reduction(reduction, "cross_entropy", logits)
    if len(_shape(target)) == 2:
        _same_shape("cross_entropy", logits, target)  # (N, C) probabilities, or an error naming both shapes
    if _shape(target) == logits.shape and logits.shape != (1,):
        probs = _probabilities(target, logits)
        per_example = -(log_softmax(logits, axis=axis) * probs).sum(axis=axis)
        return per_example if logits.ndim == 1 else _reduce(per_example, reduction)
    if logits.ndim == 1:  # a single example and its label
        if _shape(target) not in ((), (1,)):
            _same_shape("cross_entropy", logits, target)  # raises: neither a label nor a probability vector
        label = _labels(np.asarray(target).reshape(-1), 1, logits.shape[0], "cross_entropy")[0]
        return -log_softmax(logits)[int(label)]
    return _nll(log_softmax(logits, axis=1), target, reduction, "cross_entropy")


def _probabilities(target, like: Tensor):
    """Class-probability targets, kept in the graph when they are a Tensor (their gradient is not dropped)."""
    kind = target.dtype.kind if hasattr(target, "dtype") else np.asarray(target).dtype.kind
    if kind != "f":
        raise TypeError(
            f"cross_entropy: a target shaped like the logits {like.shape} holds class probabilities and must be "
            f"floating point, got dtype {target.dtype if hasattr(target, 'dtype') else np.asarray(target).dtype}; "
            "integer class labels have shape (N,) (as in PyTorch)"
        )
    return _as_target(target, like)


def l2_penalty(params, lam: float, m: int):
    """``lam / (2 m) * sum of squared weights``, skipping biases: the regularizer of Ng's cost.

    ``params`` is a :class:`~microgradnp.nn.Module` (every parameter whose name
    ends in ``bias`` is skipped) or an iterable of the weight tensors to
    penalize.  ``m`` is the number of training examples.

    Examples
    --------
    >>> import microgradnp as mg
    >>> net = mg.nn.MLP([3, 2], init="zeros")
    >>> net.layers[0].weight.data[:] = 1.0
    >>> net.layers[0].bias.data[:] = 5.0   # not penalized
    >>> mg.nn.functional.l2_penalty(net, lam=1.0, m=2).item()  # 1/4 * 6
    1.5
    """
    from .module import Module

    if isinstance(params, Module):
        weights = [p for name, p in params.named_parameters() if not name.endswith("bias")]
    else:
        weights = list(params)
    if not weights:
        raise ValueError("l2_penalty: no weights to penalize")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"l2_penalty: m is the number of training examples, a positive int; got {m!r}")
    total = None
    for w in weights:
        sq = (w * w).sum()
        total = sq if total is None else total + sq
    return total * (lam / (2.0 * m))


def embedding(input, weight):
    """The rows of ``weight`` at the integer indices ``input``, as ``torch.nn.functional.embedding``.

    ``input`` (an integer array, list or Tensor) may have any shape; the
    result has shape ``input.shape + (weight.shape[1],)``.  Indices outside
    ``[0, weight.shape[0])`` raise ``IndexError``.  Gradients of repeated
    rows accumulate.  The indices are an input of the op, so ``vmap`` and
    ``mg.compile`` follow new indices on every call.

    Examples
    --------
    >>> import microgradnp as mg
    >>> F = mg.nn.functional
    >>> w = mg.tensor([[0.0, 1.0], [2.0, 3.0]], requires_grad=True)
    >>> F.embedding([1, 1, 0], w).sum().backward()
    >>> w.grad
    array([[1., 1.],
           [2., 2.]])
    """
    if np.ndim(weight) != 2:
        raise ValueError(f"embedding: weight must be a matrix (num_embeddings, embedding_dim), got shape "
                         f"{np.shape(weight)}")
    return _embedding(weight, input)


def one_hot(labels, num_classes: int, dtype=np.float64) -> np.ndarray:
    """One-hot rows ``(N, num_classes)`` for integer labels ``(N,)``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.nn.functional.one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"one_hot: labels must be a vector (N,), got shape {lab.shape}")
    lab = _labels(lab, lab.shape[0], num_classes, "one_hot")
    out = np.zeros((lab.shape[0], num_classes), dtype=dtype)
    out[np.arange(lab.shape[0]), lab] = 1
    return out
