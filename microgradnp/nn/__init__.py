"""Neural-network building blocks, made of microgradnp operations (no hand-written backprop)."""

from . import functional, init
from .layers import MLP, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh, activation
from .module import Module, Parameter

__all__ = [
    "Module", "Parameter", "Linear", "Sequential", "Sigmoid", "Tanh", "ReLU", "Identity", "MLP", "activation",
    "functional", "init",
]
