"""Draw a computation graph: the forward values and the gradient flow.

:func:`to_dot` is pure and dependency-free: it walks the graph behind a
tensor (iteratively, so a 100,000-node graph is fine) and returns
deterministic Graphviz DOT text.  :func:`draw_graph` wraps the same text in a
``graphviz.Digraph`` (the ``graphviz`` Python package, extra ``viz``) that
shows inline in Jupyter and renders to SVG, PNG or PDF with Graphviz's ``dot``
program.  :func:`render` writes a file in one call.

What a picture shows:

* op nodes (ellipses) labelled with the registry name and attributes;
* tensor nodes (boxes) with a name (from ``names=``, a ``Parameter``'s path in
  its module, or ``Tensor.name``), shape, dtype and, for small tensors, the
  value and the gradient; parameters, other leaves, constants and the output
  are filled in different colours;
* once gradients exist (after ``backward()``), edges are coloured by the norm
  of the gradient flowing back along them, on a log scale from blue (1e-8,
  vanishing) through grey (1) to red (1e4, exploding); zero gradients are
  dashed; any NaN or inf, in a value or a gradient, fills the node in red;
* ``collapse="modules"`` folds each ``Linear`` and activation of a model
  into one node, so an MLP's loss reads as a pipeline.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from collections import deque

import numpy as np

from .engine import grad as _grad
from .graph import walk
from .tensor import Tensor

__all__ = ["to_dot", "draw_graph", "render", "GraphvizNotFoundError"]

# Fill colours of tensor nodes by role.
_FILL = {
    "output": "#d5e8d4",  # green
    "parameter": "#fff2cc",  # yellow
    "leaf": "#dae8fc",  # blue: a leaf that requires grad
    "constant": "#f5f5f5",  # grey: data, no gradient
    "interior": "#ffffff",
    "bad": "#f8cecc",  # red: NaN or inf
}
# Gradient-norm colour scale for edges: log10 norm from -8 to 4.
_FLOW_STOPS = [
    (-8.0, (0x2C, 0x7B, 0xB6)),  # blue: vanishing
    (-3.0, (0x74, 0xAD, 0xD1)),
    (0.0, (0x1A, 0x96, 0x41)),  # green: healthy
    (2.0, (0xFD, 0xAE, 0x61)),
    (4.0, (0xD7, 0x19, 0x1C)),  # red: exploding
]
_SMALL = 8  # tensors with at most this many elements show their values


#: Graphviz's layout directions: top to bottom, left to right, and their reverses.
_RANKDIRS = ("TB", "LR", "BT", "RL")


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program, which is not installed."""


_INSTALL_HINT = (
    "rendering a graph needs Graphviz's `dot` program, which was not found on PATH. Install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda install -c "
    "conda-forge graphviz; Windows: https://graphviz.org/download/), or use microgradnp.viz.to_dot(), "
    "which needs nothing, and paste its text into any DOT viewer."
)


# ---------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------


