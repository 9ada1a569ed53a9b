"""The contract every attack keeps, checked once per attack class on a tiny network and
real digits (the fast tier: ``pytest -m fast``).

Output shape and dtype, the data bounds, the eps ball in the attack's own norm, seed
reproducibility, ``labels=None``, targeted mode, a ragged last batch, and the public
read-only description the evaluation runner relies on.
"""
import numpy as np
import pytest
from mindspore import nn

from mindsec import attacks
from mindsec.attacks import AttackKind, LabelSource
from mindsec.attacks.norms import Norm
from mindsec.batching import predict_logits

import golden

pytestmark = pytest.mark.fast
CE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)

# name -> (factory(net, seed), targeted-capable)
ATTACKS = {
    "FGSM": lambda n, s: attacks.FastGradientSignMethod(n, eps=0.1, loss_fn=CE, seed=s),
    "FGM-L1": lambda n, s: attacks.FastGradientMethod(n, eps=6.0, norm_level=1, loss_fn=CE),
    "FGM-L2": lambda n, s: attacks.FastGradientMethod(n, eps=1.5, loss_fn=CE),
    "FGM-Linf": lambda n, s: attacks.FastGradientMethod(n, eps=0.1, norm_level="inf",
                                                        loss_fn=CE),
    "R+FGSM": lambda n, s: attacks.RandomFastGradientSignMethod(n, eps=0.1, alpha=0.05,
                                                                loss_fn=CE, seed=s),
    "R+FGM": lambda n, s: attacks.RandomFastGradientMethod(n, eps=1.5, alpha=0.05,
                                                           loss_fn=CE, seed=s),
    "LLC": lambda n, s: attacks.LeastLikelyClassMethod(n, eps=0.1, loss_fn=CE),
    "R+LLC": lambda n, s: attacks.RandomLeastLikelyClassMethod(n, eps=0.1, alpha=0.05,
                                                               loss_fn=CE, seed=s),
    "BIM": lambda n, s: attacks.BasicIterativeMethod(n, eps=0.1, eps_iter=0.03, nb_iter=4,
                                                     loss_fn=CE),
    "PGD-Linf": lambda n, s: attacks.ProjectedGradientDescent(n, eps=0.1, eps_iter=0.03,
                                                              nb_iter=4, loss_fn=CE, seed=s),
    "PGD-L2": lambda n, s: attacks.ProjectedGradientDescent(n, eps=1.5, eps_iter=0.5,
                                                            nb_iter=4, norm_level=2,
                                                            loss_fn=CE, seed=s),
    "PGD-L1": lambda n, s: attacks.ProjectedGradientDescent(n, eps=8.0, eps_iter=3.0,
                                                            nb_iter=4, norm_level=1,
                                                            loss_fn=CE, seed=s),
    "PGD-restarts": lambda n, s: attacks.ProjectedGradientDescent(n, eps=0.05, eps_iter=0.02,
                                                                  nb_iter=3, nb_restarts=2,
                                                                  loss_fn=CE, seed=s),
    "MIM": lambda n, s: attacks.MomentumIterativeMethod(n, eps=0.1, eps_iter=0.03, nb_iter=4,
                                                        loss_fn=CE),
    "DeepFool": lambda n, s: attacks.DeepFool(n, 10, max_iters=10, bounds=(0.0, 1.0)),
    "transfer-FGSM": lambda n, s: attacks.TransferAttack(
        attacks.FastGradientSignMethod(n, eps=0.1, loss_fn=CE)),
    "APGD-CE": lambda n, s: attacks.AutoProjectedGradientDescent(n, eps=0.1, nb_iter=6,
                                                                 seed=s),
    "APGD-DLR-L2": lambda n, s: attacks.AutoProjectedGradientDescent(
        n, eps=1.5, nb_iter=6, norm_level=2, loss="dlr", seed=s),
    "APGD-T": lambda n, s: attacks.AutoProjectedGradientDescent(n, eps=0.1, nb_iter=4,
                                                                n_target_classes=3, seed=s),
    "FAB-T": lambda n, s: attacks.FastAdaptiveBoundary(n, eps=0.3, n_iter=5,
                                                       n_target_classes=2, seed=s),
    "FAB-L2": lambda n, s: attacks.FastAdaptiveBoundary(n, eps=3.0, norm_level=2, n_iter=5,
                                                        n_restarts=2, seed=s),
    "CW": lambda n, s: attacks.CarliniWagnerL2Attack(n, 10, bin_search_steps=2,
                                                     max_iterations=10, learning_rate=0.05,
                                                     initial_const=1.0, fast=False,
                                                     abort_early=False),
    "JSMA": lambda n, s: attacks.JSMAAttack(n, 10, max_iteration=20),
    "Square": lambda n, s: attacks.SquareAttack(n, eps=0.1, n_queries=20, seed=s),
    "Square-L2": lambda n, s: attacks.SquareAttack(n, eps=1.5, norm_level=2, n_queries=20,
                                                   seed=s),
    "DI": lambda n, s: attacks.DiverseInputIterativeMethod(n, eps=0.1, eps_iter=0.03,
                                                           nb_iter=4, loss_fn=CE, seed=s),
    "MDI": lambda n, s: attacks.MomentumDiverseInputIterativeMethod(
        n, eps=0.1, eps_iter=0.03, nb_iter=4, loss_fn=CE, seed=s),
    "VMI": lambda n, s: attacks.VarianceTuningMomentumIterativeMethod(
        n, eps=0.1, eps_iter=0.03, nb_iter=4, N=3, loss_fn=CE, seed=s),
    "VNI": lambda n, s: attacks.VarianceTuningNesterovIterativeMethod(
        n, eps=0.1, eps_iter=0.03, nb_iter=4, N=3, loss_fn=CE, seed=s),
    "LBFGS": lambda n, s: attacks.LBFGS(n, eps=0.05, is_targeted=False, nb_iter=10,
                                        search_iters=6, sparse=True),
}
# LLC, JSMA: always targeted; APGD-T and FAB choose their targets themselves; CW spells it
# targeted=; LBFGS's eps is its first constant, not a budget (targeted LBFGS: its parity
# test)
UNTARGETABLE = {"DeepFool", "transfer-FGSM", "LLC", "R+LLC", "APGD-T", "FAB-T", "FAB-L2",
                "CW", "JSMA", "LBFGS"}


