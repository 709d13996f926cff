"""The derivative-testing toolkit: check your own derivatives the way microgradnp checks its ops.

* :func:`gradcheck` and :func:`gradgradcheck` compare analytic first and
  second derivatives with central finite differences in float64 and report
  the worst elements when they disagree; :func:`jvpcheck` checks a few
  random directions by forward mode, fast whatever the input size;
* :mod:`microgradnp.testing.strategies` (needs Hypothesis) draws tensors,
  shapes and domains that avoid kinks by construction, and valid inputs for
  any registry op.
"""

from .gradcheck import GradcheckError, NondifferentiableError, gradcheck, gradgradcheck, jvpcheck

__all__ = ["gradcheck", "gradgradcheck", "jvpcheck", "GradcheckError", "NondifferentiableError", "strategies"]


def __getattr__(name):
    # strategies needs Hypothesis (the "test" extra); load it only when asked.
    if name == "strategies":
        import importlib

        return importlib.import_module(f"{__name__}.strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