def _esc(text: str) -> str:
    """``text`` as the inside of a DOT string: quotes and backslashes escaped, newlines
    kept as line breaks, and other control characters (a NUL ends the string for
    Graphviz) shown as visible ``\\xNN`` escapes."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt_array(a: np.ndarray) -> str:
    if a.ndim == 0:
        return f"{a.item():.4g}"
    return np.array2string(a, precision=4, separator=", ", threshold=_SMALL, max_line_width=60)


def _short(v) -> str:
    if isinstance(v, np.ndarray):
        return f"<{v.dtype} array {v.shape}>"
    if isinstance(v, tuple) and any(isinstance(k, np.ndarray) for k in v):
        return "(" + ", ".join(_short(k) for k in v) + ")"
    if isinstance(v, slice):
        return ":".join("" if x is None else str(x) for x in (v.start, v.stop, v.step)).rstrip(":") or ":"
    r = repr(v)
    return r if len(r) <= 30 else r[:27] + "..."


def _drawable(v) -> bool:
    """Attribute values worth printing on an op node: numbers, strings, shapes, dtypes, keys, arrays."""
    if isinstance(v, (tuple, list)):
        return all(_drawable(x) for x in v)
    return isinstance(v, (int, float, str, slice, np.ndarray, np.dtype, np.generic, type(Ellipsis))) or v is None


def _bad(a) -> str | None:
    if a is None or not isinstance(a, np.ndarray) or a.dtype.kind != "f" or not a.size:
        return None
    if np.isnan(a).any():
        return "NaN"
    if np.isinf(a).any():
        return "inf"
    return None


def _flow_color(norm: float) -> str:
    x = min(max(math.log10(norm), _FLOW_STOPS[0][0]), _FLOW_STOPS[-1][0])
    for (x0, c0), (x1, c1) in zip(_FLOW_STOPS, _FLOW_STOPS[1:]):
        if x <= x1:
            f = (x - x0) / (x1 - x0)
            return "#" + "".join(f"{round(a + f * (b - a)):02x}" for a, b in zip(c0, c1))
    return "#d7191c"  # pragma: no cover


# ---------------------------------------------------------------------------
# the drawing
# ---------------------------------------------------------------------------


class _Drawing:
    def __init__(self, root, show_values, show_grads, names, rankdir, max_nodes, collapse):
        if not isinstance(root, Tensor):
            raise TypeError(f"to_dot: expected a Tensor, got {type(root).__name__}")
        if show_values not in ("auto", True, False):
            raise ValueError(f"show_values must be 'auto', True or False, got {show_values!r}")
        if collapse not in (None, "modules"):
            raise ValueError(f"collapse must be None or 'modules', got {collapse!r}")
        if rankdir not in _RANKDIRS:  # it goes into the DOT text unquoted
            raise ValueError(f"rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
            raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
        self.root, self.show_values, self.show_grads = root, show_values, show_grads
        self.rankdir, self.max_nodes, self.collapse = rankdir, int(max_nodes), collapse
        self.names = self._names(names)
        self.ids: dict[int, str] = {}
        self.tensors: list[Tensor] = []
        self.truncated = 0
        self._walk()
        self.grads, self.grad_note = self._gradients() if show_grads else ({}, None)
        self.groups = self._module_groups() if collapse == "modules" else {}

    # -- inputs -------------------------------------------------------------

    @staticmethod
    def _names(names) -> dict[int, str]:
        if names is None:
            return {}
        if hasattr(names, "named_parameters"):  # a Module
            return {id(p): n for n, p in names.named_parameters()}
        out = {}
        for n, t in dict(names).items():
            if not isinstance(t, Tensor):
                raise TypeError(f"names: {n!r} maps to a {type(t).__name__}, not a Tensor")
            out[id(t)] = str(n)
        return out

    def _walk(self) -> None:
        """Breadth-first from the root: tensors get ids in traversal order (stable text)."""
        queue = deque([self.root])
        self.ids[id(self.root)] = "t0"
        budget = self.max_nodes
        while queue:
            t = queue.popleft()
            self.tensors.append(t)
            budget -= 1 + (not t.is_leaf)
            for p in t.parents:
                if isinstance(p, Tensor) and id(p) not in self.ids:
                    if budget <= 0:
                        self.truncated += 1
                        continue
                    self.ids[id(p)] = f"t{len(self.ids)}"
                    queue.append(p)
        if self.truncated:
            self.truncated = self._count_all() - len(self.tensors)
            warnings.warn(
                f"to_dot: the graph has {len(self.tensors) + self.truncated} tensors; only the {len(self.tensors)} "
                f"nearest the output are drawn (max_nodes={self.max_nodes})",
                UserWarning,
                stacklevel=4,
            )

    def _count_all(self) -> int:
        return sum(1 for _ in walk(self.root))

    # -- gradients ----------------------------------------------------------

    def _gradients(self):
        """Gradients to show: leaves' .grad, and the interior ones recomputed when the graph allows."""
        grads = {}
        for t in self.tensors:
            g = t.grad
            if g is not None:
                grads[id(t)] = g.numpy() if isinstance(g, Tensor) else g
        if not grads:
            return {}, None  # before backward: nothing to show
        interior = [t for t in self.tensors if not t.is_leaf and t.requires_grad]
        if not interior or not self.root.requires_grad:
            return grads, None
        if any(t.released for t in interior):
            return grads, (
                "interior gradients are not shown: backward() released the graph; call "
                "backward(retain_graph=True) to see the full gradient flow"
            )
        upstream = np.ones(self.root.shape, dtype=self.root.dtype)
        got = _grad(self.root, interior, grad_outputs=upstream, retain_graph=True, allow_unused=True)
        for t, g in zip(interior, got):
            if g is not None:
                grads[id(t)] = g.numpy()
        return grads, None

    # -- module grouping ----------------------------------------------------

    def _module_groups(self) -> dict:
        """For each call of a module without submodules: its op nodes, inputs and parameters."""
        groups = {}
        owner: dict[int, str] = {}
        for t in self.tensors:
            tag = t.module_call
            if tag is None or id(t) in owner:
                continue
            module, input_ids = tag
            if any(True for _ in module.children()):
                continue  # containers are drawn through their parts
            params = {id(p) for p in module.parameters()}
            members, inputs, stack = [], [], [t]
            while stack:
                u = stack.pop()
                members.append(u)
                for p in u.parents:
                    if not isinstance(p, Tensor) or id(p) not in self.ids:
                        continue
                    if id(p) in input_ids or id(p) in params or p.is_leaf or id(p) in owner:
                        if id(p) not in params and all(p is not q for q in inputs):  # identity: == is elementwise
                            inputs.append(p)
                    else:
                        stack.append(p)
            key = f"m{len(groups)}"
            groups[key] = {"module": module, "out": t, "members": members, "inputs": inputs,
                           "params": [p for p in module.parameters() if id(p) in self.ids]}
            for u in members:
                owner[id(u)] = key
        self.owner = owner
        return groups

    # -- labels -------------------------------------------------------------

    def _role(self, t: Tensor) -> str:
        if t is self.root:
            return "output"
        if not t.is_leaf:
            return "interior"
        if t.is_parameter:
            return "parameter"
        return "leaf" if t.requires_grad else "constant"

    def _tensor_label(self, t: Tensor) -> tuple[str, str | None]:
        name = self.names.get(id(t)) or t.name
        lines = [name] if name else []
        lines.append(f"{t.shape} {t.dtype}")
        show = self.show_values is True or (self.show_values == "auto" and t.size <= _SMALL)
        if show:
            lines.append("value " + _fmt_array(t.numpy()))
        g = self.grads.get(id(t))
        if g is not None:
            lines.append(("grad " + _fmt_array(g)) if show else f"|grad| {np.linalg.norm(g):.3g}")
        flags = [f"{b} in value" for b in [_bad(t.numpy())] if b] + [f"{b} in grad" for b in [_bad(g)] if b]
        if flags:
            lines.append("!! " + ", ".join(flags))
        return "\n".join(lines), ("; ".join(flags) or None)

    @staticmethod
    def _op_label(t: Tensor) -> str:
        # None and False are the defaults of every attribute that has them: leave them out, and
        # the bookkeeping objects of custom Functions (their ctx) too.
        extra = [f"{k}={_short(v)}" for k, v in t.op_attrs.items()
                 if v is not None and v is not False and _drawable(v)]
        return "\n".join([t.op] + extra)

    def _edge_style(self, p: Tensor) -> str:
        g = self.grads.get(id(p)) if p.requires_grad else None
        if g is None:
            return ""
        if _bad(g):
            return ' [color="#d7191c", penwidth=2.5]'
        norm = float(np.linalg.norm(g)) if g.size else 0.0
        if norm == 0.0:
            return ' [color="#999999", style=dashed]'
        return f' [color="{_flow_color(norm)}", penwidth=1.6]'

    # -- output ---------------------------------------------------------------

    def statements(self) -> list[str]:
        out = [
            f'graph [rankdir={self.rankdir}, fontname="Helvetica", fontsize=10]',
            'node [fontname="Helvetica", fontsize=10]',
            'edge [arrowsize=0.7]',
        ]
        owner = getattr(self, "owner", {})
        # A module's parameters are listed inside its node; one that is also
        # used elsewhere (an L2 penalty) keeps its own node.
        used_outside = {id(p) for t in self.tensors if not t.is_leaf and id(t) not in owner
                        for p in t.parents if isinstance(p, Tensor)}
        self.folded_params = folded_params = {
            id(p) for grp in self.groups.values() for p in grp["params"] if id(p) not in used_outside}
        # tensor nodes
        for t in self.tensors:
            tid = self.ids[id(t)]
            if (id(t) in owner and t is not self.groups[owner[id(t)]]["out"]) or id(t) in folded_params:
                continue  # folded into its module's node
            label, bad = self._tensor_label(t)
            role = "bad" if bad else self._role(t)
            extra = ", peripheries=2" if t is self.root else ""
            out.append(f'{tid} [label="{_esc(label)}", shape=box, style="rounded,filled", fillcolor="{_FILL[role]}"{extra}]')
        # op nodes and edges
        for t in self.tensors:
            if t.is_leaf or id(t) in owner:
                continue
            tid = self.ids[id(t)]
            out.append(f'op_{tid} [label="{_esc(self._op_label(t))}", shape=ellipse, style=filled, fillcolor="#eeeeee"]')
            for k, p in enumerate(t.parents):
                if isinstance(p, Tensor):
                    if id(p) in self.ids:
                        out.append(f"{self.ids[id(p)]} -> op_{tid}{self._edge_style(p)}")
                else:
                    out.append(f'c_{tid}_{k} [label="{_esc(_short(p))}", shape=plaintext, fontsize=9]')
                    out.append(f"c_{tid}_{k} -> op_{tid}")
            out.append(f"op_{tid} -> {tid}")
        # collapsed modules
        for key, grp in self.groups.items():
            out.extend(self._module_statements(key, grp))
        for note in (self.grad_note, self._truncation_note(), self._legend()):
            if note:
                out.append(note)
        return out

    def _module_statements(self, key: str, grp: dict) -> list[str]:
        module, t = grp["module"], grp["out"]
        tid = self.ids[id(t)]
        lines = [f"{type(module).__name__} {module.path}".strip()]
        if module.extra_repr():
            lines.append(module.extra_repr())
        for p in grp["params"]:
            g = self.grads.get(id(p))
            pname = (p.name or "param").rsplit(".", 1)[-1]
            lines.append(f"{pname} {p.shape}" + (f"  |grad| {np.linalg.norm(g):.3g}" if g is not None else ""))
        bad = any(_bad(self.grads.get(id(p))) or _bad(p.numpy()) for p in grp["params"])
        fill = _FILL["bad"] if bad else "#e1d5e7"
        out = [f'{key} [label="{_esc(chr(10).join(lines))}", shape=box3d, style=filled, fillcolor="{fill}"]']
        for p in grp["inputs"]:
            out.append(f"{self.ids[id(p)]} -> {key}{self._edge_style(p)}")
        for p in grp["params"]:
            if id(p) not in self.folded_params:
                out.append(f"{self.ids[id(p)]} -> {key}{self._edge_style(p)}")
        out.append(f"{key} -> {tid}")
        return out

    def _truncation_note(self) -> str | None:
        if not self.truncated:
            return None
        return (f'truncated [label="{self.truncated} more tensors not drawn (max_nodes={self.max_nodes})", '
                'shape=note, style=filled, fillcolor="#fff2cc"]')

    def _legend(self) -> str | None:
        if not self.grads:
            return None
        return ('legend [label="edge colour: gradient norm\\nblue 1e-8 (vanishing) - green 1 - red 1e4 (exploding)\\n'
                'dashed: zero gradient; red fill: NaN or inf", shape=note, fontsize=9]')


