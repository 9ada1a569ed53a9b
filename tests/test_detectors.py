"""MindArmour's adversarial-example detectors (``mindsec.detectors``) on real MNIST digits
and the trained LeNet5: parity with mindarmour 2.0.0 where both are deterministic (spatial
smoothing, MagNet's two detectors on the same auto-encoder weights, the similarity
detector's thresholds and detections), figures within a stated tolerance where both draw
at random (region-based), detection figures measured on FGSM / DeepFool examples, the
ensemble's voting, and the one-line argument errors.

Deliberate differences checked here: SpatialSmoothing filters each image over its spatial
axes (MindArmour's scipy call also filters across the batch and channel axes, so its result
on a batch depends on the neighbouring images: it is compared image by image, where the two
agree exactly); RegionBasedDetector draws every coordinate of its hypercube (MindArmour
draws one value per channel for (C, H, W) inputs: compared on flat inputs, where both draw
per coordinate); EnsembleDetector counts each detector's vote per input (MindArmour's
``counts[flags] += 1`` indexes by the 0/1 flags and uses ``np.int``, gone in NumPy 1.24);
detecting before fit is an InputError (MindArmour's threshold starts at 0.0).
"""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn
from sklearn.metrics import roc_auc_score

from mindsec.attacks import DeepFool, FastGradientSignMethod
from mindsec.batching import predict_logits
from mindsec.detectors import (Detector, DivergenceBasedDetector, EnsembleDetector,
                               ErrorBasedDetector, MagNetAutoEncoder, RegionBasedDetector,
                               SimilarityDetector, SpatialSmoothing, train_auto_encoder)
from mindsec.errors import InputError

mindarmour = pytest.importorskip("mindarmour")
from mindarmour.adv_robustness import detectors as ma  # noqa: E402

CE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)


class _Softmax(nn.Cell):
    def __init__(self, inner):
        super().__init__(auto_prefix=False)
        self.inner = inner
        self.softmax = nn.Softmax()

    def construct(self, x):
        return self.softmax(self.inner(x))


class _Flat(nn.Cell):
    """The network on flat (N, 1024) inputs (MindArmour's hypercube is per coordinate
    there)."""

    def __init__(self, inner):
        super().__init__(auto_prefix=False)
        self.inner = inner

    def construct(self, x):
        return self.inner(x.reshape(x.shape[0], 1, 32, 32))


@pytest.fixture(scope="module")
def clean(test_slice):
    return test_slice[0][:400], test_slice[1][:400]


@pytest.fixture(scope="module")
def fgsm(trained_lenet, clean):
    """FGSM eps 0.3 on the 200 digits clean[200:400] (the first 200 fit the detectors)."""
    x, y = clean
    adv = FastGradientSignMethod(trained_lenet, eps=0.3, bounds=(0.0, 1.0),
                                 loss_fn=CE).batch_generate(x[200:], y[200:])
    fooled = predict_logits(trained_lenet, adv).argmax(1) != y[200:]
    assert fooled.mean() > 0.9
    return adv


@pytest.fixture(scope="module")
def auto_encoder(train_slice):
    ms.set_seed(0)
    ae = MagNetAutoEncoder()
    history = train_auto_encoder(ae, train_slice[0], epochs=4, batch_size=32, seed=0)
    assert history[-1]["loss"] < 0.02 < history[0]["loss"]     # it learned to reconstruct
    ae.set_train(False)
    return ae


def _auc(clean_scores, adv_scores):
    return roc_auc_score(np.r_[np.zeros(len(clean_scores)), np.ones(len(adv_scores))],
                         np.r_[clean_scores, adv_scores])


