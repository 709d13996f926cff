"""Optimizers: SGD and Adam (PyTorch semantics) and a bridge to ``scipy.optimize.minimize``."""

from .optimizers import SGD, Adam, Optimizer
from .scipy_bridge import minimize

__all__ = ["Optimizer", "SGD", "Adam", "minimize"]
