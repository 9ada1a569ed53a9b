"""EnsembleAdversarialDefense, BlackDefenseEvaluate, RadarMetric and NeuronMetric:
parity with MindArmour 2.0 (installed as the reference) on the same inputs, the training
contract on real MNIST, the radar picture, and one-line InputErrors for bad input."""
import os
import warnings

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from mindsec.attacks.gradient import FastGradientSignMethod
from mindsec.attacks.iterative import BasicIterativeMethod
from mindsec.batching import accuracy
from mindsec.defenses.adversarial import AdversarialDefense
from mindsec.defenses.ensemble import EnsembleAdversarialDefense
from mindsec.errors import InputError
from mindsec.evaluations.black_defense_evaluation import BlackDefenseEvaluate
from mindsec.evaluations.neuron_metric import NeuronMetric
from mindsec.evaluations.visual_metrics import RadarMetric
from mindsec.models import LeNet5

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from mindarmour.adv_robustness.defenses import \
        EnsembleAdversarialDefense as MAEnsemble
    from mindarmour.adv_robustness.evaluations import BlackDefenseEvaluate as MABlack
    from mindarmour.adv_robustness.evaluations import RadarMetric as MARadar


CE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)   # loss_fn=None: the net returns its loss


def one_line(excinfo):
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


def clone(net):
    """A fresh LeNet5 with ``net``'s weights (the session's trained model stays as is)."""
    copy = LeNet5()
    for src, dst in zip(net.trainable_params(), copy.trainable_params()):
        dst.set_data(ms.Tensor(src.asnumpy().copy()))
    copy.set_train(False)
    return copy


def weights(net):
    return [p.asnumpy().copy() for p in net.trainable_params()]


# -- BlackDefenseEvaluate -----------------------------------------------------------------

DOC_CASE = dict(   # MindArmour's docstring example
    raw_preds=np.array([[0.1, 0.1, 0.2, 0.6], [0.1, 0.7, 0.0, 0.2], [0.8, 0.1, 0.0, 0.1]]),
    def_preds=np.array([[0.1, 0.1, 0.1, 0.7], [0.1, 0.6, 0.2, 0.1], [0.1, 0.2, 0.1, 0.6]]),
    raw_query_counts=np.array([0, 20, 10]), def_query_counts=np.array([0, 50, 60]),
    raw_query_time=np.array([0.1, 2, 1]), def_query_time=np.array([0.2, 6, 5]),
    def_detection_counts=np.array([1, 5, 10]), true_labels=np.array([3, 1, 0]),
    max_queries=100)


def random_case(seed, n=300, k=10, benign=0.3, max_queries=500):
    rng = np.random.default_rng(seed)
    attacked = rng.random(n) > benign
    raw_counts = np.where(attacked, rng.integers(1, max_queries, n), 0)
    def_counts = np.where(attacked, rng.integers(1, max_queries + 1, n), 0)
    return dict(
        raw_preds=rng.dirichlet(np.ones(k), n), def_preds=rng.dirichlet(np.ones(k), n),
        raw_query_counts=raw_counts, def_query_counts=def_counts,
        raw_query_time=rng.random(n) * 3, def_query_time=rng.random(n) * 5,
        def_detection_counts=np.where(attacked, rng.integers(0, 20, n),
                                      rng.integers(0, 2, n)),
        true_labels=rng.integers(0, k, n), max_queries=max_queries)


def metrics(cls, case):
    ev = cls(**{key: (v.copy() if isinstance(v, np.ndarray) else v)
                for key, v in case.items()})
    return {name: getattr(ev, name)() for name in ("qcv", "asv", "fpr", "qrv")}


def test_black_defense_evaluate_docstring_figures_and_parity():
    ours = metrics(BlackDefenseEvaluate, DOC_CASE)
    # by hand: attacked samples 1, 2; mean queries 55 vs 15 of 100; the defended model
    # misclassifies sample 2 (argmax 3, label 0), the raw one none; sample 0 benign, flagged,
    # answered in 0.2 s instead of 0.1 s
    assert ours["qcv"] == pytest.approx(0.4, abs=1e-12)
    assert ours["asv"] == -0.5
    assert ours["fpr"] == 1.0
    assert ours["qrv"] == pytest.approx(1.0, abs=1e-9)
    assert ours == metrics(MABlack, DOC_CASE)
    assert {type(v) for v in ours.values()} == {float}
    assert BlackDefenseEvaluate(**DOC_CASE).to_dict() == ours


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_black_defense_evaluate_matches_mindarmour_exactly(seed):
    case = random_case(seed)
    ours, theirs = metrics(BlackDefenseEvaluate, case), metrics(MABlack, case)
    assert ours == theirs            # same float operations: bit-identical
    assert -1 <= ours["asv"] <= 1 and 0 <= ours["fpr"] <= 1 and ours["qcv"] != 0


