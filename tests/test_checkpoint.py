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
