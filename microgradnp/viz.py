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
  vanishing) through green (1) to red (1e4, exploding); zero gradients are
  dashed; any NaN or inf, in a value or a gradient, fills the node in red;
* ``collapse="modules"`` folds each ``Linear`` and activation of a model
  into one node, so an MLP's loss reads as a pipeline.
"""

from __future__ import annotations

import html as _html
import json
import math
import os
import shutil
import subprocess
import warnings
from collections import deque

import numpy as np

from ._tensor import Tensor
from .engine import grad as _grad
from .graph import walk

__all__ = ["to_dot", "draw_graph", "render", "to_html", "view", "GraphView", "GraphvizNotFoundError", "LayoutTimeout",
           "backward_memory"]

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



def _shape_dtype(t: Tensor) -> str:
    """``(2, 3) float64``: the shape as a tuple and the dtype's own name, whatever the array library
    (torch would say ``torch.Size([2, 3]) torch.float64``; the library is shown apart)."""
    return f"{tuple(t.shape)} {str(t.dtype).rsplit('.', 1)[-1]}" + ("" if t.library == "numpy" else f" on {t.library}")


def _host_values(g):
    """A gradient (an array of any library, or a Tensor) as NumPy values to draw: a drawing shows values,
    it computes nothing with them, so a torch or CuPy array is copied to the host here, by name."""
    if isinstance(g, Tensor):
        return g.numpy()
    if isinstance(g, np.ndarray):
        return g
    from .backends import to_numpy

    return to_numpy(g)


def mg_ones_like(t: Tensor):
    """Ones of ``t``'s shape, dtype and array library: the upstream gradient of a drawing's root."""
    if t.library == "numpy":
        return np.ones(t.shape, dtype=t.dtype)
    from .backends import namespace_of

    return namespace_of(t._data).full_like(t._data, 1.0)


def _nbytes(d) -> int:
    """The bytes an array of any library holds."""
    n = getattr(d, "nbytes", None)
    return int(n) if isinstance(n, (int, np.integer)) else _host_values(d).nbytes

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
    """``text`` as the inside of a DOT string: quotes, backslashes and ``&`` escaped
    (Graphviz reads ``&lt;`` as an HTML entity and would show ``<``), newlines kept
    as line breaks, and other control characters (a NUL ends the string for
    Graphviz) shown as visible ``\\xNN`` escapes."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("&", "&amp;")


def _shown(name: str) -> str:
    """A user's name as a drawing shows it, one line that gives the name back.

    Printable names are shown as written.  A name with a backslash or a
    character that cannot be drawn (a tab, NUL, U+2028...) is shown as Python
    writes it inside a string literal (``w\\x00\\t``), so two different names
    never look the same and ``ast.literal_eval`` recovers the name.
    """
    return name if name.isprintable() and "\\" not in name else repr(name)[1:-1]


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


#: Graphs with more tensors than this have repeated plain-op steps folded by default (``collapse=None``).
FOLD_ABOVE = 150

#: How many levels of parents make a tensor's signature when repeated steps are looked for.
STEP_DEPTH = 6


class _Step:
    """What a folded plain-op step is drawn as (in the place of a module): the ops of one step, in order."""

    path = ""
    label = "repeated step"

    def __init__(self, ops: list):
        self.ops = ops

    def extra_repr(self) -> str:
        return ", ".join(self.ops) if len(self.ops) <= 8 else ", ".join(self.ops[:8]) + f", ... ({len(self.ops)} ops)"


def _check_size(size) -> str | None:
    """``size=(w, h)`` or ``"w,h"`` in inches (Graphviz's: the drawing is scaled down to fit), or None."""
    if size is None:
        return None
    parts = size.split(",") if isinstance(size, str) else list(size) if isinstance(size, (tuple, list)) else None
    try:
        w, h = (float(v) for v in parts)
        ok = math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"size must be (width, height) in inches, both positive, got {size!r}")
    return f"{w:g},{h:g}"


def _check_dpi(dpi) -> float | None:
    """``dpi`` for PNG output: a positive number, or None (Graphviz's 96)."""
    if dpi is None:
        return None
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float, np.integer, np.floating)) or not 0 < dpi < 10000:
        raise ValueError(f"dpi must be a positive number (dots per inch of a PNG), got {dpi!r}")
    return float(dpi)


