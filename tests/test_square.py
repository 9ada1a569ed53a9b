"""SquareAttack (score-based, black box) on a briefly trained tiny network and real digits:
the contract (shape, dtype, bounds, ball, seeds, a ragged batch, the description), exact
query accounting through the PredictionAPI, that it breaks the undefended network, the
targeted mode, a rounding API, a spent query budget, and the argument checks."""
import numpy as np
import pytest

from mindsec.attacks import AttackKind, LabelSource
from mindsec.attacks.norms import L2, LINF
from mindsec.attacks.square import SquareAttack, meta_bump, p_selection
from mindsec.batching import predict_logits
from mindsec.errors import InputError
from mindsec.privacy import PredictionAPI

import golden

NORMS = {"linf": ("inf", 0.05), "l2": (2, 1.0)}      # small budgets: the search runs long


@pytest.fixture(scope="module")
def net_and_data():
    x, y = golden.digits()
    net = golden.trained_tiny()
    return net, x[2000:2048], y[2000:2048]        # the first 23: a ragged last batch of 7


def _small(net, norm, **kwargs):
    level, eps = NORMS[norm]
    kwargs.setdefault("n_queries", 40)
    kwargs.setdefault("seed", 3)
    return SquareAttack(net, eps=eps, norm_level=level, **kwargs)


@pytest.mark.parametrize("norm", NORMS)
def test_shape_dtype_bounds_and_ball(net_and_data, norm):
    net, x, y = net_and_data
    x, y = x[:23], y[:23]
    attack = _small(net, norm)
    adv = attack.batch_generate(x, y, batch_size=8)
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    dist = attack.norm.distance(adv, x)
    assert (dist > 0).all(), "a point was left where it was"
    assert dist.max() <= attack.eps * (1 + 1e-5) + 1e-6, dist.max()
    if norm == "linf":      # a vertex of the ball wherever the bounds allow
        gap = np.abs(adv - x)
        inside = (np.minimum(x, 1 - x) >= attack.eps)
        np.testing.assert_allclose(gap[inside], attack.eps, atol=1e-6)


@pytest.mark.parametrize("norm", NORMS)
def test_a_seed_repeats_and_a_ragged_batch_changes_nothing_else(net_and_data, norm):
    net, x, y = net_and_data
    x, y = x[:23], y[:23]
    first = _small(net, norm, seed=7).batch_generate(x, y, batch_size=8)
    again = _small(net, norm, seed=7).batch_generate(x, y, batch_size=8)
    np.testing.assert_array_equal(first, again)
    head = _small(net, norm, seed=7).batch_generate(x[:16], y[:16], batch_size=8)
    np.testing.assert_array_equal(first[:16], head)
    other = _small(net, norm, seed=8).batch_generate(x, y, batch_size=8)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("norm", NORMS)
def test_queries_are_counted_exactly(net_and_data, norm):
    net, x, y = net_and_data
    x, y = x[:23], y[:23]
    api = PredictionAPI(net)
    attack = _small(net, norm, n_queries=30, api=api)
    adv = attack.batch_generate(x, y, batch_size=8)
    used = attack.stats["point_queries"]
    assert api.queries == attack.stats["queries"] == used.sum() <= 30 * len(x)
    assert used.min() >= 1 and used.max() <= 30
    # points it did not fool used the whole budget; fooled ones stopped there
    fooled = predict_logits(net, adv).argmax(1) != y
    assert (used[~fooled] == 30).all() and fooled.sum() == attack.stats["fooled"]
    assert attack.stats["fooled"] < len(x) and attack.stats["budget_exhausted"] is False
    # a second call counts its own queries; the API keeps the total
    attack.batch_generate(x[:5], y[:5], batch_size=8)
    assert api.queries == used.sum() + attack.stats["queries"]
    # restarts run only on the points still standing, n_queries each
    again = _small(net, norm, n_queries=30, n_restarts=2)
    fooled = predict_logits(net, again.batch_generate(x, y, batch_size=8)).argmax(1) != y
    twice = again.stats["point_queries"]
    assert again.api.queries == twice.sum() and twice.max() <= 60
    assert (twice[~fooled] == 60).all() and (~fooled).any()


def test_it_breaks_the_undefended_network(net_and_data):
    """Linf eps 0.3, 1000 queries: measured 30 of the 30 correct points of 48 broken, in
    about 9 queries each on average; the bound leaves a wide margin."""
    net, x, y = net_and_data
    correct = predict_logits(net, x).argmax(1) == y
    attack = SquareAttack(net, eps=0.3, n_queries=1000, seed=0)
    adv = attack.batch_generate(x, y, batch_size=16)
    broken = correct & (predict_logits(net, adv).argmax(1) != y)
    assert correct.sum() >= 20
    assert broken.sum() >= 0.5 * correct.sum(), (broken.sum(), correct.sum())
    assert np.abs(adv - x).max() <= 0.3 + 1e-6
    assert attack.stats["queries"] <= 1000 * len(x)


def test_targeted_mode_moves_toward_the_targets(net_and_data):
    """300 queries on 23 points: measured 22 of 23 classified as the target (0 clean)."""
    net, x, y = net_and_data
    x, y = x[:23], y[:23]
    target = ((y + 1) % 10).astype(np.int32)
    attack = SquareAttack(net, eps=0.3, n_queries=300, is_targeted=True, seed=0)
    assert attack.targeted and attack.label_source is LabelSource.REQUIRED
    adv = attack.batch_generate(x, target, batch_size=8)
    before = (predict_logits(net, x).argmax(1) == target).sum()
    after = (predict_logits(net, adv).argmax(1) == target).sum()
    assert after >= before + len(x) // 2, (before, after)
    assert after == attack.stats["fooled"]
    ce = SquareAttack(net, eps=0.3, n_queries=300, is_targeted=True, loss="ce", seed=0)
    after_ce = (predict_logits(net, ce.batch_generate(x, target, 8)).argmax(1) == target).sum()
    assert after_ce >= before + len(x) // 2, (before, after_ce)
    with pytest.raises(InputError, match="targeted attack needs its target labels"):
        attack.batch_generate(x, None)