# ----------------------------------------------------------------------------- parity
def test_spatial_smoothing_matches_mindarmour(trained_lenet, clean, fgsm):
    x = np.concatenate([clean[0][200:230], fgsm[:30]])
    model = _Softmax(trained_lenet)
    ours = SpatialSmoothing(ms.Model(model))
    ref = ma.SpatialSmoothing(ms.Model(model))
    smooth = ours.transform(x)
    assert smooth.shape == x.shape and smooth.dtype == np.float32
    for i in range(0, len(x), 7):                      # image by image, exactly
        np.testing.assert_array_equal(smooth[i:i + 1], ref.transform(x[i:i + 1]))
    threshold = ours.fit(clean[0][:200])
    assert isinstance(threshold, np.float32) and 0.0 < threshold < 2.0
    benign = np.array(ours.detect(clean[0][:200]))
    assert benign.mean() <= 0.05                       # fit's false positive rate
    ref.set_threshold(threshold.item())
    flags = ours.detect(x)
    assert isinstance(flags, list) and set(flags) <= {0, 1}
    ref_flags = [ref.detect(x[i:i + 1])[0] for i in range(len(x))]
    assert flags == ref_flags
    ref_diff = np.array([ref.detect_diff(x[i:i + 1])[0] for i in range(len(x))])
    np.testing.assert_allclose(ours.detect_diff(x), ref_diff, rtol=1e-5, atol=1e-6)
    assert 0 < sum(flags) < len(flags)                 # a non-trivial comparison


def test_error_based_matches_mindarmour(auto_encoder, clean, fgsm):
    fit_x, x = clean[0][:200], np.concatenate([clean[0][200:300], fgsm[:100]])
    ours = ErrorBasedDetector(auto_encoder, false_positive_rate=0.05)
    ref = ma.ErrorBasedDetector(ms.Model(auto_encoder), false_positive_rate=0.05)
    threshold = ours.fit(fit_x)
    assert threshold == pytest.approx(float(ref.fit(fit_x)), rel=1e-5)
    np.testing.assert_allclose(ours.detect_diff(x), ref.detect_diff(x), rtol=1e-5)
    assert ours.detect(x) == ref.detect(x)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x), atol=1e-6)
    assert ours.transform(x).min() >= 0.0 and ours.transform(x).max() <= 1.0


def test_divergence_based_matches_mindarmour(auto_encoder, trained_lenet, clean, fgsm):
    fit_x, x = clean[0][:200], np.concatenate([clean[0][200:300], fgsm[:100]])
    ours = DivergenceBasedDetector(auto_encoder, ms.Model(trained_lenet), t=2)
    ref = ma.DivergenceBasedDetector(ms.Model(auto_encoder), ms.Model(trained_lenet), t=2)
    diff = ours.detect_diff(x)
    np.testing.assert_allclose(diff, ref.detect_diff(x), rtol=1e-4, atol=1e-7)
    assert ours.fit(fit_x) == pytest.approx(float(ref.fit(fit_x)), rel=1e-4)
    assert ours.detect(x) == ref.detect(x)


# ----------------------------------------------------------------------------- detection
def test_magnet_detects_fgsm(auto_encoder, trained_lenet, clean, fgsm):
    """Measured (first 1,000 test digits of the 5k fallback): reconstruction-error AUC
    1.000, TPR 1.00 and held-out FPR 0.065 at the threshold fitted at 5%; divergence (t=1)
    AUC 0.90."""
    held_out = clean[0][200:]
    error = ErrorBasedDetector(auto_encoder, false_positive_rate=0.05)
    error.fit(clean[0][:200])
    assert _auc(error.detect_diff(held_out), error.detect_diff(fgsm)) > 0.98
    assert np.mean(error.detect(fgsm)) > 0.9
    assert np.mean(error.detect(held_out)) < 0.12      # fitted at 5% on other digits
    div = DivergenceBasedDetector(auto_encoder, trained_lenet)
    div.fit(clean[0][:200])
    assert _auc(div.detect_diff(held_out), div.detect_diff(fgsm)) > 0.8


