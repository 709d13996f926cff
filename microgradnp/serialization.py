"""Saving and loading arrays and state dicts as ``.npz`` archives: plain arrays, never pickle.

:func:`save` and :func:`load` are ``torch.save`` and ``torch.load`` for what a
training script keeps: a model's ``state_dict()``, an optimizer's (nested
dicts with integer keys, tuples such as Adam's ``betas``, numbers, strings,
``None``), a scheduler's, or a dict of them (a checkpoint).  Arrays and
Tensors become ``.npy`` entries of the archive; everything else is written
as JSON with its types tagged, so a load gives back what was saved (a tuple
stays a tuple, ``0`` stays an int key) and can never run code.  Other
objects are refused by name.

:func:`write_npz` and :func:`read_npz` are the archive itself, shared with
:meth:`microgradnp.nn.Module.save` and :meth:`~microgradnp.nn.Module.load`.
"""

from __future__ import annotations

import json
import math
import os
import uuid
import zipfile
import zlib

import numpy as np

from ._tensor import Tensor, foreign_library

__all__ = ["save", "load"]

#: The archive entry that holds the structure of what :func:`save` wrote.
_STRUCTURE = "__microgradnp_structure__.json"


def write_npz(path: str, arrays: dict) -> None:
    """Write ``{name: array}`` as an ``.npz`` archive, atomically: the real name only ever holds a whole file."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
            # The .npz layout np.savez writes (one NAME.npy per array), written by
            # hand because np.savez takes its own keywords (allow_pickle) from
            # the names and would drop a parameter called that.
            for name, arr in arrays.items():
                if isinstance(arr, bytes):  # the structure entry of save()
                    archive.writestr(name, arr)
                    continue
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.require(arr, requirements="C"), allow_pickle=False)  # 0-d stays 0-d
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _check_archive(path: str, who: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not head:
        raise ValueError(f"{who}: {path} is empty")
    if head == b"\x93NUMPY":
        raise ValueError(f"{who}: {path} holds a single .npy array; save() writes an .npz archive of named arrays")
    if not head.startswith(b"PK"):
        raise ValueError(f"{who}: {path} is not an .npz file written by save() (it starts with {head!r})")


def read_npz(path: str, shapes: dict | None, who: str = "load") -> dict:
    """The arrays of an ``.npz`` file, each entry's header checked before its array is allocated.

    ``np.load`` allocates whatever shape a header declares, so a crafted file
    declaring a terabyte array exhausts memory before anything is checked.
    Here each declared size is compared with the bytes the entry holds (more
    declared than held: truncated or crafted), so nothing larger than the
    file is allocated.  With ``shapes`` (a model's), only an entry of the
    model's shape is read; any other stands as a placeholder of its declared
    shape that takes no memory (a broadcast zero), which ``load_state_dict``
    then names, as unexpected or of the wrong shape, and never copies.  A
    file that is empty, truncated, a single ``.npy`` array or not NumPy data
    raises ``ValueError`` saying which.
    """
    _check_archive(path, who)
    try:
        return _entries(path, shapes, who)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{who}: {path} is damaged or truncated ({type(exc).__name__}: {exc})") from exc


def _entries(path: str, shapes: dict | None, who: str) -> dict:
    state: dict = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename == _STRUCTURE:
                if info.file_size > 64 << 20:
                    raise ValueError(f"{who}: {path}: its structure entry is {info.file_size} bytes; refusing it")
                state[_STRUCTURE] = archive.read(info)
                continue
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            where = f"{who}: {path}, entry {name!r}"
            with archive.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    if version not in ((1, 0), (2, 0)):
                        raise ValueError(f"format version {version} is not one save() writes")
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, fortran, dtype = read_header(member, max_header_size=10_000)
                except ValueError as exc:
                    raise ValueError(f"{where}: not a .npy array header ({exc})") from exc
                if dtype.hasobject:
                    raise ValueError(f"{where} holds Python objects, which need pickle; refusing to load it")
                declared = math.prod(shape) * dtype.itemsize
                held = info.file_size - member.tell()
                if declared != held:
                    raise ValueError(
                        f"{where} declares shape {shape} of {dtype} ({declared} bytes) but holds {held} bytes: "
                        + ("the file is truncated or crafted" if declared > held else "the file is damaged")
                    )
                if shapes is not None and (name not in shapes or tuple(shape) != tuple(shapes[name])):
                    state[name] = np.broadcast_to(np.zeros((), dtype), shape)
                    continue
                arr = np.empty(shape, dtype=dtype, order="F" if fortran else "C")  # writable, read in place
                got = member.readinto(memoryview(arr.reshape(-1, order="A")).cast("B")) if declared else 0
                if got != declared:
                    raise ValueError(f"{where} is truncated: {got} of its {declared} bytes are there")
            state[name] = arr
    return state


def _encode(obj, arrays: dict, where: str):
    """``obj`` as JSON-able data with its types tagged; arrays go to ``arrays`` by entry name."""
    if isinstance(obj, (Tensor, np.ndarray)) or foreign_library(obj) is not None:
        name = f"a{len(arrays)}"
        if not isinstance(obj, (Tensor, np.ndarray)):  # torch, CuPy: a file holds NumPy arrays (loaded as NumPy)
            from .backends import to_numpy

            obj = to_numpy(obj)
        arrays[name] = np.asarray(obj.detach().numpy() if isinstance(obj, Tensor) else obj)
        if arrays[name].dtype.hasobject:
            raise TypeError(f"save: {where} is an array of Python objects, which would need pickle")
        return {"array": name}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return {"int": int(obj)}
    if isinstance(obj, (float, np.floating)):
        return {"float": repr(float(obj))}  # repr: exact, and nan/inf survive JSON
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, np.integer)) or isinstance(k, bool):
                raise TypeError(f"save: {where} has the key {k!r}; keys must be strings or integers")
            items.append([k if isinstance(k, str) else {"int": int(k)}, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"save: {where} is a {type(obj).__name__}; save() writes arrays, Tensors, numbers, strings, "
                    "None and dicts, lists and tuples of them (no pickle): save its state_dict() instead")


def _decode(node, arrays: dict, where: str):
    if node is None or isinstance(node, (bool, str)):
        return node
    if isinstance(node, dict) and len(node) == 1:
        (kind, value), = node.items()
        if kind == "array" and value in arrays:
            return arrays[value]
        if kind == "int" and isinstance(value, int):
            return value
        if kind == "float" and isinstance(value, str):
            return float(value)
        if kind in ("list", "tuple") and isinstance(value, list):
            items = [_decode(v, arrays, where) for v in value]
            return items if kind == "list" else tuple(items)
        if kind == "dict" and isinstance(value, list):
            return {(k if isinstance(k, str) else _decode(k, arrays, where)): _decode(v, arrays, where)
                    for k, v in value}
    raise ValueError(f"load: {where}: its structure entry holds {str(node)[:60]!r}, which save() never writes")


def save(obj, path) -> None:
    """Write a state dict (or a dict of them, a list, an array...) to an ``.npz`` archive, without pickle.

    As ``torch.save`` for what training scripts keep: ``model.state_dict()``,
    ``optimizer.state_dict()``, a scheduler's, or a checkpoint dict of them
    with numbers and strings.  Arrays and Tensors are stored as arrays (a
    Tensor's graph and ``requires_grad`` are not); integer keys, tuples,
    floats (NaN and inf included), ``None`` come back as they were.  Another
    kind of object raises ``TypeError`` naming where it is.  The file appears
    whole or not at all.

    Examples
    --------
    >>> import os, tempfile
    >>> import microgradnp as mg
    >>> model = mg.nn.Linear(2, 1, rng=0)
    >>> opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.npz")
    >>> mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    >>> back = mg.load(path)
    >>> back["epoch"], back["optimizer"]["param_groups"][0]["betas"]
    (3, (0.9, 0.999))
    """
    arrays: dict = {}
    structure = _encode(obj, arrays, "the object")
    arrays[_STRUCTURE] = json.dumps({"microgradnp": 1, "object": structure}).encode()
    write_npz(os.fspath(path), arrays)


def load(path):
    """What :func:`save` wrote: arrays as NumPy arrays, the rest as it was (never pickle, never code).

    As ``torch.load``; give the parts to ``load_state_dict``.  An archive of
    plain named arrays (``Module.save``'s, ``np.savez``'s) loads as a dict
    of them.  Sizes are checked against the file before anything is
    allocated; a damaged or foreign file raises ``ValueError`` saying why.

    Examples
    --------
    >>> import os, tempfile
    >>> import microgradnp as mg
    >>> model = mg.nn.MLP([2, 3, 1], rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> mg.save(model.state_dict(), path)
    >>> other = mg.nn.MLP([2, 3, 1], rng=1)
    >>> other.load_state_dict(mg.load(path))
    >>> bool((other.layers[0].weight.data == model.layers[0].weight.data).all())
    True
    """
    path = os.fspath(path)
    arrays = read_npz(path, None, "load")
    raw = arrays.pop(_STRUCTURE, None)
    if raw is None:
        return arrays
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"load: {path}: its structure entry is not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("microgradnp") != 1 or "object" not in doc:
        raise ValueError(f"load: {path}: its structure entry is not one save() writes")
    return _decode(doc["object"], arrays, path)