def _statements(root, show_values, show_grads, names, rankdir, max_nodes, collapse) -> list[str]:
    d = _Drawing(root, show_values, show_grads, names, rankdir, max_nodes, collapse)
    stmts = d.statements()
    if d.grad_note:
        stmts[stmts.index(d.grad_note)] = f'note [label="{_esc(d.grad_note)}", shape=note, fontsize=9]'
    return stmts


def to_dot(root, *, show_values="auto", show_grads=True, names=None, rankdir: str = "LR", max_nodes: int = 500,
           collapse=None) -> str:
    """The graph that computed ``root``, as Graphviz DOT text (pure, deterministic, no dependencies).

    Parameters
    ----------
    root
        The output tensor (usually a loss).
    show_values
        ``"auto"``: print values (and gradients) of tensors with at most 8
        elements; ``True``: of every tensor (abbreviated); ``False``: never.
    show_grads
        Show gradients when there are any: after ``backward()`` the leaves'
        ``.grad``, and, if the graph was kept (``retain_graph=True``), the
        gradient of every interior tensor, recomputed without touching any
        ``.grad``.  Edges are coloured by gradient norm.
    names
        ``{"W1": W1, ...}`` or a Module (its parameter paths) to label tensors.
    rankdir
        Graphviz layout direction: ``"LR"`` (default) or ``"TB"``.
    max_nodes
        Draw at most this many nodes; the rest is summarised in a note and a
        ``UserWarning`` is issued.
    collapse
        ``"modules"`` folds the operations of each ``Linear``/activation call
        into one node.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.viz import to_dot
    >>> a = mg.tensor(2.0, requires_grad=True, name="a")
    >>> y = a * a + 1.0
    >>> print(to_dot(y).splitlines()[0])
    digraph microgradnp {
    >>> "op_t0" in to_dot(y) and 'label="mul"' in to_dot(y)
    True
    """
    body = _statements(root, show_values, show_grads, names, rankdir, max_nodes, collapse)
    return "digraph microgradnp {\n" + "".join(f"  {line}\n" for line in body) + "}\n"


