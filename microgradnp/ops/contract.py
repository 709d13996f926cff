"""Contractions: einsum and the products NumPy names (dot, vdot, inner, outer, tensordot, kron).

Each is one registry entry with NumPy's own function as its forward.  Their
gradients are all einsum's: every adapter writes down the einsum subscripts
its product is equivalent to (``spec``, explicit, no ellipsis), and
:func:`einsum_grads` differentiates those subscripts for every one of them.
"""

from __future__ import annotations

import math
import string

import numpy as np

from .registry import OpTest, defop

_LETTERS = string.ascii_letters


def _parse(subscripts: str, ndims: list) -> tuple:
    """``subscripts`` for operands of ``ndims`` dimensions, made explicit: ``(inputs, output)``.

    An ellipsis becomes letters of its own (aligned from the right, as
    NumPy broadcasts them); an implicit output (no ``->``) is NumPy's: the
    ellipsis, then the letters used exactly once, in alphabetical order.
    """
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    parts = lhs.split(",")
    if len(parts) != len(ndims):
        raise ValueError(f"einsum: {subscripts!r} names {len(parts)} operand(s), but {len(ndims)} were given")
    for ch in s:
        if ch not in _LETTERS and ch not in ",.->":
            raise ValueError(f"einsum: {ch!r} in {subscripts!r} is not a letter")
    used = set(s) & set(_LETTERS)
    fresh = [c for c in _LETTERS if c not in used]
    widths = []
    for p, nd in zip(parts, ndims):
        named = len(p.replace("...", ""))
        if "..." not in p and named != nd:
            raise ValueError(f"einsum: {p!r} names {named} axes of an operand with {nd} dimensions")
        if "..." in p and named > nd:
            raise ValueError(f"einsum: {p!r} names {named} axes of an operand with {nd} dimensions")
        widths.append(nd - named if "..." in p else 0)
    width = max(widths, default=0)
    ell = "".join(fresh[:width])
    inputs = [p.replace("...", ell[width - w:]) for p, w in zip(parts, widths)]
    if arrow:
        output = rhs.replace("...", ell)
    else:
        counts = {c: "".join(inputs).count(c) for c in set("".join(inputs))}
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    for c in output:
        if c not in "".join(inputs):
            raise ValueError(f"einsum: the output letter {c!r} of {subscripts!r} appears in no input")
    return inputs, output


def _fresh(taken: str) -> str:
    return next(c for c in _LETTERS if c not in taken)


def _contraction_batch(ns, args, batched, size, spec, shapes=None, **_):
    """vmap's rule for the ops written as one einsum: a letter of its own for the batch axis."""
    z = _fresh(spec)
    lhs, out = spec.split("->")
    operands, parts = [], []
    for a, b, part, shape in zip(args, batched, lhs.split(","), shapes or (None,) * len(args)):
        if shape is not None:  # an op on flattened operands (outer, vdot)
            a = ns.reshape(a, a.shape[:1] + tuple(shape) if b else tuple(shape))
        operands.append(a)
        parts.append(z + part if b else part)
    return ns.einsum(f"{','.join(parts)}->{z}{out}", *operands)


def _eye(ns, n: int, dtype):
    return ns.tri(n, n, 0, dtype=dtype) - ns.tri(n, n, -1, dtype=dtype)


def _grad_of(ns, spec_in: list, spec_out: str, g, operands, k: int):
    """The gradient of ``einsum(spec_in -> spec_out)`` with respect to operand ``k``.

    It is the einsum of the upstream gradient with the other operands onto
    operand ``k``'s letters, then two repairs einsum cannot express itself:
    letters only operand ``k`` has (summed away in the forward) get the
    gradient broadcast along them, and a repeated letter (``"ii"``, a
    diagonal) puts the gradient on that diagonal through an identity factor.
    """
    mine = spec_in[k]
    others = [s for j, s in enumerate(spec_in) if j != k]
    unique = "".join(dict.fromkeys(mine))
    reachable = set(spec_out).union(*others)
    kept = "".join(c for c in unique if c in reachable)
    grad = ns.einsum(",".join([spec_out] + others) + "->" + kept, g, *[x for j, x in enumerate(operands) if j != k])
    size = {c: operands[k].shape[mine.index(c)] for c in unique}
    if kept != unique:
        have = {c: grad.shape[i] for i, c in enumerate(kept)}
        grad = ns.broadcast_to(ns.reshape(grad, tuple(have.get(c, 1) for c in unique)),
                               tuple(have.get(c, size[c]) for c in unique))
    if unique != mine:
        taken, subs, factors, full = mine + spec_out + "".join(others), [unique], [], ""
        for i, c in enumerate(mine):
            if c in mine[:i]:  # a repeat: a fresh letter tied to c by an identity matrix
                f = _fresh(taken)
                taken += f
                subs.append(c + f)
                factors.append(_eye(ns, size[c], grad.dtype))
                c = f
            full += c
        grad = ns.einsum(",".join(subs) + "->" + full, grad, *factors)
    return grad


