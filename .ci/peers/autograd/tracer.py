"""autograd.tracer.isbox: whether a value is being differentiated."""

import microgradnp as _mg


def isbox(x) -> bool:
    return isinstance(x, _mg.Tensor) and (x.requires_grad or x._trace is not None)