@pytest.fixture(scope="module")
def net_and_data():
    x, y = golden.digits()
    net = golden.trained_tiny()
    return net, x[2000:2023], y[2000:2023]        # 23 images: a ragged last batch of 7


_SHARED = {}


def shared(net, name, seed):
    """One instance of each attack for the untargeted checks, its random draws restarted
    from ``seed``: each instance compiles its graphs once for the whole tier (a fresh
    instance per check would compile them again; tests/test_golden.py pins what fresh
    instances with fixed seeds produce)."""
    key = (id(net), name)
    if key not in _SHARED:
        _SHARED[key] = ATTACKS[name](net, seed)
    attack = _SHARED[key]
    attack.reseed(seed)
    return attack


@pytest.mark.parametrize("name", ATTACKS)
def test_shape_dtype_bounds_and_ball(net_and_data, name):
    net, x, y = net_and_data
    attack = shared(net, name, 0)
    adv = attack.batch_generate(x, y, batch_size=8)
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert np.abs(adv - x).max() > 0, "the attack did not move anything"
    if attack.eps is None or attack.kind is AttackKind.MINIMAL:
        return                     # a minimal attack's examples may lie beyond its eps
    dist = attack.norm.distance(adv, x)
    budget = attack.eps
    if name == "R+FGM":
        # MindArmour's definition: a random *sign* step of alpha, then an L2 step of
        # eps - alpha, so the L2 size can reach (eps - alpha) + alpha * sqrt(D)
        budget = attack.eps - attack.alpha + attack.alpha * np.sqrt(x[0].size)
    assert dist.max() <= budget * (1 + 1e-5) + 1e-6, (name, dist.max())


RANDOM = {"R+FGSM", "R+FGM", "R+LLC", "PGD-Linf", "PGD-L2", "PGD-L1", "PGD-restarts",
          "APGD-CE", "APGD-DLR-L2", "APGD-T", "FAB-L2", "Square", "Square-L2",
          "DI", "MDI", "VMI", "VNI"}


@pytest.mark.parametrize("name", sorted(set(ATTACKS) - {"PGD-restarts"}))
def test_a_ragged_last_batch_changes_nothing_else(net_and_data, name):
    """23 inputs in batches of 8: the padded last batch leaves the first two as they are
    without it; a deterministic attack gives what one batch of 23 gives. (With restarts
    the second run's batches hold whatever the first left standing: not comparable.)"""
    net, x, y = net_and_data
    parts = shared(net, name, 3).batch_generate(x, y, batch_size=8)
    head = shared(net, name, 3).batch_generate(x[:16], y[:16], batch_size=8)
    np.testing.assert_array_equal(parts[:16], head)
    if name in RANDOM:            # random parts are drawn per batch
        return
    whole = shared(net, name, 3).generate(x, y)
    same = np.isclose(whole, parts, atol=1e-5).mean()
    assert same >= 0.999, (name, same)


