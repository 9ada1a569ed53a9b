"""AttackEvaluate / DefenseEvaluate: same values as MindArmour, vectorized, clear errors."""
import numpy as np
import pytest

from mindspore import nn

from mindarmour.adv_robustness import evaluations as ma_eval
from mindarmour.utils.util import calculate_lp_distance, compute_ssim

from mindsec.attacks import FastGradientSignMethod
from mindsec.batching import predict_proba
from mindsec.errors import InputError
from mindsec.evaluations import AttackEvaluate, DefenseEvaluate, lp_distances, ssim


@pytest.fixture(scope="module")
def fgsm_case(trained_lenet, test_slice):
    """Real digits, their FGSM eps=0.3 examples and the model's probabilities."""
    x, y = test_slice
    adv = FastGradientSignMethod(trained_lenet, eps=0.3,
                                 loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True)) \
        .batch_generate(x, y)
    return (x, y, adv, predict_proba(trained_lenet, adv),
            predict_proba(trained_lenet, x))


def _all_metrics(evaluator):
    return [evaluator.mis_classification_rate(), evaluator.avg_conf_adv_class(),
            evaluator.avg_conf_true_class(), *evaluator.avg_lp_distance(),
            evaluator.avg_ssim(), evaluator.nte()]


def test_attack_metrics_equal_mindarmour(fgsm_case):
    x, y, adv, adv_probs, _ = fgsm_case
    onehot = np.eye(10, dtype=np.float32)[y]
    ours = _all_metrics(AttackEvaluate(x, onehot, adv, adv_probs))
    ref = _all_metrics(ma_eval.AttackEvaluate(x, onehot, adv, adv_probs))
    np.testing.assert_allclose(ours, ref, rtol=2e-6)
    assert 0.5 < ours[0] <= 1.0          # the attack did something on real digits
    # class-index labels give the same numbers
    np.testing.assert_allclose(_all_metrics(AttackEvaluate(x, y, adv, adv_probs)), ours)


def test_targeted_attack_metrics_equal_mindarmour(fgsm_case):
    x, y, adv, adv_probs, _ = fgsm_case
    onehot = np.eye(10, dtype=np.float32)[y]
    target = adv_probs.argmax(1)
    target[::3] = (target[::3] + 1) % 10       # some successes, some failures
    ours = AttackEvaluate(x, onehot, adv, adv_probs, targeted=True, target_label=target)
    ref = ma_eval.AttackEvaluate(x, onehot, adv, adv_probs, targeted=True,
                                 target_label=target)
    np.testing.assert_allclose(_all_metrics(ours), _all_metrics(ref), rtol=2e-6)


def test_defense_metrics_equal_mindarmour(fgsm_case):
    _, y, _, adv_probs, clean_probs = fgsm_case
    ours = DefenseEvaluate(adv_probs, clean_probs, y)
    ref = ma_eval.DefenseEvaluate(adv_probs, clean_probs, y)
    names = ["cav", "crr", "csr", "ccv", "cos"]
    np.testing.assert_allclose([getattr(ours, n)() for n in names],
                               [getattr(ref, n)() for n in names], rtol=1e-5)
    assert ours.cav() > 0.3


