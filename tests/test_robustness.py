"""Robustness curves, the cascade runner, and a test that provokes each sanity flag."""
import json

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn, ops

from mindsec import attacks
from mindsec.batching import predict_logits
from mindsec.errors import InputError
from mindsec.evaluations import FLAGS, evaluate_robustness, robustness_curve

CE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)


@pytest.fixture(scope="module")
def xy(test_slice):
    x, y = test_slice
    return x[:200], y[:200]


class GradientMasked(nn.Cell):
    """The same decisions as ``inner``, with no input gradient (a masking 'defense')."""

    def __init__(self, inner):
        super().__init__(auto_prefix=False)    # leave the shared net's names alone
        self.inner = inner

    def construct(self, x):
        return self.inner(ops.stop_gradient(x))


class Overconfident(nn.Cell):
    """``inner``'s logits times 40: float32 softmax saturates on most inputs."""

    def __init__(self, inner):
        super().__init__(auto_prefix=False)
        self.inner = inner

    def construct(self, x):
        return self.inner(x) * 40.0


class Bump(nn.Cell):
    """Two classes from the mean pixel ``s``: class 1 when 0.2 < s < 0.6, else class 0.
    An input of mean 0.1 is pushed up by FGSM: broken at eps 0.15-0.45, correct again
    beyond — accuracy that rises with eps."""

    def construct(self, x):
        s = x.reshape(x.shape[0], -1).mean(axis=1)
        d = 1.0 - ((s - 0.4) / 0.2) ** 2
        return ops.stack([ops.zeros_like(d), 5.0 * d], axis=1)


def pgd(net, **kw):
    args = dict(eps=0.3, eps_iter=0.02, nb_iter=20, loss_fn=CE, seed=0)
    args.update(kw)
    return attacks.ProjectedGradientDescent(net, **args)


def flags_of(report):
    return {f["flag"] for f in report.flags}


# ----------------------------------------------------------------------------- curves
def test_single_step_curve_matches_one_attack_per_eps(trained_lenet, xy):
    x, y = xy
    eps = [0.0, 0.1, 0.2, 0.3]
    curve = robustness_curve(attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE), x, y,
                             eps)
    assert curve.success.shape == (4, len(x)) and curve.success.dtype == bool
    for k, e in enumerate(eps[1:], start=1):
        adv = attacks.FastGradientSignMethod(trained_lenet, eps=e, loss_fn=CE) \
            .batch_generate(x, y)
        np.testing.assert_array_equal(curve.success[k],
                                      predict_logits(trained_lenet, adv).argmax(1) != y)
    clean_wrong = predict_logits(trained_lenet, x).argmax(1) != y
    np.testing.assert_array_equal(curve.success[0], clean_wrong)


def test_iterative_curve_falls_with_eps(trained_lenet, xy):
    x, y = xy
    curve = robustness_curve(pgd(trained_lenet), x, y, [0.0, 0.05, 0.1, 0.2, 0.3])
    acc = curve.accuracy
    assert acc[0] > 0.9 and acc[-1] <= 0.01
    assert np.all(np.diff(acc) <= 0.01)


# ----------------------------------------------------------------------------- runner
def test_cascade_on_a_healthy_model(trained_lenet, xy):
    x, y = xy
    eps = [0.05, 0.1, 0.2]
    cascade = [attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE),   # reordered
               pgd(trained_lenet, nb_restarts=2),
               attacks.DeepFool(trained_lenet, 10, norm_level=np.inf, bounds=(0.0, 1.0))]
    report = evaluate_robustness(trained_lenet, (x, y), eps, cascade, collapse_samples=100)
    assert [a["kind"] for a in report.attacks] == ["iterative", "minimal", "single-step"]
    n_correct = int(round(report.clean_accuracy * report.n))
    first = report.attacks[0]
    assert first["attacked"] == [n_correct] * len(eps)
    for k in range(len(eps)):
        # each attack only sees what the previous left standing
        for prev, nxt in zip(report.attacks, report.attacks[1:]):
            assert nxt["attacked"][k] == prev["attacked"][k] - prev["broken"][k]
        standing = report.attacks[-1]["attacked"][k] - report.attacks[-1]["broken"][k]
        assert report.robust_accuracy[k] == standing / report.n
        low, high = report.robust_ci[k]
        assert low <= report.robust_accuracy[k] <= high
    # the worst case is no better than any single attack
    alone = robustness_curve(pgd(trained_lenet), x, y, eps).accuracy
    assert np.all(np.array(report.robust_accuracy) <= alone + 1e-9)
    assert 0.0 < report.median_distance < 0.3
    assert report.collapse["accuracy"] <= 0.1
    # accuracy under each attack alone: PGD first, FGSM and DeepFool over every input
    assert set(report.standalone) == {"PGD-20x2", "DeepFool", "FGSM"}
    fgsm_alone = robustness_curve(attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE),
                                  x, y, eps).accuracy
    np.testing.assert_allclose(report.standalone["FGSM"], fgsm_alone)
    assert np.all(np.array(report.robust_accuracy) <= np.array(report.standalone["PGD-20x2"]))
    assert not flags_of(report) & {"zero_gradients", "no_collapse", "accuracy_rises_with_eps",
                                   "iterative_weaker_than_single_step",
                                   "transfer_beats_white_box"}
    json.dumps(report.to_dict())
    text = report.format()
    assert "robust acc" in text and "PGD-20x2" in text


