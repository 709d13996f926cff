"""Checkpointing: a segment's activations recomputed in the backward pass instead of kept (PyTorch's names).

``checkpoint(fn, *args)`` runs ``fn`` once, keeps its output's value and
the leaves it read (the parameters of the modules it calls), and drops its
graph: the arrays its ops saved for backward go with it.  The result is
one node of the outer graph whose VJP runs ``fn`` again on the same inputs
and differentiates that: the memory of the segment's activations is traded
for a second forward pass.  Random draws inside the segment (``Dropout``)
are drawn again from the states they were drawn from, so the recomputation
sees the same masks; the generators are then left as the forward left them.
With ``create_graph=True`` the recomputation is recorded, so the gradient is
differentiable again.
"""

from __future__ import annotations

from . import _mode as _modes
from ._mode import enable_grad
from ._tensor import Tensor, _make
from .engine import TENSOR_NS, apply
from .engine import grad as _grad
from .graph import walk
from .ops.registry import Op

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Segment:
    """What a checkpointed call keeps: the function, its arguments, the leaves it read, its random draws."""

    __slots__ = ("fn", "args", "positions", "leaves", "draws", "value")

    def __init__(self, fn, args, positions, leaves, draws, value):
        self.fn, self.args, self.positions, self.leaves, self.draws, self.value = \
            fn, args, positions, leaves, draws, value

    def call(self, tensors: list):
        """``fn`` on the arguments with the tensors at ``positions`` replaced, its draws replayed."""
        args = list(self.args)
        for position, t in zip(self.positions, tensors):
            args[position] = t
        now = [(g, _state(g)) for g, _ in self.draws]
        for generator, state in reversed(self.draws):  # the first draw of each generator wins
            _set_state(generator, state)
        try:
            return self.fn(*args)
        finally:
            for generator, state in now:
                _set_state(generator, state)


def _state(generator):
    return generator.bit_generator.state if hasattr(generator, "bit_generator") else generator.get_state()


def _set_state(generator, state) -> None:
    if hasattr(generator, "bit_generator"):
        generator.bit_generator.state = state
    else:
        generator.set_state(state)


def _forward(xp, *arrays, segment, saves):
    return segment.value


def _vjp_all(ns, g, out, inputs, attrs, needs):
    """Run the segment again and differentiate it: with respect to its tensor arguments and its leaves."""
    segment = attrs["segment"]
    record = ns is TENSOR_NS
    n = len(segment.positions)
    with enable_grad():
        if record:  # create_graph: on the outer graph's tensors, recorded, so the result differentiates again
            arguments = list(inputs[:n])
        else:
            arguments = [_make(a, requires_grad=True) for a in inputs[:n]]
        out_again = segment.call(arguments)
        targets = arguments + list(segment.leaves)
        wanted = [t for t, need in zip(targets, needs) if need]
        found = iter(_grad(out_again, wanted, grad_outputs=g if record else _make(g), create_graph=record,
                           allow_unused=True))
    grads = []
    for need in needs:
        gi = next(found) if need else None
        grads.append(gi if record or gi is None else gi._data)
    return tuple(grads)


_CHECKPOINT = Op("checkpoint", _forward, vjp_all=_vjp_all,
                 formula="the segment's output; its VJP runs the segment again and differentiates that")


def checkpoint(fn, *args):
    """``fn(*args)``, whose activations are recomputed in the backward pass instead of kept.

    ``fn`` returns one Tensor; the tensors among ``args`` and the leaves
    ``fn`` reads (its modules' parameters) get their gradients as without
    checkpointing, in ``backward()`` and in ``mg.grad``, with
    ``create_graph=True`` too.  Inside ``mg.compile`` and the function
    transforms the segment runs as written (they keep no graph of their own
    to trim).

    Examples
    --------
    >>> import microgradnp as mg
    >>> layer = mg.nn.Linear(3, 3, rng=0)
    >>> x = mg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> y = mg.checkpoint(lambda h: mg.tanh(layer(h)) ** 2, x)
    >>> y.sum().backward()
    >>> expected = mg.grad((mg.tanh(layer(x)) ** 2).sum(), x)[0]
    >>> bool(abs(x.grad - expected.data).max() < 1e-15)
    True
    """
    if _modes.tracing or _modes.interpreting:
        return fn(*args)
    draws: list = []
    outer, _modes.random_draws = _modes.random_draws, draws
    try:
        out = fn(*args)
    finally:
        _modes.random_draws = outer
    if outer is not None:
        outer.extend(draws)  # a checkpoint inside a checkpoint: the outer one replays these draws too
    if not isinstance(out, Tensor):
        raise TypeError(f"checkpoint: the function must return one Tensor, got {type(out).__name__}")
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    if not out.requires_grad:
        return out
    given = {id(args[i]) for i in positions}
    nodes = list(walk(out))
    leaves = [t for t in nodes if t._op is None and t.requires_grad and id(t) not in given]
    # What the segment's graph would have kept for backward (its interior values, as viz.backward_memory counts
    # them), shown on the node of a drawing.
    saves = sum(t._data.nbytes for t in nodes if t._op is not None and t is not out and id(t) not in given)
    segment = _Segment(fn, args, positions, leaves, draws, out._data)
    del out, nodes  # the segment's graph, and what its ops saved, go here
    return apply(_CHECKPOINT, tuple(args[i] for i in positions) + tuple(leaves),
                 {"segment": segment, "saves": _size(saves)})


def _size(nbytes: int) -> str:
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} B"


def checkpoint_sequential(functions, segments: int, input):  # noqa: A002 - PyTorch's name
    """Run ``functions`` (modules or callables) in order on ``input``, in ``segments`` checkpointed parts.

    As PyTorch's: the first ``segments - 1`` parts hold ``len(functions) //
    segments`` functions each and are each a :func:`checkpoint`; the last
    part runs the rest as it is (its activations are needed at once by the
    backward pass).

    Examples
    --------
    >>> import microgradnp as mg
    >>> net = mg.nn.MLP([4, 8, 8, 8, 2], activation="tanh", rng=0)
    >>> x = mg.randn(5, 4, rng=0)
    >>> out = mg.checkpoint_sequential(list(net.layers), 2, x)
    >>> bool(abs(out.data - net(x).data).max() == 0)
    True
    """
    functions = list(functions)
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= max(len(functions), 1):
        raise ValueError(f"checkpoint_sequential: segments must be an int from 1 to {len(functions)}, got {segments!r}")
    size = len(functions) // segments
    parts = [functions[i * size:(i + 1) * size] for i in range(segments - 1)] + [functions[(segments - 1) * size:]]

    def run(part):
        def forward(x):
            for f in part:
                x = f(x)
            return x
        return forward

    for part in parts[:-1]:
        input = checkpoint(run(part), input)
    return run(parts[-1])(input)
