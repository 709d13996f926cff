"""Data parallelism on a process group: ``DistributedDataParallel``, ``DistributedSampler``, ``grad``, ``save``.

Every process holds the whole model and computes on its shard of the batch;
the gradients are summed across processes (one flat buffer, one collective
per step) and divided by the number of examples of the whole batch.  So each
process's loss must be the **sum** of its examples' losses (``reduction=
"sum"``): then the result is the mean gradient of the full batch, whatever
the shard sizes.  A per-shard mean averaged over processes (PyTorch DDP's
convention) would be wrong as soon as two shards differ in size; a loss
that is a mean is refused by name.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import _mode as _modes
from .._tensor import Tensor
from ..nn.module import Module
from ._group import all_reduce_, broadcast_, group

__all__ = ["DistributedDataParallel", "DistributedSampler", "grad", "save"]

_MEAN_REDUCTIONS = ("mean", "batchmean")


class DistributedDataParallel(Module):
    """``module``, trained on every process of the group on its own shard of each batch (PyTorch's name).

    At construction the parameters are broadcast from rank 0, so every
    process starts from the same model.  Each call counts the examples of
    its first argument (its length along ``batch_axis``); after the next
    ``backward()``, the gradients of all processes are summed and divided by
    the examples of all processes: with a loss that sums over the shard
    (``reduction="sum"``) every process then holds the full batch's mean
    gradient, and the optimizer steps as on one process.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> def train(rank):
    ...     mg.distributed.init_process_group()
    ...     model = mg.distributed.DistributedDataParallel(mg.nn.Linear(3, 1, rng=rank))  # rank 0's weights
    ...     X = np.arange(12.0).reshape(4, 3)[rank::2]                              # a shard of the batch
    ...     mg.nn.functional.squared_loss(model(X), np.ones((len(X), 1))).backward()
    ...     return model.module.weight.grad
    >>> a, b = mg.distributed.spawn(train, 2, start_method="fork")
    >>> np.array_equal(a, b)
    True
    """

    # Set past Module.__setattr__ (not parameters or submodules): annotations for type checkers.
    _params: list
    _examples: int
    _held: list | None
    _listener: object

    def __init__(self, module: Module, batch_axis: int = 0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        self.module = module
        self.batch_axis = int(batch_axis)
        params = list(module.parameters())
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_examples", 0)
        object.__setattr__(self, "_held", None)  # the gradients before this step's backward (accumulation)
        flat = _packed([p._data for p in params])
        broadcast_(flat, 0)
        for p, value in zip(params, _unpacked(flat, params)):
            p._data[...] = value
        listener = _listener(weakref.ref(self))
        object.__setattr__(self, "_listener", listener)
        _modes.backward_listeners.append(listener)

    def forward(self, *args, **kwargs):
        if _modes.tracing:
            raise RuntimeError("DistributedDataParallel inside mg.compile: the gradient sum across processes is a "
                               "collective a replay cannot repeat; compile the step without the DDP wrapper and "
                               "sum the gradients with mg.distributed.grad, or leave the step eager")
        self._count(args, kwargs)
        return self.module(*args, **kwargs)

    def _count(self, args, kwargs) -> None:
        batch = next((a for a in (*args, *kwargs.values()) if isinstance(a, (Tensor, np.ndarray))), None)
        if batch is None or batch.ndim <= self.batch_axis:
            raise ValueError("DistributedDataParallel: the first array argument has no batch axis "
                             f"{self.batch_axis} to count the shard's examples by")
        if self._examples == 0:  # the first call since the last step: remember what .grad held
            object.__setattr__(self, "_held", [None if p.grad is None else np.array(p.grad) for p in self._params])
        object.__setattr__(self, "_examples", self._examples + batch.shape[self.batch_axis])

    def _after_backward(self, roots) -> None:
        if self._examples == 0:
            return  # a backward pass that did not go through this model
        for root in roots:
            reduction = (root._attrs or {}).get("reduction") if isinstance(root, Tensor) and root._op else None
            if isinstance(root, Tensor) and root._op is not None and (root._op.name == "mean"
                                                                      or reduction in _MEAN_REDUCTIONS):
                object.__setattr__(self, "_examples", 0)
                raise ValueError(
                    "DistributedDataParallel: the loss is a mean over this process's shard; with shards of different "
                    "sizes the processes' means do not average to the batch's. Sum over the shard (reduction='sum', "
                    "or .sum()): the gradient is divided by the examples of all processes")
        held = self._held or [None] * len(self._params)
        local = [np.zeros_like(p._data) if p.grad is None else np.asarray(p.grad) - (0 if h is None else h)
                 for p, h in zip(self._params, held)]
        flat = _packed(local + [np.array([float(self._examples)])])
        all_reduce_(flat)
        examples = flat[-1]
        for p, h, total in zip(self._params, held, _unpacked(flat[:-1], self._params)):
            mean = total / examples
            p.grad = mean if h is None else h + mean
        object.__setattr__(self, "_examples", 0)
        object.__setattr__(self, "_held", None)

    def __del__(self):
        try:
            _modes.backward_listeners.remove(self._listener)
        except (ValueError, AttributeError):
            pass


def _listener(ref):
    def after_backward(roots):
        ddp = ref()
        if ddp is not None:
            ddp._after_backward(roots)
    return after_backward


def _packed(arrays: list) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.zeros(0)


def _unpacked(flat: np.ndarray, params: list) -> list:
    out, start = [], 0
    for p in params:
        n = p._data.size
        out.append(flat[start:start + n].reshape(p._data.shape).astype(p._data.dtype, copy=False))
        start += n
    return out


class DistributedSampler:
    """The indices of this process's shard of a dataset, shuffled anew each epoch (PyTorch's name).

    Rank ``r`` of ``K`` takes every ``K``-th index of the epoch's order,
    starting at ``r``: the shards differ by at most one example and nothing
    is repeated or dropped (``DistributedDataParallel`` divides by the true
    count, so no padding is needed).  Call :meth:`set_epoch` before each
    epoch for a new order; every process draws the same one from ``seed``.

    Examples
    --------
    >>> from microgradnp.distributed import DistributedSampler
    >>> list(DistributedSampler(10, num_replicas=3, rank=1, shuffle=False))
    [1, 4, 7]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        self.n = dataset if isinstance(dataset, int) else len(dataset)
        self.num_replicas = group().world_size if num_replicas is None else int(num_replicas)
        self.rank = group().rank if rank is None else int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in 0..{self.num_replicas - 1}")
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n) if self.shuffle \
            else np.arange(self.n)
        if self.drop_last:  # the same number of examples on every process
            order = order[:self.n - self.n % self.num_replicas]
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        n = self.n - self.n % self.num_replicas if self.drop_last else self.n
        return len(range(self.rank, n, self.num_replicas))