def test_a_rounding_api_still_runs_and_counts(net_and_data):
    net, x, y = net_and_data
    x, y = x[:23], y[:23]
    api = PredictionAPI(net, output="probabilities", decimals=2)
    attack = SquareAttack(net, eps=0.1, n_queries=40, seed=0, api=api)
    adv = attack.batch_generate(x, y, batch_size=8)
    assert api.queries == attack.stats["queries"] == attack.stats["point_queries"].sum()
    assert 0 < api.queries <= 40 * len(x)
    assert np.abs(adv - x).max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1


def test_a_spent_budget_returns_what_was_found(net_and_data):
    net, x, y = net_and_data
    x, y = x[:23], y[:23]
    api = PredictionAPI(net, budget=100)
    attack = SquareAttack(net, eps=0.05, n_queries=40, seed=0, api=api)
    adv = attack.batch_generate(x, y, batch_size=8)
    assert attack.stats["budget_exhausted"] is True
    assert api.queries == attack.stats["queries"] <= 100
    assert np.abs(adv - x).max() <= 0.05 + 1e-6
    never = attack.stats["point_queries"] == 0
    assert never[16:].all()                      # the last batch was never queried...
    np.testing.assert_array_equal(adv[never], x[never])      # ...and is left as it was
    assert (np.abs(adv[:8] - x[:8]).max(axis=(1, 2, 3)) > 0).all()


def test_labels_none_attacks_the_predictions(net_and_data):
    net, x, _ = net_and_data
    x = x[:10]
    implied = predict_logits(net, x).argmax(1)
    np.testing.assert_array_equal(_small(net, "linf").batch_generate(x, None, 8),
                                  _small(net, "linf").batch_generate(x, implied, 8))


def test_the_public_description(net_and_data):
    net, _, _ = net_and_data
    attack = SquareAttack(net, seed=0)
    assert attack.kind is AttackKind.SCORE_BASED and attack.norm is LINF
    assert attack.label == "Square-5000" and attack.eps == 0.3
    assert attack.model is net and attack.bounds == (0.0, 1.0) and not attack.targeted
    assert attack.label_source is LabelSource.PREDICTED and not attack.sweepable
    assert isinstance(attack.api, PredictionAPI) and attack.api.serves(net)
    l2 = SquareAttack(net, eps=2.0, norm_level="l2", n_queries=1000)
    assert l2.label == "Square-1000-L2" and l2.norm is L2 and l2.eps == 2.0
    l2.name = "mine"
    assert l2.label == "mine"
    for name in ("api", "eps", "n_queries"):
        with pytest.raises(AttributeError):
            setattr(attack, name, None)


def test_the_schedule_and_the_bump():
    assert p_selection(0.8, 0, 5000) == 0.8 and p_selection(0.8, 5, 5000) == 0.8
    assert p_selection(0.8, 6, 5000) == 0.4              # k = int(6 / 5000 * 10000) = 11 > 10
    assert p_selection(0.8, 100, 1000) == 0.8 / 16       # k = 1000: 500 < k <= 1000
    assert p_selection(0.8, 101, 1000) == 0.8 / 32       # k = 1010
    assert p_selection(0.8, 4999, 5000) == 0.8 / 512
    bump = meta_bump(7)
    assert np.isclose((bump ** 2).sum(), 1.0)
    assert (bump[:3] > 0).all() and (bump[3:] < 0).all()
    np.testing.assert_allclose(bump[:3], bump[:3, ::-1])  # symmetric about the middle column


def test_bad_arguments_name_themselves(net_and_data):
    net, x, y = net_and_data
    other = golden.tiny(1)
    bad = [
        ({"eps": 0.0}, "eps"), ({"eps": 1.5}, "eps"), ({"eps": -1.0, "norm_level": 2}, "eps"),
        ({"eps": "big"}, "eps"),
        ({"norm_level": 1}, "norm_level"), ({"norm_level": "l3"}, "norm_level"),
        ({"n_queries": 0}, "n_queries"), ({"n_queries": 2.5}, "n_queries"),
        ({"p_init": 0.0}, "p_init"), ({"p_init": 1.5}, "p_init"),
        ({"n_restarts": 0}, "n_restarts"), ({"loss": "xent"}, "loss"),
        ({"loss": None}, "loss"), ({"seed": -1}, "seed"), ({"is_targeted": "yes"}, "is_targeted"),
        ({"bounds": (1.0, 0.0)}, "bounds"),
        ({"api": "http://model"}, "api"), ({"api": PredictionAPI(other)}, "api"),
        ({"api": PredictionAPI(net, output="label")}, "api"),
    ]
    for kwargs, name in bad:
        with pytest.raises(InputError, match=name) as info:
            SquareAttack(net, **kwargs)
        assert "\n" not in str(info.value), kwargs
    with pytest.raises(InputError, match="images"):
        SquareAttack(net, n_queries=5).batch_generate(x[:4].reshape(4, -1), y[:4])
    with pytest.raises(InputError, match="network"):
        SquareAttack(np.zeros(3))