def test_black_defense_evaluate_branches():
    case = dict(DOC_CASE, def_query_counts=np.array([0, 100, 100]))   # defended: budget spent
    assert metrics(BlackDefenseEvaluate, case)["qcv"] == 1.0 == metrics(MABlack, case)["qcv"]
    case = dict(DOC_CASE, max_queries=30, def_query_counts=np.array([0, 200, 300]))
    assert metrics(BlackDefenseEvaluate, case)["qcv"] == 1.0       # capped at max_queries
    assert metrics(MABlack, case)["qcv"] == 1.0
    case = dict(DOC_CASE, raw_query_counts=np.array([5, 20, 10]),
                def_query_counts=np.array([9, 50, 60]))             # no benign sample
    ours = metrics(BlackDefenseEvaluate, case)
    assert ours["fpr"] == -1 and ours["qrv"] == -1
    assert ours == metrics(MABlack, case)


@pytest.mark.parametrize("change, words", [
    (dict(raw_query_time=np.array([0.1, 2.0])), "raw_query_time has 2 entries"),
    (dict(def_preds=DOC_CASE["def_preds"][:2]), "length mismatch"),
    (dict(true_labels=np.array([3, 1])), "true_labels has 2 entries"),
    (dict(def_detection_counts=np.array([1, 5, 10, 0])), "def_detection_counts has 4"),
    (dict(true_labels=np.array([0.5, 1.0, 0.0])), "class indices must be integers"),
    (dict(true_labels=np.array([3, 1, 7])), "class indices must lie in [0, 4)"),
    (dict(true_labels=np.zeros((3, 2, 2))), "true_labels must be class indices"),
    (dict(def_query_time=np.array([0.2, np.nan, 5])), "def_query_time contains NaN"),
    (dict(raw_preds=np.array([0.1, 0.2, 0.7])), "raw_preds must be 2-D"),
    (dict(raw_query_counts=np.array([0, -20, 10])), "raw_query_counts must be non-negative"),
    (dict(raw_query_counts=np.array([0, 0, 0])), "no attacked sample"),
    (dict(max_queries=0), "max_queries must be a positive integer"),
    (dict(max_queries=10.5), "max_queries must be a positive integer"),
])
def test_black_defense_evaluate_rejects_bad_input(change, words):
    with pytest.raises(InputError) as excinfo:
        BlackDefenseEvaluate(**dict(DOC_CASE, **change))
    assert words in one_line(excinfo)


# -- RadarMetric ----------------------------------------------------------------------------

RADAR = dict(metrics_name=["MR", "ACAC", "ASS", "NTE", "ACTC"],
             metrics_data=np.array([[0.9, 0.85, 0.6, 0.7, 0.8], [0.5, 0.3, 0.55, 0.65, 0.7]]),
             labels=["before", "after"], title="robustness", scale="sparse")


def test_radar_metric_numbers_match_mindarmour_and_png_is_written(tmp_path):
    ours, theirs = RadarMetric(**RADAR), MARadar(**RADAR)
    np.testing.assert_allclose(ours.angles, theirs._angles, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(ours.curves, theirs._metrics_data)
    assert ours.angles[0] == ours.angles[-1] == 0 and len(ours.angles) == 6
    np.testing.assert_array_equal(ours.curves[:, -1], RADAR["metrics_data"][:, 0])

    fig = ours.figure()
    ax = fig.axes[0]
    lines = ax.get_lines()               # the unit border, then one line per curve
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_ydata(), np.ones(6))
    for line, row, label in zip(lines[1:], ours.curves, RADAR["labels"]):
        np.testing.assert_array_equal(line.get_ydata(), row)
        np.testing.assert_allclose(line.get_xdata(), ours.angles)
        assert line.get_label() == label
    assert [t.get_text() for t in ax.get_xticklabels()] == RADAR["metrics_name"]
    assert list(ax.get_yticks()) == [0.5] and ax.get_ylim() == (0.0, 1.0)
    assert ax.get_title() == "robustness"
    fig.clf()

    out = tmp_path / "charts" / "radar.png"
    assert ours.show(out) == out
    raw = out.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 10_000
    from matplotlib.image import imread  # pylint: disable=import-outside-toplevel
    pixels = imread(out)
    assert pixels.shape[0] > 400 and pixels.shape[1] > 400
    assert pixels[..., :3].std() > 0.05                  # not a blank canvas
    assert sorted(os.listdir(out.parent)) == ["radar.png"]  # no temporary left behind


