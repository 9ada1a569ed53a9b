"""Iterative attacks and DeepFool: MindArmour parity, budgets, strength, restarts, errors."""
import numpy as np
import pytest

from mindspore import nn

from mindarmour.adv_robustness import attacks as ma

from mindsec import attacks
from mindsec.batching import accuracy, predict_logits
from mindsec.errors import InputError

from conftest import rescaled

CE_ONEHOT = nn.SoftmaxCrossEntropyWithLogits(sparse=False)
CE_SPARSE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)


def onehot(y):
    return np.eye(10, dtype=np.float32)[y]


@pytest.fixture(scope="module")
def xy(test_slice):
    x, y = test_slice
    return x[:256], y[:256]


def _agree(a, b):
    """Fraction of pixels equal to within float32 rounding."""
    return float(np.mean(np.abs(a - b) <= 1e-5))


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name, kwargs", [
    ("BasicIterativeMethod", {}),
    ("ProjectedGradientDescent", {}),
    ("MomentumIterativeMethod", {"decay_factor": 1.0}),
])
def test_iterative_attacks_equal_mindarmour(trained_lenet, xy, name, kwargs):
    """With MindArmour's loss and start (stable_loss=False, no random start) the
    examples are MindArmour's: every step agrees on >= 99.9% of pixels (a sign can
    differ where a gradient component is ~0 in float32, and then propagate)."""
    x, y = xy
    common = dict(eps=0.3, eps_iter=0.05, nb_iter=6, **kwargs)
    ref = getattr(ma, name)(trained_lenet, loss_fn=CE_ONEHOT, **common)
    extra = {"rand_init": False} if name == "ProjectedGradientDescent" else {}
    ours = getattr(attacks, name)(trained_lenet, loss_fn=CE_ONEHOT, stable_loss=False,
                                  **common, **extra)
    expected = ref.generate(x, onehot(y))
    got = ours.generate(x, onehot(y))
    assert _agree(got, expected) >= 0.999
    assert abs(accuracy(trained_lenet, got, y) - accuracy(trained_lenet, expected, y)) <= 0.01


# ----------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-1.0, 1.0)])
def test_budgets_and_bounds(trained_lenet, xy, bounds):
    x, y = xy
    lo, hi = bounds
    xs = lo + (hi - lo) * x
    net = trained_lenet
    if bounds != (0.0, 1.0):
        net = rescaled(trained_lenet, lo, hi)
    scale = hi - lo
    for attack in (attacks.BasicIterativeMethod(net, eps=0.2, eps_iter=0.05, bounds=bounds,
                                                loss_fn=CE_SPARSE),
                   attacks.ProjectedGradientDescent(net, eps=0.2, eps_iter=0.05, bounds=bounds,
                                                    loss_fn=CE_SPARSE, seed=1),
                   attacks.MomentumIterativeMethod(net, eps=0.2, eps_iter=0.05,
                                                   bounds=bounds, loss_fn=CE_SPARSE)):
        adv = attack.batch_generate(xs, y, batch_size=100)
        assert np.abs(adv - xs).max() <= 0.2 * scale + 1e-5
        assert adv.min() >= lo and adv.max() <= hi
    l2 = attacks.ProjectedGradientDescent(net, eps=1.5, eps_iter=0.3, nb_iter=10,
                                          norm_level=2, bounds=bounds, loss_fn=CE_SPARSE,
                                          seed=1)
    adv = l2.batch_generate(xs, y)
    assert np.linalg.norm((adv - xs).reshape(len(xs), -1), axis=1).max() <= 1.5 * scale + 1e-4
    assert adv.min() >= lo and adv.max() <= hi
    l1 = attacks.ProjectedGradientDescent(net, eps=12.0, eps_iter=4.0, nb_iter=10,
                                          norm_level=1, bounds=bounds, loss_fn=CE_SPARSE,
                                          seed=1)
    adv = l1.batch_generate(xs, y)
    dist = np.abs((adv - xs).reshape(len(xs), -1)).sum(axis=1)
    assert dist.max() <= 12.0 * scale * (1 + 1e-5) and dist.mean() > 6.0 * scale
    assert adv.min() >= lo and adv.max() <= hi
    assert l1.norm.name == "l1" and l1.label == "PGD-10-L1"


