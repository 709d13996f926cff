"""Optimizers: SGD, Adam, AdamW, RMSprop and Adagrad (PyTorch semantics) and bridges to ``scipy.optimize.minimize`` and ``least_squares``."""

from . import lr_scheduler
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .scipy_bridge import least_squares, minimize

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "minimize", "least_squares", "lr_scheduler"]