@pytest.mark.parametrize("change, words", [
    (dict(scale="log"), "scale must be in"),
    (dict(metrics_name=["MR", "ACAC"]), "metrics_name has 2 names for the 5 metrics"),
    (dict(labels=["before"]), "labels has 1 entries for the 2 curves"),
    (dict(labels="before"), "labels must be a tuple or list"),
    (dict(metrics_data=np.array([[0.9, np.nan, 0.6, 0.7, 0.8]] * 2)), "contains NaN"),
    (dict(metrics_data=np.array([0.9, 0.85, 0.6, 0.7, 0.8])), "must be 2-D"),
    (dict(title=3), "title must be a str"),
])
def test_radar_metric_rejects_bad_input(change, words):
    with pytest.raises(InputError) as excinfo:
        RadarMetric(**dict(RADAR, **change))
    assert words in one_line(excinfo)


# -- EnsembleAdversarialDefense ----------------------------------------------------------------

class Recording:
    """An attack that records what it is given (and wraps a real attack, or pushes each
    pixel 0.3 away from mid-grey: deterministic, independent of the weights)."""

    def __init__(self, name, log, inner=None):
        self.name, self.log, self.inner = name, log, inner

    def generate(self, inputs, labels):
        out = self.inner.generate(inputs, labels) if self.inner is not None else \
            np.clip(inputs + 0.3 * np.sign(0.5 - inputs), 0.0, 1.0).astype(np.float32)
        self.log.append((self.name, inputs.copy(), np.asarray(labels).copy(), out.copy()))
        return out


def rows_of(batch, rows):
    """Indices in ``batch`` of each row of ``rows`` (exact matches)."""
    flat = batch.reshape(len(batch), -1)
    return [int(np.flatnonzero((flat == r.reshape(-1)).all(axis=1))[0]) for r in rows]


def test_ensemble_step_matches_mindarmour_on_the_same_batch(train_slice):
    """All rows replaced (ceil(0.99 * 32) = 32; MindArmour rejects replace_ratio=1.0) by one
    weight-independent attack: the replaced rows are the same whatever the draw, so both
    classes train on the same batch. MindArmour's first call
    trains once on the clean batch ("graph initialisation") then on the mixed one; mindsec
    does that as a clean AdversarialDefense step and an ensemble step, sharing one
    optimizer. Same defaults (loss, Momentum(0.01, 0.9)), same weights after, same loss."""
    x, y = train_slice[0][:32], train_slice[1][:32].astype(np.int32)
    ms.set_seed(1)
    ours, theirs = LeNet5(), LeNet5()
    for src, dst in zip(ours.trainable_params(), theirs.trainable_params()):
        dst.set_data(ms.Tensor(src.asnumpy().copy()))
    start = weights(ours)
    log_ma, log_ms = [], []
    ma = MAEnsemble(theirs, [Recording("a", log_ma)], replace_ratio=0.99)
    ma_loss = ma.defense(x.copy(), y.copy())

    optimizer = nn.Momentum(ours.trainable_params(), learning_rate=0.01, momentum=0.9)
    AdversarialDefense(ours, optimizer=optimizer).defense(x, y)
    ens = EnsembleAdversarialDefense(ours, [Recording("a", log_ms)], optimizer=optimizer,
                                     replace_ratio=0.99)
    loss = ens.defense(x, y)

    assert isinstance(loss, float) and np.isfinite(loss)
    assert loss == pytest.approx(float(np.mean(ma_loss)), rel=1e-4, abs=1e-5)
    for a, b, w0 in zip(weights(ours), weights(theirs), start):
        assert np.abs(a - w0).max() > 1e-6            # trained
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert len(log_ma) == len(log_ms) == 1 and len(log_ms[0][1]) == 32
    assert sorted(rows_of(x, log_ms[0][1])) == list(range(32))


