"""MkDocs hook: before the site is built, produce every figure and generated page.

* runs the three reference workloads (microgradnp.workloads) into docs/figures/;
* draws the graphs shown on the Concepts and Graph rendering pages, before and
  after backward, with microgradnp.viz (Graphviz's ``dot`` is required);
* runs examples/gaussian_process.py for the "Porting NumPy code" page, examples/ode_fit.py and
  examples/deq_digits.py for the tutorials on odeint and fixed_point;
* writes docs/reference/op-table.md from the op registry;
* writes docs/reference/compositions.md from the composition matrix (microgradnp.testing.compositions),
  the same data tests/func/test_matrix.py checks;
* writes docs/reference/array-libraries.md from microgradnp.backends.KNOWN_GAPS, the table
  tests/backends/test_registry_on_libraries.py holds the libraries to.

Nothing here is committed: docs/figures/ and the generated page are rebuilt
every time, so the pictures always come from the current code.
"""

from __future__ import annotations

import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIGURES = os.path.join(ROOT, "docs", "figures")


def _examples():
    from microgradnp.workloads import blobs, digits, moons

    return blobs, digits, moons


def _graphs():
    import numpy as np

    import microgradnp as mg
    from microgradnp import viz
    from microgradnp.nn import functional as F

    blobs, digits, moons = _examples()

    def both(name, make_loss, **kw):
        loss = make_loss()
        viz.render(loss, os.path.join(FIGURES, f"{name}_before.svg"), **kw)
        loss.backward(retain_graph=True)
        viz.render(loss, os.path.join(FIGURES, f"{name}_after.svg"), **kw)

    # Concepts: a*a + a at 3, the example of the engine tests.
    def reuse():
        a = mg.tensor(3.0, requires_grad=True, name="a")
        return a * a + a

    both("concept_reuse", reuse)

    # Concepts: broadcasting, a bias added to every row.
    def broadcast():
        W = mg.tensor([[1.0, -1.0], [0.5, 2.0]], requires_grad=True, name="W")
        b = mg.tensor([0.1, -0.2], requires_grad=True, name="b")
        X = mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], name="X")
        return (X @ W.T + b).sum()

    both("concept_broadcast", broadcast)

    # The home page: the graph of its own example, run from the page itself (the picture cannot drift).
    viz.render(home_loss(), os.path.join(FIGURES, "home_after.svg"))

    # The three networks of the seeds.
    both("net_222", blobs.graph_loss)
    both("net_22510", lambda: _ng_400(digits), collapse="modules")
    both("net_2552", moons.graph_loss, collapse="modules")
    both("net_2552_full", moons.graph_loss)

    # Higher order: the graph of a gradient.
    x = mg.tensor(0.5, requires_grad=True, name="x")
    (g,) = mg.grad(mg.sin(x) * x, x, create_graph=True)
    viz.render(g, os.path.join(FIGURES, "concept_grad_graph.svg"))

    # Complex numbers: the loss of the filter fit of docs/complex.md, values and gradients complex.
    viz.render(complex_filter_loss(), os.path.join(FIGURES, "complex_filter.svg"))

    # A vanishing gradient: a deep sigmoid chain.
    def deep():
        h = mg.tensor([[4.0, -3.0]], name="x")
        net = mg.nn.MLP([2] + [2] * 8, activation="sigmoid", init="normal", rng=3)
        return F.mse_loss(net(h), np.zeros((1, 2)))

    both("vanishing", deep, collapse="modules", rankdir="TB")

    # A 30-step GRU, its steps folded into one node, after a plain backward that recorded the norms.
    cell, head = mg.nn.GRUCell(3, 8, rng=0), mg.nn.Linear(8, 1, rng=1)
    xs, h = mg.randn(30, 4, 3, rng=0), mg.zeros(4, 8)
    for t in range(30):
        h = cell(xs[t], h)
    rnn_loss = ((head(h) - 1.0) ** 2).mean()
    rnn_loss.backward(record_grad_norms=True)
    viz.render(rnn_loss, os.path.join(FIGURES, "rnn_folded.svg"), collapse="modules")

    # The interactive view of the moons network (pan, zoom, arrays on click), as a page of its own.
    moons_loss = moons.graph_loss()
    moons_loss.backward(record_grad_norms=True)
    viz.render(moons_loss, os.path.join(FIGURES, "net_2552.html"))
    # The memory view: the bytes each tensor keeps alive for backward, their total and the peak.
    viz.render(moons_loss, os.path.join(FIGURES, "net_2552_memory.svg"), show_memory=True)


def complex_filter_loss():
    """The filter fit of docs/complex.md at its start, on 8 frequencies and 4 taps (a drawing to read)."""
    import numpy as np

    import microgradnp as mg

    w = np.linspace(-np.pi, np.pi, 8, endpoint=False)
    E = mg.tensor(np.exp(-1j * np.outer(w, np.arange(4))), name="E")
    target = np.where((w > 0.3) & (w < 2.2), np.exp(-2j * w), 0.0)
    h = mg.tensor(np.array([0.3 + 0.1j, -0.2j, 0.1, 0.05 + 0.05j]), requires_grad=True, name="h")
    loss = mg.mean(mg.abs(E @ h - target) ** 2)
    loss.backward(retain_graph=True)
    return loss