def test_pgd_is_stronger_than_fgsm_and_breaks_an_undefended_model(trained_lenet, xy):
    x, y = xy
    fgsm = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE)
    pgd = attacks.ProjectedGradientDescent(trained_lenet, eps=0.1, eps_iter=0.01, nb_iter=20,
                                           loss_fn=CE_SPARSE, seed=0)
    kept_fgsm = predict_logits(trained_lenet, fgsm.batch_generate(x, y)).argmax(1) == y
    kept_pgd = predict_logits(trained_lenet, pgd.batch_generate(x, y)).argmax(1) == y
    # paired on the same images (McNemar): PGD breaks significantly more of the ones
    # FGSM leaves standing than the other way round (3 standard errors; PGD is not a
    # superset of FGSM, a different path can miss a point FGSM's single step hits)
    only_pgd = int(np.sum(kept_fgsm & ~kept_pgd))
    only_fgsm = int(np.sum(kept_pgd & ~kept_fgsm))
    assert only_pgd - only_fgsm > 3 * np.sqrt(only_pgd + only_fgsm), (only_pgd, only_fgsm)
    strong = attacks.ProjectedGradientDescent(trained_lenet, eps=0.3, eps_iter=0.01,
                                              nb_iter=40, loss_fn=CE_SPARSE, seed=0)
    assert accuracy(trained_lenet, strong.batch_generate(x, y), y) <= 0.01


def test_restarts_only_help_and_repeat_with_a_seed(trained_lenet, xy):
    x, y = xy
    kw = dict(eps=0.08, eps_iter=0.01, nb_iter=10, loss_fn=CE_SPARSE)
    one = attacks.ProjectedGradientDescent(trained_lenet, seed=3, **kw).batch_generate(x, y)
    three = attacks.ProjectedGradientDescent(trained_lenet, nb_restarts=3, seed=3, **kw)
    adv3 = three.batch_generate(x, y)
    # the first restart is the single run; later ones only replace inputs it failed on
    fooled1 = predict_logits(trained_lenet, one).argmax(1) != y
    fooled3 = predict_logits(trained_lenet, adv3).argmax(1) != y
    assert (fooled3 >= fooled1).all() and fooled3.sum() > fooled1.sum()
    np.testing.assert_array_equal(adv3[fooled1], one[fooled1])
    again = attacks.ProjectedGradientDescent(trained_lenet, nb_restarts=3, seed=3, **kw)
    np.testing.assert_array_equal(again.batch_generate(x, y), adv3)


def test_targeted_pgd_reaches_the_target(trained_lenet, xy):
    x, y = xy
    target = (y + 1) % 10
    pgd = attacks.ProjectedGradientDescent(trained_lenet, eps=0.3, eps_iter=0.02, nb_iter=30,
                                           is_targeted=True, loss_fn=CE_SPARSE, seed=0)
    adv = pgd.batch_generate(x, target)
    assert np.mean(predict_logits(trained_lenet, adv).argmax(1) == target) >= 0.8   # 0.88


def test_labels_none_attacks_the_predictions(trained_lenet, xy):
    x, y = xy
    pred = predict_logits(trained_lenet, x).argmax(1)
    kw = dict(eps=0.1, eps_iter=0.02, nb_iter=5, loss_fn=CE_SPARSE, rand_init=False)
    a = attacks.ProjectedGradientDescent(trained_lenet, **kw).batch_generate(x, None)
    b = attacks.ProjectedGradientDescent(trained_lenet, **kw).batch_generate(x, pred)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="untargeted"):
        attacks.ProjectedGradientDescent(trained_lenet, is_targeted=True,
                                         loss_fn=CE_SPARSE).generate(x, None)


