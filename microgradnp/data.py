"""The reference data sets (two Gaussian blobs, two moons, handwritten digits) and minibatches of any data.

Every random draw comes from the ``rng`` you pass (a ``np.random.Generator``,
a legacy ``RandomState`` or a seed); NumPy's global state is never used.
Passing ``np.random.RandomState(104729)`` to :func:`gaussian_blobs` replays the
first notebook's ``np.random.seed(104729)`` draws exactly.
"""

from __future__ import annotations

import os

import numpy as np

from ._tensor import Tensor, as_array, as_tensor
from .creation import as_rng

__all__ = [
    "gaussian_blobs", "make_moons", "load_digits", "load_mat", "train_test_split",
    "Dataset", "TensorDataset", "Subset", "DataLoader", "random_split",
]

BLOB_MEANS = ((0.0, 0.0), (5.0, 5.0))
BLOB_COV = ((1.0, 0.75), (0.75, 1.0))


def gaussian_blobs(n: int = 1000, means=BLOB_MEANS, cov=BLOB_COV, rng=None):
    """Two Gaussian classes in the plane, ``n`` points in all (the first notebook's data).

    Class 0 is drawn first (all its points), then class 1, each with one call
    ``rng.multivariate_normal(mean, cov, size)``, the call SciPy's
    ``multivariate_normal.rvs`` makes: with ``rng=np.random.RandomState(104729)``
    the points are the notebook's, bit for bit.  The classes share ``n`` as
    evenly as possible, the first ones taking one point more (scikit-learn's
    ``make_blobs``): ``n`` of 11 gives 6 and 5.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int, shape (n,)
        0 for the first mean, 1 for the second.

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.data import gaussian_blobs
    >>> X, y = gaussian_blobs(rng=np.random.RandomState(104729))
    >>> X.shape, y[:3].tolist(), y[-3:].tolist()
    ((1000, 2), [0, 0, 0], [1, 1, 1])
    >>> X[0].round(8).tolist()  # the notebook prints x=[-0.22117921 0.0354449 ]
    [-0.22117921, 0.0354449]
    """
    n = _count_of_points("gaussian_blobs", n)
    r = as_rng(rng)
    k = len(means)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    parts = [r.multivariate_normal(np.asarray(m, float), np.asarray(cov, float), size) for m, size in zip(means, sizes)]
    X = np.vstack(parts)
    y = np.repeat(np.arange(k), sizes)
    return X, y


