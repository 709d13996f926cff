"""autograd.test_util on microgradnp: check_grads is microgradnp's composition matrix on the flattened function."""

import numpy as _np

import microgradnp as _mg
from microgradnp.func._tree import flatten, unflatten
from microgradnp.testing import compositions


def _values(x):
    return _np.asarray(x.detach().numpy() if isinstance(x, _mg.Tensor) else x, dtype=float)


def check_equivalent(x, y):
    xs, ys = flatten(x)[0], flatten(y)[0]
    assert len(xs) == len(ys)
    for a, b in zip(xs, ys):
        _np.testing.assert_allclose(_values(a), _values(b), rtol=1e-6, atol=1e-6)


def check_grads(f, modes=("fwd", "rev"), order=2, argnum=None):
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
        sizes = [int(_np.prod(s)) for s in shapes]
        x0 = _np.concatenate([_values(x).reshape(-1) for x in leaves]) if leaves else _np.zeros(0)

        def g(vec):
            parts, start = [], 0
            for shape, size in zip(shapes, sizes):
                parts.append(vec[start:start + size].reshape(shape))
                start += size
            outs = [o if isinstance(o, _mg.Tensor) else _mg.tensor(o) for o in flatten(f_of(*unflatten(spec, parts)))[0]]
            return _mg.concatenate([o.reshape(-1) for o in outs])

        chains = [("jvp",)] * ("fwd" in modes) + [("vjp",)] * ("rev" in modes)
        if order > 1:
            chains += [(a, b) for a in ("jvp", "vjp") for b in ("jvp", "vjp")
                       if ("fwd" in modes or "jvp" not in (a, b)) and ("rev" in modes or "vjp" not in (a, b))]
        for chain in chains:
            compositions.check(g, x0, chain)

    return checked
