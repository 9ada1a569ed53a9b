"""MindArmour's black-box attacks (``mindsec.attacks.black``) on real MNIST digits and the
trained LeNet5: success rates and distances against mindarmour 2.0.0 (within stated
tolerances: both are random), per-point query counts within the budget and equal to what
the PredictionAPI counted, seeds, a MindArmour-style ``BlackModel`` subclass, and the one-line
argument errors.

These classes keep MindArmour's interface: they take a ``BlackModel`` (or a PredictionAPI or a
network) and ``generate`` returns ``(is_adv, adv, query_counts)``, so the array contract of
tests/test_contract.py (``batch_generate``, ``model is net``, an eps ball) does not apply to
them; its parts that do (shape, dtype, bounds, seeds, labels=None) are checked here."""
import numpy as np
import pytest

from mindsec.attacks import GeneticAttack, HopSkipJumpAttack, SaltAndPepperNoiseAttack
from mindsec.attacks.black import BlackModel, ServedModel
from mindsec.batching import predict_logits
from mindsec.errors import InputError
from mindsec.privacy import PredictionAPI

from conftest import black_model_class  # noqa: E402

mindarmour = pytest.importorskip("mindarmour")
from mindarmour.adv_robustness.attacks import (  # noqa: E402
    GeneticAttack as MAGenetic, HopSkipJumpAttack as MAHopSkipJump,
    SaltAndPepperNoiseAttack as MASaltAndPepper)


@pytest.fixture(scope="module")
def digits(trained_lenet, test_slice):
    x, y = test_slice
    keep = predict_logits(trained_lenet, x[:40]).argmax(1) == y[:40]   # correctly classified
    return x[:40][keep][:24], y[:40][keep][:24].astype(np.int64)


def _l2(adv, x, mask):
    return np.linalg.norm((adv - x).reshape(len(x), -1), axis=1)[mask].mean()


def _fooled(net, adv, y):
    return predict_logits(net, adv.astype(np.float32)).argmax(1) != y


def test_salt_and_pepper_matches_mindarmour(trained_lenet, digits):
    x, y = digits
    ours = SaltAndPepperNoiseAttack(trained_lenet, max_iter=2, seed=0)
    ok, adv, counts = ours.generate(x, y)
    ref_ok, ref_adv, ref_counts = MASaltAndPepper(
        black_model_class(trained_lenet, mindarmour.BlackModel)(), max_iter=2).generate(x, y)
    assert ok.dtype == bool and adv.dtype == np.float32 and counts.dtype == np.int64
    assert adv.shape == x.shape and adv.min() >= 0.0 and adv.max() <= 1.0
    np.testing.assert_array_equal(ok, _fooled(trained_lenet, adv, y))
    assert abs(ok.mean() - ref_ok.mean()) <= 0.15            # 24 digits: a few may differ
    assert _l2(adv, x, ok) == pytest.approx(_l2(ref_adv, x, ref_ok), rel=0.25)
    assert counts.max() <= 2 * 10 and set(np.unique(counts)) <= {10, 20}
    assert counts.mean() == pytest.approx(ref_counts.mean(), rel=0.3)
    assert ours.stats["queries"] == counts.sum()
    np.testing.assert_array_equal(adv[~ok], x[~ok])          # never fooled: unchanged


def test_genetic_matches_mindarmour(trained_lenet, digits):
    x, y = digits[0][:12], digits[1][:12]
    kw = dict(targeted=False, max_steps=25, per_bounds=0.2)
    ok, adv, counts = GeneticAttack(trained_lenet, seed=0, **kw).generate(x, y)
    ref_ok, _, ref_counts = MAGenetic(
        black_model_class(trained_lenet, mindarmour.BlackModel)(), **kw).generate(x, y)
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert np.abs(adv - x).max() <= 0.2 + 1e-6              # inside the per_bounds box
    np.testing.assert_array_equal(ok, _fooled(trained_lenet, adv, y))
    assert abs(ok.mean() - ref_ok.mean()) <= 0.25
    # 6 per generation, then at most one per pixel in the reduction
    assert np.all(counts[~ok] == 6 * 25) and counts.max() <= 6 * 25 + x[0].size
    assert counts.mean() == pytest.approx(ref_counts.mean(), rel=0.3)


@pytest.mark.parametrize("constraint", ["l2", "linf"])
def test_hop_skip_jump_matches_mindarmour(trained_lenet, digits, constraint):
    x = digits[0][:10]
    kw = dict(num_iterations=3, init_num_evals=30, max_num_evals=60, constraint=constraint)
    api = PredictionAPI(trained_lenet)
    attack = HopSkipJumpAttack(api, seed=0, **kw)
    ok, adv, counts = attack.generate(x, None)           # untargeted: its own predictions
    ref_ok, ref_adv, ref_counts = MAHopSkipJump(
        black_model_class(trained_lenet, mindarmour.BlackModel)(), **kw).generate(x, None)
    assert adv.shape == ref_adv.shape == (len(x), 1) + x.shape[1:]   # MindArmour's (N, 1, ...)
    adv, ref_adv = adv.reshape(x.shape), ref_adv.reshape(x.shape)
    assert adv.dtype == np.float32 and ok.all() and ref_ok.all()
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    own = predict_logits(trained_lenet, x).argmax(1)
    assert _fooled(trained_lenet, adv, own).mean() >= 0.9
    size = (lambda d: np.linalg.norm(d, axis=1)) if constraint == "l2" else \
        (lambda d: np.abs(d).max(axis=1))
    ours_d = np.median(size((adv - x).reshape(len(x), -1)))
    ref_d = np.median(size((ref_adv - x).reshape(len(x), -1)))
    assert ours_d == pytest.approx(ref_d, rel=0.3)
    assert counts.sum() == api.queries and attack.stats["queries"] == api.queries
    assert counts.mean() == pytest.approx(ref_counts.mean() + 1, rel=0.1)   # + the label