def grad(loss_fn, argnums: int = 0):
    """``func.grad`` of a loss summed over a shard, summed across processes and divided by the full batch.

    ``loss_fn(params, batch, *rest)`` returns the sum of the losses of the
    examples of ``batch`` (its length along axis 0 is the shard's example
    count).  The result has ``params``' structure and is the same on every
    process: the mean gradient over the examples of all processes.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> def work(rank):
    ...     mg.distributed.init_process_group()
    ...     loss = lambda w, x: ((x @ w) ** 2).sum()
    ...     x = np.arange(6.0).reshape(3, 2)[: 1 + rank]               # shards of 1 and 2 examples
    ...     return mg.distributed.grad(loss)(np.array([1.0, -1.0]), x)
    >>> a, b = mg.distributed.spawn(work, 2, start_method="fork")
    >>> np.allclose(a, mg.func.grad(lambda w, x: ((x @ w) ** 2).mean())(np.array([1.0, -1.0]),
    ...                                                                 np.arange(4.0).reshape(2, 2)[[0, 0, 1]]))
    True
    """
    from ..func import grad as func_grad
    from ..func._tree import flatten, unflatten

    local_grad = func_grad(loss_fn, argnums=argnums)

    def distributed_grad(*args, **kwargs):
        batch = args[1] if len(args) > 1 else None
        if not hasattr(batch, "shape") or not batch.shape:
            raise ValueError("distributed.grad: the second argument of the loss is the shard's batch "
                             "(its length along axis 0 counts the examples)")
        leaves, spec = flatten(local_grad(*args, **kwargs))
        arrays = [np.asarray(leaf.numpy() if isinstance(leaf, Tensor) else leaf) for leaf in leaves]
        flat = _packed(arrays + [np.array([float(batch.shape[0])])])
        all_reduce_(flat)
        out, start = [], 0
        for a in arrays:
            out.append(Tensor(flat[start:start + a.size].reshape(a.shape) / flat[-1], dtype=a.dtype))
            start += a.size
        return unflatten(spec, out)

    return distributed_grad


def save(obj, path) -> None:
    """``mg.save(obj, path)`` on rank 0 only, then every process waits for the file (checkpoints)."""
    from ..serialization import save as _save
    from ._group import barrier

    if group().rank == 0:
        _save(obj, path)
    barrier()
