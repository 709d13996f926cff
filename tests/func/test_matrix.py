"""The composition matrix: every transform alone, every ordered pair and four triples, over every differentiable
registry op and the other kinds of function users write; each equals its reference or raises its documented error.

The matrix itself (transforms, references, documented errors) is ``microgradnp.testing.compositions``; the docs
render the same data (docs/func.md, "What composes").
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.func import custom_vjp
from microgradnp.ops import REGISTRY
from microgradnp.testing import compositions
from microgradnp.testing import strategies as mst

DIFFERENTIABLE = sorted(n for n, op in REGISTRY.items() if op.differentiable)

def _run_all(g, x0, subject=None):
    return compositions.run_all(g, x0, subject)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=1, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_composition_over_a_registry_op(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    g, x0 = compositions.packed_op(op, inputs, attrs)
    subject = f"op {name}"
    try:
        g(mg.tensor(x0))
    except (np.linalg.LinAlgError, ValueError):
        return  # nothing to compare
    outcome = _run_all(g, x0, subject)
    assert outcome[("vmap",)] == "ok" and outcome[("grad",)] == "ok"


SUBJECTS = compositions.subjects()


@pytest.mark.parametrize("subject", list(SUBJECTS))
def test_every_composition_over_the_kinds_of_function_users_write(subject):
    g, x0 = SUBJECTS[subject]
    outcome = _run_all(g, x0, subject)
    documented = [c for c, r in outcome.items() if r != "ok"]
    if subject != "Function (NumPy backward)":
        assert all(c[0] in compositions.TRANSFORMS[:4] for c in documented), documented  # only PyTorch's rule
    else:
        assert ("grad", "grad") in documented and ("vmap", "grad") in documented and ("grad",) not in documented


def test_the_matrix_is_every_pair_and_the_triples():
    assert len(compositions.COMPOSITIONS) == 11 + 11 * 11 + 4
    assert list(SUBJECTS) == list(compositions.SUBJECTS[1:])
    page = compositions.support_markdown()
    assert page.count("\n| `vmap` |") == 2 and "| Function (NumPy backward) |" in page
    assert all(label in page for label in compositions.LABELS)
    assert ("grad", "vmap") in compositions.COMPOSITIONS and ("jvp", "grad") in compositions.COMPOSITIONS


def test_a_wrong_number_is_caught_by_the_matrix():
    # The matrix would see a transform that gave a wrong answer: here a function whose "gradient" rule is off.
    wrong = custom_vjp(lambda x: x * x)
    wrong.defvjp(lambda x: (x * x, x), lambda x, g: (g * x,))  # half the true derivative
    with pytest.raises(compositions.CompositionMismatch, match="grad"):
        compositions.check(wrong, np.array([1.0, 2.0]), ("grad",))



def test_a_batching_rule_that_copies_row_0_is_caught_by_the_matrix(monkeypatch):
    # The defect vmap had: every example given the first one's result.  The matrix sees it alone and composed.
    op = REGISTRY["sin"]
    honest = op.batch_rule
    monkeypatch.setattr(op, "batch_rule", lambda ns, args, batched, size: ns.broadcast_to(
        honest(ns, [a[:1] for a in args], batched, 1, )[0], (size,) + args[0].shape[1:]))
    x = np.array([0.3, -1.2])
    for chain in (("vmap",), ("vmap", "vmap")):  # (a composition's reference runs its inner part eagerly:
        # a defect there is caught by the inner part's own row)
        with pytest.raises(compositions.CompositionMismatch):
            compositions.check(mg.sin, x, chain)
    monkeypatch.setattr(op, "batch_rule", honest)
    assert compositions.check(mg.sin, x, ("vmap", "grad")) == "ok"
