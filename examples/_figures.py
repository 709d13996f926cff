"""What the example scripts do around each figure: make it off screen, save it, close it."""

from __future__ import annotations


def subplots(*args, **kwargs):
    """``matplotlib.pyplot.subplots`` on the Agg backend (no display needed), imported only when drawing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def saved(fig, path: str, dpi: int = 110) -> str:
    """``fig`` laid out, written to ``path`` and closed; the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
