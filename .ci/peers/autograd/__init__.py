"""A stand-in for HIPS autograd's public API on microgradnp, to run autograd's own tests against microgradnp.

Only for .ci/peer_suites.py: it maps autograd's names onto microgradnp's (``grad`` is ``microgradnp.func.grad``
with ``argnum`` for ``argnums``, ``jacobian`` is ``jacrev``, ...).  What microgradnp does not claim
(``checkpoint``, ``primitive``) raises ``NotImplementedError``, so those tests fail by name and
are listed in ``autograd_expected_failures.txt``.
"""

import builtins

import numpy as _np

import microgradnp as mg
from microgradnp import func

dict = builtins.dict  # noqa: A001  (autograd's container constructors: plain containers here)
tuple = builtins.tuple  # noqa: A001
list = builtins.list  # noqa: A001
isinstance = builtins.isinstance  # noqa: A001


def _array(x):
    return x if builtins.isinstance(x, mg.Tensor) else mg.tensor(x)


def grad(fun, argnum=0):
    return func.grad(fun, argnums=argnum)


def value_and_grad(fun, argnum=0):
    return func.value_and_grad(fun, argnums=argnum)


def grad_and_aux(fun, argnum=0):
    g = func.grad(fun, argnums=argnum, has_aux=True)
    return g


def jacobian(fun, argnum=0):
    return func.jacrev(fun, argnums=argnum)


def hessian(fun, argnum=0):
    return func.hessian(fun, argnums=argnum)


def holomorphic_grad(fun, argnum=0):
    return func.grad(fun, argnums=argnum, holomorphic=True)


def deriv(fun, argnum=0):
    return func.grad(fun, argnums=argnum)


def elementwise_grad(fun, argnum=0):
    def gradfun(*args):
        out, pull = func.vjp(lambda x: fun(*args[:argnum], x, *args[argnum + 1:]), args[argnum])
        return pull(_np.ones(out.shape))[0]

    return gradfun


def make_vjp(fun, argnum=0):
    def at(*args):
        out, pull = func.vjp(lambda x: fun(*args[:argnum], x, *args[argnum + 1:]), args[argnum])
        return (lambda v: pull(v)[0]), out

    return at


def make_jvp(fun, argnum=0):
    def at(*args):
        def push(v):
            return func.jvp(lambda x: fun(*args[:argnum], x, *args[argnum + 1:]), (args[argnum],), (v,))

        return push

    return at


def tensor_jacobian_product(fun, argnum=0):
    def product(*args):
        *xs, v = args
        return make_vjp(fun, argnum)(*xs)[0](v)

    return product


vector_jacobian_product = tensor_jacobian_product


def hessian_tensor_product(fun, argnum=0):
    def product(*args):
        *xs, v = args
        return func.hvp(lambda x: fun(*xs[:argnum], x, *xs[argnum + 1:]), (xs[argnum],), (v,))[1][0]

    return product


hessian_vector_product = hessian_tensor_product


def make_hvp(fun, argnum=0):
    def at(*args):
        return (lambda v: hessian_tensor_product(fun, argnum)(*args, v)), fun(*args)

    return at


def _unclaimed(name):
    def refuse(*args, **kwargs):
        raise NotImplementedError(f"autograd.{name} is not part of microgradnp's API")

    return refuse


for _name in ("checkpoint", "make_ggnvp", "multigrad_dict", "primitive"):
    globals()[_name] = _unclaimed(_name)
