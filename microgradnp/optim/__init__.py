"""Optimizers: SGD and Adam (PyTorch semantics) and bridges to ``scipy.optimize.minimize`` and ``least_squares``."""

from .optimizers import SGD, Adam, Optimizer
from .scipy_bridge import least_squares, minimize

__all__ = ["Optimizer", "SGD", "Adam", "minimize", "least_squares"]