def _count_of_points(who: str, n) -> int:
    """``n`` as a number of points: a non-negative int, else a clear error."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{who}: n must be a non-negative int (a number of points), got {n!r}")
    return int(n)


def make_moons(n: int = 1000, noise: float = 0.1, rng=None, shuffle: bool = True):
    """Two interleaving half circles (the third notebook's data), with Gaussian noise.

    The upper moon is ``(cos t, sin t)`` and the lower one ``(1 - cos t,
    0.5 - sin t)`` for ``t`` evenly spaced in ``[0, pi]``, as scikit-learn
    builds them; no scikit-learn needed.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int, shape (n,)

    Examples
    --------
    >>> from microgradnp.data import make_moons
    >>> X, y = make_moons(200, noise=0.1, rng=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((200, 2), [0, 1])
    """
    n = _count_of_points("make_moons", n)
    r = as_rng(rng)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.vstack([
        np.column_stack([np.cos(t_out), np.sin(t_out)]),
        np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
    ])
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    if shuffle:
        order = r.permutation(n)
        X, y = X[order], y[order]
    if noise:
        X = X + r.normal(0.0, noise, size=X.shape)
    return X, y


def load_digits(scale: bool = True):
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (real data, no download).

    Parameters
    ----------
    scale
        Divide the pixel values (0..16) by 16, to ``[0, 1]``.

    Returns
    -------
    X : ndarray, shape (1797, 64)
        One image per row, rows of the 8x8 image concatenated.
    y : ndarray of int, shape (1797,)
        The digit, 0..9.

    Examples
    --------
    >>> from microgradnp.data import load_digits
    >>> X, y = load_digits()
    >>> X.shape, int(y.max()), float(X.max())
    ((1797, 64), 9, 1.0)
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("load_digits needs scikit-learn: pip install 'microgradnp[examples]'") from exc
    bunch = _sk_load_digits()
    X = bunch.data.astype(np.float64)
    return (X / 16.0 if scale else X), bunch.target.astype(np.int64)


def load_mat(path, zero_based_labels: bool = True) -> dict:
    """Arrays from a MATLAB file such as Ng's ``ex4data1.mat`` or ``ex4weights.mat``.

    ``X`` is returned as float64; ``y`` (labels 1..10 with 10 meaning the
    digit 0) is flattened and, with ``zero_based_labels=True``, mapped to the
    digit itself (10 -> 0).  Other arrays (``Theta1``, ``Theta2``) are
    returned as they are.  MATLAB's own header entries are dropped.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, scipy.io
    >>> from microgradnp.data import load_mat
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.mat")
    >>> scipy.io.savemat(path, {"X": np.ones((2, 3)), "y": np.array([[10], [3]])})
    >>> data = load_mat(path)
    >>> data["X"].shape, data["y"].tolist()
    ((2, 3), [0, 3])
    """
    import scipy.io

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_mat: no file at {path}")
    try:
        raw = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError... for files it cannot read
        cut = _mat_truncation(path)
        if cut:
            raise ValueError(f"load_mat: {path} is truncated: {cut}") from exc
        raise ValueError(f"load_mat: {path} is not a MATLAB file scipy can read ({type(exc).__name__}: {exc})") from exc
    out = {k: v for k, v in raw.items() if not k.startswith("__")}
    if "X" in out:
        X = np.asarray(out["X"])
        if X.dtype.kind not in "fiub" or X.ndim != 2:
            raise ValueError(f"load_mat: X in {path} must be a 2-D numeric matrix, got {X.dtype} of shape {X.shape}")
        out["X"] = X.astype(np.float64)
    if "y" in out:
        out["y"] = _labels_from_mat(out["y"], path, zero_based_labels)
        if "X" in out and len(out["X"]) != len(out["y"]):
            raise ValueError(
                f"load_mat: {path} has {len(out['X'])} rows of X but {len(out['y'])} labels in y; they must match"
            )
    return out


def _mat_truncation(path) -> str | None:
    """Where a MATLAB 5 file ends early, read from the tags of its top-level elements; None if it does not.

    scipy reports a cut file as "index out of range" or "could not read
    bytes"; the tags (type and byte count, after a 128-byte header) say
    which variable the file stops in.
    """
    import struct

    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        header = fh.read(128)
        if len(header) < 128:
            return f"it holds {size} bytes, less than the 128-byte MATLAB header" if header[:6] == b"MATLAB" else None
        order = {b"IM": "<", b"MI": ">"}.get(header[126:128])
        if order is None:  # not MATLAB 5 (version 4, or 7.3 which is HDF5): scipy's own message stands
            return None
        pos, index = 128, 0
        while pos < size:
            tag = fh.read(8)
            if len(tag) < 8:
                return f"variable {index} starts at byte {pos} but the file ends at byte {size}"
            kind, nbytes = struct.unpack(order + "II", tag)
            if kind >> 16:  # a small element: its data sits in the tag
                pos += 8
            else:
                pos += 8 + nbytes + (-nbytes % 8 if kind != 15 else 0)  # 15: compressed, not padded
                if pos > size:
                    return f"variable {index} declares {nbytes} bytes but the file ends at byte {size}"
            fh.seek(pos)
            index += 1
    return None


def _labels_from_mat(y, path, zero_based: bool) -> np.ndarray:
    """Labels as int64, refusing what a cast would silently corrupt (1.5 -> 1, NaN -> a huge negative)."""
    y = np.asarray(y)
    if y.ndim > 2 or (y.ndim == 2 and min(y.shape) > 1):
        raise ValueError(f"load_mat: y in {path} must be a vector of labels, got shape {y.shape}")
    y = y.ravel()
    if y.dtype.kind not in "fiub":
        raise ValueError(f"load_mat: y in {path} must hold numbers, got {y.dtype}")
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) if y.dtype.kind == "f" else y < 0
    if y.dtype.kind in "uf":
        bad |= y >= 2**63  # past int64: the cast would wrap it to a negative number or another label
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"load_mat: y in {path} must hold non-negative whole-number labels that fit int64; y[{i}] is {y[i]}"
            f" ({int(bad.sum())} such values)"
        )
    y = y.astype(np.int64)
    return np.where(y == 10, 0, y) if zero_based else y


def train_test_split(*arrays, test_size: float = 0.25, rng=None, stratify=None):
    """Shuffle and split arrays (same rows) into train and test parts.

    ``test_size`` is a fraction (0 < f < 1) or a number of rows.  With
    ``stratify`` (labels), each class is split in the same proportion.

    Returns
    -------
    list
        ``[a_train, a_test, b_train, b_test, ...]``.

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.data import train_test_split
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, rng=0, stratify=y)
    >>> X_tr.shape, X_te.shape, sorted(y_te.tolist())
    ((8, 2), (2, 2), [0, 1])
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = len(arrays[0])
    for a in arrays:
        if len(a) != n:
            raise ValueError(f"train_test_split: arrays have different lengths ({n} and {len(a)})")
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.integer, np.floating)):
        raise TypeError(f"train_test_split: test_size must be a fraction or a number of rows, got {test_size!r}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: a fractional test_size must lie in (0, 1), got {test_size}")
        n_test = int(round(float(test_size) * n))
    else:
        n_test = int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"train_test_split: test_size={test_size} leaves no train or no test rows out of {n}")
    r = as_rng(rng)
    if stratify is None:
        order = r.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        labels = np.asarray(stratify)
        if labels.ndim != 1 or len(labels) != n:
            raise ValueError(
                f"train_test_split: stratify must hold one label per row ({n}), got shape {labels.shape}"
            )
        classes, counts = np.unique(labels, return_counts=True)
        quotas = _apportion(counts, n_test)
        test_parts, train_parts = [], []
        for c, k in zip(classes, quotas):
            idx = r.permutation(np.flatnonzero(labels == c))
            test_parts.append(idx[:k])
            train_parts.append(idx[k:])
        test = r.permutation(np.concatenate(test_parts))
        train = r.permutation(np.concatenate(train_parts))
    out = []
    for a in arrays:
        a = np.asarray(a)
        out += [a[train], a[test]]
    return out