@pytest.mark.parametrize("ratio, count, per_attack", [(0.5, 2, 8), (0.5, 3, 5), (0.3, 2, 5)])
def test_ensemble_splits_like_mindarmour(train_slice, ratio, count, per_attack):
    """Rows per attack as MindArmour: ceil(ratio * batch) // len(attacks) each, in order."""
    x, y = train_slice[0][:32], train_slice[1][:32].astype(np.int32)
    sizes = {}
    for name, cls in (("mindarmour", MAEnsemble), ("mindsec", EnsembleAdversarialDefense)):
        log = []
        net = LeNet5()
        defense = cls(net, [Recording(str(k), log) for k in range(count)],
                      replace_ratio=ratio)
        np.random.seed(0)
        defense.defense(x.copy(), y.copy())
        sizes[name] = [(entry[0], len(entry[1])) for entry in log]
    assert sizes["mindsec"] == sizes["mindarmour"] == \
        [(str(k), per_attack) for k in range(count)]


def test_ensemble_trains_lenet_on_mnist_mixing_each_attack(trained_lenet, train_slice,
                                                           test_slice):
    net = clone(trained_lenet)
    before = weights(net)
    clean_acc = accuracy(net, *test_slice)
    log = []
    attacks = [Recording("fgsm", log, FastGradientSignMethod(net, eps=0.1, loss_fn=CE)),
               Recording("bim", log, BasicIterativeMethod(net, eps=0.1, eps_iter=0.05,
                                                          nb_iter=2, loss_fn=CE))]
    # fine-tuning a trained LeNet: a mean loss and a small Adam step (MindArmour's defaults,
    # the summed loss with Momentum(0.01, 0.9), wreck it within five steps: 10% accuracy)
    mean_ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    ens = EnsembleAdversarialDefense(net, attacks, loss_fn=mean_ce, replace_ratio=0.5,
                                     optimizer=nn.Adam(net.trainable_params(), 1e-4))
    assert ens.replace_ratio == 0.5
    x, y = train_slice[0][:128], train_slice[1][:128]

    # one step, checked exactly: the loss returned is the loss, at the weights before the
    # step, of the batch with the attacked rows replaced by the attacks' outputs
    snapshot = clone(net)
    loss = ens.defense(x[:32], y[:32])
    assert [entry[0] for entry in log] == ["fgsm", "bim"]
    mixed, replaced = x[:32].copy(), []
    for _, rows, labels, out in log:
        idx = rows_of(x[:32], rows)
        np.testing.assert_array_equal(labels, y[:32][idx])
        assert len(idx) == 8 and np.abs(out - rows).max() > 0.09     # really perturbed
        mixed[idx] = out
        replaced += idx
    assert len(set(replaced)) == 16                      # disjoint: half the batch
    logits = snapshot(ms.Tensor(mixed)).asnumpy().astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(32), y[:32]])
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-5)

    # a few batches: each batch attacked by fgsm then bim, 8 rows each, in batch order
    log.clear()
    last = ens.batch_defense(x, y, batch_size=32, epochs=1)
    assert [entry[0] for entry in log] == ["fgsm", "bim"] * 4
    for b in range(4):
        batch = x[32 * b:32 * (b + 1)]
        idx = rows_of(batch, log[2 * b][1]) + rows_of(batch, log[2 * b + 1][1])
        assert len(set(idx)) == 16
    assert np.isfinite(last) and 0 < last < 3
    assert max(np.abs(a - b).max() for a, b in zip(weights(net), before)) > 1e-4
    assert accuracy(net, *test_slice) > clean_acc - 0.05   # still a working classifier
    assert clean_acc > 0.85


@pytest.mark.parametrize("kwargs, words", [
    (dict(replace_ratio=1.5), "replace_ratio must be <= 1.0"),
    (dict(replace_ratio=-0.1), "replace_ratio must be >= 0.0"),
    (dict(replace_ratio=float("nan")), "replace_ratio must be a finite number"),
    (dict(attacks=[]), "attacks must be a non-empty list"),
    (dict(attacks=[object()]), "attacks must be a non-empty list"),
    (dict(attacks="fgsm"), "attacks must be a non-empty list"),
    (dict(bounds=(1.0, 0.0)), "bounds must satisfy min < max"),
    (dict(network="lenet"), "network must be a mindspore.nn.Cell"),
])
def test_ensemble_rejects_bad_arguments(kwargs, words):
    args = dict(network=LeNet5(), attacks=[Recording("a", [])])
    args.update(kwargs)
    with pytest.raises(InputError) as excinfo:
        EnsembleAdversarialDefense(**args)
    assert words in one_line(excinfo)


