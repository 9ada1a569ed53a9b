"""Adversarial training: the fused NAD/PGD/fast steps, MindArmour semantics, early
stopping, checkpoints, errors."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from mindsec import checkpoint, distributed, workflows
from mindsec.attacks import FastGradientSignMethod, ProjectedGradientDescent
from mindsec.batching import accuracy, predict_logits
from mindsec.defenses import (AdversarialDefense, AdversarialDefenseWithAttacks,
                              FastAdversarialDefense, NaturalAdversarialDefense,
                              ProjectedAdversarialDefense)
from mindsec.defenses.adversarial import _replaced_first
from mindsec.errors import InputError

CE = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")


def _weights(net):
    return {p.name: p.asnumpy().copy() for p in net.trainable_params()}


def _nad(net, lr=1e-3, **kwargs):
    return NaturalAdversarialDefense(net, loss_fn=CE, optimizer=nn.Adam(
        net.trainable_params(), learning_rate=lr), eps=0.3, **kwargs)


def test_nad_makes_fgsm_examples_of_the_original_model_fail_less(trained_lenet,
                                                                   train_slice, test_slice):
    """The tutorial's claim on real digits: NAD on training images raises accuracy on FGSM
    examples made against the undefended model, at little cost in clean accuracy."""
    x, y = test_slice
    adv = FastGradientSignMethod(trained_lenet, eps=0.3, loss_fn=CE).batch_generate(x, y)
    before_clean, before_adv = accuracy(trained_lenet, x, y), accuracy(trained_lenet, adv, y)
    defended = workflows.copy_of(trained_lenet)
    lines = []
    _nad(defended).batch_defense(*train_slice, batch_size=64, epochs=8, shuffle=True,
                                 log=lines.append)
    assert "clean acc" in lines[-1] and "adv acc" in lines[-1] and "samples/s" in lines[-1]
    after_clean, after_adv = accuracy(defended, x, y), accuracy(defended, adv, y)
    assert after_adv > before_adv + 0.3, (before_adv, after_adv)
    assert after_clean > before_clean - 0.05
    # the original network was not touched
    assert accuracy(trained_lenet, adv, y) == before_adv


def test_fused_nad_step_equals_the_unfused_computation(trained_lenet, train_slice):
    """One fused step == FGSM (mindsec's attack) on the chosen rows, then one optimizer
    step on the mixed batch, done separately."""
    x, y = train_slice[0][:32], train_slice[1][:32]
    fused_net, plain_net = workflows.copy_of(trained_lenet), workflows.copy_of(trained_lenet)
    fused = NaturalAdversarialDefense(fused_net, loss_fn=CE, eps=0.3, replace_ratio=0.5,
                                      optimizer=nn.SGD(fused_net.trainable_params(), 0.1))
    fused.batch_defense(x, y, batch_size=32, epochs=1, seed=3)
    chosen = np.random.default_rng([3, 0, 0]).choice(32, 16, replace=False)
    mixed = x.copy()
    mixed[chosen] = FastGradientSignMethod(plain_net, eps=0.3, loss_fn=CE) \
        .generate(x[chosen], y[chosen])
    plain = AdversarialDefense(plain_net, loss_fn=CE,
                               optimizer=nn.SGD(plain_net.trainable_params(), 0.1))
    plain.batch_defense(mixed, y, batch_size=32, epochs=1)
    for name, value in _weights(fused_net).items():
        np.testing.assert_allclose(value, _weights(plain_net)[name], rtol=1e-4, atol=1e-6)


def test_replaced_rows_lead_every_workers_shard():
    """The fused step attacks only the head of its batch: the feed reorders each global
    batch so that every worker's shard starts with the same number of replaced rows."""
    chosen = np.zeros(16, bool)
    chosen[[1, 4, 5, 9, 10, 15]] = True
    for world in (1, 2):
        order = _replaced_first(chosen, world)
        assert sorted(order) == list(range(16))
        for shard in order.reshape(world, -1):
            assert chosen[shard[:6 // world]].all() and not chosen[shard[6 // world:]].any()


def test_replace_ratio_zero_is_a_plain_step(trained_lenet, train_slice):
    x, y = train_slice[0][:32], train_slice[1][:32]
    nets = [workflows.copy_of(trained_lenet) for _ in range(2)]
    NaturalAdversarialDefense(nets[0], loss_fn=CE, eps=0.3, replace_ratio=0.0,
                              optimizer=nn.SGD(nets[0].trainable_params(), 0.1)) \
        .batch_defense(x, y, batch_size=32, epochs=1)
    AdversarialDefense(nets[1], loss_fn=CE, optimizer=nn.SGD(nets[1].trainable_params(), 0.1)) \
        .batch_defense(x, y, batch_size=32, epochs=1)
    for name, value in _weights(nets[0]).items():
        np.testing.assert_allclose(value, _weights(nets[1])[name], rtol=1e-5, atol=1e-7)


def test_replaced_rows_must_split_evenly_among_workers(trained_lenet, train_slice,
                                                      monkeypatch):
    monkeypatch.setattr(distributed, "world", lambda: 2)
    nad = NaturalAdversarialDefense(workflows.copy_of(trained_lenet), loss_fn=CE)
    with pytest.raises(InputError, match="3 replaced samples per global batch.*2 workers"):
        nad.batch_defense(train_slice[0][:64], train_slice[1][:64], batch_size=3)


def test_with_attacks_replaces_ceil_ratio_of_each_batch(trained_lenet, train_slice):
    x, y = train_slice[0][:64], train_slice[1][:64]
    seen = []

    class Recorder:
        def generate(self, inputs, labels):
            seen.append(len(inputs))
            return inputs
    net = workflows.copy_of(trained_lenet)
    defense = AdversarialDefenseWithAttacks(net, [Recorder(), Recorder()], loss_fn=CE,
                                            replace_ratio=0.3)
    loss = defense.batch_defense(x, y, batch_size=20, epochs=1)
    assert seen == [3, 3] * 3       # ceil(0.3 * 20) = 6 per batch, split between 2 attacks
    assert np.isfinite(loss) and loss > 0


def test_one_hot_labels_and_mindarmour_defaults(trained_lenet, train_slice):
    x, y = train_slice[0][:64], train_slice[1][:64]
    net = workflows.copy_of(trained_lenet)
    loss = NaturalAdversarialDefense(
        net, loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=False, reduction="mean"),
        eps=0.1).defense(x, np.eye(10, dtype=np.float32)[y])
    assert np.isfinite(loss) and loss > 0
    default = AdversarialDefense(workflows.copy_of(trained_lenet))    # MindArmour's defaults
    assert isinstance(default._optimizer, nn.Momentum)  # pylint: disable=protected-access
    assert np.isfinite(default.defense(x, y))


def test_interrupted_nad_resumes_exactly(trained_lenet, train_slice, tmp_path):
    x, y = train_slice[0][:1024], train_slice[1][:1024]
    kwargs = dict(batch_size=64, epochs=3, shuffle=True, seed=1)
    straight = workflows.copy_of(trained_lenet)
    _nad(straight).batch_defense(x, y, **kwargs)

    path = tmp_path / "nad.ckpt"

    def dies_after_epoch_2(line):
        if line.startswith("epoch  2/3"):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        _nad(workflows.copy_of(trained_lenet)).batch_defense(
            x, y, ckpt_path=path, log=dies_after_epoch_2, **kwargs)
    _, meta = checkpoint.load(path)
    assert meta["epoch"] == 2 and meta["defense"] == "NaturalAdversarialDefense"

    resumed, lines = workflows.copy_of(trained_lenet), []
    _nad(resumed).batch_defense(x, y, ckpt_path=path, resume=True, log=lines.append,
                                **kwargs)
    assert lines[0] == f"resumed from {path} after epoch 2/3"
    assert lines[1].startswith("epoch  3/3") and len(lines) == 2
    for name, value in _weights(straight).items():
        np.testing.assert_allclose(value, _weights(resumed)[name], rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="written with epochs=3"):
        _nad(workflows.copy_of(trained_lenet)).batch_defense(
            x, y, batch_size=64, epochs=4, shuffle=True, seed=1, ckpt_path=path, resume=True)


def test_nad_runs_in_pynative_mode(trained_lenet, train_slice):
    x, y = train_slice[0][:256], train_slice[1][:256]
    runs = []
    for mode in (ms.GRAPH_MODE, ms.PYNATIVE_MODE):
        ms.set_context(mode=mode)
        try:
            net = workflows.copy_of(trained_lenet)
            NaturalAdversarialDefense(net, loss_fn=CE, eps=0.3, optimizer=nn.SGD(
                net.trainable_params(), 0.05)).batch_defense(x, y, batch_size=64, epochs=1)
            runs.append(_weights(net))
            assert ms.get_context("mode") == mode      # the caller's mode is restored
        finally:
            ms.set_context(mode=ms.GRAPH_MODE)
    for name in runs[0]:
        np.testing.assert_allclose(runs[0][name], runs[1][name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"eps": 0.0}, "eps must be > 0.0"),
    ({"eps": 2.0}, "eps must be <= 1.0"),
    ({"replace_ratio": 1.5}, "replace_ratio must be <= 1.0"),
    ({"bounds": (1.0, 0.0)}, "bounds must satisfy min < max"),
])
def test_bad_defense_arguments(trained_lenet, kwargs, message):
    with pytest.raises(InputError, match=message):
        NaturalAdversarialDefense(trained_lenet, loss_fn=CE, **kwargs)