def _apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` test rows among classes in proportion to ``counts``, summing to ``total`` exactly.

    Largest remainders: each class gets the floor of its share, and the rows
    left over go to the classes with the largest fractional parts (rounding each
    share on its own can give far more or fewer rows than asked, even none).
    """
    shares = counts * (total / counts.sum())
    quotas = np.floor(shares).astype(np.int64)
    left = total - int(quotas.sum())
    if left:
        order = np.argsort(-(shares - quotas), kind="stable")
        quotas[order[:left]] += 1
    return quotas


# ---------------------------------------------------------------------------
# Datasets and minibatches (PyTorch's names and semantics)
# ---------------------------------------------------------------------------


class Dataset:
    """A map-style dataset: ``len(ds)`` examples, ``ds[i]`` the i-th (PyTorch's ``Dataset``).

    Subclass it with ``__len__`` and ``__getitem__``; :class:`DataLoader`
    batches any such object (and any sequence).

    Examples
    --------
    >>> from microgradnp.data import Dataset
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return float(i), float(i * i)
    >>> Squares()[3]
    (3.0, 9.0)
    """

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Examples along the first axis of arrays (or Tensors) of the same length: ``ds[i] = (a[i], b[i], ...)``.

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.data import TensorDataset
    >>> ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (array([2., 3.]), np.int64(1)))
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        for i, a in enumerate(arrays):
            if isinstance(a, Tensor) and a.requires_grad:
                raise TypeError(
                    f"TensorDataset: array {i} is a Tensor that requires grad; the dataset holds arrays, so its "
                    "examples would carry no gradient. Pass t.detach() for data, or index the tensor itself "
                    "(t[idx]) where the gradient must reach it")
        self.arrays = tuple(np.asarray(a.data) if isinstance(a, Tensor) else as_array(a, "TensorDataset") for a in arrays)
        n = len(self.arrays[0]) if self.arrays[0].ndim else None
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                raise ValueError(
                    f"TensorDataset: every array needs the same number of examples along its first axis; array 0 "
                    f"has shape {self.arrays[0].shape}, array {i} has shape {a.shape}"
                )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order (what :func:`random_split` returns).

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.data import Subset, TensorDataset
    >>> part = Subset(TensorDataset(np.arange(5.0) * 10), [4, 0])
    >>> len(part), part[0]
    (2, (np.float64(40.0),))
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(self.dataset, TensorDataset):  # a slice or an index array at once
            return tuple(a[self.indices[index]] for a in self.dataset.arrays)
        return self.dataset[int(self.indices[index])]


def random_split(dataset, lengths, rng=None) -> list:
    """Split ``dataset`` into non-overlapping random subsets of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to
    1 (PyTorch's rule: the counts are floored, then the remainder is handed
    out one by one from the first subset on).

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.data import TensorDataset, random_split
    >>> train, test = random_split(TensorDataset(np.arange(10.0)), [0.8, 0.2], rng=0)
    >>> len(train), len(test), sorted(np.concatenate([train[:][0], test[:][0]]).tolist()) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1.0) < 1e-9:
        for x in lengths:
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"random_split: a fraction must lie in [0, 1], got {x}")
        counts = [int(np.floor(n * x)) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths must be counts summing to the dataset's length ({n}) or fractions summing to 1, "
            f"got {lengths}"
        )
    order = as_rng(rng).permutation(n)
    splits, start = [], 0
    for length in lengths:
        splits.append(Subset(dataset, order[start:start + length]))
        start += length
    return splits


def _collate(examples):
    """A list of examples as one batch: tuples field by field, numbers and arrays stacked into Tensors."""
    first = examples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate([e[i] for e in examples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _collate([e[k] for e in examples]) for k in first}
    return _batch_tensor(np.stack([np.asarray(e.data if isinstance(e, Tensor) else e) for e in examples]))


def _batch_tensor(batch: np.ndarray) -> Tensor:
    """A batch as a Tensor without a copy: floats keep their dtype, integer labels and masks theirs."""
    return as_tensor(batch, dtype=None if batch.dtype.kind == "f" else batch.dtype)


class DataLoader:
    """Minibatches of a dataset, as Tensors (PyTorch's ``DataLoader``, without worker processes).

    Parameters
    ----------
    dataset
        A :class:`Dataset` or any sequence of examples.  A :class:`TensorDataset`
        (or a :class:`Subset` of one) is batched by slicing its arrays at once.
    batch_size
        Examples per batch.
    shuffle
        Draw a new order at every pass (every ``iter()``) from ``rng``.
    drop_last
        Leave out a last batch smaller than ``batch_size``.
    rng
        Seed or generator of the shuffles: the same seed gives the same
        sequence of epochs.
    collate_fn
        Turns a list of examples into a batch (default: stack each field into
        a Tensor; floating fields keep their dtype, integer labels stay integer).
    sampler
        The indices of each pass, in order (an iterable that can be iterated
        again, such as ``distributed.DistributedSampler``); instead of
        ``shuffle``.

    Examples
    --------
    >>> import numpy as np
    >>> from microgradnp.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1]))
    >>> [x.shape for x, y in DataLoader(ds, batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
    >>> len(DataLoader(ds, batch_size=2, drop_last=True))
    2
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False, rng=None,
                 collate_fn=None, sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the sampler gives the order)")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # None: the global generator when an epoch starts (mg.manual_seed after building the loader decides
        # the order, as torch.manual_seed does).
        self.rng = None if rng is None or not shuffle else as_rng(rng)
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(self.sampler, dtype=np.int64)
        else:
            order = as_rng(self.rng).permutation(len(self.dataset)) if self.shuffle else np.arange(len(self.dataset))
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        arrays = _arrays_of(self.dataset)
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if arrays is not None and self.collate_fn is None:  # slice every array at once
                yield tuple(_batch_tensor(a[idx]) for a in arrays)
            else:
                yield (self.collate_fn or _collate)([self.dataset[int(i)] for i in idx])


def _arrays_of(dataset):
    """The arrays behind a TensorDataset (or a Subset of one), in example order; else None."""
    if isinstance(dataset, TensorDataset):
        return dataset.arrays
    if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset):
        return tuple(a[dataset.indices] for a in dataset.dataset.arrays)
    return None
