"""mindsec's AutoAttack against an independent implementation: torchattacks 3.5.1's APGD,
APGDT, FAB (multi-targeted) and Square, run attack by attack as AutoAttack's standard
cascade on the same network rebuilt in PyTorch with the same weights
(``tests/torch_reference.py``), on the same 500 real test digits.

The adversarially trained model is a LeNet5 given 5 epochs of fast adversarial training
(FGSM from a random start, eps 0.1) on the 4,000-image training slice: about 96% clean
and 75% under AutoAttack at eps 0.1, so every stage of the cascade has points to work on.
Square runs 1,000 queries here instead of 5,000 to keep the test near two minutes; the
5,000-query comparison is in docs/results.md (``bench/autoattack_parity.py``).
"""
import numpy as np
import pytest
import torch
import mindspore as ms
from mindspore import nn

from mindsec.batching import predict_logits
from mindsec.defenses import FastAdversarialDefense
from mindsec.evaluations import AutoAttack
from mindsec.models import LeNet5

import torch_reference as tr

torch.set_num_threads(2)
N, EPS = 500, 0.1
STAGES = ("clean", "apgd-ce", "apgd-t", "fab-t", "square")


@pytest.fixture(scope="module")
def robust_lenet(trained_lenet, train_slice):
    net = LeNet5()                    # a copy of the shared model, then adversarial training
    ms.load_param_into_net(net, {k: ms.Parameter(v.data.copy(), name=k)
                                 for k, v in trained_lenet.parameters_dict().items()})
    defense = FastAdversarialDefense(net, optimizer=nn.Adam(net.trainable_params(), 1e-3),
                                     eps=EPS, alpha=1.25 * EPS)
    defense.batch_defense(*train_slice, batch_size=64, epochs=5, shuffle=True)
    net.set_train(False)
    return net


def _cumulative(aa, net, x, broken_by):
    """Per stage, the points broken by then (as the reference reports them)."""
    labels = ["clean error"] + [a.label for a in aa.cascade(net, x)]
    masks, so_far = [], np.zeros(len(x), bool)
    for label in labels:
        so_far = so_far | (broken_by == label)
        masks.append(so_far.copy())
    return masks


def test_standard_autoattack_agrees_with_torchattacks(robust_lenet, test_slice):
    x, y = test_slice[0][:N], test_slice[1][:N]
    aa = AutoAttack(robust_lenet, "Linf", EPS, seed=0, n_queries=1000)
    adv = aa.batch_generate(x, y)
    assert np.abs(adv - x).max() <= EPS + 1e-6
    ours = _cumulative(aa, robust_lenet, x, aa.broken_by)
    ref = tr.reference_cascade(tr.torch_copy(robust_lenet), x, y, EPS, seed=0,
                               n_queries=1000)
    for stage, mine in zip(STAGES, ours):
        theirs = ref["fooled"][stage]
        gap = abs(mine.mean() - theirs.mean())
        agree = (mine == theirs).mean()
        assert gap <= 0.005 + 1e-12, (stage, 1 - mine.mean(), 1 - theirs.mean())
        assert agree >= 0.98, (stage, agree)
    robust = 1 - ours[-1].mean()
    assert 0.5 < robust < 0.95, robust          # the stages had points to work on


def test_both_break_every_point_of_the_undefended_lenet5(trained_lenet, test_slice):
    x, y = test_slice[0][:N], test_slice[1][:N]
    aa = AutoAttack(trained_lenet, "Linf", 0.3, seed=0)
    adv = aa.batch_generate(x, y)
    assert (predict_logits(trained_lenet, adv).argmax(1) == y).mean() == 0.0
    ref = tr.reference(tr.torch_copy(trained_lenet), x, y, 0.3, "apgd-ce", seed=0)
    assert ref["fooled"].all()
