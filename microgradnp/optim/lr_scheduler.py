"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: call ``scheduler.step()`` once per epoch.

A scheduler sets ``group["lr"]`` in every parameter group of its optimizer.
``StepLR``, ``ExponentialLR`` and ``CosineAnnealingLR`` take PyTorch's
*chainable* form: each step changes the rate the group has now (by a factor),
so several schedulers on one optimizer compose, and a rate set by hand
between epochs is carried on.  ``LambdaLR`` (and a subclass defining only
``lr_at``) sets the closed form of the group's initial rate and the epoch, as
PyTorch's ``LambdaLR`` does; ``ReduceLROnPlateau`` follows a monitored
metric.  Creating one applies epoch 0, which changes no rate.
"""

from __future__ import annotations

import math

from .. import _mode as _modes
from .optimizers import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau"]


class LRScheduler:
    """Base class: ``lr_at(base_lr, epoch)`` gives a group's learning rate at an epoch.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0], requires_grad=True)
    >>> opt = mg.optim.SGD([w], lr=1.0)
    >>> class Halving(mg.optim.lr_scheduler.LRScheduler):
    ...     def lr_at(self, base_lr, epoch):
    ...         return base_lr / 2 ** epoch
    >>> sched = Halving(opt)
    >>> sched.step(); sched.step()
    >>> opt.lr
    0.25
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _lr_at(self, i: int, base_lr: float, epoch: int) -> float:
        return self.lr_at(base_lr, epoch)

    def next_lr(self, i: int, lr: float, base_lr: float, epoch: int) -> float:
        """Group ``i``'s rate at ``epoch`` given the rate it has now (``lr``): by default the closed form."""
        return self._lr_at(i, base_lr, epoch)

    @_modes.replayed
    def step(self) -> None:
        """Advance one epoch and set every group's learning rate."""
        self.last_epoch += 1
        for i, (group, base) in enumerate(zip(self.optimizer.param_groups, self.base_lrs)):
            group["lr"] = float(self.next_lr(i, group["lr"], base, self.last_epoch))

    def get_last_lr(self) -> list:
        """The learning rate of each group, as last set."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """The epoch count and base rates (to save with a checkpoint)."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict) -> None:
        self.last_epoch = int(state["last_epoch"])
        self.base_lrs = list(state["base_lrs"])


def _positive(owner: str, name: str, value) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return v


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``; one function, or one per parameter group.

    Examples
    --------
    >>> import microgradnp as mg
    >>> opt = mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=0.1)
    >>> sched = mg.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (1 + epoch))
    >>> sched.step()
    >>> opt.lr
    0.05
    """

    def __init__(self, optimizer: Optimizer, lr_lambda):
        n = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(self.lr_lambdas) != n:
            raise ValueError(f"LambdaLR: got {len(self.lr_lambdas)} functions for {n} parameter groups")
        super().__init__(optimizer)

    def _lr_at(self, i, base_lr, epoch):
        return base_lr * self.lr_lambdas[i](epoch)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Examples
    --------
    >>> import microgradnp as mg
    >>> opt = mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = mg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(opt.lr)
    ...     sched.step()
    >>> rates
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, _positive("StepLR", "gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)

    def next_lr(self, i, lr, base_lr, epoch):
        return lr * self.gamma if epoch and epoch % self.step_size == 0 else lr  # PyTorch's chainable form


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Examples
    --------
    >>> import microgradnp as mg
    >>> opt = mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = mg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    >>> sched.step(); sched.step()
    >>> round(opt.lr, 10)
    0.81
    """

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = _positive("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** epoch

    def next_lr(self, i, lr, base_lr, epoch):
        return lr * self.gamma if epoch else lr  # PyTorch's chainable form


class CosineAnnealingLR(LRScheduler):
    """Cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs (Loshchilov and Hutter, 2017).

    ``lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2``,
    PyTorch's closed form (no restarts: past ``T_max`` the cosine climbs back).

    Examples
    --------
    >>> import microgradnp as mg
    >>> opt = mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = mg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    >>> sched.step(); sched.step()
    >>> round(opt.lr, 10)
    0.5
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2

    def next_lr(self, i, lr, base_lr, epoch):
        # PyTorch's recursive form: the ratio of consecutive closed-form steps applied to the rate now
        # (so it composes and carries a rate set by hand), and at the cosine's lowest point the climb back.
        T, low = self.T_max, self.eta_min
        if epoch == 0:
            return lr
        if (epoch - 1 - T) % (2 * T) == 0:
            return lr + (base_lr - low) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T)) * (lr - low) + low


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    Call ``scheduler.step(metric)`` after each epoch.  ``mode="min"`` (a
    loss) or ``"max"`` (an accuracy); an epoch improves on the best when it
    beats it by ``threshold`` (relative with ``threshold_mode="rel"``,
    absolute with ``"abs"``); after a reduction, ``cooldown`` epochs pass
    before bad epochs count again; no rate goes below ``min_lr``.  PyTorch's
    rules.

    Examples
    --------
    >>> import microgradnp as mg
    >>> opt = mg.optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    >>> sched = mg.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [3.0, 2.0, 2.0, 2.0]:    # the second epoch without improvement reduces
    ...     sched.step(loss)
    >>> opt.lr
    0.5
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not 0.0 < float(factor) < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must lie in (0, 1), got {factor!r}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.min_lr, self.eps = int(cooldown), float(min_lr), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bound

    @_modes.replayed
    def step(self, metric) -> None:
        """Record this epoch's ``metric`` (a number or a one-element Tensor) and reduce the rate if it stalls."""
        value = float(metric)
        self.last_epoch += 1
        if self._better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                new = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self) -> list:
        """The learning rate of each group, as last set."""
        return [group["lr"] for group in self.optimizer.param_groups]
