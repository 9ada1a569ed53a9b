"""mindsec.privacy: the prediction API, extraction, membership inference and inversion."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from mindsec.errors import InputError
from mindsec.models import LeNet5, SmallCNN
from mindsec.privacy import (C2GAttack, EquationSolvingExtraction, KnockoffExtraction, MIFace,
                             PredictionAPI, QueryBudgetExceeded, ShadowModelMembershipAttack,
                             ThresholdMembershipAttack, agreement, parameter_error)
from mindsec import data, train


def linear(d, k, seed):
    ms.set_seed(seed)
    return nn.Dense(d, k, weight_init="normal", bias_init="normal")


# ----------------------------------------------------------------------- the API
def test_api_counts_queries_and_enforces_its_budget(test_slice):
    x, _ = test_slice
    api = PredictionAPI(LeNet5(), budget=150)
    probs = api.query(x[:100])
    assert probs.shape == (100, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (api.queries, api.calls, api.remaining()) == (100, 1, 50)
    with pytest.raises(QueryBudgetExceeded, match="100 queries asked, 50 of 150 left"):
        api.query(x[100:200])
    assert api.queries == 100           # a refused request costs nothing


def test_api_defenses_change_what_it_answers(trained_lenet, test_slice):
    x, _ = test_slice
    full = PredictionAPI(trained_lenet).query(x[:50])
    top2 = PredictionAPI(trained_lenet, output="top_k", top_k=2).query(x[:50])
    labels = PredictionAPI(trained_lenet, output="label").query(x[:50])
    rounded = PredictionAPI(trained_lenet, decimals=2).query(x[:50])
    assert np.all((top2 > 0).sum(axis=1) <= 2)
    np.testing.assert_array_equal(top2.argmax(1), full.argmax(1))
    np.testing.assert_array_equal(labels, full.argmax(1))
    assert labels.dtype == np.int64 and labels.shape == (50,)
    np.testing.assert_array_equal(rounded, np.round(full, 2))
    assert not np.array_equal(rounded, full)


@pytest.mark.parametrize("bad, message", [
    (lambda x: x.astype(np.float64), "queries must be float32"),
    (lambda x: np.where(x > 0.5, np.nan, x).astype(np.float32), "NaN"),
    (lambda x: x[:, :, :28, :28], "do not fit the network"),
])
def test_api_rejects_bad_queries_in_one_line(test_slice, bad, message):
    api = PredictionAPI(LeNet5())
    with pytest.raises(InputError, match=message):
        api.query(bad(test_slice[0][:4]))
    assert api.queries == 0


def test_api_arguments_are_checked():
    with pytest.raises(InputError, match="output must be one of"):
        PredictionAPI(LeNet5(), output="logits")
    with pytest.raises(InputError, match="decimals must be"):
        PredictionAPI(LeNet5(), decimals=-1)
    with pytest.raises(InputError, match="white_box=True"):
        _ = PredictionAPI(LeNet5()).network


# ----------------------------------------------------------------------- equation solving
@pytest.mark.parametrize("classes, d", [(1, 20), (5, 30), (10, 64)])
def test_equation_solving_recovers_the_model_from_d_plus_1_queries(classes, d):
    net = linear(d, classes, seed=classes)
    api = PredictionAPI(net)
    extracted = EquationSolvingExtraction(api, (d,)).extract()
    assert api.queries == d + 1
    error = parameter_error(extracted, net.weight.asnumpy(), net.bias.asnumpy())
    assert error < 1e-4
    x = np.random.default_rng(0).standard_normal((200, d)).astype(np.float32)
    np.testing.assert_array_equal(extracted.logits(x).argmax(1) if classes > 1 else
                                  extracted.logits(x)[:, 0] > 0,
                                  net(ms.Tensor(x)).asnumpy().argmax(1) if classes > 1 else
                                  net(ms.Tensor(x)).asnumpy()[:, 0] > 0)


def test_equation_solving_random_design_and_rounding():
    net = linear(30, 5, seed=3)
    weights, bias = net.weight.asnumpy(), net.bias.asnumpy()
    exact = EquationSolvingExtraction(PredictionAPI(net), (30,), design="random",
                                      scale=0.1).extract(31)
    assert parameter_error(exact, weights, bias) < 1e-3
    errors = [parameter_error(EquationSolvingExtraction(PredictionAPI(net, decimals=dec),
                                                        (30,)).extract(), weights, bias)
              for dec in (4, 3, 2)]
    assert 1e-4 < errors[0] < errors[1] < errors[2]      # coarser answers, worse recovery


def test_equation_solving_needs_confidences():
    with pytest.raises(InputError, match="needs an API answering probabilities"):
        EquationSolvingExtraction(PredictionAPI(linear(5, 3, 0), output="label"), (5,))
    with pytest.raises(InputError, match="exactly d\\+1 = 6 queries"):
        EquationSolvingExtraction(PredictionAPI(linear(5, 3, 0)), (5,)).extract(10)


# ----------------------------------------------------------------------- knockoff
@pytest.fixture(scope="module")
def knockoff_victim(train_slice):
    """A LeNet5 trained on the first half of the training slice; the second half is the
    attacker's: images the victim never saw, as many as the data at hand allows (2,000 of
    the offline fallback's 4,000 training digits as of full MNIST's first 4,000)."""
    x, y = train_slice
    half = len(x) // 2
    ms.set_seed(0)
    victim = LeNet5()
    train.fit(victim, x[:half], y[:half], train.get_recipe("default", epochs=12), seed=0,
              log=lambda line: None)
    victim.set_train(False)
    return victim, x[half:]


@pytest.mark.parametrize("output", ["probabilities", "label"])
def test_knockoff_substitute_imitates_the_victim(knockoff_victim, test_slice, output):
    victim, pool = knockoff_victim
    api = PredictionAPI(victim, output=output, budget=len(pool))
    ms.set_seed(1)
    substitute = LeNet5()
    KnockoffExtraction(api, substitute, epochs=15).extract(pool, log=lambda s: None)
    assert api.queries == len(pool)
    fidelity = agreement(victim, substitute, test_slice[0])
    assert fidelity > 0.85, fidelity           # chance is ~0.1


def test_privacy_attacks_refuse_empty_and_too_small_inputs(trained_lenet, test_slice):
    x, y = test_slice
    api = PredictionAPI(trained_lenet)
    with pytest.raises(InputError, match=r"^queries must hold at least one input, got shape "
                                         r"\(0, 1, 32, 32\)$"):
        api.query(x[:0])
    with pytest.raises(InputError, match=r"^inputs \(the attacker's images\) must hold at "
                                         r"least 128 images .*got 0$"):
        KnockoffExtraction(api, LeNet5()).extract(x[:0])
    with pytest.raises(InputError, match="must hold at least 128 images .*got 100$"):
        KnockoffExtraction(api, LeNet5()).extract(x[:100])
    recipe = train.Recipe("overfit", "adam", lr=2e-3, batch_size=50, epochs=1)
    with pytest.raises(InputError, match=r"^inputs \(the shadow models' data\) must hold at "
                                         r"least 100 records .*got 60$"):
        ShadowModelMembershipAttack(api, LeNet5, recipe).fit(x[:60], y[:60])
    threshold = ThresholdMembershipAttack(api)
    with pytest.raises(InputError, match="^nonmembers must hold at least 1 records, got 0$"):
        threshold.evaluate((x[:10], y[:10]), (x[:0], y[:0]))
    with pytest.raises(InputError, match="^members: 10 inputs but 9 labels$"):
        threshold.evaluate((x[:10], y[:9]), (x[10:20], y[10:20]))
    with pytest.raises(InputError, match="^aux_images must hold at least 1 images, got 0$"):
        C2GAttack(PredictionAPI(trained_lenet, white_box=True)).fit(x[:0], steps=1)
    assert api.queries == 0                   # nothing was answered for a refused call


# ----------------------------------------------------------------------- membership
def auc_floor(members, nonmembers, sigmas=3.0):
    """An AUC this far above 0.5 is ``sigmas`` standard errors above what a score that
    knows nothing reaches (the Mann-Whitney null: var = (m + n + 1) / (12 m n))."""
    return 0.5 + sigmas * np.sqrt((members + nonmembers + 1) / (12.0 * members * nonmembers))


def test_membership_attacks_detect_an_overfit_model(train_slice, test_slice):
    # 200 members: a generalisation gap wide enough to leak on full MNIST and on the
    # offline 5k digits alike (at 500 the fallback's gap, 0 vs 10% error, leaves 0.54)
    n = 200
    x, y = train_slice
    members, nonmembers = (x[:n], y[:n]), (test_slice[0][:n], test_slice[1][:n])
    ms.set_seed(0)
    victim = LeNet5()
    recipe = train.Recipe("overfit", "adam", lr=2e-3, batch_size=50, epochs=40)
    train.fit(victim, *members, recipe, log=lambda s: None)
    api = PredictionAPI(victim)
    floor = auc_floor(n, n)                   # 0.587 at 200 / 200
    threshold = ThresholdMembershipAttack(api).evaluate(members, nonmembers)
    assert threshold["auc"] > floor, threshold
    assert threshold["advantage"] > 0.2, threshold
    shadow = ShadowModelMembershipAttack(api, LeNet5, recipe)
    # the attacker's own data, disjoint from the victim's; each shadow trains on n of it
    shadow.fit(x[1000:1000 + 2 * n], y[1000:1000 + 2 * n], log=lambda s: None)
    result = shadow.evaluate(members, nonmembers)
    assert result["auc"] > floor, result
    assert api.queries == 4 * n


# ----------------------------------------------------------------------- inversion
def test_miface_white_box_and_through_queries(trained_lenet, train_slice):
    prior = train_slice[0].mean(axis=0)
    api = PredictionAPI(trained_lenet, white_box=True)
    images = MIFace(api, (1, 32, 32), steps=120, prior=prior).invert(np.arange(10))
    assert images.shape == (10, 1, 32, 32) and images.min() >= 0 and images.max() <= 1
    hits = trained_lenet(ms.Tensor(images)).asnumpy().argmax(1)
    assert np.mean(hits == np.arange(10)) >= 0.9
    assert api.queries == 0                   # gradients, no API answers
    black = PredictionAPI(trained_lenet)
    images = MIFace(black, (1, 32, 32), mode="queries", steps=30, samples=10,
                    prior=prior).invert(np.arange(10))
    assert black.queries == 30 * 2 * 10 * 10  # every answer counted
    hits = trained_lenet(ms.Tensor(images)).asnumpy().argmax(1)
    assert np.mean(hits == np.arange(10)) >= 0.5        # chance: 0.1
    with pytest.raises(InputError, match="white-box"):
        MIFace(black, (1, 32, 32))


def test_c2g_generator_follows_the_class_condition(trained_lenet, train_slice):
    api = PredictionAPI(trained_lenet, white_box=True)
    attack = C2GAttack(api, width=32, seed=0)
    history = attack.fit(train_slice[0][2000:], steps=300, log=None)
    assert api.queries == 2000 and history[-1]["step"] == 300
    classes = np.repeat(np.arange(10), 20)
    samples = attack.generate(classes)
    assert samples.shape == (200, 1, 32, 32)
    hits = trained_lenet(ms.Tensor(samples)).asnumpy().argmax(1) == classes
    assert hits.mean() > 0.5, hits.mean()                # chance: 0.1
    with pytest.raises(InputError, match="white_box=True"):
        C2GAttack(PredictionAPI(SmallCNN()))
