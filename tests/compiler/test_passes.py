"""The compile pipeline, stage by stage: each pass alone changes the code as it says and not the result."""

import dataclasses

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.compiler import PASSES, explain
from microgradnp.compiler.passes import POOL_BYTES


def _code_and_result(fn, args, passes):
    step = mg.compile(fn, passes=passes)
    step(*args)
    out = step(*args)  # the replay
    assert step.stats["replays"] == 1, step.code
    return step.code, out


def _alone(fn, args, name):
    """The code with no pass and with pass ``name`` alone; the results of both equal eager's."""
    eager = fn(*[mg.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    without, a = _code_and_result(fn, args, ())
    with_, b = _code_and_result(fn, args, (name,))
    np.testing.assert_array_equal(a.data, eager.data)
    np.testing.assert_array_equal(b.data, eager.data)
    return without, with_


def _body(code):
    """The lines after the guards."""
    return code.split("return STALE", 1)[1]


X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)


def test_fold_constants_drops_a_product_with_one_and_a_reshape_to_the_same_shape():
    without, with_ = _alone(lambda x: ((x.exp() * 1.0).reshape(2, 3) + 2.0).tanh(), [X], "fold_constants")
    assert "1.0" in _body(without) and "reshape" in _body(without)
    assert "1.0" not in _body(with_) and "reshape" not in _body(with_)


def test_common_subexpressions_computes_the_same_op_once():
    without, with_ = _alone(lambda x: x.exp() + x.exp(), [X], "common_subexpressions")
    assert _body(without).count("exp") == 2
    assert _body(with_).count("exp") == 1


def test_common_subexpressions_are_not_shared_across_an_effect():
    # Between the two reads of w, an in-place update changes it: the second product is computed again.
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def f(x):
        a = (w * x).sum()
        v = w
        with mg.no_grad():
            v *= 2.0
        return a + (w * x).sum()

    step = mg.compile(f, passes=("common_subexpressions",))
    assert [step(np.ones(3)).item() for _ in range(2)] == [18.0, 36.0]
    assert _body(step.code).count(", a0)") == 2


def test_dead_code_drops_gradients_cleared_before_anyone_reads_them():
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        loss = (w * x).sum() ** 2
        loss.backward()
        w.grad = None  # nothing read the gradient: computing it was for nothing
        return loss

    without, with_ = _alone(f, [np.array([1.0, -3.0])], "dead_code")
    assert "_set_grad" in without and "_set_grad" not in with_
    assert len(_body(with_).splitlines()) < len(_body(without).splitlines())
    assert w.grad is None


def test_in_place_updates_write_into_the_parameter():
    def make():
        w = mg.tensor([1.0, 2.0], requires_grad=True)

        def f(x):
            loss = (w * x).sum() ** 2
            loss.backward()
            with mg.no_grad():
                v = w
                v -= 0.1 * w.grad
            w.grad = None
            return loss

        return f, w

    x = np.array([1.0, -3.0])
    (eager, w_eager), (f0, w0), (f1, w1) = make(), make(), make()
    without, with_ = mg.compile(f0, passes=()), mg.compile(f1, passes=("in_place_updates",))
    for _ in range(3):
        eager(mg.tensor(x)), without(x), with_(x)
    assert "._data[...] =" in without.code and "._data[...] =" not in with_.code and " -= " in with_.code
    np.testing.assert_array_equal(w0.data, w_eager.data)
    np.testing.assert_array_equal(w1.data, w_eager.data)


def test_buffer_reuse_writes_large_temporaries_into_kept_buffers():
    n = int(np.sqrt(POOL_BYTES / 8)) + 1  # one temporary of n x n float64: over the threshold
    W = mg.tensor(np.random.default_rng(0).standard_normal((n, n)) / n)
    x = np.random.default_rng(1).standard_normal((n, n))
    without, with_ = _alone(lambda a: mg.tanh(a @ W).sum(), [x], "buffer_reuse")
    assert "out=B[" not in without and "out=B[0]" in with_ and "B = _buffers()" in with_


def test_buffer_reuse_never_lends_a_buffer_to_a_gradient_kept_after_the_call():
    # The gradient of W is a large matmul: stored as W.grad, it outlives the call, so it gets no buffer
    # (a buffer would be overwritten by the next call, under the user's feet).
    rng = np.random.default_rng(0)
    n = 200
    W = mg.tensor(rng.standard_normal((n, n)) / n, requires_grad=True)

    def f(x):
        W.grad = None
        loss = (mg.tanh(x @ W) ** 2).sum()
        loss.backward()
        return loss

    step = mg.compile(f)
    kept = []
    for _ in range(3):
        step(rng.standard_normal((n, n)))
        kept.append((W.grad, W.grad.copy()))
    assert "out=B[" in step.code
    for grad, copy in kept:
        np.testing.assert_array_equal(grad, copy)


def test_operator_forms_write_ufuncs_as_operators_and_matmul_as_dot():
    M = mg.tensor(np.eye(3))
    without, with_ = _alone(lambda x: -(x + 1.0) * 2.0 @ M, [X], "operator_forms")
    assert ".dot(" in with_ and " + 1.0" in with_ and "= -" in with_
    assert ".dot(" not in without and " + " not in _body(without)


def test_inline_writes_a_forward_of_one_expression_in_place_of_its_call():
    without, with_ = _alone(lambda x: mg.relu(x), [X], "inline")
    assert "relu(" in _body(without)
    assert "relu(" not in _body(with_) and "maximum" in _body(with_)


def test_explain_shows_the_code_after_lowering_and_after_each_pass():
    stages = explain(lambda x: (x.exp() * 1.0 + x.exp()).sum(), X)
    assert [name for name, _ in stages] == ["lowered", *PASSES]
    code = dict(stages)
    assert _body(code["lowered"]).count("exp") == 2 and _body(code["common_subexpressions"]).count("exp") == 1
    assert "1.0" in _body(code["lowered"]) and "1.0" not in _body(code["fold_constants"])
    step = mg.compile(lambda x: (x.exp() * 1.0 + x.exp()).sum())
    step(X)
    assert _body(code["inline"]) == _body(step.code)  # the last stage is what runs


def test_unknown_pass_names_are_refused_with_the_list():
    with pytest.raises(ValueError, match="no pass named 'inlining'.*fold_constants"):
        mg.compile(lambda x: x, passes=("inlining",))


def test_a_program_is_frozen_and_counts_its_stages():
    step = mg.compile(lambda x: (x * 2.0).exp().sum())
    step(X)
    program = step.program
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.code = ""
    assert set(program.stats["nodes"]) == {"lowered", *PASSES}
    assert all(s >= 0 for s in program.stats["seconds"].values())


def test_the_pipeline_section_of_docs_compile_shows_what_explain_gives():
    # docs/compile.md shows the code after lowering and what each pass changes: run its example and compare.
    import difflib
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "compile.md").read_text()
    section = text.split("## The pipeline", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```python\n(import numpy.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(example, "docs/compile.md", "exec"), namespace)  # noqa: S102 - the page's own example
    stages = namespace["stages"]
    shown = dict(re.findall(r"<!-- stage: (\w+) -->\n```\w+\n(.*?)```", section, re.S))
    assert list(stages) == ["lowered", *PASSES]

    def body(code):
        return code.split("return STALE", 1)[1].split("\n", 1)[1].split("\n\n\n")[0].rstrip("\n")

    assert shown["lowered"].rstrip("\n") == body(stages["lowered"])
    previous = body(stages["lowered"])
    for name in PASSES:
        now = body(stages[name])
        changed = [line for line in difflib.unified_diff(previous.splitlines(), now.splitlines(), lineterm="", n=0)
                   if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))]
        assert changed == (shown[name].rstrip("\n").splitlines() if name in shown else []), name
        previous = now
