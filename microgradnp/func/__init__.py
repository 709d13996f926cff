"""Function transforms: differentiate, batch and push tangents through *functions*, as JAX and ``torch.func`` do.

``grad(f)`` is a new function that returns the gradient of ``f``; it can be
transformed again, by any transform, in any order (``grad(grad(f))``,
``vmap(grad(f))``, ``grad(vmap(f))``, ``jacfwd(jacrev(f))``).  Three kinds
of machinery do the work, each in a module of its own:

* reverse mode (:func:`grad`, :func:`value_and_grad`, :func:`vjp`,
  :func:`jacrev`) runs ``f`` on fresh tensors the engine's tape records and
  walks the recording backwards with the engine's one backward pass
  (``_reverse``);
* forward mode (:func:`jvp`, :func:`jacfwd`) runs ``f`` on tracers that
  carry a tangent, an interpreter of the protocol ``microgradnp._mode.Trace``
  (``_forward``); :func:`hessian` and :func:`hvp` are forward-over-reverse;
  :func:`push_forward` pushes tangents along a graph already recorded;
* batching (:func:`vmap`) runs ``f`` once on tracers that carry a whole
  batch (``_batching``).

Every op's rules are functions built once at registration
(``op.jvp_rule``, ``op.batch_rule``); a combination a transform cannot
support raises :class:`TransformError`, naming it and the way out.
:func:`custom_vjp` and :func:`custom_jvp` give a function rules of the
user's own that every transform respects; :func:`functional_call` runs an
``nn.Module`` with parameters passed in (per-example gradients of a model).

Inputs may be Tensors, arrays or numbers, or tuples, lists and dicts of
them (a parameter dict); results have the same structure.
"""

from __future__ import annotations

from .._mode import TransformError
from ._batching import vmap
from ._custom import custom_jvp, custom_vjp
from ._forward import hessian, hvp, jacfwd, jvp, push_forward
from ._functional import functional_call
from ._implicit import argmin, custom_root, fixed_point, linear_solve, root
from ._ode import odeint
from ._reverse import grad, jacobian, jacrev, value_and_grad, vjp

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "push_forward",
    "jacrev", "jacfwd", "jacobian", "hessian", "hvp", "vmap",
    "custom_vjp", "custom_jvp", "functional_call", "TransformError", "fixed_point", "root", "custom_root",
    "linear_solve", "argmin", "odeint",
]
