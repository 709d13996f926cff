"""microgradnp.data: the reference data sets and the split helper."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import microgradnp as mg


def test_gaussian_blobs_replays_the_notebook_bit_for_bit():
    X, y = mg.data.gaussian_blobs(rng=np.random.RandomState(104729))
    # What the notebook computes after np.random.seed(104729):
    np.random.seed(104729)
    cov = [[1.0, 0.75], [0.75, 1.0]]
    X1 = multivariate_normal.rvs(mean=[0.0, 0.0], cov=cov, size=500)
    X2 = multivariate_normal.rvs(mean=[5.0, 5.0], cov=cov, size=500)
    np.testing.assert_array_equal(X, np.vstack([X1, X2]))
    np.testing.assert_array_equal(y, np.r_[np.zeros(500), np.ones(500)])
    # The notebook prints these two points:
    np.testing.assert_allclose(X[0], [-0.22117921, 0.0354449], atol=5e-9)
    np.testing.assert_allclose(X[-1], [4.23706484, 4.85350827], atol=5e-9)


def test_gaussian_blobs_statistics():
    X, y = mg.data.gaussian_blobs(20000, rng=0)
    for label, mean in [(0, [0, 0]), (1, [5, 5])]:
        pts = X[y == label]
        np.testing.assert_allclose(pts.mean(0), mean, atol=0.05)
        np.testing.assert_allclose(np.cov(pts.T), [[1, 0.75], [0.75, 1]], atol=0.05)


def test_make_moons_shape_and_geometry():
    X, y = mg.data.make_moons(1000, noise=0.0, rng=0)
    assert X.shape == (1000, 2) and np.bincount(y).tolist() == [500, 500]
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    Xn, _ = mg.data.make_moons(1000, noise=0.1, rng=0)
    assert 0.05 < np.std(Xn - X) < 0.15
    a, _ = mg.data.make_moons(100, rng=3)
    b, _ = mg.data.make_moons(100, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_load_digits_is_real_data():
    X, y = mg.data.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert 0.0 <= X.min() and X.max() == 1.0 and set(np.unique(y)) == set(range(10))


def test_train_test_split():
    X, y = np.arange(200).reshape(100, 2), np.arange(100) % 4
    Xtr, Xte, ytr, yte = mg.data.train_test_split(X, y, test_size=0.2, rng=0, stratify=y)
    assert len(Xte) == 20 and len(Xtr) == 80
    assert sorted(np.r_[Xtr[:, 0], Xte[:, 0]].tolist()) == list(range(0, 200, 2))  # a partition
    assert np.bincount(yte).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(Xtr[:, 0] // 2 % 4, ytr)  # rows stay aligned
    a = mg.data.train_test_split(X, test_size=10, rng=1)
    b = mg.data.train_test_split(X, test_size=10, rng=1)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    with pytest.raises(ValueError, match="different lengths"):
        mg.data.train_test_split(X, y[:5])
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\), got 0.0"):
        mg.data.train_test_split(X, test_size=0.0)
    with pytest.raises(ValueError, match="leaves no"):
        mg.data.train_test_split(X, test_size=100)


def test_train_test_split_refuses_stratify_labels_that_do_not_match_the_rows():
    X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
    for labels in (y[:8], np.r_[y, y], y.reshape(5, 2)):
        with pytest.raises(ValueError, match=r"stratify must hold one label per row \(10\)"):
            mg.data.train_test_split(X, y, stratify=labels)


@pytest.mark.parametrize("counts, test_size", [([1] * 10, 0.2), ([7, 2, 1], 0.3), ([50, 3], 5), ([3, 3, 3], 0.5)])
def test_stratified_splits_have_exactly_the_requested_test_size(counts, test_size):
    # Rounding each class's share on its own gave 0 test rows for ten singleton classes.
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y))
    Xtr, Xte = mg.data.train_test_split(X, test_size=test_size, rng=0, stratify=y)
    n_test = test_size if isinstance(test_size, int) else round(test_size * len(y))
    assert len(Xte) == n_test and len(Xtr) == len(y) - n_test
    assert sorted(np.r_[Xtr, Xte].tolist()) == X.tolist()
    per_class = np.bincount(y[Xte], minlength=len(counts))
    assert np.all(np.abs(per_class - np.array(counts) * n_test / len(y)) < 1)  # each class within one row of its share


def test_train_test_split_test_size_types():
    X = np.arange(10)
    assert [len(a) for a in mg.data.train_test_split(X, test_size=np.float32(0.3), rng=0)] == [7, 3]
    assert [len(a) for a in mg.data.train_test_split(X, test_size=np.int64(4), rng=0)] == [6, 4]
    with pytest.raises(TypeError, match="test_size"):
        mg.data.train_test_split(X, test_size="0.2")
    with pytest.raises(ValueError, match="fractional"):
        mg.data.train_test_split(X, test_size=1.5)


def test_load_mat_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        mg.data.load_mat(str(tmp_path / "missing.mat"))


def _mat(tmp_path, name, **arrays):
    import scipy.io

    path = tmp_path / name
    scipy.io.savemat(str(path), arrays)
    return path


@pytest.mark.parametrize("y, shown", [([[1.5], [2.0]], "y\\[0\\] is 1.5"), ([[2.0], [np.nan]], "y\\[1\\] is nan"),
                                      ([[-1], [2]], "y\\[0\\] is -1"), ([[np.inf], [2.0]], "y\\[0\\] is inf"),
                                      (np.array([[2], [2**63 + 5]], dtype=np.uint64), "y\\[1\\] is 9223372036854775813"),
                                      ([[1e30], [2.0]], "y\\[0\\] is 1e\\+30"), ([[2.0**63], [1.0]], "y\\[0\\] is 9.2")])
def test_load_mat_refuses_labels_a_cast_would_corrupt(tmp_path, y, shown):
    path = _mat(tmp_path, "bad.mat", X=np.ones((2, 3)), y=np.array(y))
    with pytest.raises(ValueError, match=rf"load_mat: y in .*bad\.mat must hold non-negative whole-number labels "
                                         rf"that fit int64; {shown}"):
        mg.data.load_mat(path)


@pytest.mark.parametrize("compressed", [False, True])
def test_a_truncated_mat_file_says_truncated_and_where(tmp_path, compressed):
    import scipy.io

    whole = tmp_path / "whole.mat"
    scipy.io.savemat(str(whole), {"X": np.ones((50, 40)), "y": np.ones((50, 1))}, do_compression=compressed)
    data = whole.read_bytes()
    for cut in (60, 200, len(data) // 2, len(data) - 3):
        path = tmp_path / f"cut{cut}.mat"
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=rf"load_mat: .*cut{cut}\.mat is truncated: .*(variable \d|header)"):
            mg.data.load_mat(path)
    assert mg.data.load_mat(whole)["X"].shape == (50, 40)


def test_load_mat_checks_x_and_y_and_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"short\.mat has 3 rows of X but 2 labels"):
        mg.data.load_mat(_mat(tmp_path, "short.mat", X=np.ones((3, 2)), y=np.array([[1], [2]])))
    with pytest.raises(ValueError, match=r"y in .*matrix\.mat must be a vector"):
        mg.data.load_mat(_mat(tmp_path, "matrix.mat", X=np.ones((2, 2)), y=np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"X in .*flat\.mat must be a 2-D numeric matrix"):
        mg.data.load_mat(_mat(tmp_path, "flat.mat", X=np.array(["ab", "cd"])))
    junk = tmp_path / "junk.mat"
    junk.write_text("not a MATLAB file")
    with pytest.raises(ValueError, match=r"load_mat: .*junk\.mat is not a MATLAB file"):
        mg.data.load_mat(junk)
    ok = mg.data.load_mat(_mat(tmp_path, "ok.mat", X=np.ones((2, 2)), y=np.array([[10.0], [3.0]])))
    assert ok["y"].tolist() == [0, 3] and ok["y"].dtype == np.int64


def test_tensor_dataset_and_dataloader_batch_as_pytorch_does():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 3
    ds = mg.data.TensorDataset(X, y)
    assert len(ds) == 10 and ds[4][1] == 1
    np.testing.assert_array_equal(ds[4][0], [8.0, 9.0])
    batches = list(mg.data.DataLoader(ds, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert batches[0][0].dtype == np.float64 and batches[0][1].dtype == np.int64  # labels stay integers
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)
    assert len(mg.data.DataLoader(ds, batch_size=4)) == 3
    dropped = list(mg.data.DataLoader(ds, batch_size=4, drop_last=True))
    assert len(dropped) == 2 == len(mg.data.DataLoader(ds, batch_size=4, drop_last=True))


def test_shuffling_is_a_new_permutation_each_epoch_and_reproducible_from_the_seed():
    ds = mg.data.TensorDataset(np.arange(12.0))

    def epochs(seed):
        loader = mg.data.DataLoader(ds, batch_size=5, shuffle=True, rng=seed)
        return [np.concatenate([b[0].data for b in loader]) for _ in range(3)]

    first, again = epochs(7), epochs(7)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    for e in first:
        assert sorted(e.tolist()) == list(range(12))  # every example exactly once per epoch
    assert not np.array_equal(first[0], first[1])


def test_dataloader_collates_any_dataset_and_refuses_bad_batch_sizes():
    class Pairs(mg.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, float(i)), "label": i}

    (batch, last) = list(mg.data.DataLoader(Pairs(), batch_size=2))
    assert batch["x"].shape == (2, 2) and batch["label"].data.tolist() == [0, 1]
    assert last["x"].shape == (1, 2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            mg.data.DataLoader(Pairs(), batch_size=bad)
    with pytest.raises(ValueError, match="same number of examples"):
        mg.data.TensorDataset(np.ones((3, 2)), np.ones(4))


def test_random_split_partitions_by_counts_or_fractions():
    ds = mg.data.TensorDataset(np.arange(10.0))
    parts = mg.data.random_split(ds, [0.5, 0.3, 0.2], rng=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    seen = np.concatenate([p[:][0] for p in parts])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(p) for p in mg.data.random_split(ds, [0.34, 0.33, 0.33], rng=0)] == [4, 3, 3]  # remainder first
    assert [len(p) for p in mg.data.random_split(ds, [7, 3], rng=0)] == [7, 3]
    loader = mg.data.DataLoader(parts[0], batch_size=2)
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in loader]), parts[0][:][0])
    for bad in ([6, 3], [0.5, 0.6], [-1, 11]):
        with pytest.raises(ValueError, match="lengths"):
            mg.data.random_split(ds, bad)


@pytest.mark.parametrize("make", [mg.data.gaussian_blobs, mg.data.make_moons])
def test_data_makers_honour_the_number_of_points_or_refuse_it(make):
    for n in (0, 1, 10, 11):
        X, y = make(n, rng=0)
        assert X.shape == (n, 2) and y.shape == (n,)
        assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1  # the classes share n evenly
    for bad in (-3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="n must be a non-negative int"):
            make(bad)
