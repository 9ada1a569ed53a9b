"""AutoAttack on MindSpore: APGD's schedule and losses, the cascade and its flags, bad
input, resume after a kill, data-parallel evaluation, and agreement with an independent
PyTorch implementation (torchattacks) on the same weights."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn, ops

from mindsec import attacks
from mindsec.attacks.apgd import checkpoints, dlr, dlr_targeted
from mindsec.atomic import is_temporary
from mindsec.batching import predict_logits
from mindsec.errors import InputError
from mindsec.evaluations import AutoAttack, evaluate_robustness
from mindsec.models import LeNet5

from conftest import ROOT, error_lines

CE = nn.SoftmaxCrossEntropyWithLogits(sparse=True)


# ----------------------------------------------------------------------------- APGD
def test_apgd_checkpoints_follow_the_paper():
    """p_0 = 0, p_1 = 0.22, p_j+1 = p_j + max(p_j - p_j-1 - 0.03, 0.06): for 100 iterations
    the checks fall after iterations 22, 41, 57, 70, 80, 87, 93 and 99."""
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    expected = [int(round(v * 100)) for v in p[1:]]
    assert [at + 1 for at, _ in checkpoints(100)] == expected
    assert [w for _, w in checkpoints(100)] == list(np.diff([0] + expected))


def test_dlr_losses_are_their_formulas():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(64, 10)).astype(np.float32) * 3
    y = rng.integers(0, 10, 64).astype(np.int32)
    t = ((y + 1 + rng.integers(0, 9, 64)) % 10).astype(np.int32)
    srt = -np.sort(-z, axis=1)
    rows = np.arange(64)
    other = np.where(z.argmax(1) == y, srt[:, 1], srt[:, 0])
    want = -(z[rows, y] - other) / (srt[:, 0] - srt[:, 2] + 1e-12)
    np.testing.assert_allclose(dlr(ms.Tensor(z), ms.Tensor(y)).asnumpy(), want, rtol=1e-5)
    want_t = -(z[rows, y] - z[rows, t]) / (srt[:, 0] - 0.5 * (srt[:, 2] + srt[:, 3]) + 1e-12)
    np.testing.assert_allclose(dlr_targeted(ms.Tensor(z), ms.Tensor(y), ms.Tensor(t)).asnumpy(),
                               want_t, rtol=1e-5)
    # invariant to shifting and scaling the logits
    np.testing.assert_allclose(dlr(ms.Tensor(5 * z + 2), ms.Tensor(y)).asnumpy(), want,
                               rtol=1e-4)


def test_apgd_restarts_and_targets_only_attack_what_stands(trained_lenet, test_slice):
    x, y = test_slice[0][:200], test_slice[1][:200]
    one = attacks.AutoProjectedGradientDescent(trained_lenet, eps=0.05, nb_iter=20, seed=0)
    three = attacks.AutoProjectedGradientDescent(trained_lenet, eps=0.05, nb_iter=20,
                                                 nb_restarts=3, seed=0)
    fooled = [predict_logits(trained_lenet, a.batch_generate(x, y)).argmax(1) != y
              for a in (one, three)]
    assert np.all(fooled[1] >= fooled[0])           # restarts never lose a break
    assert three.label == "APGD-CE-20x3"
    compiled = {s[1:] for s in three.shapes}
    assert len(compiled) <= 1 + int(np.log2(200)) + 1, compiled   # padded to bucket sizes


# ----------------------------------------------------------------------------- cascade
@pytest.fixture(scope="module")
def small_aa():
    return dict(n_iter=10, n_queries=100)


def test_autoattack_runs_the_published_cascade(trained_lenet, test_slice, small_aa):
    x, y = test_slice[0][:100], test_slice[1][:100]
    aa = AutoAttack(trained_lenet, "Linf", 0.1, seed=0, **small_aa)
    report = aa.evaluate(x, y, collapse_samples=30)
    names = [a["name"] for a in report.attacks]
    assert names == ["APGD-CE-10", "APGD-T-10", "FAB-T-10", "Square-100"]
    assert [a["kind"] for a in report.attacks] == ["iterative", "iterative", "minimal",
                                                   "score-based"]
    broken = sum(a["broken"][0] for a in report.attacks)
    correct = int(round(report.clean_accuracy * 100))
    assert report.robust_accuracy[0] * 100 == pytest.approx(correct - broken)
    assert 0.0 < report.robust_accuracy[0] < report.clean_accuracy
    assert report.robust_accuracy[0] <= report.standalone["APGD-CE-10"][0] + 1e-12
    assert all(a["seconds"] >= 0 for a in report.attacks)
    # the examples, from a second AutoAttack with the same seed: the same breaks, by the
    # same attacks (a seed repeats), one example per point inside the ball
    again = AutoAttack(trained_lenet, "Linf", 0.1, seed=0, **small_aa)
    adv = again.batch_generate(x, y)
    assert [int((again.broken_by == a["name"]).sum()) for a in report.attacks] == \
        [a["broken"][0] for a in report.attacks]
    assert np.abs(adv - x).max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    named = (again.broken_by != "") & (again.broken_by != "clean error")
    assert named.sum() == broken
    assert np.all(predict_logits(trained_lenet, adv[named]).argmax(1) != y[named])
    assert "eps 0.1" in aa.name and aa.version == "standard"


class GradientMasked(nn.Cell):
    """The same decisions, no input gradient."""

    def __init__(self, inner):
        super().__init__(auto_prefix=False)
        self.inner = inner

    def construct(self, x):
        return self.inner(ops.stop_gradient(x))


def test_a_score_based_attack_beating_the_gradients_is_flagged(trained_lenet, test_slice):
    """What the PGD-AT report missed: with no usable gradient the white-box attacks break
    nothing and Square, asking only for scores, breaks many."""
    x, y = test_slice[0][:100], test_slice[1][:100]
    masked = GradientMasked(trained_lenet)
    cascade = [attacks.ProjectedGradientDescent(masked, eps=0.2, eps_iter=0.02, nb_iter=10,
                                                loss_fn=CE, seed=0),
               attacks.SquareAttack(masked, eps=0.2, n_queries=300, seed=0)]
    report = evaluate_robustness(masked, (x, y), [0.2], cascade, collapse_eps=None)
    flags = {f["flag"] for f in report.flags}
    # the random start alone may flip a point or two; Square breaks many more
    assert report.attacks[0]["broken"][0] <= 3 and report.attacks[1]["broken"][0] > 10
    assert {"zero_gradients", "score_based_beats_white_box"} <= flags


class Noisy(nn.Cell):
    def __init__(self, inner):
        super().__init__(auto_prefix=False)
        self.inner = inner
        self.drop = nn.Dropout(p=0.5)

    def construct(self, x):
        return self.inner(self.drop(x))


def test_model_checks_flag_randomness_training_mode_and_probabilities(trained_lenet,
                                                                      test_slice):
    x, y = test_slice[0][:60], test_slice[1][:60]
    fgsm = attacks.FastGradientSignMethod
    noisy = Noisy(trained_lenet)
    noisy.drop.set_train(True)
    noisy.set_train(True)
    report = evaluate_robustness(noisy, (x, y), [0.1], [fgsm(noisy, loss_fn=CE)],
                                 collapse_eps=None)
    assert {"randomized_model", "training_mode"} <= {f["flag"] for f in report.flags}
    noisy.set_train(False)
    trained_lenet.set_train(False)
    twin = LeNet5()                   # a copy: wrapping the shared net would rename it
    ms.load_param_into_net(twin, {k: ms.Parameter(v.data.copy(), name=k)
                                  for k, v in trained_lenet.parameters_dict().items()})
    twin.set_train(False)
    probs = nn.SequentialCell([twin, nn.Softmax()])
    probs.set_train(False)
    report = evaluate_robustness(probs, (x, y), [0.1], [fgsm(probs, loss_fn=CE)],
                                 collapse_eps=None)
    assert "probability_outputs" in {f["flag"] for f in report.flags}
    # AutoAttack attacks the logits under the softmax: the same decisions, no saturation
    aa = AutoAttack(probs, "Linf", 0.1, n_iter=10, n_queries=50)
    assert aa.attacked_network is not probs
    np.testing.assert_allclose(predict_logits(aa.attacked_network, x[:8]),
                               predict_logits(trained_lenet, x[:8]), rtol=1e-5, atol=1e-6)
    on_probs = aa.evaluate(x, y, collapse_eps=None)
    on_logits = AutoAttack(trained_lenet, "Linf", 0.1, n_iter=10, n_queries=50).evaluate(
        x, y, collapse_eps=None)
    assert on_probs.robust_accuracy == on_logits.robust_accuracy
    plain = evaluate_robustness(trained_lenet, (x, y), [0.1],
                                [fgsm(trained_lenet, loss_fn=CE)], collapse_eps=None)
    assert not {"randomized_model", "training_mode", "probability_outputs"} & \
        {f["flag"] for f in plain.flags}


@pytest.mark.parametrize("make, message", [
    (lambda n: AutoAttack(n, "Linf", 0.0), "eps must be > 0"),
    (lambda n: AutoAttack(n, "Linf", 1.5), "eps must be <= 1"),
    (lambda n: AutoAttack(n, "L1", 0.3), "norm_level must be"),
    (lambda n: AutoAttack(n, "Linf", 0.3, version="fast"), "version must be one of"),
    (lambda n: AutoAttack(n, "Linf", 0.3, n_queries=0), "n_queries must be"),
    (lambda n: attacks.AutoProjectedGradientDescent(n, loss="hinge"), "loss must be"),
    (lambda n: attacks.AutoProjectedGradientDescent(n, thr_decr=1.5), "thr_decr"),
    (lambda n: attacks.AutoProjectedGradientDescent(n, n_target_classes=2,
                                                    is_targeted=True), "n_target_classes"),
])
def test_bad_arguments_are_one_line(trained_lenet, make, message):
    with pytest.raises(InputError, match=message) as info:
        make(trained_lenet)
    assert "\n" not in str(info.value)


def test_bad_data_is_one_line(trained_lenet, test_slice):
    x, y = test_slice[0][:20], test_slice[1][:20]
    aa = AutoAttack(trained_lenet, "Linf", 0.1, n_iter=5, n_queries=10)
    with pytest.raises(InputError, match="inputs"):
        aa.evaluate(x[:0], y[:0])
    with pytest.raises(InputError, match="labels"):
        aa.evaluate(x, np.full(20, 12))                      # 10 classes
    with pytest.raises(InputError, match="labels"):
        aa.evaluate(x, np.eye(7, dtype=np.float32)[y % 7])   # one-hot of 7 classes
    apgd_t = attacks.AutoProjectedGradientDescent(trained_lenet, n_target_classes=10)
    with pytest.raises(InputError, match="n_target_classes must be below"):
        apgd_t.batch_generate(x, y)
    with pytest.raises(InputError, match="AutoAttack was built on another network"):
        evaluate_robustness(LeNet5(), (x, y), [0.1], aa)


# ----------------------------------------------------------------------------- resume
def test_a_stopped_run_resumes_to_the_same_result(trained_lenet, test_slice, tmp_path,
                                                  monkeypatch):
    x, y = test_slice[0][:60], test_slice[1][:60]
    run = dict(collapse_eps=None, chunk=15, seed=3)
    small = dict(seed=3, n_iter=10, n_queries=100)
    whole = AutoAttack(trained_lenet, "Linf", 0.1, **small).evaluate(
        x, y, state_dir=tmp_path / "a", **run)

    calls = {"n": 0}
    real = attacks.AutoProjectedGradientDescent.generate_at

    def dies_on_the_third_chunk(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(attacks.AutoProjectedGradientDescent, "generate_at",
                        dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        AutoAttack(trained_lenet, "Linf", 0.1, **small).evaluate(
            x, y, state_dir=tmp_path / "b", **run)
    monkeypatch.undo()
    assert len(list((tmp_path / "b").glob("*.npy"))) == 2
    lines = []
    resumed = AutoAttack(trained_lenet, "Linf", 0.1, **small).evaluate(
        x, y, state_dir=tmp_path / "b", log=lines.append, **run)
    assert any("2 chunks already done" in line for line in lines)
    strip = [{k: v for k, v in a.items() if k != "seconds"} for a in whole.attacks]
    assert [{k: v for k, v in a.items() if k != "seconds"} for a in resumed.attacks] == strip
    assert resumed.robust_accuracy == whole.robust_accuracy
    # another run in the same directory starts afresh instead of reading foreign chunks
    lines = []
    evaluate_robustness(trained_lenet, (x, y), [0.1],
                        [attacks.FastGradientSignMethod(trained_lenet, loss_fn=CE)],
                        state_dir=tmp_path / "b", log=lines.append, **run)
    assert any("starting afresh" in line for line in lines)
    assert not any(p.name.startswith("e0-a1") for p in (tmp_path / "b").glob("*.npy"))


# ----------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def lenet_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("aa") / "lenet.ckpt"
    proc = subprocess.run([sys.executable, "-m", "mindsec.cli", "train", "--device", "CPU",
                           "--train-samples", "2000", "--test-samples", "200", "--epochs",
                           "4", "--ckpt", str(path), "--out", str(path.parent / "train")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


def _evaluate(ckpt, out, *extra):
    return [sys.executable, "-m", "mindsec.cli", "evaluate", "--device", "CPU", "--attack",
            "autoattack", "--ckpt", f"lenet={ckpt}", "--eps", "0.1", "--test-samples",
            "160", "--chunk", "30", "--n-iter", "10", "--n-queries", "100", "--out",
            str(out), *extra]


def _result(out):
    model = json.loads((out / "robustness.json").read_text())["models"]["lenet"]
    return model["robust_accuracy"], [(a["name"], a["attacked"], a["broken"])
                                      for a in model["attacks"]]


def _chunks(state):
    return [p for p in state.glob("*.npy") if not is_temporary(p)]


@pytest.fixture(scope="module")
def one_process(lenet_ckpt, tmp_path_factory):
    """The reference: the evaluation run once, in one process, never stopped."""
    out = tmp_path_factory.mktemp("aa") / "one"
    proc = subprocess.run(_evaluate(lenet_ckpt, out), capture_output=True, text=True,
                          cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "eps 0.1: robust accuracy " in proc.stdout            # the line scripts read
    return out


def test_evaluate_killed_with_sigkill_resumes_to_the_same_result(lenet_ckpt, one_process,
                                                                 tmp_path):
    state = tmp_path / "killed" / "state" / "lenet"
    proc = subprocess.Popen(_evaluate(lenet_ckpt, tmp_path / "killed"), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and len(_chunks(state)) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(_chunks(state))
    assert done >= 2 and not (tmp_path / "killed" / "robustness.json").exists()
    again = subprocess.run(_evaluate(lenet_ckpt, tmp_path / "killed"), capture_output=True,
                           text=True, cwd=ROOT, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "chunks already done" in again.stdout
    assert _result(tmp_path / "killed") == _result(one_process)
    assert not list(state.glob(".*tmp*"))     # what the kill left half-written is swept


def test_evaluate_on_two_workers_equals_one_process(lenet_ckpt, one_process, tmp_path):
    two = subprocess.run(_evaluate(lenet_ckpt, tmp_path / "two", "--workers", "2"),
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-2000:]
    assert json.loads((tmp_path / "two" / "robustness.json").read_text())["workers"] == 2
    assert _result(tmp_path / "two") == _result(one_process)


def test_evaluate_autoattack_bad_options_are_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mindsec.cli", "evaluate", "--attack",
                           "autoattack", "--n-queries", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == ["error: --n-queries must be a positive integer, got 0"]
