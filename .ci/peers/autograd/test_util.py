"""autograd.test_util on microgradnp: check_grads is microgradnp's composition matrix on the flattened function."""

import numpy as _np

import microgradnp as _mg
from microgradnp.func._tree import flatten, unflatten
from microgradnp.testing import compositions


def _values(x):
    values = _np.asarray(x.detach().numpy() if isinstance(x, _mg.Tensor) else x)
    return values if values.dtype.kind == "c" else values.astype(float)


def _as_real(values):
    """A complex array as its real parts then its imaginary parts (autograd's vector space of a complex array)."""
    return _np.concatenate([values.real.reshape(-1), values.imag.reshape(-1)]) if values.dtype.kind == "c" \
        else values.reshape(-1)


def check_equivalent(x, y):
    xs, ys = flatten(x)[0], flatten(y)[0]
    assert len(xs) == len(ys)
    for a, b in zip(xs, ys):
        _np.testing.assert_allclose(_values(a), _values(b), rtol=1e-6, atol=1e-6)


def check_grads(f, argnum=None, modes=("fwd", "rev"), order=2):
    """Check f's derivatives as autograd's check_grads does: fwd and rev, to ``order``, against differences."""

    def checked(*args, **kwargs):
        nums = range(len(args)) if argnum is None else (argnum,) if isinstance(argnum, int) else argnum
        fixed = list(args)

        def f_of(*varied):
            for k, v in zip(nums, varied):
                fixed[k] = v
            return f(*fixed, **kwargs)

        leaves, spec = flatten(tuple(args[k] for k in nums))
        shapes = [_np.shape(_values(x)) for x in leaves]
        complex_ = [_values(x).dtype.kind == "c" for x in leaves]
        sizes = [int(_np.prod(s)) for s in shapes]
        x0 = _np.concatenate([_as_real(_values(x)) for x in leaves]) if leaves else _np.zeros(0)

        def g(vec):
            # A function of real vectors: each complex input is its real and imaginary parts, each complex
            # output too, so the checks perturb and compare both parts (as autograd's do).
            parts, start = [], 0
            for shape, size, c in zip(shapes, sizes, complex_):
                if c:
                    parts.append(_mg.complex(vec[start:start + size], vec[start + size:start + 2 * size]).reshape(shape))
                    start += 2 * size
                else:
                    parts.append(vec[start:start + size].reshape(shape))
                    start += size
            outs = [o if isinstance(o, _mg.Tensor) else _mg.tensor(o) for o in flatten(f_of(*unflatten(spec, parts)))[0]]
            flat = []
            for o in outs:
                flat += [_mg.real(o).reshape(-1), _mg.imag(o).reshape(-1)] if o.dtype.kind == "c" else [o.reshape(-1)]
            return _mg.concatenate(flat)

        chains = [("jvp",)] * ("fwd" in modes) + [("vjp",)] * ("rev" in modes)
        if order > 1:
            chains += [(a, b) for a in ("jvp", "vjp") for b in ("jvp", "vjp")
                       if ("fwd" in modes or "jvp" not in (a, b)) and ("rev" in modes or "vjp" not in (a, b))]
        for chain in chains:
            compositions.check(g, x0, chain)

    return checked


def combo_check(fun, *args, **kwargs):
    """check_grads of ``fun`` at every combination of the given arguments and keyword values, as autograd's."""
    from itertools import product

    def check(*arg_lists, **kwarg_lists):
        pairs = [[(k, v) for v in values] for k, values in kwarg_lists.items()]
        for combo in product(*arg_lists):
            for kw in product(*pairs):
                check_grads(fun, *args, **kwargs)(*combo, **dict(kw))  # (args: autograd's argnum, modes, order)

    return check