_GRAPH_CLASS = None


def _graph_class():
    global _GRAPH_CLASS
    if _GRAPH_CLASS is not None:
        return _GRAPH_CLASS
    try:
        import graphviz
    except ImportError as exc:
        raise ImportError(
            "draw_graph needs the graphviz Python package: pip install 'microgradnp[viz]' "
            "(to_dot() works without it)"
        ) from exc

    class Graph(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose rendering explains a missing ``dot`` and leaves no stray files."""

        def render(self, filename=None, directory=None, view=False, cleanup=True, format=None, **kwargs):
            source = os.path.join(directory or self.directory or "", filename or self.filename)
            existed = os.path.exists(source)
            try:
                return super().render(filename, directory=directory, view=view, cleanup=cleanup, format=format,
                                      **kwargs)
            except graphviz.ExecutableNotFound as exc:
                if not existed and os.path.exists(source):
                    os.remove(source)  # graphviz wrote the DOT source before calling dot
                raise GraphvizNotFoundError(_INSTALL_HINT) from exc

        def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except graphviz.ExecutableNotFound:
                return {"text/plain": self.source}

    _GRAPH_CLASS = Graph
    return Graph


def draw_graph(root, *, show_values="auto", show_grads=True, names=None, rankdir: str = "LR", max_nodes: int = 500,
               collapse=None):
    """The graph of :func:`to_dot` as a ``graphviz.Digraph``: inline in Jupyter, ``.render()`` to a file.

    ``.render(path, format="svg"|"png"|"pdf")`` needs Graphviz's ``dot``
    program; without it, it raises :class:`GraphvizNotFoundError` with
    installation advice and leaves no file behind.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.viz import draw_graph
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> g = draw_graph((x * x).sum())
    >>> g.source.startswith("digraph microgradnp")
    True
    """
    Graph = _graph_class()
    g = Graph("microgradnp")
    g.body.extend(f"\t{line}\n" for line in _statements(root, show_values, show_grads, names, rankdir, max_nodes, collapse))
    return g


def render(root, path, *, format: str | None = None, **kwargs) -> str:
    """Draw ``root``'s graph into ``path`` (``.svg``, ``.png``, ``.pdf``; ``.dot`` needs no Graphviz).

    Keyword arguments are those of :func:`to_dot`.  Returns the path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import microgradnp as mg
    >>> from microgradnp.viz import render
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> path = render((x * x).sum(), os.path.join(tempfile.mkdtemp(), "graph.dot"))
    >>> open(path).read().startswith("digraph")
    True
    """
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt in ("dot", "gv"):
        with open(path, "w") as fh:
            fh.write(to_dot(root, **kwargs))
        return path
    graph = draw_graph(root, **kwargs)
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(_INSTALL_HINT)
    with tempfile.TemporaryDirectory() as tmp:  # the intermediate DOT file never lands next to the output
        produced = graph.render(filename="graph", directory=tmp, format=fmt, cleanup=True)
        shutil.move(produced, path)
    return path


def _draw(self, **kwargs):
    """Draw the graph that computed this tensor; see :func:`microgradnp.viz.draw_graph`."""
    return draw_graph(self, **kwargs)


_draw.__name__ = _draw.__qualname__ = "draw"
Tensor.draw = _draw  # ``loss.draw()`` in a notebook; installed here so the Tensor knows nothing of drawing
