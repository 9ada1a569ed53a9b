"""FGSM family: parity with MindArmour, the saturation fix, invariants, errors."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn, ops

from mindarmour.adv_robustness import attacks as ma

from mindsec import attacks, data
from mindsec.attacks.losses import saturated
from mindsec.batching import predict_logits, predict_proba
from mindsec.errors import InputError
from mindsec.models import LeNet5

from conftest import rescaled


def onehot(y):
    return np.eye(10, dtype=np.float32)[y]


@pytest.fixture(scope="module")
def xy(test_slice):
    x, y = test_slice
    return x[:600], y[:600]


@pytest.fixture(scope="module")
def confident_lenet(trained_lenet):
    """The trained LeNet5 with its logits scaled by 40: the same decisions, but float32
    softmax saturates (p_true == 1.0) on most inputs — a very confident model."""
    net = LeNet5()
    ms.load_param_into_net(net, {p.name: ms.Parameter(p.data.copy(), p.name)
                                 for p in trained_lenet.get_parameters()})
    for p in (net.fc3.weight, net.fc3.bias):
        p.set_data(p.data * 40.0)
    net.set_train(False)
    return net


CE_ONEHOT = nn.SoftmaxCrossEntropyWithLogits(sparse=False)
CE_SPARSE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("batch_size", [64, 512])
def test_strict_fgsm_equals_mindarmour_exactly(trained_lenet, xy, batch_size):
    x, y = xy
    ours = attacks.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_ONEHOT,
                                          stable_loss=False)
    ref = ma.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_ONEHOT)
    expected = ref.batch_generate(x, onehot(y), batch_size=batch_size)
    np.testing.assert_array_equal(ours.batch_generate(x, onehot(y), batch_size=batch_size),
                                  expected)
    # class-index labels with the sparse loss give the same examples
    sparse = attacks.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_SPARSE,
                                            stable_loss=False)
    np.testing.assert_array_equal(sparse.batch_generate(x, y, batch_size=batch_size), expected)


@pytest.mark.parametrize("norm", [1, 2, np.inf])
def test_fgm_equals_mindarmour_in_every_norm(trained_lenet, xy, norm):
    x, y = xy
    for targeted in (False, True):
        labels = (y + 1) % 10 if targeted else y
        ours = attacks.FastGradientMethod(trained_lenet, eps=0.2, norm_level=norm,
                                          is_targeted=targeted, loss_fn=CE_ONEHOT,
                                          stable_loss=False)
        ref = ma.FastGradientMethod(trained_lenet, eps=0.2, norm_level=norm,
                                    is_targeted=targeted, loss_fn=CE_ONEHOT)
        np.testing.assert_allclose(ours.batch_generate(x, onehot(labels)),
                                   ref.batch_generate(x, onehot(labels)), atol=1e-6)


def test_least_likely_class_equals_mindarmour(trained_lenet, xy):
    x, _ = xy
    ours = attacks.LeastLikelyClassMethod(trained_lenet, eps=0.1, loss_fn=CE_ONEHOT,
                                          stable_loss=False)
    targets = ours.least_likely(x)
    ref = ma.LeastLikelyClassMethod(trained_lenet, eps=0.1, loss_fn=CE_ONEHOT)
    np.testing.assert_array_equal(ours.batch_generate(x, onehot(targets)),
                                  ref.batch_generate(x, onehot(targets)))
    # labels=None picks the same least-likely targets
    np.testing.assert_array_equal(ours.batch_generate(x), ours.batch_generate(x, targets))


def test_stable_loss_equals_mindarmour_where_softmax_is_far_from_saturation(trained_lenet,
                                                                           xy):
    x, y = xy
    p_true = predict_proba(trained_lenet, x)[np.arange(len(y)), y]
    calm = p_true < 0.99          # cross-entropy's gradient is accurate here
    assert calm.sum() > 50
    ours = attacks.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_ONEHOT)
    ref = ma.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_ONEHOT)
    a = ours.batch_generate(x[calm], onehot(y[calm]))
    b = ref.batch_generate(x[calm], onehot(y[calm]))
    differing = np.abs(a - b) > 1e-6
    # only sign flips of gradient entries that round differently (|g| ~ 0)
    assert differing.mean() < 1e-3, differing.mean()


# ----------------------------------------------------------------------------- saturation
def test_stable_loss_has_no_blind_spot_where_softmax_saturates(confident_lenet, xy):
    x, y = xy
    logits = predict_logits(confident_lenet, x)
    expected_sat = int(saturated(ms.Tensor(logits), ms.Tensor(y.astype(np.int32)))
                       .sum().asnumpy())
    assert expected_sat > 0.3 * len(y)        # the fixture is really saturated

    def adv_accuracy(attack):
        adv = attack.batch_generate(x, onehot(y))
        return float(np.mean(predict_logits(confident_lenet, adv).argmax(1) == y)), attack

    strict_acc, strict = adv_accuracy(attacks.FastGradientSignMethod(
        confident_lenet, eps=0.3, loss_fn=CE_ONEHOT, stable_loss=False))
    stable_acc, stable = adv_accuracy(attacks.FastGradientSignMethod(
        confident_lenet, eps=0.3, loss_fn=CE_ONEHOT))
    ref = ma.FastGradientSignMethod(confident_lenet, eps=0.3, loss_fn=CE_ONEHOT)
    ma_acc = float(np.mean(predict_logits(
        confident_lenet, ref.batch_generate(x, onehot(y))).argmax(1) == y))
    assert stable.stats == {"samples": len(y), "saturated": expected_sat}
    assert strict.stats["saturated"] == expected_sat
    assert strict_acc == pytest.approx(ma_acc, abs=0.01)   # MindArmour's blind spot ...
    assert stable_acc < strict_acc - 0.2, (stable_acc, strict_acc)   # ... and its fix


def test_log_odds_loss_is_cross_entropy_without_cancellation():
    z = ms.Tensor(np.array([[30.0, 0, 1, -2], [1, 2, 0.5, 0], [200, 0, 0, 0]], np.float32))
    y = ms.Tensor(np.array([0, 1, 0], np.int32))
    loss = ops.softplus(attacks.log_odds(z, y)).asnumpy()
    np.testing.assert_allclose(loss[1], CE_SPARSE(z[1:2], y[1:2]).asnumpy(), rtol=1e-5)
    assert 0 < loss[0] < 1e-12 and loss[2] == 0.0

    def stable(logits):
        return attacks.log_odds(logits, y).sum()

    def naive_ce(logits):
        return CE_SPARSE(logits, y).sum()
    grad = ms.grad(stable)(z).asnumpy()
    assert grad[2, 0] == -1.0          # the true-class term survives at any margin
    naive = ms.grad(naive_ce)(z).asnumpy()
    assert naive[2, 0] == 0.0          # ... where plain cross-entropy's vanishes


# ----------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-1.0, 1.0)])
def test_perturbation_budget_and_bounds(trained_lenet, xy, bounds):
    x, y = xy
    lo, hi = bounds
    xs = x * (hi - lo) + lo
    net = trained_lenet if bounds == (0.0, 1.0) else rescaled(trained_lenet, lo, hi)
    eps = 0.1
    budget = eps * (hi - lo) + 1e-6
    for attack, norm in [
            (attacks.FastGradientSignMethod(net, eps=eps, bounds=bounds, loss_fn=CE_SPARSE),
             np.inf),
            (attacks.RandomFastGradientSignMethod(net, eps=eps, bounds=bounds,
                                                  loss_fn=CE_SPARSE, seed=1), np.inf),
            (attacks.FastGradientMethod(net, eps=eps, bounds=bounds, norm_level=2,
                                        loss_fn=CE_SPARSE), 2),
            (attacks.FastGradientMethod(net, eps=eps, bounds=bounds, norm_level=1,
                                        loss_fn=CE_SPARSE), 1),
            (attacks.RandomFastGradientMethod(net, eps=eps, bounds=bounds, norm_level=2,
                                              loss_fn=CE_SPARSE, seed=1), None)]:
        adv = attack.batch_generate(xs, y)
        assert adv.dtype == np.float32 and adv.shape == xs.shape
        assert adv.min() >= lo and adv.max() <= hi
        delta = (adv - xs).reshape(len(xs), -1)
        if norm is None:   # random part is a sign step of alpha: bounded by the sum
            assert np.abs(delta).max() <= (eps - 0.035) * (hi - lo) + 0.035 * (hi - lo) + 1e-6
        else:
            assert np.linalg.norm(delta, ord=norm, axis=1).max() <= budget * (1 + 1e-5)
        assert np.abs(delta).max() > 0.5 * eps * (hi - lo) if norm == np.inf else True


def test_fgsm_drops_accuracy_on_real_digits(trained_lenet, xy):
    x, y = xy
    clean = np.mean(predict_logits(trained_lenet, x).argmax(1) == y)
    adv = attacks.FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE_SPARSE) \
        .batch_generate(x, y)
    assert clean > 0.85 and np.mean(predict_logits(trained_lenet, adv).argmax(1) == y) < 0.2


def test_targeted_attacks_move_toward_the_target(trained_lenet, xy):
    x, y = xy
    target = (y + 3) % 10
    before = predict_proba(trained_lenet, x)[np.arange(len(y)), target]
    for attack in (attacks.FastGradientSignMethod(trained_lenet, eps=0.3, is_targeted=True,
                                                  loss_fn=CE_SPARSE),
                   attacks.FastGradientMethod(trained_lenet, eps=3.0, norm_level=2,
                                              is_targeted=True, loss_fn=CE_SPARSE)):
        probs = predict_proba(trained_lenet, attack.batch_generate(x, target))
        after = probs[np.arange(len(y)), target]
        assert after.mean() > 3 * before.mean()
        assert np.mean(probs.argmax(1) == target) > np.mean(before > 0.5) + 0.05


def test_random_variants_are_deterministic_given_a_seed(trained_lenet, xy):
    x, y = xy
    runs = [attacks.RandomFastGradientSignMethod(trained_lenet, eps=0.2, loss_fn=CE_SPARSE,
                                                 seed=s).batch_generate(x, y)
            for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    # the random part is a sign step of alpha on every pixel not clipped
    plain = attacks.FastGradientSignMethod(trained_lenet, eps=0.2 - 0.035, loss_fn=CE_SPARSE)
    assert not np.array_equal(runs[0], plain.batch_generate(x, y))


def test_batching_padding_and_generate_agree(trained_lenet, xy):
    x, y = xy
    attack = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE)
    whole = attack.generate(x, y)
    np.testing.assert_array_equal(attack.batch_generate(x, y, batch_size=256), whole)
    np.testing.assert_array_equal(attack.batch_generate(x[:7], y[:7], batch_size=256),
                                  whole[:7])


def test_pynative_mode_gives_the_same_examples(trained_lenet, xy):
    x, y = xy
    attack = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE)
    graph = attack.batch_generate(x, y, batch_size=200)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        fresh = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE)
        pynative = fresh.batch_generate(x, y, batch_size=200)
    finally:
        ms.set_context(mode=ms.GRAPH_MODE)
    np.testing.assert_array_equal(pynative, graph)


def test_stream_attacks_a_dataset_pipeline(trained_lenet, source):
    ds = data.mnist_dataset("test", batch_size=128, num_samples=300, source=source)
    attack = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE)
    chunks = list(attack.stream(ds))
    assert [len(a) for a, _ in chunks] == [128, 128, 44]
    adv = np.concatenate([a for a, _ in chunks])
    x, y = data.load_mnist("test", num_samples=300, source=source)
    np.testing.assert_array_equal(np.concatenate([b for _, b in chunks]), y)
    np.testing.assert_array_equal(adv, attack.batch_generate(x, y, batch_size=128))
    assert attack.stats["samples"] == 300


def test_network_that_returns_its_loss(trained_lenet, xy):
    x, y = xy
    with_loss = nn.WithLossCell(trained_lenet, CE_SPARSE)
    # loss_fn=None: mindsec recognises the wrapped cross-entropy and uses the stable form
    a = attacks.FastGradientSignMethod(with_loss, eps=0.1).batch_generate(x, y)
    b = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE) \
        .batch_generate(x, y)
    np.testing.assert_array_equal(a, b)
    strict = attacks.FastGradientSignMethod(with_loss, eps=0.1, stable_loss=False)
    ref = attacks.FastGradientSignMethod(trained_lenet, eps=0.1, loss_fn=CE_SPARSE,
                                         stable_loss=False)
    np.testing.assert_array_equal(strict.batch_generate(x, y), ref.batch_generate(x, y))
    assert strict.stats["saturated"] is None      # the network's outputs are not logits


def test_sweep_matches_one_attack_per_eps(trained_lenet, xy):
    x, y = xy
    attack = attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE_SPARSE)
    eps = [0.0, 0.05, 0.1, 0.3]
    result = attack.sweep(x, y, eps, batch_size=256)
    assert result.preds.shape == (4, len(y))
    clean = predict_logits(trained_lenet, x).argmax(1)
    np.testing.assert_array_equal(result.preds[0], clean)
    for k, e in enumerate(eps[1:], start=1):
        single = attacks.FastGradientSignMethod(trained_lenet, eps=e, loss_fn=CE_SPARSE)
        preds = predict_logits(trained_lenet, single.batch_generate(x, y)).argmax(1)
        assert np.mean(preds != result.preds[k]) < 0.005
    assert np.all(np.diff(result.accuracy) <= 0.01)     # stronger eps, lower accuracy
    assert result.mean_label_prob[0] > result.mean_label_prob[-1]


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, message", [
    ({"eps": 0.0}, "eps must be > 0.0"),
    ({"eps": 1.5}, "eps must be <= 1.0"),         # a sign step beyond the data range
    ({"eps": float("nan")}, "eps must be a finite number"),
    ({"bounds": (1.0, 0.0)}, r"bounds must satisfy min < max"),
    ({"bounds": (0.0,)}, r"bounds must be a \(min, max\) pair"),
    ({"alpha": 0.5, "eps": 0.1}, "alpha must be <= eps"),
    ({"is_targeted": 1}, "is_targeted must be True or False"),
    ({"loss_fn": "ce"}, "loss_fn must be a mindspore.nn.Cell"),
])
def test_bad_constructor_arguments(trained_lenet, kwargs, message):
    kwargs = {"loss_fn": CE_SPARSE, **kwargs}
    with pytest.raises(InputError, match=message):
        attacks.FastGradientSignMethod(trained_lenet, **kwargs)


def test_inputs_that_do_not_fit_the_network_on_a_fresh_attack(trained_lenet, xy):
    x, y = xy
    for attack in (attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE_SPARSE),
                   attacks.FastGradientSignMethod(nn.WithLossCell(trained_lenet, CE_SPARSE),
                                                  stable_loss=False)):
        with pytest.raises(InputError,
                           match=r"inputs of shape \(.*, 32, 32\) do not fit the network: "):
            attack.batch_generate(x[:, 0], y)      # channel axis missing


def test_bad_norm_and_network(trained_lenet):
    with pytest.raises(InputError, match="norm_level must be 1, 2 or np.inf"):
        attacks.FastGradientMethod(trained_lenet, norm_level=3, loss_fn=CE_SPARSE)
    with pytest.raises(InputError, match="network must be a mindspore.nn.Cell"):
        attacks.FastGradientSignMethod(lambda x: x)


def test_bad_generate_inputs(trained_lenet, xy):
    x, y = xy
    attack = attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE_SPARSE)
    bad = x[:4].copy()
    bad[0, 0, 0, 0] = np.nan
    cases = [
        ((bad, y[:4]), "inputs contains NaN or Inf"),
        (((x[:4] * 255).astype(np.uint8), y[:4]), "inputs must be a float array"),
        ((x[:4] + 2.0, y[:4]), r"inputs span \[2, [0-9.]+\], outside bounds \(0.0, 1.0\)"),
        ((x[:4], y[:3]), "labels has 3 entries for 4 inputs"),
        ((x[:4], np.array([0, 1, 2, 10])), r"class indices must lie in \[0, 10\)"),
        ((x[:4], np.eye(5, dtype=np.float32)[[0, 1, 2, 3]]), "one-hot width 5 does not match"),
        ((x[0], y[:1]), r"inputs of shape \(1, 32, 32\) do not fit the network"),
    ]
    for args, message in cases:
        with pytest.raises(InputError, match=message):
            attack.batch_generate(*args)
    # 2-D rows that are not one-hot are read by their argmax, as MindArmour reads them
    rows = np.full((4, 10), 0.05, np.float32)
    rows[np.arange(4), y[:4]] = 0.55
    with pytest.warns(UserWarning, match="2-D rows are not one-hot; each row's argmax"):
        by_rows = attack.batch_generate(x[:4], rows)
    np.testing.assert_array_equal(by_rows, attack.batch_generate(x[:4], y[:4]))
    with pytest.warns(UserWarning, match="4 rows have tied maxima"):
        attack.batch_generate(x[:4], np.full((4, 10), 0.1, np.float32))
    with pytest.raises(InputError, match="batch_size must be a positive integer"):
        attack.batch_generate(x, y, batch_size=0)
    with pytest.raises(InputError, match="eps_values must be finite values in"):
        attack.sweep(x, y, [0.1, 2.0])