class _Drawing:
    def __init__(self, root, show_values="auto", show_grads=True, names=None, rankdir="auto", max_nodes=500,
                 collapse=None, highlight=None, show_memory=False, size=None, dpi=None):
        if not isinstance(root, Tensor):
            raise TypeError(f"to_dot: expected a Tensor, got {type(root).__name__}")
        if show_values not in ("auto", True, False):
            raise ValueError(f"show_values must be 'auto', True or False, got {show_values!r}")
        if collapse not in (None, False, "modules", "steps", "chains"):
            raise ValueError(f"collapse must be None (automatic), False, 'modules', 'steps' or 'chains', got {collapse!r}")
        if rankdir not in _RANKDIRS and rankdir != "auto":  # it goes into the DOT text unquoted
            raise ValueError(f"rankdir must be 'auto' or one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
            raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
        self.root, self.show_values, self.show_grads = root, show_values, show_grads
        self.rankdir, self.max_nodes, self.collapse = rankdir, int(max_nodes), collapse
        self.names = self._names(names)
        self.ids: dict[int, str] = {}
        self.tensors: list[Tensor] = []
        self.truncated = 0
        self.norms: dict[int, float] = {}  # interior gradient norms recorded by backward(record_grad_norms=True)
        self.highlight = {id(t) for t in ([highlight] if isinstance(highlight, Tensor) else highlight or ())}
        self._walk()
        self.grads, self.grad_note = self._gradients() if show_grads else ({}, None)
        self.memory = backward_memory(root) if show_memory else None
        self.size, self.dpi = _check_size(size), _check_dpi(dpi)
        self.groups = self._module_groups() if collapse == "modules" else {}
        large = collapse is None and len(self.tensors) > FOLD_ABOVE
        if collapse == "steps" or large:
            self.groups.update(self._step_groups())
        self.hidden: set[int] = set()  # ids of tensors folded into a repeated step's node
        self.repeats: dict[str, int] = {}  # module node -> how many calls it stands for
        if self.groups:
            self._fold_repeats()
        self.chains = self._chains() if collapse == "chains" or large else {}
        if rankdir == "auto":
            self.rankdir = _auto_rankdir(self)

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
        # Folding modules draws many ops as one node: walk further then (the drawing stays small).
        budget = self.max_nodes * (20 if self.collapse else 1)
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
                grads[id(t)] = _host_values(g)
        if not grads:
            return {}, None  # before backward: nothing to show
        interior = [t for t in self.tensors if not t.is_leaf and t.requires_grad]
        if not interior or not self.root.requires_grad:
            return grads, None
        if any(t.released for t in interior):
            self.norms = {id(t): t.grad_norm for t in interior if t.grad_norm is not None}
            if len(self.norms) == len(interior):
                return grads, None  # recorded by backward(record_grad_norms=True): norms, not arrays
            return grads, (
                "interior gradients not shown: backward() released the graph;\n"
                "backward(record_grad_norms=True) records them"
            )
        changed = self._changed_since_recorded()
        if changed:  # an optimizer step or an in-place write: backward through this graph would be wrong
            return grads, (
                f"values changed since this graph was recorded ({changed}, written after use):\n"
                "values and .grad shown as they are now; interior gradients not shown"
            )
        upstream = mg_ones_like(self.root)
        got = _grad(self.root, interior, grad_outputs=upstream, retain_graph=True, allow_unused=True)
        for t, g in zip(interior, got):
            if g is not None:
                grads[id(t)] = _host_values(g)
        return grads, None

    def _changed_since_recorded(self) -> str:
        """The names of the tensors written after an op of this graph recorded them (up to three), or ''."""
        changed = {}
        for t in self.tensors:
            for p in getattr(t, "_parents", None) or ():
                if isinstance(p, Tensor) and p._written > t._seq:
                    changed[id(p)] = p
        changed = list(changed.values())
        shown = [repr(self.names.get(id(p)) or p.name or f"a tensor of shape {p.shape}") for p in changed[:3]]
        return ", ".join(shown) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")

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

    def _step_groups(self, least: int = 3) -> dict:
        """Repeated steps written with plain ops (an RNN unrolled by hand), as groups :meth:`_fold_repeats`
        folds like a module's calls.

        Each interior tensor gets a signature: its op and, to :data:`STEP_DEPTH` levels, its parents'
        (a parameter by identity, data by shape and dtype).  The longest run of tensors with one
        signature, each depending on the one before, anchors the steps; a step is what the anchor
        needs that the previous anchor did not.  Steps of the same ops are grouped; the first ones,
        which differ (their inputs are still the initial state), stay drawn as they are.
        """
        owner = getattr(self, "owner", {})
        memo: dict = {}

        def sig(t, depth):
            if t.is_leaf:
                return ("param", id(t)) if t.requires_grad else ("data", t.shape, str(t.dtype))
            if depth == 0:
                return ("op",)
            key = (id(t), depth)
            if key not in memo:
                memo[key] = (t.op, tuple(sig(p, depth - 1) if isinstance(p, Tensor) else ("const",)
                                         for p in t.parents))
            return memo[key]

        runs: dict = {}
        for t in self.tensors:
            if not t.is_leaf and id(t) not in owner:
                runs.setdefault(sig(t, STEP_DEPTH), []).append(t)
        def needs(t):
            seen, stack = set(), [t]
            while stack:
                u = stack.pop()
                for p in u.parents:
                    if isinstance(p, Tensor) and id(p) not in seen and id(p) in self.ids:
                        seen.add(id(p))
                        stack.append(p)
            return seen

        below, best = {}, None  # id(anchor) -> the ids of every tensor it needs
        for run in sorted((sorted(r, key=lambda t: t._seq) for r in runs.values() if len(r) >= least),
                          key=lambda r: (-len(r), -r[-1]._seq)):
            below = {id(t): needs(t) for t in run}
            if all(id(a) in below[id(b)] for a, b in zip(run, run[1:])):  # a chain: each feeds the next
                best = run
                break
        if best is None:
            return {}
        step = _Step([])
        groups, last_shape = {}, None
        for a, b in zip(best, best[1:]):
            region = [u for u in self.tensors if id(u) in below[id(b)] - below[id(a)] - {id(a)}
                      and not u.is_leaf and id(u) not in owner] + [b]
            shape = sorted(repr(sig(u, 1)) for u in region)
            if last_shape is not None and shape != last_shape:
                groups.clear()  # the steps so far differ from the rest: only the uniform tail is folded
            last_shape = shape
            inside = {id(u) for u in region}
            inputs, params = [], []
            for u in region:
                for p in u.parents:
                    if isinstance(p, Tensor) and id(p) in self.ids and id(p) not in inside:
                        target = params if p.is_leaf and p.requires_grad else inputs
                        if all(p is not q for q in target):
                            target.append(p)
            groups[f"s{len(groups)}"] = {"module": step, "out": b, "members": region, "inputs": inputs,
                                         "params": params}
        if len(groups) < least:
            return {}
        step.ops = [u.op for u in sorted(groups[next(reversed(groups))]["members"], key=lambda u: u._seq)]
        for key, g in groups.items():
            for u in g["members"]:
                owner[id(u)] = key
        self.owner = owner
        return groups

    def _chains(self, least: int = 3) -> dict:
        """Runs of ``least`` or more one-input elementwise ops, each result used only by the next
        (``tanh(exp(sin(x)))``), drawn as one op node: ``{id(last result): [the results, first to last]}``;
        the results inside a run are hidden."""
        owner = getattr(self, "owner", {})
        uses: dict[int, int] = {}
        for t in self.tensors:
            for p in t.parents:
                if isinstance(p, Tensor):
                    uses[id(p)] = uses.get(id(p), 0) + 1

        def unary(t):
            return (not t.is_leaf and t._op.jvp == "elementwise" and len(t.parents) == 1
                    and isinstance(t.parents[0], Tensor) and id(t) not in owner and id(t) not in self.hidden)

        def continues(t):  # t's single input is itself a unary result that only t uses
            p = t.parents[0]
            return (unary(p) and uses.get(id(p)) == 1 and p is not self.root and not (self.names.get(id(p)) or p.name)
                    and id(p) not in self.highlight)

        chains: dict = {}
        for t in self.tensors:  # from the output down: each run is met at its last result first
            if not unary(t) or id(t) in self.hidden:
                continue
            run = [t]
            while continues(run[-1]):
                run.append(run[-1].parents[0])
            if len(run) >= least:
                chains[id(t)] = run[::-1]
                self.hidden.update(id(u) for u in run[1:])
        return chains

    def _fold_repeats(self, least: int = 3) -> None:
        """Fold a chain of calls of one module, each fed the previous one's output (RNN steps), into its last call.

        The chain's node says "x30"; the inputs each call got from the same
        op on the same tensors (``x[t]`` of a sequence) are drawn once, as
        "x30" too.  Chains shorter than ``least`` stay as they are.
        """
        out_of = {id(g["out"]): k for k, g in self.groups.items()}
        prev = {}
        for k, g in self.groups.items():
            for p in g["inputs"]:
                j = out_of.get(id(p))
                if j is not None and j != k and self.groups[j]["module"] is g["module"]:
                    prev[k] = j
        nxt = {j: k for k, j in prev.items()}
        for start in [k for k in self.groups if k not in prev and k in nxt]:
            chain = [start]
            while chain[-1] in nxt and len(chain) <= len(self.groups):
                chain.append(nxt[chain[-1]])
            if len(chain) < least:
                continue
            last = self.groups[chain[-1]]
            outs = {id(self.groups[k]["out"]) for k in chain}
            inputs, kinds = [], {}
            for k in chain:
                for p in self.groups[k]["inputs"]:
                    if id(p) in outs or any(p is q for q in inputs):
                        continue
                    if p.is_leaf:  # data given to each step (a slice made without recording): by shape and dtype
                        kind = None if p.requires_grad else ("data", p.shape, p.dtype)
                    else:
                        kind = (p.op, tuple(id(q) for q in p.parents if isinstance(q, Tensor)))
                    if kind is not None and kind in kinds:  # the same op on the same tensors: one node stands for all
                        kinds[kind][1] += 1
                        self.hidden.add(id(p))
                        continue
                    if kind is not None:
                        kinds[kind] = [p, 1]
                    inputs.append(p)
            steps = [last["members"]]
            for k in chain[:-1]:
                folded = self.groups.pop(k)
                steps.append(folded["members"])
                self.hidden.add(id(folded["out"]))
            last["all_members"] = list({id(u): u for members in steps for u in members}.values())
            last["inputs"] = inputs
            self.repeats[chain[-1]] = len(chain)
            for p, n in kinds.values():
                if n > 1:
                    self.repeats[self.ids[id(p)]] = n

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
        lines = [_shown(name)] if name else []
        lines.append(_shape_dtype(t))
        show = self.show_values is True or (self.show_values == "auto" and t.size <= _SMALL)
        if show:
            lines.append("value " + _fmt_array(t.numpy()))
        g = self.grads.get(id(t))
        if g is not None:
            lines.append(("grad " + _fmt_array(g)) if show else f"|grad| {np.linalg.norm(g):.3g}")
        elif id(t) in self.norms:
            lines.append(f"|grad| {self.norms[id(t)]:.3g}")
        if self.memory is not None and self.memory["kept"].get(id(t)):
            lines.append(f"keeps {_bytes(self.memory['kept'][id(t)])} for backward")
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
        if g is None and id(p) in self.norms:
            norm = self.norms[id(p)]
            if not math.isfinite(norm):
                return ' [color="#d7191c", penwidth=2.5]'
        elif g is None:
            return ""
        elif _bad(g):
            return ' [color="#d7191c", penwidth=2.5]'
        else:
            norm = float(np.linalg.norm(g)) if g.size else 0.0
        if norm == 0.0:
            return ' [color="#999999", style=dashed]'
        return f' [color="{_flow_color(norm)}", penwidth=1.6]'

    # -- output ---------------------------------------------------------------

    def statements(self) -> list[str]:
        out = [
            # No size cap: Graphviz would scale a larger drawing down (to 5 px text) and clip it.
            f'graph [rankdir={self.rankdir}, fontname="Helvetica", fontsize=10'
            + (f', size="{self.size}"' if self.size else "") + (f", dpi={self.dpi:g}" if self.dpi else "") + "]",
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
            if id(t) in owner and (owner[id(t)] not in self.groups or t is not self.groups[owner[id(t)]]["out"]) \
                    or id(t) in folded_params or id(t) in self.hidden:
                continue  # folded into its module's node, or into a repeated step
            label, bad = self._tensor_label(t)
            if tid in self.repeats:
                label = f"x{self.repeats[tid]} (one per step)\n" + label
            role = "bad" if bad else self._role(t)
            extra = ", peripheries=2" if t is self.root else ""
            if id(t) in self.highlight:  # what detect_anomaly() named: a thick red outline
                extra += ', color="#d7191c", penwidth=3'
            out.append(f'{tid} [label="{_esc(label)}", shape=box, style="rounded,filled", fillcolor="{_FILL[role]}"{extra}]')
        # op nodes and edges
        for t in self.tensors:
            if t.is_leaf or id(t) in owner or id(t) in self.hidden:
                continue
            tid = self.ids[id(t)]
            mark = ', color="#d7191c", penwidth=3' if id(t) in self.highlight else ""
            chain = self.chains.get(id(t))
            label = " -> ".join(u.op for u in chain) + f"\n({len(chain)} ops folded)" if chain else self._op_label(t)
            out.append(f'op_{tid} [label="{_esc(label)}", shape=ellipse, style=filled, '
                       f'fillcolor="#eeeeee"{mark}]')
            for k, p in enumerate(chain[0].parents if chain else t.parents):
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
        for note in (self.grad_note, self._memory_note(), self._truncation_note(), self._legend()):
            if note:
                out.append(note)
        return out

    def _memory_note(self) -> str | None:
        if self.memory is None:
            return None
        m = self.memory
        text = (f"memory for backward: the graph keeps {_bytes(m['total'])} alive ({len(m['kept'])} values);\n"
                f"backward adds up to {_bytes(m['gradients'])} of gradients: peak about {_bytes(m['peak'])}")
        return f'memory [label="{_esc(text)}", shape=note, fontsize=9]'

    def _module_statements(self, key: str, grp: dict) -> list[str]:
        module, t = grp["module"], grp["out"]
        tid = self.ids[id(t)]
        lines = [f"{getattr(module, 'label', type(module).__name__)} {_shown(module.path)}".strip()]
        if key in self.repeats:
            lines[0] += f"  x{self.repeats[key]} (steps folded)"
        if module.extra_repr():
            lines.append(_shown(module.extra_repr()))
        if self.memory is not None:  # every step folded into the node counts
            kept = sum(self.memory["kept"].get(id(u), 0) for u in grp.get("all_members", grp["members"]))
            lines.append(f"keeps {_bytes(kept)} for backward")
        for p in grp["params"]:
            g = self.grads.get(id(p))
            pname = _shown((p.name or "param").rsplit(".", 1)[-1])
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


#: The frame a drawing should read well in at 100%, in points: the HTML view's canvas at 1400x1000 px
#: (the panel takes 320 px), 1 pt = 4/3 px.  The automatic direction is the one that fits it at the
#: larger scale; a drawing is never scaled down to fit (text stays 10 pt, 13 px, in SVG and PNG).
FRAME_PT = (810.0, 750.0)


def _label_size(label: str, ellipse: bool = False) -> tuple[float, float]:
    """Graphviz's size of a node with this label at 10 pt Helvetica, in points (estimated: 5.6 pt a
    character, 13 pt a line, its margins)."""
    lines = label.split("\n")
    w = max(len(line) for line in lines) * 5.6 + 16
    h = len(lines) * 13 + 10
    return (w * 1.4 + 10, max(h * 1.4, 36)) if ellipse else (max(w, 54), max(h, 36))


def _auto_rankdir(d) -> str:
    """"LR" or "TB", whichever draws the graph at the larger scale within :data:`FRAME_PT`, from its shape:
    its depth (ranks), its widest rank and its labels' sizes (ties: left to right)."""
    level, sizes = {}, {}
    for t in reversed(d.tensors):  # parents before children (breadth-first from the root, reversed)
        if id(t) in d.hidden:
            continue
        ups = [level[id(p)] for p in t.parents if isinstance(p, Tensor) and id(p) in level]
        level[id(t)] = (max(ups) + 2) if ups else 0  # a tensor, then its op node, per step
        sizes[id(t)] = _label_size(d._tensor_label(t)[0])
    ranks: dict[int, list] = {}
    for t in d.tensors:
        if id(t) in level:
            ranks.setdefault(level[id(t)], []).append(sizes[id(t)])
            if not t.is_leaf:
                ranks.setdefault(level[id(t)] - 1, []).append(_label_size(d._op_label(t), ellipse=True))
    rows = list(ranks.values())
    lr = (sum(max(w for w, _ in r) for r in rows) + 36 * (len(rows) - 1),
          max(sum(h for _, h in r) + 18 * (len(r) - 1) for r in rows))
    tb = (max(sum(w for w, _ in r) + 18 * (len(r) - 1) for r in rows),
          sum(max(h for _, h in r) for r in rows) + 36 * (len(rows) - 1))

    def scale(size):
        return min(1.0, FRAME_PT[0] / size[0], FRAME_PT[1] / size[1])

    return "LR" if scale(lr) >= scale(tb) else "TB"


def _bytes(n: int) -> str:
    """``n`` bytes as people read them: 512 B, 1.5 KiB, 3.2 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def backward_memory(root: Tensor) -> dict:
    """What the graph of ``root`` keeps alive for the backward pass, and the peak during it.

    ``kept`` maps ``id(t)`` to the bytes of each interior tensor ``t``: its
    value, which the graph holds (its consumers' VJPs read it, and so may its
    own) until the graph is dropped, plus any array that is not a tensor's
    and that an op saved (a constant it converted).  Leaves are the user's
    and count nothing.  ``total`` is their sum.  ``gradients`` is the largest
    sum of gradient buffers alive at once during ``backward()``, simulated in
    the engine's order (newest node first): a tensor's gradient lives from
    the first VJP that reaches it until its own VJP has run (a leaf's until
    the end: it becomes ``.grad``).  ``peak`` is ``total + gradients``; a
    VJP's own temporaries are not counted.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> x = mg.tensor(np.ones(1000), requires_grad=True)
    >>> m = mg.viz.backward_memory((mg.tanh(x) * 2.0).sum())
    >>> m["total"]  # tanh(x) and 2 tanh(x), 8000 bytes each, and the 0-d sum
    16008
    """
    nodes = [t for t in walk(root) if not t.is_leaf]
    kept = {}
    for t in nodes:
        extra = sum(p.nbytes for p in (t._parents or ()) if isinstance(p, np.ndarray) and p.ndim)
        kept[id(t)] = _nbytes(t._data) + extra
    alive, live, peak = {}, 0, 0
    if root.requires_grad:
        alive[id(root)] = _nbytes(root._data)
        live = peak = _nbytes(root._data)
    for t in sorted(nodes, key=lambda t: -t._seq):
        if id(t) not in alive:
            continue  # no gradient reaches it
        for p in t._parents or ():
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in alive:
                alive[id(p)] = _nbytes(p._data)
                live += _nbytes(p._data)
        peak = max(peak, live)
        live -= alive[id(t)]
    return {"kept": kept, "total": sum(kept.values()), "gradients": peak, "peak": sum(kept.values()) + peak}


def _statements(root, **options) -> list[str]:
    d = _Drawing(root, **options)
    stmts = d.statements()
    if d.grad_note:
        stmts[stmts.index(d.grad_note)] = f'note [label="{_esc(d.grad_note)}", shape=note, fontsize=9]'
    return stmts


def to_dot(root, *, show_values="auto", show_grads=True, names=None, rankdir: str = "auto", max_nodes: int = 500,
           collapse=None, highlight=None, show_memory: bool = False, size=None, dpi=None) -> str:
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
        Graphviz layout direction: ``"auto"`` (default: left to right or top
        to bottom, whichever draws the graph at the larger scale within a
        1400x1000 px view, judged from its depth, its widest rank and its
        labels; never from time), ``"LR"``, ``"TB"``, ``"RL"`` or ``"BT"``.
    max_nodes
        Draw at most this many nodes; the rest is summarised in a note and a
        ``UserWarning`` is issued.
    collapse
        ``"modules"`` folds the operations of each ``Linear``/activation call
        into one node, and a chain of calls of one module, each fed the
        previous one's output (the steps of an RNN), into one node marked
        "x30".  ``"steps"`` folds steps written with plain ops (found by
        structure: the same ops on the same parameters, each step fed the
        previous one's result), which ``None`` (the default) does for graphs
        of more than :data:`FOLD_ABOVE` tensors; ``False`` draws every node.
    highlight
        A tensor (or several) to outline in red: the ``tensor`` of an
        :class:`~microgradnp.AnomalyError`, say.
    show_memory
        Write on each interior tensor the bytes the graph keeps alive for
        the backward pass, and a note with their total and the estimated
        peak during ``backward()`` (see :func:`backward_memory`).
    size, dpi
        ``size=(width, height)`` in inches: Graphviz scales a larger drawing
        down to fit (by default nothing is scaled: text stays 10 pt);
        ``dpi``: the resolution of a PNG (Graphviz's default 96).

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
    body = _statements(root, show_values=show_values, show_grads=show_grads, names=names, rankdir=rankdir,
                       max_nodes=max_nodes, collapse=collapse, highlight=highlight, show_memory=show_memory,
                       size=size, dpi=dpi)
    return "digraph microgradnp {\n" + "".join(f"  {line}\n" for line in body) + "}\n"


#: Seconds after which Graphviz's ``dot`` is taken to be stuck (a Graphviz bug): a guard, never a layout
#: decision.  Which layout a drawing gets depends on its size alone (:data:`BOUNDED_ABOVE`), so the
#: same graph gives the same picture on an idle machine and a busy one.  When the guard trips,
#: :func:`render` still draws a picture, of a smaller view, with a warning.
LAYOUT_BUDGET = 60.0

#: Graphviz's ``dot`` with bounded passes of its network-simplex ranking and crossing minimisation:
#: a 30-step plain-op RNN's loss (340 nodes) takes 1.3 s this way, and did not finish in 60 s the full way
#: (a 289-node one did not in 13 minutes).
_BOUNDED = ("-Gnslimit=1", "-Gnslimit1=1", "-Gmclimit=0.1")

#: Graphs with more nodes than this are laid out with bounded passes; smaller ones the full way (at most
#: a fraction of a second at this size).
BOUNDED_ABOVE = 150


class LayoutTimeout(RuntimeError):
    """Graphviz's ``dot`` ran past :data:`LAYOUT_BUDGET` (a guard against a hang, not a layout choice)."""


def _layout(source: str, fmt: str, budget: float | None = None) -> bytes:
    """``source`` laid out by ``dot`` into ``fmt`` bytes: the full layout up to :data:`BOUNDED_ABOVE`
    nodes, bounded passes above, or :class:`LayoutTimeout` if ``dot`` runs past ``budget`` seconds."""
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(_INSTALL_HINT)
    budget = LAYOUT_BUDGET if budget is None else budget
    options = _BOUNDED if source.count("[label=") > BOUNDED_ABOVE else ()
    try:
        done = subprocess.run(["dot", f"-T{fmt}", *options], input=source.encode(), capture_output=True,
                              timeout=budget)
    except subprocess.TimeoutExpired:
        raise LayoutTimeout(f"Graphviz's dot ran past {budget:.0f} s on this graph (a hang guard)") from None
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _guarded(draw, kwargs: dict):
    """``draw(kwargs)``; if Graphviz hangs on it (:class:`LayoutTimeout`), a smaller view, with a warning:
    the modules folded (or the 100 nodes nearest the output when they already are), then 60 nodes."""
    try:
        return draw(kwargs)
    except LayoutTimeout as exc:
        first = dict(kwargs, collapse="modules") if kwargs.get("collapse") is None else dict(kwargs, max_nodes=100)
        said = "its modules folded" if kwargs.get("collapse") is None else "fewer nodes"
        warnings.warn(f"{exc}; drawing it with {said}", UserWarning, stacklevel=3)
        try:
            return draw(first)
        except LayoutTimeout:
            return draw(dict(first, max_nodes=60))


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
            # What Jupyter shows: the same layout as render(), with the hang guard (graphviz's own has no time limit).
            try:
                return {"image/svg+xml": _layout(self.source, "svg").decode()}
            except (GraphvizNotFoundError, LayoutTimeout) as exc:
                warnings.warn(f"{exc}; showing the DOT text", UserWarning, stacklevel=2)
                return {"text/plain": self.source}

    _GRAPH_CLASS = Graph
    return Graph


def draw_graph(root, *, show_values="auto", show_grads=True, names=None, rankdir: str = "auto", max_nodes: int = 500,
               collapse=None, highlight=None, show_memory: bool = False, size=None, dpi=None):
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
    g.body.extend(f"\t{line}\n" for line in _statements(
        root, show_values=show_values, show_grads=show_grads, names=names, rankdir=rankdir, max_nodes=max_nodes,
        collapse=collapse, highlight=highlight, show_memory=show_memory, size=size, dpi=dpi))
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
    budget = kwargs.pop("budget", None)
    if fmt in ("html", "htm"):
        page = to_html(root, budget=budget, **kwargs)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(page)
        return path
    if fmt in ("dot", "gv"):
        with open(path, "w") as fh:
            fh.write(to_dot(root, **kwargs))
        return path
    if fmt not in _FORMATS:
        raise ValueError(f"render: cannot draw to {fmt!r}; use one of {', '.join(_FORMATS)} (or .dot)")
    data = _guarded(lambda view: _layout(to_dot(root, **view), fmt, budget), kwargs)
    tmp = path + ".part"  # written whole, then moved: no half-written drawing is left behind
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------
# The interactive view: one self-contained HTML page (no network), pan, zoom, arrays on click
# ---------------------------------------------------------------------------

_VIEW_STYLE = """
body { margin: 0; font: 13px Helvetica, Arial, sans-serif; }
#mg-view { display: flex; height: 100vh; }
#mg-canvas { flex: 1; overflow: hidden; cursor: grab; background: #fff; }
#mg-canvas svg { width: 100%; height: 100%; }
#mg-panel { width: 320px; overflow: auto; border-left: 1px solid #ccc; padding: 8px; background: #fafafa; }
#mg-panel pre { white-space: pre-wrap; font-size: 11px; }
#mg-canvas g.node { cursor: pointer; }
#mg-canvas g.node.mg-selected polygon, #mg-canvas g.node.mg-selected ellipse,
#mg-canvas g.node.mg-selected path { stroke: #1f77b4; stroke-width: 3; }
"""

# Pan (drag), zoom (wheel, around the pointer), and a panel that shows a node's arrays on hover or click.
_VIEW_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("mg-data").textContent);
  var canvas = document.getElementById("mg-canvas"), panel = document.getElementById("mg-panel");
  var svg = canvas.querySelector("svg");
  svg.removeAttribute("width"); svg.removeAttribute("height");
  var box = svg.viewBox.baseVal, view = {x: box.x, y: box.y, w: box.width, h: box.height};
  function apply() { svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
  // The first frame: the whole drawing when it fits with its smallest (9 pt) text at 10 px or more;
  // else at that scale, centred on the output (node t0), pan and zoom for the rest.  At most 2x.
  var readable = 1.12, r0 = canvas.getBoundingClientRect();
  var fit = Math.min(r0.width / box.width, r0.height / box.height), scale = Math.min(Math.max(fit, readable), 2);
  view.w = r0.width / scale; view.h = r0.height / scale;
  var out = null;
  canvas.querySelectorAll("g.node").forEach(function (g) { if (g.querySelector("title").textContent === "t0") out = g; });
  if (fit >= readable || !out) {
    view.x = box.x + (box.width - view.w) / 2; view.y = box.y + (box.height - view.h) / 2;
  } else {
    var rc = out.getBoundingClientRect(), p = svg.createSVGPoint();  // its centre in the drawing's units
    p.x = rc.left + rc.width / 2; p.y = rc.top + rc.height / 2;
    var c = p.matrixTransform(svg.getScreenCTM().inverse());
    view.x = Math.min(Math.max(c.x - view.w / 2, box.x), box.x + Math.max(box.width - view.w, 0));
    view.y = Math.min(Math.max(c.y - view.h / 2, box.y), box.y + Math.max(box.height - view.h, 0));
  }
  apply();
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = svg.getBoundingClientRect(), k = e.deltaY < 0 ? 0.8 : 1.25;
    var px = view.x + (e.clientX - r.left) / r.width * view.w, py = view.y + (e.clientY - r.top) / r.height * view.h;
    view.w *= k; view.h *= k; view.x = px - (px - view.x) * k; view.y = py - (py - view.y) * k; apply();
  }, {passive: false});
  var drag = null;
  canvas.addEventListener("mousedown", function (e) { drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y}; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var r = svg.getBoundingClientRect();
    view.x = drag.vx - (e.clientX - drag.x) / r.width * view.w; view.y = drag.vy - (e.clientY - drag.y) / r.height * view.h;
    apply();
  });
  function show(id) {
    var d = data[id];
    if (!d) return;
    panel.innerHTML = "";
    var h = document.createElement("h3"); h.textContent = d.title; panel.appendChild(h);
    d.rows.forEach(function (row) {
      var b = document.createElement("b"); b.textContent = row[0]; panel.appendChild(b);
      var pre = document.createElement("pre"); pre.textContent = row[1]; panel.appendChild(pre);
    });
  }
  canvas.querySelectorAll("g.node").forEach(function (g) {
    var id = g.querySelector("title").textContent;
    g.addEventListener("mouseenter", function () { show(id); });
    g.addEventListener("click", function () {
      canvas.querySelectorAll("g.mg-selected").forEach(function (s) { s.classList.remove("mg-selected"); });
      g.classList.add("mg-selected"); show(id);
    });
  });
})();
"""


def _array_text(a) -> str:
    a = np.asarray(a)
    return np.array2string(a, precision=5, separator=", ", threshold=200, edgeitems=4, max_line_width=50)


def _memory_table(d: _Drawing, details: dict) -> str:
    """The HTML view's first panel with ``show_memory``: the nodes by the bytes they keep for backward,
    largest first (escaped: names are the user's)."""
    if d.memory is None:
        return ""
    kept = sorted(((n, d.ids[id(t)]) for t in d.tensors if (n := d.memory["kept"].get(id(t)))), key=lambda r: -r[0])
    rows = "".join(f"<tr><td>{_html.escape(details[tid]['title'])}</td><td>{_bytes(n)}</td></tr>" for n, tid in kept)
    m = d.memory
    return (f"<h3>Kept for backward: {_bytes(m['total'])}</h3><p>peak during backward about {_bytes(m['peak'])} "
            f"(gradients up to {_bytes(m['gradients'])})</p><table id=\"mg-memory\">{rows}</table>")


def _non_finite_counts(value: np.ndarray) -> str:
    """``'2 NaN, 1 inf, 1 -inf'`` for the non-finite elements of a float array, '' when there are none."""
    if value.dtype.kind != "f":
        return ""
    counts = [(int(np.isnan(value).sum()), "NaN"), (int(np.isposinf(value).sum()), "inf"),
              (int(np.isneginf(value).sum()), "-inf")]
    return ", ".join(f"{n} {what}" for n, what in counts if n)


def _details(d: _Drawing) -> dict:
    """What the view's panel shows for each node: the arrays of tensors, an op's name and attributes."""
    out = {}
    for t in d.tensors:
        tid = d.ids[id(t)]
        value = t.numpy()
        rows = [("shape, dtype", _shape_dtype(t))]
        if value.size and value.dtype.kind in "fiub":
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
            counts = _non_finite_counts(value)
            if finite.size:
                rows.append(("min / mean / max" + (" of the finite" if counts else ""),
                             f"{finite.min():.4g} / {finite.mean():.4g} / {finite.max():.4g}"))
            if counts:
                rows.append(("non-finite", counts))
        rows.append(("value", _array_text(value)))
        if d.memory is not None and d.memory["kept"].get(id(t)):
            rows.append(("kept for backward", _bytes(d.memory["kept"][id(t)])))
        g = d.grads.get(id(t))
        if g is not None:
            rows += [("|grad|", f"{np.linalg.norm(g):.4g}"), ("grad", _array_text(g))]
        elif id(t) in d.norms:
            rows.append(("|grad| (recorded)", f"{d.norms[id(t)]:.4g}"))
        out[tid] = {"title": f"{d.names.get(id(t)) or t.name or (t.op if not t.is_leaf else 'tensor')} {tuple(t.shape)}",
                    "rows": rows}
        if not t.is_leaf:
            attrs = "\n".join(f"{k}={_short(v)}" for k, v in t.op_attrs.items() if _drawable(v)) or "-"
            out[f"op_{tid}"] = {"title": t.op, "rows": [("attributes", attrs), ("makes", f"{tid}: {_shape_dtype(t)}")]}
    return out


def to_html(root, *, title: str = "microgradnp graph", budget: float | None = None, **kwargs) -> str:
    """The graph as one self-contained HTML page: pan (drag), zoom (wheel), each node's arrays on hover or click.

    Everything is inline (the SVG from Graphviz's ``dot``, the data, a small
    script), so the page works offline and can be mailed or archived.
    Keyword arguments are those of :func:`to_dot`.  ``render(root,
    "graph.html")`` writes it; :func:`view` shows it in Jupyter.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.viz import to_html
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> page = to_html((x * x).sum())
    >>> "<svg" in page and '"title": "x (2,)"' in page
    True
    """
    return _guarded(lambda view: _page(root, title, budget, view), kwargs)


def _page(root, title: str, budget, kwargs: dict) -> str:
    """The page of :func:`to_html` for one view of the graph."""
    d = _Drawing(root, **kwargs)
    statements = d.statements()
    if d.grad_note:
        statements[statements.index(d.grad_note)] = f'note [label="{_esc(d.grad_note)}", shape=note, fontsize=9]'
    source = "digraph microgradnp {\n" + "".join(f"  {line}\n" for line in statements) + "}\n"
    svg = _layout(source, "svg", budget).decode()
    svg = svg[svg.index("<svg"):]  # without the XML prologue and doctype: inline in HTML
    # No "<" inside the script element at all (JSON writes it \\u003c): a "</script>" in a name would end
    # the element, and a "<!--<script>" would keep its real end tag from ending it.
    details = _details(d)
    data = json.dumps(details).replace("<", "\\u003c")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{_html.escape(title)}</title>"
            f"<style>{_VIEW_STYLE}</style></head><body>\n<div id=\"mg-view\"><div id=\"mg-canvas\">{svg}</div>"
            "<div id=\"mg-panel\"><p>Hover or click a node to see its arrays. Drag to pan, scroll to zoom.</p>"
            f"{_memory_table(d, details)}</div>"
            f"</div>\n<script id=\"mg-data\" type=\"application/json\">{data}</script>\n"
            f"<script>{_VIEW_SCRIPT}</script>\n</body></html>\n")


