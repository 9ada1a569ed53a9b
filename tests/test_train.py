import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mindspore as ms

from mindsec import checkpoint, train
from mindsec.batching import accuracy
from mindsec.errors import InputError
from mindsec.models import LeNet5
from conftest import ROOT


def test_lenet5_matches_the_tutorial_architecture():
    net = LeNet5()
    shapes = {p.name: p.shape for p in net.trainable_params()}
    assert shapes == {
        "conv1.weight": (6, 1, 5, 5), "conv2.weight": (16, 6, 5, 5),
        "fc1.weight": (120, 400), "fc1.bias": (120,), "fc2.weight": (84, 120),
        "fc2.bias": (84,), "fc3.weight": (10, 84), "fc3.bias": (10,)}
    w = net.conv1.weight.asnumpy()
    assert abs(w.std() - 0.02) < 0.006 and abs(w.mean()) < 0.01   # TruncatedNormal(0.02)


def test_short_training_on_real_digits_learns(trained_lenet, test_slice):
    acc = accuracy(trained_lenet, *test_slice)
    assert acc > 0.9, acc          # chance is 0.1


def test_training_is_repeatable_and_logs_progress(train_slice):
    x, y = train_slice[0][:1024], train_slice[1][:1024]
    recipe = train.get_recipe("default", epochs=2)
    runs, lines = [], []
    for _ in range(2):
        ms.set_seed(5)
        net = LeNet5()
        history = train.fit(net, x, y, recipe, seed=5, log=lines.append)
        runs.append(net.fc3.weight.asnumpy())
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-5, atol=1e-6)
    assert [h["epoch"] for h in history] == [1, 2]
    assert "loss" in lines[0] and "samples/s" in lines[0] and "train acc" in lines[0]


def test_one_hot_labels_train_like_indices(train_slice):
    x, y = train_slice[0][:256], train_slice[1][:256]
    recipe = train.get_recipe("default", epochs=1)
    out = []
    for labels in (y, np.eye(10, dtype=np.float32)[y]):
        ms.set_seed(0)
        net = LeNet5()
        train.fit(net, x, labels, recipe, log=lambda s: None)
        out.append(net.fc3.bias.asnumpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)


def test_bad_training_input(train_slice):
    x, y = train_slice
    recipe = train.get_recipe("default", epochs=1)
    with pytest.raises(InputError, match="float32 array"):
        train.fit(LeNet5(), x.astype(np.float64), y, recipe)
    with pytest.raises(InputError, match="labels must be"):
        train.fit(LeNet5(), x, y[:10], recipe)
    with pytest.raises(InputError, match="recipe must be one of default, fast, tutorial"):
        train.get_recipe("turbo")
    with pytest.raises(InputError, match="epochs must be a positive"):
        train.get_recipe("default", epochs=0)


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    """SIGKILL a real training process after its first checkpoint, resume, and check the
    result equals an uninterrupted run's."""
    args = [sys.executable, "-m", "mindsec.cli", "train", "--device", "CPU",
            "--train-samples", "6000", "--test-samples", "200", "--epochs", "5"]
    killed = tmp_path / "killed.ckpt"
    args += ["--out", str(tmp_path)]
    proc = subprocess.Popen(args + ["--ckpt", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.time() + 240
        while not killed.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _, meta = checkpoint.load(killed)              # what was on disk is a whole checkpoint
    assert 1 <= meta["epoch"] < 5, meta

    resumed = subprocess.run(args + ["--ckpt", str(killed), "--resume"], capture_output=True,
                             text=True, cwd=ROOT, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {killed} after epoch {meta['epoch']}/5" in resumed.stdout
    assert "epoch  5/5" in resumed.stdout and "epoch  1/5" not in resumed.stdout

    whole = tmp_path / "whole.ckpt"
    straight = subprocess.run(args + ["--ckpt", str(whole)], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)
    assert straight.returncode == 0, straight.stderr
    a, _ = checkpoint.load(killed)
    b, _ = checkpoint.load(whole)
    for name in ("conv1.weight", "fc3.weight", "moment1.fc3.weight", "global_step"):
        np.testing.assert_allclose(a[name].asnumpy(), b[name].asnumpy(), rtol=1e-4,
                                   atol=1e-6)


def test_resume_refuses_a_checkpoint_of_another_recipe(tmp_path, train_slice):
    x, y = train_slice[0][:256], train_slice[1][:256]
    path = tmp_path / "r.ckpt"
    train.fit(LeNet5(), x, y, train.get_recipe("default", epochs=1), ckpt_path=path,
              log=lambda s: None)
    with pytest.raises(InputError, match="written with recipe='default'"):
        train.fit(LeNet5(), x, y, train.get_recipe("tutorial", epochs=1), ckpt_path=path,
                  resume=True, log=lambda s: None)


def _learning_rates(schedule, epochs=3, steps=4):
    """The per-step learning rates of a recipe's optimizer (one value if constant)."""
    recipe = train.Recipe("t", "adam", 1e-3, 32, epochs, schedule=schedule)
    lr = train.make_optimizer(LeNet5(), recipe, steps).learning_rate
    return np.atleast_1d(getattr(lr, "learning_rate", lr).asnumpy())


@pytest.mark.parametrize("schedule, first, last", [
    ("cosine", 1e-3, 1e-3 * (1 - np.cos(np.pi / 3)) / 2),   # MindSpore's: one value per epoch
    ("cosine-step", 1e-3, 1e-3 * (1 + np.cos(np.pi * 11 / 12)) / 2),   # every step, to ~0
    ("onecycle", 1e-3 / 4.8, 0.0),
    ("constant", 1e-3, 1e-3),
])
def test_learning_rate_schedules(schedule, first, last):
    lrs = _learning_rates(schedule)
    assert lrs.size in (1, 12)
    assert lrs[0] == pytest.approx(first, rel=1e-5) and lrs[-1] == pytest.approx(last, abs=1e-9)
    if schedule == "cosine":     # constant within an epoch
        assert (lrs[:4] == lrs[0]).all() and (lrs[8:] == lrs[8]).all()
    if schedule == "cosine-step":
        assert (np.diff(lrs) < 0).all()


def test_command_line_names_are_the_librarys_and_a_typo_is_refused():
    from mindsec import cli_support, recipes    # pylint: disable=import-outside-toplevel
    assert cli_support.RECIPE_NAMES is recipes.RECIPE_NAMES == tuple(train.RECIPES)
    assert cli_support.SCHEDULES is recipes.SCHEDULES is train.SCHEDULES
    RECIPE_NAMES, SCHEDULES = recipes.RECIPE_NAMES, recipes.SCHEDULES
    # the command line reads them without loading MindSpore
    probe = subprocess.run([sys.executable, "-c", "import sys, mindsec.cli_support, "
                            "mindsec.recipes, mindsec.checks, mindsec.atomic; "
                            "print('mindspore' in sys.modules)"], capture_output=True,
                           text=True, cwd=ROOT)
    assert probe.stdout.strip() == "False", probe.stderr[-500:]
    assert {train.RECIPES[name].schedule for name in RECIPE_NAMES} <= set(SCHEDULES)
    for schedule in SCHEDULES:
        assert _learning_rates(schedule).size >= 1
    with pytest.raises(InputError, match="schedule must be one of constant, cosine, "
                                         "cosine-step, onecycle, got 'cosine_step'"):
        _learning_rates("cosine_step")