def test_generate_at_equals_an_attack_built_with_that_eps(trained_lenet, xy):
    x, y = xy
    base = attacks.ProjectedGradientDescent(trained_lenet, eps=0.3, eps_iter=0.03, nb_iter=5,
                                            loss_fn=CE_SPARSE, rand_init=False)
    built = attacks.ProjectedGradientDescent(trained_lenet, eps=0.1, eps_iter=0.01, nb_iter=5,
                                             loss_fn=CE_SPARSE, rand_init=False)
    np.testing.assert_allclose(base.generate_at(x, y, 0.1), built.batch_generate(x, y),
                               atol=1e-6)
    fgsm = attacks.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_SPARSE)
    np.testing.assert_array_equal(
        fgsm.generate_at(x, y, 0.1),
        attacks.FastGradientSignMethod(trained_lenet, eps=0.1,
                                       loss_fn=CE_SPARSE).batch_generate(x, y))


def test_deepfool_flips_with_small_perturbations(trained_lenet, xy):
    x, y = xy
    right = predict_logits(trained_lenet, x).argmax(1) == y
    # medians measured: L2 ~1.5 (a 1024-pixel image; eps 0.1 in every pixel is 3.2),
    # Linf ~0.1 on the 12-epoch LeNet5 of either data set
    for norm, cap in ((2, 4.0), (np.inf, 0.3)):
        df = attacks.DeepFool(trained_lenet, 10, norm_level=norm, bounds=(0.0, 1.0))
        adv = df.batch_generate(x, y)
        fooled = predict_logits(trained_lenet, adv).argmax(1) != y
        assert fooled[right].mean() >= 0.95
        diff = (adv - x).reshape(len(x), -1)
        dist = np.abs(diff).max(1) if norm == np.inf else np.linalg.norm(diff, axis=1)
        assert np.median(dist[right]) < cap / 2
        assert adv.min() >= 0.0 and adv.max() <= 1.0


@pytest.mark.parametrize("cls, kwargs, message", [
    ("ProjectedGradientDescent", {"eps": 1.5}, "eps must be <= 1"),
    ("ProjectedGradientDescent", {"nb_iter": 0}, "nb_iter must be a positive integer"),
    ("ProjectedGradientDescent", {"norm_level": 3}, "norm_level must be 1, 2 or np.inf"),
    ("ProjectedGradientDescent", {"nb_restarts": 2, "rand_init": False}, "rand_init=True"),
    ("ProjectedGradientDescent", {"eps_iter": -0.1}, "eps_iter must be > 0"),
    ("MomentumIterativeMethod", {"decay_factor": float("nan")}, "decay_factor"),
    ("BasicIterativeMethod", {"bounds": (1.0, 0.0)}, "min < max"),
    ("BasicIterativeMethod", {"seed": -1}, "seed must be"),
])
def test_bad_arguments_give_one_line(trained_lenet, cls, kwargs, message):
    with pytest.raises(InputError, match=message) as info:
        getattr(attacks, cls)(trained_lenet, loss_fn=CE_SPARSE, **kwargs)
    assert "\n" not in str(info.value)


def test_deepfool_bad_arguments(trained_lenet):
    with pytest.raises(InputError, match="classification"):
        attacks.DeepFool(trained_lenet, 10, model_type="detection")
    with pytest.raises(InputError, match="num_classes"):
        attacks.DeepFool(trained_lenet, 1)
    with pytest.raises(InputError, match="norm_level"):
        attacks.DeepFool(trained_lenet, 10, norm_level=1)


def test_pynative_mode_gives_the_same_examples(trained_lenet, xy):
    import mindspore as ms     # pylint: disable=import-outside-toplevel
    x, y = xy
    runs = []
    for mode in (ms.GRAPH_MODE, ms.PYNATIVE_MODE):
        ms.set_context(mode=mode)
        try:
            pgd = attacks.ProjectedGradientDescent(trained_lenet, eps=0.2, eps_iter=0.02,
                                                   nb_iter=8, nb_restarts=2, loss_fn=CE_SPARSE,
                                                   seed=5)
            runs.append(pgd.batch_generate(x, y, batch_size=100))
        finally:
            ms.set_context(mode=ms.GRAPH_MODE)
    assert _agree(runs[0], runs[1]) >= 0.999
