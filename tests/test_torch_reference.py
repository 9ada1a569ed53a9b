"""The PyTorch reference of ``tests/torch_reference.py``: the torch copies compute what the
MindSpore networks compute, and torchattacks' attacks run on them as AutoAttack's do.

(No ``slow`` marker: the repository's pytest configuration defines only ``fast`` and
``full_mnist``.)
"""
import numpy as np
import pytest
import torch

import mindspore as ms
from mindspore import nn

from mindsec import train
from mindsec.batching import predict_logits
from mindsec.models import LeNet5, SmallCNN

import golden
import torch_reference as tr

torch.set_num_threads(1)        # the machine is shared; results repeat per thread count
QUICK = train.Recipe("torch-reference", "adam", lr=3e-3, batch_size=32, epochs=3)


def _net(cls, train_slice, trained):
    ms.set_seed(0)
    net = cls()
    if trained:                 # 48 steps on 512 digits: LeNet5 ~64%, SmallCNN ~88%
        x, y = train_slice
        train.fit(net, x[:512], y[:512], QUICK, seed=0, log=lambda line: None)
    net.set_train(False)
    return net


@pytest.mark.parametrize("trained", [False, True], ids=["init", "trained"])
@pytest.mark.parametrize("cls", [LeNet5, SmallCNN], ids=lambda c: c.__name__)
def test_the_torch_copy_computes_the_same_logits(cls, trained, train_slice, test_slice):
    net = _net(cls, train_slice, trained)
    x = test_slice[0][:256]
    assert x.shape[1:] == (1, 32, 32)
    model = tr.torch_copy(net)
    assert isinstance(model, torch.nn.Module) and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    ours, theirs = predict_logits(net, x), tr.torch_logits(model, x)
    assert theirs.shape == ours.shape == (256, 10) and theirs.dtype == np.float32
    assert np.abs(ours).max() > 1e-2            # not a network of zeros
    diff = np.abs(ours - theirs).max()
    assert diff <= 1e-4, (cls.__name__, trained, diff)
    np.testing.assert_array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    if trained:
        assert (theirs.argmax(axis=1) == test_slice[1][:256]).mean() > 0.5


@pytest.mark.parametrize("conv", [
    dict(pad_mode="same", kernel_size=4, stride=2),
    dict(pad_mode="same", kernel_size=5, stride=3, dilation=2),
    dict(pad_mode="valid", kernel_size=4, stride=2),
    dict(pad_mode="pad", padding=(1, 2, 0, 3), kernel_size=3, stride=2),
], ids=["same-k4s2", "same-k5s3d2", "valid", "pad-asymmetric"])
def test_conv_pad_modes_match_mindspore(conv):
    """On an odd size, where "same" pads one pixel more at the bottom/right."""
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 11)).astype(np.float32)
    ms.set_seed(1)
    cell = nn.Conv2d(3, 4, has_bias=True, bias_init="normal", **conv)
    ours = cell(ms.Tensor(x)).asnumpy()
    theirs = tr.TorchConv2d(cell)(torch.from_numpy(x)).numpy()
    assert theirs.shape == ours.shape
    assert np.abs(ours - theirs).max() <= 1e-5


def test_other_networks_are_refused(lenet_torch):
    with pytest.raises(TypeError, match="LeNet5, SmallCNN"):
        tr.torch_copy(golden.tiny(0))
    ms.set_seed(0)
    with pytest.raises(ValueError, match="eval mode"):
        tr.torch_copy(LeNet5().set_train(True))
    with pytest.raises(ValueError, match="attack must be one of"):
        tr.reference(lenet_torch[1], np.zeros((1, 1, 32, 32), np.float32),
                     np.zeros(1), 0.3, "pgd")


@pytest.fixture(scope="module")
def lenet_torch(train_slice):
    """LeNet5 after 96 steps on 1,024 digits (~86% on the first 256 test digits)."""
    ms.set_seed(0)
    net = LeNet5()
    x, y = train_slice
    train.fit(net, x[:1024], y[:1024], train.Recipe("torch-reference", "adam", lr=3e-3,
                                                    batch_size=64, epochs=6),
              seed=0, log=lambda line: None)
    net.set_train(False)
    return net, tr.torch_copy(net)


def test_apgd_ce_fools_an_undefended_lenet_at_0_3(lenet_torch, test_slice):
    """Measured: 100% of the correctly classified points with 20 steps (98% after 4 epochs of
    training); 0.90 is the bound."""
    net, model = lenet_torch
    x, y = test_slice[0][:128], test_slice[1][:128]
    correct = tr.torch_logits(model, x).argmax(axis=1) == y
    assert correct.mean() > 0.7
    out = tr.reference(model, x, y, 0.3, "apgd-ce", steps=20)
    adv = out["adv"]
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert np.abs(adv - x).reshape(len(x), -1).max(axis=1).max() <= 0.3 + 1e-6
    fooled = out["fooled"]
    assert fooled.dtype == np.bool_ and fooled.shape == (128,)
    assert fooled[~correct].all()               # misclassified to begin with
    rate = fooled[correct].mean()
    assert rate >= 0.90, rate
    # the verdicts are the torch model's, and the MindSpore network mostly agrees
    np.testing.assert_array_equal(fooled, tr.torch_logits(model, adv).argmax(axis=1) != y)
    same = (predict_logits(net, adv).argmax(axis=1) == out["pred"]).mean()
    assert same >= 0.98, same
    again = tr.reference(model, x, y, 0.3, "apgd-ce", steps=20)
    np.testing.assert_array_equal(again["adv"], adv)      # the seed repeats it


def test_the_cascade_is_torchattacks_autoattack_stage_by_stage(lenet_torch, test_slice):
    """At eps 0.1 every stage has survivors to attack; with torchattacks' own steps=10 (and
    Square cut to 500 queries on both sides) the cascade gives AutoAttack's verdicts and
    adversarials exactly."""
    _, model = lenet_torch
    x, y = test_slice[0][:48], test_slice[1][:48]
    cascade = tr.reference_cascade(model, x, y, 0.1, steps=10, n_queries=500)
    masks = [cascade["fooled"][stage] for stage in cascade["stages"]]
    assert cascade["stages"] == ("clean", "apgd-ce", "apgd-t", "fab-t", "square")
    for before, after in zip(masks, masks[1:]):
        assert (after >= before).all()          # cumulative
    assert masks[0].sum() < masks[1].sum() < len(x)
    whole = tr.reference(model, x, y, 0.1, "autoattack", n_queries=500)
    np.testing.assert_array_equal(whole["fooled"], masks[-1])
    assert cascade["robust_accuracy"] == pytest.approx(1.0 - whole["fooled"].mean())
    np.testing.assert_array_equal(whole["adv"], cascade["adv"])