@pytest.mark.parametrize("name", ATTACKS)
def test_a_seed_repeats_the_examples(net_and_data, name):
    net, x, y = net_and_data
    first = shared(net, name, 7).batch_generate(x, y, batch_size=8)
    again = shared(net, name, 7).batch_generate(x, y, batch_size=8)
    np.testing.assert_array_equal(first, again)
    if name in RANDOM - {"FAB-L2"}:      # another seed draws other examples (FAB's first
        # run starts from the inputs themselves; only its restarts are random)
        other = shared(net, name, 8).batch_generate(x, y, batch_size=8)
        assert not np.array_equal(first, other), name


@pytest.mark.parametrize("name", ATTACKS)
def test_the_public_description(net_and_data, name):
    net, _, _ = net_and_data
    attack = ATTACKS[name](net, 0)
    assert isinstance(attack, attacks.Attack) and isinstance(attack.kind, AttackKind)
    assert isinstance(attack.label, str) and attack.label
    assert attack.bounds == (0.0, 1.0) and attack.targeted in (False, True)
    assert isinstance(attack.label_source, LabelSource)
    if attack.kind is AttackKind.MINIMAL and attack.eps is None:
        assert attack.norm is None or isinstance(attack.norm, Norm)
    else:
        assert isinstance(attack.norm, Norm) and attack.eps > 0
    if attack.kind is AttackKind.TRANSFER:
        assert attack.model is None and attack.source.model is net
    else:
        assert attack.model is net
    assert attack.sweepable == (attack.kind is AttackKind.SINGLE_STEP and
                                getattr(attack, "alpha", None) is None)
    with pytest.raises(AttributeError):
        attack.eps = 0.5                      # read-only


@pytest.mark.parametrize("name", sorted(set(ATTACKS) - {"transfer-FGSM"}))
def test_labels_none_attacks_what_the_label_source_says(net_and_data, name):
    net, x, y = net_and_data
    attack = shared(net, name, 5)
    logits = predict_logits(net, x)
    implied = logits.argmin(1) if attack.label_source is LabelSource.LEAST_LIKELY \
        else logits.argmax(1)
    without = attack.batch_generate(x, None, 8)
    np.testing.assert_array_equal(without, shared(net, name, 5).batch_generate(x, implied, 8))


@pytest.mark.parametrize("name", sorted(set(ATTACKS) - UNTARGETABLE))
def test_targeted_mode_moves_toward_the_target(net_and_data, name):
    net, x, y = net_and_data
    plain = ATTACKS[name](net, 0)
    kwargs = {"is_targeted": True}
    attack = type(plain)(net, **_arguments(plain), **kwargs)
    assert attack.targeted and attack.label_source is LabelSource.REQUIRED
    target = ((y + 1) % 10).astype(np.int32)
    adv = attack.batch_generate(x, target, batch_size=8)
    before = _log_softmax(predict_logits(net, x))[np.arange(len(x)), target]
    after = _log_softmax(predict_logits(net, adv))[np.arange(len(x)), target]
    assert np.mean(after > before) >= 0.9, (name, np.mean(after > before))
    with pytest.raises(Exception, match="targeted attack needs its target labels"):
        attack.batch_generate(x, None)


def _arguments(attack):
    """The constructor arguments of one of ATTACKS' attacks (to rebuild it targeted)."""
    out = {"eps": attack.eps, "loss_fn": CE}
    if isinstance(attack, attacks.AutoProjectedGradientDescent):
        return dict(out, nb_iter=attack.nb_iter, norm_level=attack.norm.p, loss=attack.loss,
                    seed=0)
    if isinstance(attack, attacks.SquareAttack):
        return {"eps": attack.eps, "norm_level": attack.norm.p,
                "n_queries": attack.n_queries, "seed": 0}
    if hasattr(attack, "nb_iter"):
        out.update(eps_iter=attack.eps_iter, nb_iter=attack.nb_iter)
        if isinstance(attack, attacks.ProjectedGradientDescent):
            out.update(norm_level=attack.norm.p, nb_restarts=attack.nb_restarts, seed=0)
    elif isinstance(attack, attacks.FastGradientMethod):
        out.update(norm_level=attack.norm.p)
    if getattr(attack, "alpha", None) is not None:
        out.update(alpha=attack.alpha, seed=0)
    return out


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