def einsum_grads(ns, spec: str, g, operands, needs) -> list:
    """The gradient of ``einsum(spec, *operands)`` for every operand that ``needs`` one (else ``None``)."""
    lhs, rhs = spec.split("->")
    spec_in = lhs.split(",")
    return [_grad_of(ns, spec_in, rhs, g, operands, k) if need else None for k, need in enumerate(needs)]


def _einsum_vjp(ns, g, out, inputs, attrs, needs):
    return einsum_grads(ns, attrs["spec"], g, inputs, needs)


def _explicit(inputs: list, output: str) -> str:
    return ",".join(inputs) + "->" + output



def _size(a) -> int:
    """The number of elements of a Tensor, an array of any library, or a nested list."""
    shape = getattr(a, "shape", None)
    return math.prod(shape) if shape is not None else int(np.size(a))

@defop(
    forward=lambda xp, *arrays, spec: xp.einsum(spec, *arrays),
    batch=_contraction_batch,
    vjp_all=_einsum_vjp,
    jvp="multilinear",
    formula="sum of products over the letters not in the output;  d(operand k) = einsum of g with the others "
            "onto k's letters",
    test=OpTest("einsum", ref=lambda *arrays, spec: _einsum_by_loops(spec, arrays), rtol=1e-10),
)
def einsum(subscripts, *operands):
    """Einstein summation, as ``np.einsum(subscripts, *operands)``: any number of operands,
    implicit or explicit output, ``...`` for broadcast axes, and repeated letters (diagonals
    and traces, ``"ii->i"``, ``"ii"``).

    Differentiable in every operand, to any order: the gradient of an einsum
    is another einsum.

    Examples
    --------
    >>> import microgradnp as mg
    >>> a = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> mg.einsum("ij,j->i", a, mg.tensor([1.0, 1.0]))
    tensor([3., 7.], op=einsum)
    >>> mg.einsum("ii", a).backward()  # the trace
    >>> a.grad
    array([[1., 0.],
           [0., 1.]])
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: the first argument must be the subscripts string (the interleaved form is not "
                        "supported)")
    if not operands:
        raise ValueError("einsum needs at least one operand")
    inputs, output = _parse(subscripts, [np.ndim(x) for x in operands])
    return tuple(operands), {"spec": _explicit(inputs, output)}


def _einsum_by_loops(spec: str, arrays) -> np.ndarray:
    """The reference: every product of the operands' entries, summed into the output, by plain iteration."""
    lhs, out = spec.split("->")
    ins = lhs.split(",")
    size = {}
    for sub, a in zip(ins, arrays):
        for c, n in zip(sub, np.shape(a)):
            size[c] = max(size.get(c, 1), n)
    letters = sorted(size)
    result = np.zeros(tuple(size[c] for c in out))
    for values in np.ndindex(*(size[c] for c in letters)):
        at = dict(zip(letters, values))
        term = 1.0
        for sub, a in zip(ins, arrays):
            term = term * np.asarray(a)[tuple(at[c] if np.shape(a)[i] > 1 else 0 for i, c in enumerate(sub))]
        result[tuple(at[c] for c in out)] += term
    return result


def _product_vjp(ns, g, out, inputs, attrs, needs):
    # The einsum gradient of the product's subscripts, on the operands (and g)
    # in the shapes the subscripts see them; each gradient goes back to its operand's shape.
    shapes, gshape = attrs.get("shapes"), attrs.get("gshape")
    operands = inputs if shapes is None else [ns.reshape(x, s) for x, s in zip(inputs, shapes)]
    grads = einsum_grads(ns, attrs["spec"], g if gshape is None else ns.reshape(g, gshape), operands, needs)
    if shapes is None:
        return grads
    return [None if d is None else ns.reshape(d, x.shape) for d, x in zip(grads, inputs)]