def test_flags_gradient_masking(trained_lenet, xy):
    """No input gradient: white-box PGD cannot move, a transfer attack from the unmasked
    twin breaks it, accuracy does not collapse at eps 0.5."""
    x, y = xy
    masked = GradientMasked(trained_lenet)
    cascade = [pgd(masked, rand_init=False),
               attacks.TransferAttack(attacks.FastGradientSignMethod(trained_lenet, eps=0.3,
                                                                     loss_fn=CE))]
    report = evaluate_robustness(masked, (x, y), [0.3], cascade, collapse_samples=100)
    assert {"zero_gradients", "no_collapse", "transfer_beats_white_box"} <= flags_of(report)
    assert report.zero_gradient_fraction == 1.0
    assert report.attacks[0]["broken"] == [0]


def test_flags_iterative_attack_weaker_than_fgsm(trained_lenet, xy):
    x, y = xy
    feeble = pgd(trained_lenet, eps_iter=0.0005, nb_iter=2, rand_init=False)
    report = evaluate_robustness(trained_lenet, (x, y), [0.1, 0.3],
                                 [feeble, attacks.FastGradientSignMethod(trained_lenet,
                                                                         loss_fn=CE)],
                                 collapse_eps=None)
    assert "iterative_weaker_than_single_step" in flags_of(report)


def test_flags_saturated_softmax(trained_lenet, xy):
    x, y = xy
    confident = Overconfident(trained_lenet)
    report = evaluate_robustness(confident, (x, y), [0.3],
                                 [attacks.FastGradientSignMethod(confident, loss_fn=CE)],
                                 collapse_eps=None)
    assert "saturated_softmax" in flags_of(report)
    assert report.saturated_fraction > 0.3


def test_flags_accuracy_rising_with_eps():
    x = np.full((20, 1, 4, 4), 0.1, np.float32)
    y = np.zeros(20, np.int32)
    bump = Bump()
    report = evaluate_robustness(bump, (x, y), [0.05, 0.15, 0.35, 0.6],
                                 [attacks.FastGradientSignMethod(bump, loss_fn=CE)])
    assert report.robust_accuracy == [1.0, 0.0, 0.0, 1.0]
    assert "accuracy_rises_with_eps" in flags_of(report)


def test_every_flag_is_documented():
    assert set(FLAGS) == {"zero_gradients", "saturated_softmax", "no_collapse",
                          "iterative_weaker_than_single_step", "accuracy_rises_with_eps",
                          "transfer_beats_white_box", "score_based_beats_white_box",
                          "randomized_model", "probability_outputs", "training_mode"}


def test_runner_argument_errors(trained_lenet, xy):
    x, y = xy
    fgsm = attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE)
    with pytest.raises(InputError, match="non-empty list"):
        evaluate_robustness(trained_lenet, (x, y), [0.1], [])
    with pytest.raises(InputError, match="eps must be"):
        evaluate_robustness(trained_lenet, (x, y), [-0.1], [fgsm])
    with pytest.raises(InputError, match="untargeted"):
        evaluate_robustness(trained_lenet, (x, y), [0.1],
                            [pgd(trained_lenet, is_targeted=True)])
    with pytest.raises(InputError, match="mix norms"):
        evaluate_robustness(trained_lenet, (x, y), [0.1],
                            [fgsm, pgd(trained_lenet, norm_level=2, eps=1.0)])
    with pytest.raises(InputError, match="labels"):
        evaluate_robustness(trained_lenet, (x, y[:10]), [0.1], [fgsm])
    with pytest.raises(InputError, match="model is required"):
        robustness_curve(attacks.TransferAttack(fgsm), x, y, [0.1])