class GraphView:
    """An interactive drawing for Jupyter (pan, zoom, arrays on click), made by :func:`view`.

    Examples
    --------
    >>> import os, tempfile
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> v = mg.viz.view((x * x).sum())
    >>> v._repr_html_().startswith("<iframe srcdoc=")
    True
    >>> os.path.basename(v.save(os.path.join(tempfile.mkdtemp(), "graph.html")))
    'graph.html'
    """

    def __init__(self, page: str, height: int = 600):
        self.page, self.height = page, height

    def _repr_html_(self) -> str:
        # In an iframe, the page's script runs in classic Jupyter and JupyterLab alike, apart from the notebook.
        return (f'<iframe srcdoc="{_html.escape(self.page)}" style="width: 100%; height: {self.height}px; '
                'border: 1px solid #ddd"></iframe>')

    def save(self, path) -> str:
        path = os.fspath(path)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.page)
        return path


def view(root, *, height: int = 600, **kwargs) -> GraphView:
    """An interactive drawing of ``root``'s graph: shown by Jupyter, or ``.save("graph.html")``.

    Keyword arguments are those of :func:`to_html`.

    Examples
    --------
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> "mg-panel" in mg.viz.view((x * x).sum())._repr_html_()
    True
    """
    return GraphView(to_html(root, **kwargs), height)


#: Formats :func:`render` writes through Graphviz.
_FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps", "json")


def _draw(self, **kwargs):
    """Draw the graph that computed this tensor; see :func:`microgradnp.viz.draw_graph`."""
    return draw_graph(self, **kwargs)


_draw.__name__ = _draw.__qualname__ = "draw"
Tensor.draw = _draw  # ``loss.draw()`` in a notebook; installed here so the Tensor knows nothing of drawing