def test_region_based_matches_mindarmour_and_detects_deepfool(trained_lenet, clean):
    """Both draw at random; on flat inputs both draw every coordinate, so the fraction of
    clean digits flagged at a given radius agrees within 0.12 (40 digits), and both fits
    pick radii within 0.1. On DeepFool's minimal examples (just over the boundary) the
    region vote flags most (measured: radius 0.06, 0.68 of them flagged, 0.01 of the
    clean digits)."""
    x, y = clean[0][:40], clean[1][:40]
    flat = _Flat(trained_lenet)
    xf = x.reshape(len(x), -1)
    np.random.seed(0)
    ours = RegionBasedDetector(flat, number_points=6, max_radius=0.6, search_step=0.1,
                               degrade_limit=0.05, sparse=True)
    ref = ma.RegionBasedDetector(ms.Model(flat), number_points=6, max_radius=0.6,
                                 search_step=0.1, degrade_limit=0.05, sparse=True)
    radius = ours.fit(xf, y)
    assert isinstance(radius, float) and 0.0 <= radius <= 0.6
    assert abs(radius - ref.fit(xf, y.astype(np.int32))) <= 0.1 + 1e-9
    for r in (0.3, 0.5):
        ours.set_radius(r)
        ref.set_radius(r)
        rate = np.mean(ours.detect(xf))
        assert abs(rate - np.mean(ref.detect(xf))) <= 0.12
    assert rate > 0.05                                  # radius 0.5 moves some labels
    cube = ours.transform(xf[:3])
    assert cube.shape == (3, 6, 1024) and cube.min() >= 0.0 and cube.max() <= 1.0
    assert np.abs(cube - xf[:3, None]).max() <= 0.6 + 1e-6
    raw, region = ours.detect_diff(xf[:5])
    assert raw.shape == (5, 10) and region.shape == (5,)

    det = RegionBasedDetector(trained_lenet, max_radius=0.3, search_step=0.02,
                              degrade_limit=0.01)
    det.fit(clean[0][:200], np.eye(10)[clean[1][:200]])
    digits, labels = clean[0][200:300], clean[1][200:300]
    adv = DeepFool(trained_lenet, 10, bounds=(0.0, 1.0)).batch_generate(digits, labels)
    fooled = predict_logits(trained_lenet, adv).argmax(1) != labels
    assert fooled.mean() > 0.8
    assert np.mean(np.array(det.detect(adv))[fooled]) > 0.5
    assert np.mean(det.detect(digits)) < 0.1


def test_similarity_detector_matches_mindarmour(trained_lenet, clean):
    x = clean[0]
    kw = dict(max_k_neighbor=20, chunk_size=128, max_buffer_size=500, tuning=True,
              fpr=0.01)
    ours = SimilarityDetector(trained_lenet, **kw)
    ref = ma.SimilarityDetector(ms.Model(trained_lenet), **kw)
    ks, thresholds = ours.fit(x[:300])
    ref_ks, ref_thresholds = ref.fit(x[:300])
    assert ks == list(ref_ks) == list(range(1, 21))
    np.testing.assert_allclose(thresholds, ref_thresholds, rtol=1e-4)
    # a benign stream, then an attack-like one: small steps around one digit
    rng = np.random.default_rng(0)
    probes = np.clip(x[350] + rng.normal(0, 0.02, (60,) + x.shape[1:]), 0, 1)
    stream = np.concatenate([x[300:400], probes.astype(np.float32)])
    ours.detect(stream[:120])
    ours.detect(stream[120:])                           # the buffer carries over
    ref.detect(stream[:120])
    ref.detect(stream[120:])
    found = ours.get_detected_queries()
    assert found == ref.get_detected_queries()
    assert ours.get_detection_interval() == ref.get_detection_interval()
    assert sum(q > 100 for q in found) >= 2            # the probes are caught
    assert sum(q <= 100 for q in found) <= 2           # benign digits rarely
    ours.clear_buffer()
    ours.set_threshold(5, thresholds[4])


def test_ensemble_votes(auto_encoder, trained_lenet, clean, fgsm):
    x = np.concatenate([clean[0][200:260], fgsm[:60]])
    members = [ErrorBasedDetector(auto_encoder, false_positive_rate=0.05),
               DivergenceBasedDetector(auto_encoder, trained_lenet),
               SpatialSmoothing(_Softmax(trained_lenet))]
    for det in members:
        det.fit(clean[0][:200])
    votes = np.array([det.detect(x) for det in members])
    expected = {"vote": votes.sum(0) >= 2, "all": votes.all(0), "any": votes.any(0)}
    for policy, want in expected.items():
        got = EnsembleDetector(members, policy=policy).detect(x)
        assert isinstance(got, list) and got == [int(v) for v in want]
    assert sum(expected["all"]) < sum(expected["any"])            # the policies differ here
    assert votes.sum(0)[60:].mean() > votes.sum(0)[:60].mean()   # adversarial: more votes


