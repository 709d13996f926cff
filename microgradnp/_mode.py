"""Grad mode: whether operations are recorded for differentiation.

The flag is per thread (a ``threading.local``), so ``no_grad()`` in one thread
never switches off recording in another.
"""

from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _GradMode(threading.local):
    # A class attribute is the default every new thread sees; assigning on the
    # instance shadows it for the current thread only.
    enabled = True


_mode = _GradMode()

# How many threads have recording switched off right now.  Reading a
# thread-local costs about as much as a small NumPy call, so the engine first
# looks at this plain integer: while it is 0 (no thread is inside no_grad, the
# usual case during training) recording is on everywhere and the thread-local
# is not consulted.
disabled_threads = 0
_count_lock = threading.Lock()


def _set(enabled: bool) -> None:
    global disabled_threads
    if _mode.enabled != enabled:
        with _count_lock:
            disabled_threads += -1 if enabled else 1
        _mode.enabled = enabled


def is_grad_enabled() -> bool:
    """Return ``True`` when operations are being recorded in this thread.

    Examples
    --------
    >>> import microgradnp as mg
    >>> mg.is_grad_enabled()
    True
    >>> with mg.no_grad():
    ...     mg.is_grad_enabled()
    False
    """
    return _mode.enabled


class _GradModeContext:
    """Context manager and decorator that sets grad mode, then restores it."""

    _enabled: bool

    def __enter__(self):
        self._prev = _mode.enabled
        _set(self._enabled)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__._fresh(self):
                return func(*args, **kwargs)

        return wrapper

    @staticmethod
    def _fresh(ctx):
        # A decorated function may be re-entered (recursion, threads), so each
        # call gets its own context object with its own saved state.
        new = ctx.__class__.__new__(ctx.__class__)
        new._enabled = ctx._enabled
        return new


class no_grad(_GradModeContext):
    """Switch off recording (in this thread) inside a ``with`` block or a decorated function.

    Results computed under ``no_grad`` have ``requires_grad=False`` and no graph,
    which is what optimizer updates and evaluation want.

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> with mg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    >>> @mg.no_grad()
    ... def evaluate(x):
    ...     return (x * w).sum()
    >>> evaluate(mg.tensor([1.0, 1.0])).requires_grad
    False
    """

    def __init__(self):
        self._enabled = False


class enable_grad(_GradModeContext):
    """Switch recording back on inside a ``no_grad`` region (context manager or decorator).

    Examples
    --------
    >>> import microgradnp as mg
    >>> w = mg.tensor(3.0, requires_grad=True)
    >>> with mg.no_grad():
    ...     with mg.enable_grad():
    ...         y = w * w
    >>> y.requires_grad
    True
    """

    def __init__(self):
        self._enabled = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode`` for a ``with`` block or a decorated function.

    Examples
    --------
    >>> import microgradnp as mg
    >>> with mg.set_grad_enabled(False):
    ...     mg.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool):
        self._enabled = bool(mode)
