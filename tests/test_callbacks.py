"""RobustnessMonitor: the same robustness record from Model.train and from mindsec's loops."""
import json

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn
from mindspore.train import Model

from mindsec import checkpoint, train
from mindsec.callbacks import RobustnessMonitor
from mindsec.errors import InputError
from mindsec.models import LeNet5
from mindsec.plots import robustness_history


def test_monitor_in_model_train_keeps_history_and_best_weights(train_slice, test_slice,
                                                               tmp_path):
    x, y = train_slice
    vx, vy = test_slice[0][:200], test_slice[1][:200]
    ms.set_seed(0)
    net = LeNet5()
    monitor = RobustnessMonitor(net, vx, vy, eps=0.1, pgd_steps=5, history=tmp_path / "h.json",
                                best_ckpt=tmp_path / "best.ckpt", log=None)
    data = ms.dataset.NumpySlicesDataset((x[:2048], y[:2048].astype(np.int32)),
                                         ["image", "label"], shuffle=False).batch(64)
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Adam(net.trainable_params(), 2e-3))
    model.train(3, data, callbacks=[monitor], dataset_sink_mode=False)
    history = json.loads((tmp_path / "h.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert history[-1]["clean_acc"] > 0.8                  # it learned; chance is 0.1
    assert all(r["pgd_acc"] <= r["fgsm_acc"] + 0.05 for r in history)
    best = max(history, key=lambda r: r["pgd_acc"])
    _, meta = checkpoint.load(tmp_path / "best.ckpt")
    assert meta["epoch"] == best["epoch"] and meta["robust_acc"] == pytest.approx(best["pgd_acc"])
    png = robustness_history(history, tmp_path / "history.png")
    assert png.stat().st_size > 0


def test_monitor_stops_mindsec_training_on_a_collapse(train_slice, test_slice):
    """A learning rate that wrecks the network after the first epoch: clean (robust, with
    pgd_steps=0 it is FGSM at a tiny eps) accuracy collapses and training stops."""
    x, y = train_slice
    vx, vy = test_slice[0][:200], test_slice[1][:200]
    ms.set_seed(0)
    net = LeNet5()
    train.fit(net, x, y, train.get_recipe("default", epochs=4), log=lambda s: None)
    monitor = RobustnessMonitor(net, vx, vy, eps=0.001, pgd_steps=0, collapse_drop=0.3,
                                log=None)
    assert monitor.measure(0)["fgsm_acc"] > 0.8          # the trained state is the best
    wreck = train.Recipe("wreck", "momentum", lr=50.0, batch_size=64, epochs=5)
    history = train.fit(net, x, y, wreck, log=lambda s: None, callbacks=[monitor])
    assert monitor.stopped and len(history) < 5
    assert history[-1]["fgsm_acc"] < monitor.best - 0.3
    assert "clean_acc" in history[0] and monitor.records[0]["epoch"] == 0


def test_monitor_rejects_bad_arguments(test_slice):
    x, y = test_slice
    with pytest.raises(InputError, match="every must be a positive integer"):
        RobustnessMonitor(LeNet5(), x[:10], y[:10], every=0)
    with pytest.raises(InputError, match="y must be"):
        RobustnessMonitor(LeNet5(), x[:10], y[:5])
    with pytest.raises(InputError, match="eps must be"):
        RobustnessMonitor(LeNet5(), x[:10], y[:10], eps=2.0)
