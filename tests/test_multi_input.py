"""MindArmour's multi-input form: a network that is its own loss, ``inputs`` a tuple whose
first array is perturbed and whose others go to the network beside it, ``labels`` an array
or a tuple of arrays. Checked against mindarmour 2.0.0 on real digits and the trained
LeNet5 (the second input offsets the logits, the second label weights the loss), and the
one-line errors where the form does not apply."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn, ops

from mindsec.attacks import (BasicIterativeMethod, DeepFool, FastGradientSignMethod,
                             MomentumIterativeMethod, ProjectedGradientDescent)
from mindsec.batching import predict_logits
from mindsec.errors import InputError

mindarmour = pytest.importorskip("mindarmour")
from mindarmour.adv_robustness import attacks as ma  # noqa: E402


class TwoInputLoss(nn.Cell):
    """loss(x, bias, y[, weight]): LeNet5's logits on ``x`` plus a per-sample logit offset
    ``bias`` (N, 10), cross-entropy summed over the samples (weighted by ``weight`` when
    given)."""

    def __init__(self, net, weighted=False):
        super().__init__()
        self.net = net
        self.weighted = weighted
        self.ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="none")

    def construct(self, x, bias, y, weight=None):
        loss = self.ce(self.net(x) + bias, y)
        if self.weighted:
            loss = loss * weight
        return loss.sum()


class InputGradient(nn.Cell):
    """What MindArmour's attacks call with ``loss_fn=None``: its code (not its docstring)
    uses the network as the function that returns the input gradient; mindsec takes the
    loss network and differentiates it itself."""

    def __init__(self, loss):
        super().__init__()
        self.grad = ops.grad(loss, grad_position=0)

    def construct(self, *args):
        return self.grad(*args)


@pytest.fixture(scope="module")
def batch(trained_lenet, test_slice):
    x, y = test_slice
    x, y = x[:96], y[:96].astype(np.int32)
    bias = np.random.default_rng(0).normal(0.0, 3.0, (len(x), 10)).astype(np.float32)
    return x, bias, y


CASES = [
    (FastGradientSignMethod, ma.FastGradientSignMethod, dict(eps=0.2, bounds=(0.0, 1.0))),
    (BasicIterativeMethod, ma.BasicIterativeMethod, dict(eps=0.2, eps_iter=0.05, nb_iter=4)),
    (ProjectedGradientDescent, ma.ProjectedGradientDescent,
     dict(eps=0.2, eps_iter=0.05, nb_iter=4)),
    (MomentumIterativeMethod, ma.MomentumIterativeMethod, dict(eps=0.2, eps_iter=0.05,
                                                                nb_iter=4)),
]


@pytest.mark.parametrize("ours, theirs, kwargs", CASES, ids=[c[0].__name__ for c in CASES])
def test_tuple_inputs_match_mindarmour(trained_lenet, batch, ours, theirs, kwargs):
    x, bias, y = batch
    loss = TwoInputLoss(trained_lenet)
    extra = {"rand_init": False} if ours is ProjectedGradientDescent else {}
    adv = ours(loss, **kwargs, **extra).batch_generate((x, bias), y, batch_size=32)
    ref = theirs(InputGradient(loss), **kwargs).batch_generate((x, bias), y, batch_size=32)
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert np.mean(np.abs(adv - ref) <= 1e-5) >= 0.999
    fooled = (predict_logits(trained_lenet, adv) + bias).argmax(1) != y
    assert fooled.mean() > 0.3
    # the second input reached the network: without it the examples differ
    plain = ours(loss, **kwargs, **extra).batch_generate((x, np.zeros_like(bias)), y,
                                                        batch_size=32)
    assert np.mean(plain != adv) > 0.05


def test_tuple_labels_reach_the_loss(trained_lenet, batch):
    """labels=(y, weight): a zero weight removes a sample's loss, so FGSM leaves it alone
    (sign(0) = 0), as MindArmour does."""
    x, bias, y = batch
    weight = (np.arange(len(x)) % 2).astype(np.float32)
    loss = TwoInputLoss(trained_lenet, weighted=True)
    adv = FastGradientSignMethod(loss, eps=0.2, bounds=(0.0, 1.0)).generate((x, bias),
                                                                           (y, weight))
    ref = ma.FastGradientSignMethod(InputGradient(loss), eps=0.2, bounds=(0.0, 1.0)).generate(
        (x, bias), (y, weight))
    np.testing.assert_allclose(adv, ref, atol=1e-6)
    np.testing.assert_array_equal(adv[weight == 0], x[weight == 0])
    assert np.abs(adv[weight == 1] - x[weight == 1]).max() == pytest.approx(0.2)


def test_tuple_errors_are_one_line(trained_lenet, batch):
    x, bias, y = batch
    loss = TwoInputLoss(trained_lenet)
    fgsm = FastGradientSignMethod(loss, eps=0.2)
    with pytest.raises(InputError, match=r"inputs\[1\] must have 96 rows"):
        fgsm.generate((x, bias[:10]), y)
    with pytest.raises(InputError, match=r"labels must have 96 rows"):
        fgsm.generate((x, bias), y[:5])
    with pytest.raises(InputError, match=r"inputs\[0\] contains NaN"):
        bad = x.copy()
        bad[0, 0, 0, 0] = np.nan
        fgsm.generate((bad, bias), y)
    with pytest.raises(InputError, match="labels=None needs"):
        fgsm.generate((x, bias), None)
    with pytest.raises(InputError, match="tuple inputs need loss_fn=None"):
        FastGradientSignMethod(trained_lenet, eps=0.2, loss_fn=nn.SoftmaxCrossEntropyWithLogits(
            sparse=True)).generate((x, bias), y)
    with pytest.raises(InputError, match="DeepFool takes one inputs array"):
        DeepFool(trained_lenet, num_classes=10).generate((x, bias), y)
    # a plain tuple of int labels is still one label array, not a tuple of label arrays
    out = FastGradientSignMethod(ms.nn.WithLossCell(trained_lenet, nn.SoftmaxCrossEntropyWithLogits(
        sparse=True)), eps=0.1, stable_loss=False).generate(x[:3], tuple(int(v) for v in y[:3]))
    assert out.shape == x[:3].shape