def test_vectorized_distances_and_ssim_equal_the_per_image_reference(fgsm_case):
    x, _, adv, _, _ = fgsm_case
    l0, l2, linf = lp_distances(x[:200], adv[:200])
    ref = np.array([calculate_lp_distance(x[i], adv[i]) for i in range(200)])
    np.testing.assert_allclose(np.stack([l0, l2, linf], 1), ref, rtol=1e-5)
    np.testing.assert_allclose(ssim(adv[:200], x[:200]),
                               [compute_ssim(adv[i], x[i]) for i in range(200)], atol=1e-6)
    rgb, noisy = x[:20].repeat(3, axis=1), np.clip(adv[:20].repeat(3, axis=1) * 0.9, 0, 1)
    np.testing.assert_allclose(ssim(rgb, noisy),
                               [compute_ssim(rgb[i], noisy[i]) for i in range(20)], atol=1e-6)
    assert np.allclose(ssim(x[:5], x[:5]), 1.0)
    # channels last, as MindArmour's tutorials pass them (transpose(0, 2, 3, 1))
    hwc, noisy_hwc = rgb.transpose(0, 2, 3, 1), noisy.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ssim(hwc, noisy_hwc),
                               [compute_ssim(hwc[i], noisy_hwc[i]) for i in range(20)],
                               atol=1e-6)
    np.testing.assert_allclose(ssim(adv[:50].transpose(0, 2, 3, 1), x[:50].transpose(0, 2, 3, 1)),
                               ssim(adv[:50], x[:50]), atol=1e-7)


def test_no_success_gives_mindarmours_sentinels(fgsm_case):
    x, y, _, _, clean_probs = fgsm_case
    right = clean_probs.argmax(1) == y
    ev = AttackEvaluate(x[right], y[right], x[right], clean_probs[right])
    assert ev.mis_classification_rate() == 0
    assert ev.avg_conf_adv_class() == 0 and ev.avg_conf_true_class() == 0
    assert ev.avg_lp_distance() == (-1, -1, -1) and ev.avg_ssim() == -1


def test_bad_evaluation_inputs(fgsm_case):
    x, y, adv, adv_probs, clean_probs = fgsm_case
    logits = np.log(adv_probs + 1e-9) * 3
    nan_adv = adv.copy()
    nan_adv[0, 0, 0, 0] = np.nan
    cases = [
        (lambda: AttackEvaluate(x, y[:-1], adv, adv_probs), "length mismatch"),
        (lambda: AttackEvaluate(x, y, adv[:, :, :16], adv_probs), "adv_inputs shape"),
        (lambda: AttackEvaluate(x, y, nan_adv, adv_probs), "adv_inputs contains NaN"),
        (lambda: AttackEvaluate(x, y, adv, logits), "adv_preds must be probabilities"),
        (lambda: AttackEvaluate(x, y, adv, adv_probs, targeted=True),
         "target_label is required"),
        (lambda: AttackEvaluate(x, y + 10, adv, adv_probs), r"must lie in \[0, 10\)"),
        (lambda: DefenseEvaluate(adv_probs, clean_probs[:-1], y), "length mismatch"),
        (lambda: DefenseEvaluate(adv_probs, clean_probs * 2, y), "def_preds must be probab"),
    ]
    for make, message in cases:
        with pytest.raises(InputError, match=message):
            make()


def test_attack_evaluate_reads_label_rows_by_argmax_as_mindarmour_does():
    """MindArmour's own AttackEvaluate unit test passes probability rows as labels (it
    takes their argmax): the same call works here, with a warning, and the same figures."""
    rng = np.random.default_rng(0)
    x = rng.random((3, 3, 16, 16)).astype(np.float32)
    adv = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    y = np.array([[0.1, 0.1, 0.2, 0.6], [0.1, 0.7, 0.0, 0.2], [0.8, 0.1, 0.0, 0.1]])
    adv_y = np.array([[0.1, 0.1, 0.2, 0.6], [0.1, 0.0, 0.8, 0.1], [0.0, 0.9, 0.1, 0.0]])
    with pytest.warns(UserWarning, match="2-D rows are not one-hot"):
        evaluation = AttackEvaluate(x, y, adv, adv_y)
    assert evaluation.mis_classification_rate() == pytest.approx(2 / 3)
    assert evaluation.avg_conf_adv_class() == pytest.approx(0.85)
    assert evaluation.avg_conf_true_class() == pytest.approx(0.0)
    reference = ma_eval.AttackEvaluate(x, y, adv, adv_y)
    for name in ("mis_classification_rate", "avg_conf_adv_class", "avg_conf_true_class"):
        assert getattr(evaluation, name)() == pytest.approx(getattr(reference, name)()), name