def _letters(n: int, start: int = 0) -> str:
    return _LETTERS[start : start + n]


def _dot_spec(na: int, nb: int) -> str:
    a, b = _letters(na), _letters(nb, na)
    if na == 0 or nb == 0:
        return f"{a},{b}->{a}{b}"
    if nb == 1:
        return f"{a[:-1]}z,z->{a[:-1]}"
    return f"{a[:-1]}z,{b[:-2]}z{b[-1]}->{a[:-1]}{b[:-2]}{b[-1]}"


@defop(
    forward=lambda xp, a, b, spec: xp.dot(a, b),
    batch=_contraction_batch,
    vjp_all=_product_vjp,
    jvp="multilinear",
    formula="NumPy's dot (last axis of a with the second-to-last of b);  da, db by einsum",
    test=OpTest("dot", ref=lambda a, b, spec: _einsum_by_loops(spec, (a, b)), rtol=1e-10),
    method=True,
)
def dot(a, b):
    """NumPy's ``dot``: products for scalars, the inner product of vectors, the matrix product of
    matrices, and for N-D operands a sum over the last axis of ``a`` and the second-to-last of ``b``
    (which differs from :func:`matmul` on stacks).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.dot(mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0]))
    tensor(11.)
    """
    na, nb = np.ndim(a), np.ndim(b)
    if na and nb and np.shape(a)[-1] != np.shape(b)[-1 if nb == 1 else -2]:
        raise ValueError(f"dot: shapes {np.shape(a)} and {np.shape(b)} are not aligned")
    return (a, b), {"spec": _dot_spec(na, nb)}