# ----------------------------------------------------------------------------- errors
def test_unavailable_methods_raise_not_implemented(auto_encoder, trained_lenet):
    x = np.zeros((2, 1, 32, 32), np.float32)
    ensemble = EnsembleDetector([ErrorBasedDetector(auto_encoder)])
    for call in (lambda: ensemble.fit(x), lambda: ensemble.detect_diff(x),
                 lambda: ensemble.transform(x),
                 lambda: SimilarityDetector(trained_lenet).detect_diff(x),
                 lambda: SimilarityDetector(trained_lenet).transform(x),
                 lambda: Detector().fit(x), lambda: Detector().detect(x)):
        with pytest.raises(NotImplementedError, match="not available|abstract"):
            call()
    with pytest.raises(NotImplementedError, match="option 'kl'"):
        DivergenceBasedDetector(auto_encoder, trained_lenet, option="kl")


def test_one_line_errors(auto_encoder, trained_lenet, clean):
    x = clean[0][:20]
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    cases = [
        (lambda: ErrorBasedDetector(auto_encoder).detect(x), "call fit"),
        (lambda: SpatialSmoothing(trained_lenet).detect(x), "call fit"),
        (lambda: RegionBasedDetector(trained_lenet).detect(x), "set_radius"),
        (lambda: SimilarityDetector(trained_lenet).detect(x), "call fit"),
        (lambda: ErrorBasedDetector(auto_encoder).fit(nan), "NaN"),
        (lambda: ErrorBasedDetector(auto_encoder).fit(x.astype(np.int32)), "float"),
        (lambda: SpatialSmoothing(trained_lenet).transform(x[0, 0, 0]), "shape"),
        (lambda: ErrorBasedDetector(auto_encoder).fit(np.zeros((3, 1, 7, 7), np.float32)),
         "do not fit the network"),
        (lambda: ErrorBasedDetector(auto_encoder, false_positive_rate=1.5), "<= 1"),
        (lambda: SpatialSmoothing(trained_lenet, false_positive_ratio=-0.1), ">= 0"),
        (lambda: SpatialSmoothing(trained_lenet, ksize=0), "ksize"),
        (lambda: SpatialSmoothing(trained_lenet, metric="l3"), "metric"),
        (lambda: ErrorBasedDetector(auto_encoder).set_threshold(-1.0), "threshold"),
        (lambda: ErrorBasedDetector("net"), "auto_encoder must be"),
        (lambda: RegionBasedDetector(trained_lenet).fit(x), "labels must be given"),
        (lambda: RegionBasedDetector(trained_lenet).fit(x, clean[1][:20]), "sparse=True"),
        (lambda: RegionBasedDetector(trained_lenet).set_radius(2.0), "radius"),
        (lambda: RegionBasedDetector(trained_lenet, initial_radius=0.5, max_radius=0.2),
         "max_radius"),
        (lambda: SimilarityDetector(trained_lenet, max_k_neighbor=50).fit(x),
         "max_k_neighbor=50"),
        (lambda: SimilarityDetector(trained_lenet, fpr=2), "fpr"),
        (lambda: EnsembleDetector([], policy="vote"), "non-empty"),
        (lambda: EnsembleDetector([ErrorBasedDetector(auto_encoder)], policy="most"),
         "policy"),
        (lambda: EnsembleDetector([object()]), r"detectors\[0\]"),
        (lambda: DivergenceBasedDetector(auto_encoder, trained_lenet, t=0), "t must be"),
    ]
    for call, words in cases:
        with pytest.raises(InputError, match=words) as info:
            call()
        assert "\n" not in str(info.value), words
