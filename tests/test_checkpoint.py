import os

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from mindsec import checkpoint
from mindsec.errors import DataError
from mindsec.models import LeNet5


def _weights(net):
    return {p.name: p.asnumpy().copy() for p in net.get_parameters()}


def test_roundtrip_with_metadata(tmp_path):
    ms.set_seed(1)
    net = LeNet5()
    path = checkpoint.save(net, tmp_path / "a.ckpt", epoch=3, recipe="default")
    params, meta = checkpoint.load(path)
    assert meta == {"epoch": 3, "recipe": "default"}
    ms.set_seed(2)
    other = LeNet5()
    assert checkpoint.load_into(other, path) == meta
    for name, value in _weights(net).items():
        np.testing.assert_array_equal(value, _weights(other)[name])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]   # no temp file left


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    net = LeNet5()
    path = checkpoint.save(net, tmp_path / "a.ckpt", epoch=1)
    before = path.read_bytes()

    def dies_halfway(cell, name, **kwargs):
        with open(name, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt   # a kill arriving mid-write
    monkeypatch.setattr(ms, "save_checkpoint", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(net, path, epoch=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]


def test_corrupt_and_missing_checkpoints(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint" * 20)
    with pytest.raises(DataError, match=rf"checkpoint {bad} is corrupt"):
        checkpoint.load(bad)
    with pytest.raises(DataError, match="does not exist"):
        checkpoint.load(tmp_path / "none.ckpt")


def test_checkpoint_of_another_network_is_refused(tmp_path):
    path = checkpoint.save(nn.Dense(3, 2), tmp_path / "dense.ckpt")
    with pytest.raises(DataError, match="does not fit this network: missing conv1.weight"):
        checkpoint.load_into(LeNet5(), path)


def test_weights_saved_under_prefixed_names_load_into_a_fresh_network(tmp_path):
    """A Cell that wraps the network (a MindArmour attack does) renames its parameters in
    place; its checkpoint still loads into a fresh LeNet5, optimizer state aside."""
    net = LeNet5()
    expected = {p.name: p.asnumpy().copy() for p in net.get_parameters()}

    class Wrap(nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
    Wrap(net)
    assert next(net.get_parameters()).name == "inner.conv1.weight"
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(
        sparse=True)), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    checkpoint.save(step, tmp_path / "w.ckpt")     # holds moments.inner.* as well
    fresh = LeNet5()
    checkpoint.load_into(fresh, tmp_path / "w.ckpt")
    for p in fresh.get_parameters():
        np.testing.assert_array_equal(p.asnumpy(), expected[p.name])


def test_reports_are_written_atomically(tmp_path, monkeypatch):
    """write_json (mindsec.atomic, which every writer uses) replaces the old report in one
    step: a failure while writing leaves the previous file intact and no temporary file
    behind."""
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    from mindsec.atomic import write_json  # pylint: disable=import-outside-toplevel
    path = write_json(tmp_path / "deep" / "report.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}

    def broken_replace(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert list(path.parent.iterdir()) == [path]


def test_a_killed_writers_temporary_is_never_a_chunk_and_is_swept_on_resume(tmp_path):
    """A kill -9 between a chunk's write and its rename leaves a hidden temporary: the stage
    store neither counts nor reads it as a finished chunk, and removes it when it reopens the
    directory; the temporary of a live writer (this process) is kept."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    from mindsec import atomic  # pylint: disable=import-outside-toplevel
    from mindsec.evaluations.stages import StageStore  # pylint: disable=import-outside-toplevel
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    lines = []
    store = StageStore(tmp_path, {"run": 1}, log=lines.append)
    store._save("e0-a0", 0, np.ones(3, bool))  # pylint: disable=protected-access
    killed = tmp_path / f".e0-a0-00001.tmp{dead_pid}.npy"
    killed.write_bytes(b"\x93NUMPY half")
    live = tmp_path / f".e0-a0-00002.tmp{os.getpid()}.npy"
    live.write_bytes(b"\x93NUMPY half")
    assert atomic.is_temporary(killed) and not atomic.is_temporary(tmp_path / "e0-a0-00000.npy")
    StageStore(tmp_path, {"run": 1}, log=lines.append)
    assert lines[-1].endswith(": 1 chunks already done")
    assert not killed.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.glob("*.npy") if not atomic.is_temporary(p)) == \
        ["e0-a0-00000.npy"]
