"""Module: parameter registration, train/eval, repr, state dicts and .npz save/load."""

import os

import numpy as np
import pytest

import microgradnp as mg


def test_module_registers_parameters_and_submodules_in_order():
    net = mg.nn.MLP([3, 4, 2], rng=0)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert [p.name for p in net.parameters()] == names
    assert all(isinstance(p, mg.nn.Parameter) and p.requires_grad for p in net.parameters())
    assert net.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    assert [type(m).__name__ for _, m in net.named_modules()] == ["MLP", "Sequential", "Linear", "Sigmoid", "Linear"]


def test_shared_parameter_is_listed_once():
    class Tied(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = mg.nn.Linear(2, 2, rng=0)
            self.b = mg.nn.Linear(2, 2, rng=1)
            self.b.weight = self.a.weight

    assert len(list(Tied().parameters())) == 3


def test_zero_grad_train_eval():
    net = mg.nn.MLP([2, 3, 1], rng=0)
    net(mg.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.eval() is net and not any(m.training for _, m in net.named_modules())
    assert all(m.training for _, m in net.train().named_modules())


def test_repr():
    assert repr(mg.nn.MLP([400, 25, 10])) == "MLP(400 -> 25 -> 10, sigmoid)"
    assert repr(mg.nn.MLP([2, 5, 5, 2], activation="tanh", output_activation="sigmoid")) == (
        "MLP(2 -> 5 -> 5 -> 2, tanh, output sigmoid)"
    )
    assert "Linear(in_features=2, out_features=3, bias=True)" in repr(mg.nn.Sequential(mg.nn.Linear(2, 3)))


def test_module_needs_super_init():
    class Bad(mg.nn.Module):
        def __init__(self):
            self.w = mg.nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_save_load_round_trips_exactly(tmp_path):
    net = mg.nn.MLP([3, 4, 2], rng=0)
    path = tmp_path / "net.npz"
    net.save(path)
    other = mg.nn.MLP([3, 4, 2], rng=99)
    other.load(path)
    for (na, a), (nb, b) in zip(net.named_parameters(), other.named_parameters()):
        assert na == nb and a.data.tobytes() == b.data.tobytes() and a.dtype == b.dtype
    assert os.listdir(tmp_path) == ["net.npz"]  # no temporary file left


def test_load_refuses_mismatched_shapes_and_keys(tmp_path):
    path = tmp_path / "net.npz"
    mg.nn.MLP([3, 4, 2], rng=0).save(path)
    wrong = mg.nn.MLP([3, 5, 2], rng=0)
    before = wrong.state_dict()
    with pytest.raises(ValueError, match=r"'layers.0.weight'.*\(5, 3\).*\(4, 3\)"):
        wrong.load(path)
    assert all(np.array_equal(before[k], v) for k, v in wrong.state_dict().items())  # nothing half-loaded
    with pytest.raises(KeyError, match="missing"):
        mg.nn.MLP([3, 4, 4, 2], rng=0).load(path)


def test_loading_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"layers.0.weight": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="pickle"):
        mg.nn.MLP([3, 4, 2], rng=0).load(path)


class _Keywords(mg.nn.Module):
    """Parameters named like np.savez's own keywords."""

    def __init__(self, value: float):
        super().__init__()
        self.allow_pickle = mg.nn.Parameter([value, value])
        self.file = mg.nn.Parameter([value])
        self.args = mg.nn.Parameter([value])


def test_save_keeps_parameters_named_like_savez_keywords(tmp_path):
    path = tmp_path / "kw.npz"
    _Keywords(1.5).save(path)
    other = _Keywords(0.0)
    other.load(path)  # strict: every key must be there
    assert other.allow_pickle.data.tolist() == [1.5, 1.5] and other.file.item() == 1.5 and other.args.item() == 1.5
    with np.load(path, allow_pickle=False) as data:  # an ordinary .npz for NumPy too
        assert sorted(data.files) == ["allow_pickle", "args", "file"]


@pytest.mark.parametrize("name", ["a.b", "0.weight", ""])
def test_names_with_a_dot_are_refused_so_paths_cannot_collide(name):
    net = mg.nn.Module()
    with pytest.raises(KeyError, match=r'free of "\."'):
        net.add_module(name, mg.nn.Linear(1, 1))
    with pytest.raises(KeyError, match=r'free of "\."'):
        setattr(net, name, mg.nn.Parameter([1.0]))
    assert list(net.named_parameters()) == []


def test_a_failed_save_leaves_nothing_behind_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    net = mg.nn.MLP([3, 4, 2], rng=0)
    net.save(path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(OSError, match="No space"):
        mg.nn.MLP([3, 4, 2], rng=1).save(path)
    assert os.listdir(tmp_path) == ["net.npz"] and path.read_bytes() == before


def _npy(path):
    with open(path, "wb") as fh:  # a handle: np.save would add ".npy" to a name
        np.save(fh, np.ones(3))
    return path.read_bytes()


@pytest.mark.parametrize("content, message", [
    (lambda p: b"", "is empty"),
    (lambda p: b"weights: 1 2 3\n", "is not an .npz file written by save"),
    (_npy, "holds a single .npy array"),
    (lambda p: (mg.nn.MLP([3, 4, 2], rng=0).save(p), p.read_bytes()[:-40])[1], "is damaged or truncated"),
    (lambda p: (mg.nn.MLP([3, 4, 2], rng=0).save(p), p.read_bytes()[:200])[1], "is damaged or truncated"),
])
def test_loading_a_bad_file_says_what_is_wrong_with_it(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content(path))
    net = mg.nn.MLP([3, 4, 2], rng=0)
    before = net.state_dict()
    with pytest.raises(ValueError, match=rf"load: .*bad\.npz {message}"):
        net.load(path)
    assert all(np.array_equal(before[k], v) for k, v in net.state_dict().items())


def _crafted(path, name: str, header_shape: tuple, payload: bytes, dtype="<f8") -> None:
    """An .npz whose entry ``name`` declares ``header_shape`` but holds ``payload``."""
    import io
    import zipfile

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": header_shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name + ".npy", buffer.getvalue() + payload)


@pytest.mark.parametrize("name,shape,payload,message", [
    ("layers.0.weight", (10**12,), b"\0" * 64, r"declares shape \(1000000000000,\) .* holds 64 bytes: .*truncated or "
                                               r"crafted"),
    ("layers.0.weight", (4, 3), b"\0" * 40, r"declares shape \(4, 3\) of float64 \(96 bytes\) but holds 40 bytes"),
    ("unknown", (2**40, 2**20), b"", r"declares shape \(1099511627776, 1048576\)"),
    ("layers.0.weight", (4, 3), b"\0" * 200, r"declares .* holds 200 bytes: the file is damaged"),
], ids=["huge", "truncated", "huge-unknown", "too-long"])
def test_a_crafted_or_truncated_entry_is_refused_by_file_and_name_before_allocating(tmp_path, name, shape, payload,
                                                                                     message):
    path = tmp_path / "crafted.npz"
    _crafted(path, name, shape, payload)
    net = mg.nn.MLP([3, 4, 2], rng=0)
    with pytest.raises(ValueError, match=rf"load: .*crafted\.npz, entry '{name}' {message}"):
        net.load(path)


def test_entries_of_the_wrong_shape_or_unknown_are_named_without_being_read(tmp_path):
    net = mg.nn.MLP([3, 4, 2], rng=0)
    path = tmp_path / "net.npz"
    net.save(path)
    bigger = mg.nn.MLP([3, 400, 2], rng=0)
    bigger.save(tmp_path / "big.npz")
    with pytest.raises(ValueError, match=r"'layers.0.weight' has shape \(4, 3\) in the model but \(400, 3\)"):
        net.load(tmp_path / "big.npz")
    extra = mg.nn.Sequential(mg.nn.MLP([3, 4, 2], rng=1), mg.nn.Linear(2, 2, rng=0))
    extra.save(tmp_path / "extra.npz")
    with pytest.raises(KeyError, match=r"unexpected keys \['1.weight', '1.bias'\]"):
        mg.nn.Sequential(mg.nn.MLP([3, 4, 2], rng=0)).load(tmp_path / "extra.npz")
    loose = mg.nn.Sequential(mg.nn.MLP([3, 4, 2], rng=0))
    loose.load(tmp_path / "extra.npz", strict=False)  # the unknown entries are skipped, the rest loaded
    np.testing.assert_array_equal(loose[0].layers[0].weight.data, extra[0].layers[0].weight.data)
    fortran = mg.nn.Linear(3, 4, rng=0)
    np.savez(tmp_path / "f.npz", weight=np.asfortranarray(np.arange(12.0).reshape(4, 3)), bias=np.ones(4))
    fortran.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(fortran.weight.data, np.arange(12.0).reshape(4, 3))