@defop(
    forward=lambda xp, a, b, spec: xp.inner(a, b),
    batch=_contraction_batch,
    vjp_all=_product_vjp,
    jvp="multilinear",
    formula="sum over the last axes of a and b;  da, db by einsum",
    test=OpTest("inner", ref=lambda a, b, spec: _einsum_by_loops(spec, (a, b)), rtol=1e-10),
)
def inner(a, b):
    """Inner product over the last axes (a product when either is a scalar), as NumPy's ``inner``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.inner(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), mg.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    na, nb = np.ndim(a), np.ndim(b)
    if na and nb and np.shape(a)[-1] != np.shape(b)[-1]:
        raise ValueError(f"inner: the last axes of shapes {np.shape(a)} and {np.shape(b)} differ")
    x, y = _letters(na), _letters(nb, na)
    spec = f"{x},{y}->{x}{y}" if not (na and nb) else f"{x[:-1]}z,{y[:-1]}z->{x[:-1]}{y[:-1]}"
    return (a, b), {"spec": spec}


@defop(
    forward=lambda xp, a, b, spec, shapes: xp.outer(a, b),
    batch=_contraction_batch,
    vjp_all=_product_vjp,
    jvp="multilinear",
    formula="every product a_i b_j of the flattened inputs;  da = g @ b, db = g^T @ a (by einsum)",
    test=OpTest("outer", ref=lambda a, b, spec, shapes: a.reshape(-1, 1) * b.reshape(1, -1)),
)
def outer(a, b):
    """Outer product of the flattened inputs: ``out[i, j] = a[i] * b[j]``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.outer(mg.tensor([1.0, 2.0]), mg.tensor([1.0, 10.0]))
    tensor([[ 1., 10.],
            [ 2., 20.]])
    """
    return (a, b), {"spec": "i,j->ij", "shapes": ((_size(a),), (_size(b),))}


@defop(
    forward=lambda xp, a, b, spec, shapes: xp.vdot(a, b),
    batch=_contraction_batch,
    vjp_all=_product_vjp,
    jvp="multilinear",
    formula="sum of a_i b_i over the flattened inputs;  da = g * b, db = g * a",
    test=OpTest("vdot", ref=lambda a, b, spec, shapes: np.sum(a.reshape(-1) * b.reshape(-1))),
)
def vdot(a, b):
    """Dot product of the flattened inputs (which must have the same size), as NumPy's ``vdot``.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.vdot(mg.tensor([[1.0, 2.0]]), mg.tensor([3.0, 4.0]))
    tensor(11.)
    """
    if _size(a) != _size(b):
        raise ValueError(f"vdot: inputs of shapes {np.shape(a)} and {np.shape(b)} differ in size")
    n = _size(a)
    return (a, b), {"spec": "i,i->", "shapes": ((n,), (n,))}


def _tensordot_axes(axes, na: int, nb: int) -> tuple:
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= min(na, nb):
            raise ValueError(f"tensordot: axes={axes} does not fit operands of {na} and {nb} dimensions")
        return tuple(range(na - axes, na)), tuple(range(axes))
    xa, xb = axes
    xa = (xa,) if isinstance(xa, (int, np.integer)) else tuple(xa)
    xb = (xb,) if isinstance(xb, (int, np.integer)) else tuple(xb)
    if len(xa) != len(xb):
        raise ValueError(f"tensordot: axes {axes} pair {len(xa)} axes of a with {len(xb)} of b")
    return tuple(int(i) % na for i in xa), tuple(int(i) % nb for i in xb)


@defop(
    forward=lambda xp, a, b, axes, spec: xp.tensordot(a, b, axes),
    batch=_contraction_batch,
    vjp_all=_product_vjp,
    jvp="multilinear",
    formula="sum over the paired axes of a and b;  da, db by einsum",
    test=OpTest("tensordot", ref=lambda a, b, axes, spec: _einsum_by_loops(spec, (a, b)), rtol=1e-10),
)
def tensordot(a, b, axes=2):
    """Sum of products over paired axes, as NumPy's ``tensordot``: ``axes=N`` pairs the last ``N``
    axes of ``a`` with the first ``N`` of ``b``; ``axes=([...], [...])`` names them.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> mg.tensordot(mg.tensor(np.ones((2, 3))), mg.tensor(np.ones((3, 4))), axes=1).shape
    (2, 4)
    """
    sa, sb = np.shape(a), np.shape(b)
    xa, xb = _tensordot_axes(axes, len(sa), len(sb))
    for i, j in zip(xa, xb):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: axis {i} of a (size {sa[i]}) and axis {j} of b (size {sb[j]}) differ")
    la, lb = list(_letters(len(sa))), list(_letters(len(sb), len(sa)))
    for i, j in zip(xa, xb):
        lb[j] = la[i]
    free = [c for i, c in enumerate(la) if i not in xa] + [c for j, c in enumerate(lb) if j not in xb]
    return (a, b), {"axes": (xa, xb), "spec": f"{''.join(la)},{''.join(lb)}->{''.join(free)}"}


@defop(
    forward=lambda xp, a, b, spec, shapes, gshape: xp.kron(a, b),
    vjp_all=_product_vjp,
    jvp="multilinear",
    formula="blocks a_ij * b (Kronecker product);  da, db by einsum on the blocks",
    test=OpTest("kron", ref=lambda a, b, spec, shapes, gshape: _kron_by_blocks(a, b)),
)
def kron(a, b):
    """Kronecker product: ``b`` scaled by each element of ``a``, laid out in blocks (NumPy's ``kron``).

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.kron(mg.tensor([1.0, 10.0]), mg.tensor([1.0, 2.0]))
    tensor([ 1.,  2., 10., 20.])
    """
    sa, sb = np.shape(a), np.shape(b)
    nd = max(len(sa), len(sb))
    pa, pb = (1,) * (nd - len(sa)) + tuple(sa), (1,) * (nd - len(sb)) + tuple(sb)
    x, y = _letters(nd), _letters(nd, nd)
    interleaved = "".join(p + q for p, q in zip(x, y))
    gshape = tuple(n for pair in zip(pa, pb) for n in pair)
    return (a, b), {"spec": f"{x},{y}->{interleaved}", "shapes": (pa, pb), "gshape": gshape}


def _kron_by_blocks(a, b):
    nd = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + a.shape)
    b = b.reshape((1,) * (nd - b.ndim) + b.shape)
    out = np.zeros(tuple(m * n for m, n in zip(a.shape, b.shape)))
    for idx in np.ndindex(*a.shape):
        out[tuple(slice(i * n, (i + 1) * n) for i, n in zip(idx, b.shape))] = a[idx] * b
    return out