def test_ensemble_rejects_bad_batches(train_slice):
    ens = EnsembleAdversarialDefense(LeNet5(), [Recording("a", [])])
    x, y = train_slice[0][:8].copy(), train_slice[1][:8]
    cases = [(x, y[:7], "labels has 7 entries for 8 inputs"),
             (x, np.full(8, 0.5), "class indices must be integers"),
             (x, y.reshape(2, 2, 2), "labels must be class indices (N,) or one-hot"),
             (np.where(np.arange(8)[:, None, None, None] == 3, np.nan, x), y,
              "inputs contains NaN")]
    for inputs, labels, words in cases:
        with pytest.raises(InputError) as excinfo:
            ens.defense(inputs, labels)
        assert words in one_line(excinfo)


# -- NeuronMetric --------------------------------------------------------------------------------

def test_neuron_metric_matches_layer_outputs(trained_lenet, test_slice):
    net = trained_lenet
    x, y = test_slice[0][:40], test_slice[1][:40]
    x_adv = FastGradientSignMethod(net, eps=0.2, loss_fn=CE).generate(x, y)
    layers = ["conv1", "conv2", "fc1", "fc2"]
    ns = NeuronMetric(net, ms.Tensor(x), ms.Tensor(x_adv), layers, batch_size=16)
    assert ms.get_context("mode") == ms.GRAPH_MODE          # mode restored
    result = ns.neuron_sensitivity()
    assert list(result) == layers
    assert {k: v.shape for k, v in result.items()} == \
        {"conv1": (6,), "conv2": (16,), "fc1": (120,), "fc2": (84,)}

    def outputs(z):              # LeNet5's forward, written out layer by layer
        z = ms.Tensor(z)
        c1 = net.conv1(z)
        c2 = net.conv2(net.max_pool2d(net.relu(c1)))
        f1 = net.fc1(net.flatten(net.max_pool2d(net.relu(c2))))
        f2 = net.fc2(net.relu(f1))
        return {"conv1": c1.asnumpy().mean(axis=(2, 3)),
                "conv2": c2.asnumpy().mean(axis=(2, 3)),
                "fc1": f1.asnumpy(), "fc2": f2.asnumpy()}
    clean, adv = outputs(x), outputs(x_adv)
    for name in layers:
        expected = np.abs(clean[name] - adv[name]).sum(axis=0)
        np.testing.assert_allclose(result[name], expected, rtol=1e-4, atol=1e-5)
        assert result[name].dtype == np.float32 and result[name].max() > 0.1
    # batching does not change the figures; no perturbation, no sensitivity
    whole = NeuronMetric(net, x, x_adv, ["fc1"], batch_size=1000).neuron_sensitivity()
    np.testing.assert_allclose(whole["fc1"], result["fc1"], rtol=1e-5, atol=1e-6)
    same = NeuronMetric(net, x, x.copy(), ["conv2"]).neuron_sensitivity()
    np.testing.assert_array_equal(same["conv2"], np.zeros(16, np.float32))


def test_neuron_metric_rejects_bad_input(trained_lenet, test_slice):
    x = test_slice[0][:4]
    bad_x = x.copy()
    bad_x[0, 0, 0, 0] = np.nan
    cases = [((x, x[:3], ["conv1"]), "adv_inputs has shape (3, 1, 32, 32)"),
             ((x, x, ["conv9"]), "['conv9'] are not layers of the model"),
             ((x, x, []), "hook_names must be a non-empty list"),
             ((x, x, ["relu"]), "run more than once per forward pass"),
             ((bad_x, x, ["conv1"]), "inputs contains NaN")]
    for (inputs, adv, names), words in cases:
        with pytest.raises(InputError) as excinfo:
            NeuronMetric(trained_lenet, inputs, adv, names)
        assert words in one_line(excinfo)
    assert ms.get_context("mode") == ms.GRAPH_MODE