def test_bad_batch_defense_input(trained_lenet, train_slice):
    x, y = train_slice[0][:64], train_slice[1][:64]
    nad = _nad(workflows.copy_of(trained_lenet))
    with pytest.raises(InputError, match="epochs must be a positive integer"):
        nad.batch_defense(x, y, epochs=0)
    with pytest.raises(InputError, match="batch_size 128 exceeds the 64 inputs"):
        nad.batch_defense(x, y, batch_size=128)
    with pytest.raises(InputError, match="labels has 63 entries for 64 inputs"):
        nad.batch_defense(x, y[:63])
    with pytest.raises(InputError, match="outside bounds"):
        nad.batch_defense(x * 255, y)
    with pytest.raises(InputError, match="attacks must be a non-empty list"):
        AdversarialDefenseWithAttacks(trained_lenet, [], loss_fn=CE)


# ----------------------------------------------------------------------------- PGD and fast
def test_fused_pgd_step_equals_the_unfused_computation(trained_lenet, train_slice):
    """One fused PGD-training step == mindsec's PGD on the whole batch, then one optimizer
    step on it, done separately."""
    x, y = train_slice[0][:32], train_slice[1][:32]
    fused_net, plain_net = workflows.copy_of(trained_lenet), workflows.copy_of(trained_lenet)
    ProjectedAdversarialDefense(fused_net, loss_fn=CE, eps=0.2, eps_iter=0.05, nb_iter=3,
                                replace_ratio=1.0, rand_init=False,
                                optimizer=nn.SGD(fused_net.trainable_params(), 0.1)) \
        .batch_defense(x, y, batch_size=32, epochs=1)
    adv = ProjectedGradientDescent(plain_net, eps=0.2, eps_iter=0.05, nb_iter=3, loss_fn=CE,
                                   rand_init=False).generate(x, y)
    AdversarialDefense(plain_net, loss_fn=CE,
                       optimizer=nn.SGD(plain_net.trainable_params(), 0.1)) \
        .batch_defense(adv, y, batch_size=32, epochs=1)
    for name, value in _weights(fused_net).items():
        np.testing.assert_allclose(value, _weights(plain_net)[name], rtol=1e-4, atol=1e-6)