def home_loss():
    """The loss of docs/index.md's example, after its ``backward()``: the page's first code block, run."""
    import contextlib
    import io

    with open(os.path.join(ROOT, "docs", "index.md"), encoding="utf-8") as fh:
        block = re.search(r"```python\n(.*?)```", fh.read(), re.S).group(1)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):  # the example prints its loss
        exec(compile(block, "docs/index.md", "exec"), namespace)  # noqa: S102 - our own page
    return namespace["loss"]


def _ng_400(digits):
    """Ng's 400-25-10 network on five 8x8 digits enlarged to 20x20 (the exercise's input size)."""
    import numpy as np

    import microgradnp as mg
    from microgradnp.nn import functional as F

    X8, y = mg.data.load_digits()
    X = np.kron(X8[:5].reshape(5, 8, 8), np.ones((1, 3, 3)))[:, 2:22, 2:22].reshape(5, 400)
    model = digits.make_model([400, 25, 10], np.random.default_rng(0))
    return digits.cost(model, mg.tensor(X, name="X"), F.one_hot(y[:5], 10), lam=1.0)


def _example(name: str, *args: str, printout: str | None = None):
    """Run ``examples/<name>.py`` into docs/figures/ and keep its printout (less the "wrote" lines) in
    ``printout`` (``<name>.txt``)."""
    import contextlib
    import importlib
    import io
    import sys

    sys.path.insert(0, ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        importlib.import_module(f"examples.{name}").main(["--out", FIGURES, *args])
    with open(os.path.join(FIGURES, printout or f"{name}.txt"), "w") as fh:
        fh.write("".join(line for line in out.getvalue().splitlines(keepends=True) if not line.startswith("wrote")))


def _composites_table() -> list:
    """The public functions written with the ops (not registry entries): their derivatives are their ops'."""
    import importlib
    import inspect

    from microgradnp.ops import REGISTRY

    rows = []
    for prefix, module_name in (("", "microgradnp.split"), ("linalg.", "microgradnp.linalg")):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            f = getattr(module, name)
            if name in REGISTRY or not inspect.isfunction(f):
                continue
            summary = (inspect.getdoc(f) or "").split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
            summary = re.sub(r":\w+:`", "`", summary.replace("``", "`"))  # reST markup to Markdown
            rows.append(f"| `{prefix}{name}` | {summary} |")
    return [
        "## Functions written with the ops",
        "",
        "Not registry entries: each is a few recorded ops, so its derivatives, to any order, are theirs.",
        "",
        "| function | what it is |",
        "|---|---|",
        *rows,
    ]


#: How the operators the registry installs on Tensor are written.
_OPERATOR_SIGNS = {
    "__add__": "a + b", "__radd__": "b + a", "__sub__": "a - b", "__rsub__": "b - a", "__mul__": "a * b",
    "__rmul__": "b * a", "__truediv__": "a / b", "__rtruediv__": "b / a", "__pow__": "a ** b", "__rpow__": "b ** a",
    "__matmul__": "a @ b", "__rmatmul__": "b @ a", "__neg__": "-a", "__pos__": "+a", "__abs__": "abs(a)",
    "__getitem__": "a[key]", "__lt__": "a < b", "__le__": "a <= b", "__gt__": "a > b", "__ge__": "a >= b",
    "__eq__": "a == b", "__ne__": "a != b", "__and__": "a & b", "__or__": "a | b", "__invert__": "~a",
    "__mod__": "a % b", "__rmod__": "b % a", "__rand__": "b & a", "__ror__": "b | a", "__xor__": "a ^ b",
    "__rxor__": "b ^ a", "__floordiv__": "a // b", "__rfloordiv__": "b // a",
}


def _on_tensor(op) -> str:
    """The Tensor methods, properties and operators an op is installed as (the Tensor page points here)."""
    names = [f"`a.{m}()`" for m in op.methods] + [f"`a.{p}`" for p in op.properties]
    names += [f"`{_OPERATOR_SIGNS.get(o, o)}`".replace("|", "\\|") for o in op.operators]
    return ", ".join(names) or "-"


def _op_table():
    from microgradnp.ops import REGISTRY

    lines = [
        "# Every op, from the registry",
        "",
        "Generated from `microgradnp.ops.REGISTRY` when the documentation is built: each op's",
        "registry name (its label in graph drawings and the id of its property test), its forward",
        "and vector-Jacobian product, and the input signature its test draws. `g` is the upstream",
        "gradient. See [Design](../design.md#the-op-registry) for how to add one.",
        "",
        "| op | forward; VJP | on a Tensor | test signature | second order checked |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(REGISTRY):
        op = REGISTRY[name]
        formula = op.formula.replace("|", "\\|").replace(";", ";<br>", 1)
        smooth = "yes" if op.test and op.test.smooth else "no"
        label = f"{op.namespace}.{name}" if op.namespace else name
        lines.append(f"| `{label}` | {formula} | {_on_tensor(op)} | `{op.test.sig}` | {smooth} |")
    lines += ["", f"{len(REGISTRY)} ops.", ""]
    lines += _composites_table()
    path = os.path.join(ROOT, "docs", "reference", "op-table.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def _compositions_page():
    from microgradnp.testing import compositions

    lines = [
        "# What composes: the transforms matrix",
        "",
        "Generated from `microgradnp.testing.compositions` when the documentation is built: what each kind of",
        "function does under each transform of `microgradnp.func` and the engine (`backward`, `mg.grad`; `+cg`:",
        "with `create_graph=True`), alone, in every ordered pair and in four triples. The test suite runs every",
        "cell (`tests/func/test_matrix.py`): a ✓ equals its reference, any other cell raises the error it names.",
        "See [Function transforms](../func.md#what-composes) for the guide.",
        "",
        compositions.support_markdown(),
    ]
    path = os.path.join(ROOT, "docs", "reference", "compositions.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def _array_libraries_page():
    from microgradnp import backends
    from microgradnp.ops import REGISTRY

    lines = [
        "# The registry on other array libraries",
        "",
        "Generated from `microgradnp.backends.KNOWN_GAPS` when the documentation is built. The test suite",
        "(`tests/backends/test_registry_on_libraries.py`) runs every op's forward and VJPs on each library and",
        "compares them with NumPy's on the same inputs: an op not listed here agrees with NumPy; a listed op",
        "raises the error named, never returns another number. See",
        "[Other array libraries](../array-libraries.md) for what this means today.",
        "",
    ]
    for library, gaps in backends.KNOWN_GAPS.items():
        lines += [f"## {library}", "",
                  f"{len(REGISTRY) - len(gaps)} of {len(REGISTRY)} ops agree with NumPy on every drawn input.", "",
                  "| op | why not | raises |", "|---|---|---|"]
        for name in sorted(gaps):
            reason, raises = gaps[name]
            names = ", ".join(e.__name__ for e in (raises if isinstance(raises, tuple) else (raises,)))
            lines.append(f"| `{name}` | {reason} | `{names}` |")
        lines.append("")
    path = os.path.join(ROOT, "docs", "reference", "array-libraries.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


class _Stage:
    """Say what the build is doing and how long it took: the figures take about two minutes."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        import time

        self.start = time.perf_counter()
        print(f"INFO    -  figures: {self.what} ...", flush=True)

    def __exit__(self, *exc):
        import time

        if exc[0] is None:
            print(f"INFO    -  figures: {self.what} done ({time.perf_counter() - self.start:.0f} s)", flush=True)


def on_pre_build(config, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    if shutil.which("dot") is None:
        raise SystemExit("building the docs draws graphs with Graphviz's `dot`: install Graphviz first")
    os.makedirs(FIGURES, exist_ok=True)
    blobs, digits, moons = _examples()
    with _Stage("training the 2-2-2 blobs network three times (exact gradient, notebook rule)"):
        blobs.run(replay_seed=True, out_dir=FIGURES)
        blobs_rule = blobs.run(replay_seed=True, notebook_rule=True)
        with open(os.path.join(FIGURES, "blobs_counts.txt"), "w") as fh:
            fh.write(f"notebook rule: {blobs_rule['correct']} of 1000; exact gradient: "
                     f"{blobs.run(replay_seed=True)['correct']} of 1000\n")
    with _Stage("training Ng's 400-25-10 digits network with CG, and the regularisation sweep"):
        digits.run(maxiter=100, sweep=True, out_dir=FIGURES)
    with _Stage("training the 2-5-5-2 moons network"):
        moons.run(out_dir=FIGURES)
    with _Stage("the Gaussian-process example"):
        _example("gaussian_process", printout="gp_output.txt")
    with _Stage("fitting the oscillator through odeint, training the deep-equilibrium layer"):
        _example("ode_fit")
        _example("deq_digits", "--no-progress")
    with _Stage("drawing the graphs"):
        _graphs()
    with _Stage("the op table and the compositions page"):
        _op_table()
        _compositions_page()
        _array_libraries_page()


def on_post_build(config, **kwargs):
    """A screenshot of every graph drawing, as a reader's browser shows it at 1400x1000, into
    ``site/figures/screenshots/``; ``.ci/check_figures.py`` checks each drawing and its screenshot."""
    import sys

    sys.path.insert(0, ROOT)
    from tests.browser import CHROMIUM, graph_drawings, screenshot

    if CHROMIUM is None:
        print("INFO    -  no headless Chromium: graph screenshots not taken")
        return
    figures = os.path.join(config["site_dir"], "figures")
    shots = os.path.join(figures, "screenshots")
    os.makedirs(shots, exist_ok=True)
    drawings = graph_drawings(figures)
    with _Stage(f"screenshots of the {len(drawings)} graph drawings, as a browser shows them at 1400x1000"):
        for path in drawings:
            screenshot(path, os.path.join(shots, os.path.splitext(os.path.basename(path))[0] + ".png"))