def test_hop_skip_jump_targeted_from_target_images(trained_lenet, digits):
    x, y = digits[0][:6], digits[1][:6]
    targets_x = np.roll(x, 1, axis=0)
    targets = np.roll(y, 1)
    attack = HopSkipJumpAttack(trained_lenet, num_iterations=2, init_num_evals=20,
                               max_num_evals=40, stepsize_search="grid_search", seed=0)
    attack.set_target_images(targets_x)
    ok, adv, _ = attack.generate(x, targets)
    adv = adv.reshape(x.shape)
    assert ok.all()
    np.testing.assert_array_equal(predict_logits(trained_lenet, adv).argmax(1), targets)
    assert np.all(np.linalg.norm((adv - x).reshape(6, -1), axis=1) <
                  np.linalg.norm((targets_x - x).reshape(6, -1), axis=1))


def test_queries_go_through_the_api_and_are_counted(trained_lenet, digits):
    x, y = digits
    api = PredictionAPI(trained_lenet)
    ok, _, counts = SaltAndPepperNoiseAttack(api, max_iter=1, seed=1).generate(x, y)
    assert api.queries == counts.sum() and api.calls == 10     # one call per step, all points
    _, _, counts = SaltAndPepperNoiseAttack(api, max_iter=1, seed=1).generate(x, None)
    assert counts.min() == 11                                  # + one for the label


def test_a_spent_budget_stops_the_attack(trained_lenet, digits):
    x, y = digits
    api = PredictionAPI(trained_lenet, budget=3 * len(x))
    attack = GeneticAttack(api, targeted=False, max_steps=50, seed=0)
    ok, adv, counts = attack.generate(x, y)
    assert attack.stats["budget_exhausted"] and api.queries <= 3 * len(x)
    assert counts.sum() == api.queries and adv.shape == x.shape


def test_a_seed_repeats_the_examples(trained_lenet, digits):
    x, y = digits[0][:8], digits[1][:8]
    for k, make in enumerate((lambda s: SaltAndPepperNoiseAttack(trained_lenet, max_iter=1, seed=s),
                 lambda s: GeneticAttack(trained_lenet, targeted=False, max_steps=3, seed=s),
                 lambda s: HopSkipJumpAttack(trained_lenet, num_iterations=1, init_num_evals=10,
                                             seed=s))):
        labels = y if k < 2 else None                   # HSJA's labels are targets
        first, again, other = (make(s).generate(x, labels)[1] for s in (4, 4, 5))
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, other)


def test_a_mindarmour_style_black_model_and_targets(trained_lenet, digits):
    x, y = digits[0][:8], digits[1][:8]
    model = black_model_class(trained_lenet, BlackModel)()
    assert model.is_adversarial(x[0], (y[0] + 1) % 10, False)
    target = (y + 1) % 10
    ok, adv, _ = GeneticAttack(model, targeted=True, max_steps=40, per_bounds=0.3,
                               seed=0).generate(x, target)
    predicted = predict_logits(trained_lenet, adv).argmax(1)
    np.testing.assert_array_equal(ok, predicted == target)
    # one-hot labels with sparse=False
    ok2, _, _ = SaltAndPepperNoiseAttack(model, max_iter=1, sparse=False,
                                         seed=0).generate(x, np.eye(10)[y])
    assert ok2.dtype == bool and ServedModel(trained_lenet).predict(x).shape == (8, 10)


def test_an_own_is_adversarial_rule_is_asked(trained_lenet, digits):
    x, y = digits[0][:4], digits[1][:4]
    asked = []

    class Strict(black_model_class(trained_lenet, BlackModel)):
        def is_adversarial(self, data, label, is_targeted):
            asked.append(label)
            return False                       # nothing counts as fooled

    ok, adv, counts = SaltAndPepperNoiseAttack(Strict(), max_iter=1, seed=0).generate(x, y)
    assert not ok.any() and len(asked) == 40 and np.all(counts == 10)
    np.testing.assert_array_equal(adv, x)


class _WrongShape(BlackModel):
    def predict(self, inputs):
        return np.zeros((len(inputs),))


@pytest.mark.parametrize("make, match", [
    (lambda n: SaltAndPepperNoiseAttack(n, max_iter=0), "max_iter must be a positive"),
    (lambda n: GeneticAttack(n, max_steps=0), "max_steps must be a positive"),
    (lambda n: SaltAndPepperNoiseAttack(n, bounds=(1.0, 0.0)), "min < max"),
    (lambda n: GeneticAttack(n, bounds=(1.0, 0.0)), "min < max"),
    (lambda n: GeneticAttack(n, model_type="detection"), "classification"),
    (lambda n: HopSkipJumpAttack(n, num_iterations=0), "num_iterations must be a positive"),
    (lambda n: HopSkipJumpAttack(n, clip_min=1.0, clip_max=0.0), "min < max"),
    (lambda n: HopSkipJumpAttack(n, constraint="l1"), "constraint must be"),
    (lambda n: SaltAndPepperNoiseAttack(object()), "model must be a BlackModel"),
    (lambda n: SaltAndPepperNoiseAttack(_WrongShape()).generate(
        np.zeros((2, 1, 32, 32), np.float32), np.zeros(2, np.int64)),
     r"predict must return scores of shape \(2, num_classes\)"),
    (lambda n: GeneticAttack(n, targeted=True).generate(
        np.zeros((2, 1, 32, 32), np.float32), None), "needs its target labels"),
])
def test_bad_input_is_one_line(trained_lenet, make, match):
    with pytest.raises(InputError, match=match) as info:
        make(trained_lenet)
    assert "\n" not in str(info.value)
