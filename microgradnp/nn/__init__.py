"""Neural-network building blocks, made of microgradnp operations (no hand-written backprop)."""

from . import functional, init, utils
from .conv import AvgPool2d, Conv1d, Conv2d, MaxPool2d
from .layers import (
    MLP,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    activation,
)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .recurrent import GRUCell, RNNCell

__all__ = [
    "Module", "Parameter", "Linear", "Sequential", "Sigmoid", "Tanh", "ReLU", "Identity", "MLP", "activation",
    "Flatten", "Dropout", "LayerNorm", "Embedding", "BatchNorm1d", "BatchNorm2d", "RNNCell", "GRUCell", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d",
    "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    "functional", "init", "utils",
]
