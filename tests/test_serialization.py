"""mg.save and mg.load: state dicts and checkpoints as .npz archives, round-tripped exactly, never pickle."""

import os
import zipfile

import numpy as np
import pytest

import microgradnp as mg


def _checkpoint():
    model = mg.nn.MLP([2, 4, 1], rng=0)
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    loss = model(mg.randn(5, 2, rng=0)).sum()
    loss.backward()
    opt.step()
    sched = mg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def test_a_checkpoint_of_model_optimizer_and_scheduler_round_trips_exactly(tmp_path):
    model, opt, sched = _checkpoint()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "epoch": 7, "best": float("nan"), "note": "after warm-up", "shape": (3, 4), "tags": [None, True, 2.5]}
    mg.save(ckpt, tmp_path / "ckpt.npz")
    back = mg.load(tmp_path / "ckpt.npz")
    assert back.keys() == ckpt.keys()
    assert back["epoch"] == 7 and type(back["epoch"]) is int and np.isnan(back["best"])
    assert back["shape"] == (3, 4) and type(back["shape"]) is tuple and back["tags"] == [None, True, 2.5]
    assert back["optimizer"]["param_groups"] == ckpt["optimizer"]["param_groups"]  # betas stay a tuple
    assert set(back["optimizer"]["state"]) == set(ckpt["optimizer"]["state"])  # int keys stay int
    for k, st in ckpt["optimizer"]["state"].items():
        for name, v in st.items():
            assert np.array_equal(back["optimizer"]["state"][k][name], v)
    other_model, other_opt, _ = _checkpoint()
    other_model.load_state_dict(back["model"])
    other_opt.load_state_dict(back["optimizer"])
    for p, q in zip(model.parameters(), other_model.parameters()):
        assert np.array_equal(p.data, q.data)
    assert back["model"]["layers.0.weight"].flags.writeable


def test_tensors_are_saved_as_their_arrays_and_anything_else_is_refused_by_name(tmp_path):
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    mg.save({"w": w * 2.0, "half": np.ones(3, dtype=np.float16), "scalar": np.float32(0.5)}, tmp_path / "a.npz")
    back = mg.load(tmp_path / "a.npz")
    assert isinstance(back["w"], np.ndarray) and back["w"].tolist() == [2.0, 4.0]
    assert back["half"].dtype == np.float16 and back["scalar"] == 0.5
    with pytest.raises(TypeError, match=r"save: the object\['fn'\] is a function; .*no pickle"):
        mg.save({"fn": lambda: None}, tmp_path / "b.npz")
    with pytest.raises(TypeError, match="keys must be strings or integers"):
        mg.save({(1, 2): 3}, tmp_path / "b.npz")
    with pytest.raises(TypeError, match="array of Python objects"):
        mg.save({"o": np.array([object()])}, tmp_path / "b.npz")
    assert not os.path.exists(tmp_path / "b.npz") and not list(tmp_path.glob(".*.tmp"))  # nothing half-written


def test_a_plain_npz_loads_as_its_named_arrays_and_bad_files_are_named(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.eye(2))
    back = mg.load(tmp_path / "plain.npz")
    assert sorted(back) == ["a", "b"] and back["b"].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        mg.load(tmp_path / "empty.npz")
    mg.save({"x": np.ones(1000)}, tmp_path / "cut.npz")
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="damaged or truncated"):
        mg.load(tmp_path / "cut.npz")
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as z:
        z.writestr("__microgradnp_structure__.json", '{"microgradnp": 1, "object": {"eval": "os.system"}}')
    with pytest.raises(ValueError, match="which save\\(\\) never writes"):
        mg.load(tmp_path / "odd.npz")


def test_module_save_and_load_still_share_the_checked_archive(tmp_path):
    model = mg.nn.MLP([2, 3, 1], rng=0)
    model.save(tmp_path / "m.npz")
    other = mg.nn.MLP([2, 3, 1], rng=1)
    other.load(tmp_path / "m.npz")
    assert all(np.array_equal(p.data, q.data) for p, q in zip(model.parameters(), other.parameters()))
    assert sorted(mg.load(tmp_path / "m.npz")) == sorted(model.state_dict())