def test_pgd_training_raises_pgd_accuracy(trained_lenet, train_slice, test_slice):
    x, y = test_slice[0][:300], test_slice[1][:300]

    def pgd_acc(net):
        attack = ProjectedGradientDescent(net, eps=0.1, eps_iter=0.02, nb_iter=10,
                                          loss_fn=CE, seed=0)
        return accuracy(net, attack.batch_generate(x, y), y)
    before = pgd_acc(trained_lenet)
    net = workflows.copy_of(trained_lenet)
    ProjectedAdversarialDefense(net, loss_fn=CE, eps=0.1, eps_iter=0.025, nb_iter=5,
                                replace_ratio=1.0, optimizer=nn.Adam(net.trainable_params(),
                                                                     1e-3)) \
        .batch_defense(*train_slice, batch_size=64, epochs=3, shuffle=True)
    after = pgd_acc(net)
    assert after > before + 0.2, (before, after)
    assert accuracy(net, x, y) > 0.9


def test_fast_defense_stops_and_restores_the_best_weights(trained_lenet, train_slice,
                                                          tmp_path):
    """A collapse of holdout PGD accuracy (here forced by an 'attack' that returns the
    images in the first check and their negatives in the second) stops training and
    restores the weights of the best epoch; the checkpoint is marked finished."""
    x, y = train_slice[0][:512], train_slice[1][:512]
    hold = (train_slice[0][-200:], train_slice[1][-200:])

    class Collapsing:
        calls = 0

        def batch_generate(self, inputs, labels):
            Collapsing.calls += 1
            return inputs if Collapsing.calls == 1 else 1.0 - inputs

    def fast(net, **kw):
        return FastAdversarialDefense(net, loss_fn=CE, eps=0.1, optimizer=nn.Adam(
            net.trainable_params(), 1e-3), **kw)
    one_epoch = workflows.copy_of(trained_lenet)
    fast(one_epoch).batch_defense(x, y, batch_size=64, epochs=1, shuffle=True, seed=2)
    net, lines = workflows.copy_of(trained_lenet), []
    defense = fast(net, holdout=hold, holdout_attack=Collapsing())
    defense.batch_defense(x, y, batch_size=64, epochs=4, shuffle=True, seed=2,
                          ckpt_path=tmp_path / "fast.ckpt", log=lines.append)
    assert defense.stopped_after == 2 and Collapsing.calls == 2
    assert "catastrophic overfitting" in lines[-1] and len(lines) == 3
    for name, value in _weights(one_epoch).items():
        np.testing.assert_allclose(value, _weights(net)[name], rtol=1e-5, atol=1e-6)
    _, meta = checkpoint.load(tmp_path / "fast.ckpt")
    assert meta["epoch"] == 4 and meta["stopped_after"] == 2


