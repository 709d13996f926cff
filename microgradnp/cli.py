"""The ``microgradnp`` command: ``demo`` runs the reference workloads, ``graph`` draws one of their losses.

``microgradnp demo [blobs|digits|moons|cnn|sequence|all]`` trains each workload with
sensible defaults (progress bars with the live loss), prints a summary table
and writes the figures and a drawing of the loss's graph into ``--out``.
``python -m microgradnp`` is the same command.

The workloads ship inside the package (:mod:`microgradnp.workloads`), so the
command runs from any folder after ``pip install "microgradnp[examples,viz]"``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import time

from .workloads import WORKLOADS, load

#: What the workloads import beyond NumPy and SciPy: module -> package (all in the ``examples`` extra).
_EXAMPLE_NEEDS = {"matplotlib": "matplotlib", "sklearn": "scikit-learn", "tqdm": "tqdm"}


def _check_example_dependencies() -> None:
    missing = [pkg for mod, pkg in _EXAMPLE_NEEDS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise SystemExit(f"the workloads need {', '.join(missing)}, which this environment lacks: "
                         "pip install \"microgradnp[examples,viz]\"")


#: The drawing formats: Graphviz renders the first three; DOT is the text itself; HTML is the
#: interactive view (an SVG laid out by Graphviz, with a panel of each node's arrays).
FORMATS = ("svg", "png", "pdf", "dot", "html")


def _render(loss, path_stem: str, fmt: str, collapse) -> str:
    """Render the graph of ``loss`` to ``path_stem.fmt``; DOT text when Graphviz is missing."""
    from . import viz

    if fmt != "dot" and shutil.which("dot") is None:
        path = path_stem + ".dot"
        viz.render(loss, path, collapse=collapse)
        print(f"  Graphviz's `dot` is not installed, so the graph is written as DOT text: {path}", file=sys.stderr)
        return path
    try:
        return viz.render(loss, f"{path_stem}.{fmt}", collapse=collapse)
    except ImportError:  # the graphviz Python package is missing
        return viz.render(loss, path_stem + ".dot", collapse=collapse)


def _draw(loss, path_stem: str, fmt: str, collapse) -> str:
    """Backward (keeping the graph, so gradients show), then :func:`_render`."""
    loss.backward(retain_graph=True)
    return _render(loss, path_stem, fmt, collapse)


class BadArgument(SystemExit):
    """A command-line argument that cannot be used: a one-line message, exit status 2 (argparse's)."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _writable_folder(folder: str, what: str) -> str:
    """``folder``, created if needed; a clear error (no traceback) when it cannot be written."""
    if folder and os.path.exists(folder) and not os.path.isdir(folder):
        raise BadArgument(f"microgradnp: the {what} folder {folder!r} is a file, not a folder")
    try:
        os.makedirs(folder or ".", exist_ok=True)
    except OSError as exc:
        raise BadArgument(f"microgradnp: cannot create the {what} folder {folder!r}: {exc.strerror or exc}") from None
    if not os.access(folder or ".", os.W_OK):
        raise BadArgument(f"microgradnp: cannot write into the {what} folder {folder!r} (permission denied)")
    return folder


def _fmt_result(s: dict) -> str:
    if s["workload"] == "sequence":
        return f"test MSE {s['test mse']:.4f} (repeating the last value: {s['baseline mse']:.4f})"
    if s["workload"] in ("digits", "cnn"):
        return f"held-out {100 * s['accuracy']:.1f}% of {s['n']}"
    return f"{100 * s['accuracy']:.1f}% of {s['n']} right"


def demo(workloads, out_dir: str, fmt: str = "svg", quick: bool = False, workers: int = 1) -> list[dict]:
    _writable_folder(out_dir, "--out")
    settings = {
        "blobs": {"replay_seed": True},
        "digits": {"maxiter": 20 if quick else 100, "workers": workers},
        "moons": {"long_iters": 500 if quick else 5000, "iters": 200 if quick else 1000},
        "cnn": {"epochs": 2 if quick else 30},
        "sequence": {"epochs": 3 if quick else 40},
    }
    summaries = []
    for name in workloads:
        module = load(name)
        print(f"\n{name}: {WORKLOADS[name]}")
        s = module.run(out_dir=out_dir, progress=True, **settings[name])
        collapse = None if name == "blobs" else "modules"
        s["graph"] = _draw(module.graph_loss(s["model_obj"]), os.path.join(out_dir, f"{name}_graph"), fmt, collapse)
        print(f"  {s['model']}: {_fmt_result(s)}, final loss {s['final loss']:.4g} ({s['seconds']:.1f} s)")
        for w, report in enumerate(s.get("workers", [])):
            rate = report["examples"] * report["evaluations"] / report["seconds"]
            print(f"  worker {w}: {report['examples']} examples, {report['evaluations']} cost and gradient "
                  f"evaluations in {report['seconds']:.2f} s: {rate:,.0f} examples/s")
        for path in s.get("figures", []) + [s["graph"]]:
            print(f"  wrote {path}")
        summaries.append(s)
    print()
    print(_table(summaries))
    return summaries


def _table(summaries) -> str:
    rows = [("workload", "model", "result", "final loss", "time")]
    for s in summaries:
        rows.append((s["workload"], s["model"], _fmt_result(s), f"{s['final loss']:.4g}", f"{s['seconds']:.1f} s"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def graph(workload: str, out: str | None, fmt: str, collapse, before_backward: bool) -> str:
    module = load(workload)
    loss = module.graph_loss()
    if not before_backward:
        loss.backward(retain_graph=True)
    stem, ext = os.path.splitext(out) if out else (f"{workload}_graph", "")
    if ext:
        fmt = ext[1:].lower()
        if fmt not in FORMATS:
            raise BadArgument(f"microgradnp graph: --out {out!r} has the extension {ext!r}; use one of "
                             f"{', '.join('.' + f for f in FORMATS)} (or none, with --format)")
    _writable_folder(os.path.dirname(stem), "output")
    return _render(loss, stem, fmt, collapse)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="microgradnp", description="microgradnp: small, fast, correct autodiff on NumPy")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="train the reference workloads and write their figures")
    p_demo.add_argument("workload", nargs="?", default="all", choices=[*WORKLOADS, "all"])
    p_demo.add_argument("--out", default="microgradnp-out", help="output folder (default ./microgradnp-out)")
    p_demo.add_argument("--format", default="svg", choices=FORMATS, help="graph drawing format")
    p_demo.add_argument("--quick", action="store_true", help="fewer iterations, for a fast look")
    p_demo.add_argument("--workers", type=int, default=1,
                        help="train the digit network on this many processes, data-parallel (digits only)")
    p_graph = sub.add_parser("graph", help="draw the graph of a reference workload's loss")
    p_graph.add_argument("workload", nargs="?", default="blobs", choices=list(WORKLOADS))
    p_graph.add_argument("--out", help="output file (default WORKLOAD_graph.FORMAT)")
    p_graph.add_argument("--format", default="svg", choices=FORMATS)
    p_graph.add_argument("--html", action="store_const", const="html", dest="format",
                         help="write the interactive HTML view (same as --format html)")
    p_graph.add_argument("--collapse", action="store_true", help="fold each Linear/activation into one node")
    p_graph.add_argument("--before-backward", action="store_true", help="draw values only, no gradients")
    args = parser.parse_args(argv)
    _check_example_dependencies()
    import matplotlib

    matplotlib.use("Agg")
    try:
        if args.command == "demo":
            if args.workers != 1 and args.workload != "digits" or args.workers < 1:
                raise BadArgument("microgradnp demo: --workers trains the digit network data-parallel: use "
                                  "`microgradnp demo digits --workers N` with N >= 1")
            start = time.perf_counter()
            demo(list(WORKLOADS) if args.workload == "all" else [args.workload], args.out, args.format, args.quick,
                 args.workers)
            print(f"\nall figures are in {os.path.abspath(args.out)} ({time.perf_counter() - start:.1f} s)")
            return 0
        path = graph(args.workload, args.out, args.format, "modules" if args.collapse else None, args.before_backward)
    except BadArgument as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except OSError as exc:  # a disk that fills up or a file that vanishes while writing: say so, no traceback
        where = f" {exc.filename}" if exc.filename else ""
        print(f"microgradnp: could not write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
