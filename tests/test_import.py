"""``import microgradnp`` stays quick: what only some programs use is imported when first used."""

import subprocess
import sys

#: Imported on first use: SciPy's optimizers and special functions (a quarter of a second each when
#: this test was written), the plotting and drawing packages, the progress bar.
LAZY = ("scipy.optimize", "scipy.special", "matplotlib", "graphviz", "tqdm")


def test_importing_microgradnp_leaves_the_heavy_optional_parts_unloaded():
    code = ("import sys, microgradnp; "
            f"print(','.join(m for m in {LAZY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"imported by `import microgradnp`: {done.stdout.strip()}"


def test_what_was_deferred_still_works_on_first_use():
    code = ("import numpy as np, microgradnp as mg; "
            "x = mg.tensor([0.0, 1000.0, -1000.0], requires_grad=True); y = mg.sigmoid(x); "
            "w = mg.tensor([3.0], requires_grad=True); "
            "r = mg.optim.minimize(lambda: ((w - 1.0) ** 2).sum(), [w], method='BFGS'); "
            "print(y.numpy().tolist(), round(float(w.numpy()[0]), 6), r.success)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[0.5, 1.0, 0.0] 1.0 True", done.stdout + done.stderr


def test_mg_tensor_is_the_function_and_no_module_hides_behind_it():
    # As torch: torch.tensor is a function and `import torch.tensor` fails; the Tensor's module is private
    # (microgradnp/_tensor.py), so `import microgradnp.tensor` cannot hand back a function in a module's place.
    import importlib

    import pytest

    import microgradnp as mg

    assert callable(mg.tensor) and not isinstance(mg.tensor, type(mg))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("microgradnp.tensor")