def test_fast_defense_uses_a_random_start_and_125_eps(trained_lenet):
    defense = FastAdversarialDefense(trained_lenet, loss_fn=CE, eps=0.2)
    assert defense.rand_init and defense.replace_ratio == 1.0 and defense.nb_iter == 1
    assert defense.eps == pytest.approx(0.2) and defense.eps_iter == pytest.approx(0.25)
    assert repr(defense.norm) == "Linf"


def test_eps_warmup_ramps_linearly(trained_lenet):
    nad = NaturalAdversarialDefense(trained_lenet, loss_fn=CE, eps=0.3, warmup=2)
    ramp = [nad._ramp(epoch, i, 10)[1] for epoch in range(3) for i in range(10)]  # pylint: disable=protected-access
    np.testing.assert_allclose(ramp[:20], np.arange(1, 21) / 20, atol=1e-4)
    assert ramp[20:] == [1.0] * 10
    assert NaturalAdversarialDefense(trained_lenet, loss_fn=CE)._ramp(0, 0, 10)[1] == 1.0  # pylint: disable=protected-access


def test_predicted_labels_attack_the_models_own_decisions(trained_lenet, train_slice):
    """Where the model is right, predicted and true labels give the same step; with wrong
    labels the label-leaking-free variant ignores them in the attack."""
    x, y = train_slice
    right = np.flatnonzero(predict_logits(trained_lenet, x).argmax(1) == y)[:32]
    xb, yb = x[right], y[right]

    def step(labels, predicted):
        net = workflows.copy_of(trained_lenet)
        NaturalAdversarialDefense(net, loss_fn=CE, eps=0.3, replace_ratio=1.0,
                                  predicted_labels=predicted,
                                  optimizer=nn.SGD(net.trainable_params(), 0.1)) \
            .batch_defense(xb, labels, batch_size=32, epochs=1)
        return _weights(net)
    same, pred = step(yb, False), step(yb, True)
    wrong = (yb + 1) % 10
    leak, noleak = step(wrong, False), step(wrong, True)
    for name in same:
        np.testing.assert_allclose(same[name], pred[name], rtol=1e-5, atol=1e-7)
    assert any(not np.allclose(leak[n], noleak[n]) for n in leak)


@pytest.mark.parametrize("cls, kwargs, message", [
    (ProjectedAdversarialDefense, {"nb_iter": 0}, "nb_iter must be a positive integer"),
    (ProjectedAdversarialDefense, {"norm_level": "l3"}, "norm_level must be 1, 2 or np.inf"),
    (FastAdversarialDefense, {"max_drop": 2.0}, "max_drop must be <= 1.0"),
    (FastAdversarialDefense, {"holdout": (1, 2, 3)}, "holdout must be a pair"),
    (NaturalAdversarialDefense, {"warmup": -1}, "warmup must be >= 0.0"),
    (NaturalAdversarialDefense, {"predicted_labels": "yes"}, "predicted_labels must be True"),
])
def test_bad_pgd_and_fast_arguments(trained_lenet, cls, kwargs, message):
    with pytest.raises(InputError, match=message):
        cls(trained_lenet, loss_fn=CE, **kwargs)
