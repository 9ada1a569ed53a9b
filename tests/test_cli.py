"""The ``mindsec`` command, run as a user runs it, on slices of real MNIST."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import error_lines, run_script

CLI = ["-m", "mindsec.cli"]
PNG = b"\x89PNG\r\n\x1a\n"
COMMANDS = ("train", "attack", "adv-train", "defend", "evaluate", "report", "extract",
            "invert", "membership", "validate")


def mindsec(*args, timeout=600):
    return run_script(*CLI, *args, timeout=timeout)


def test_help_lists_every_command_and_the_console_script_is_installed():
    proc = mindsec("--help")
    assert proc.returncode == 0
    for name in COMMANDS:
        assert re.search(rf"^    {name}(\s|$)", proc.stdout, re.M), name
    assert "Exit codes" in proc.stdout
    for name in COMMANDS:
        sub = mindsec(name, "--help")
        assert sub.returncode == 0 and f"usage: mindsec {name}" in sub.stdout
        for option in ("--device", "--dataset", "--data-dir", "--out"):
            assert option in sub.stdout, (name, option)
    script = Path(sys.executable).parent / "mindsec"
    assert script.exists(), "pip install did not install the mindsec console script"
    version = run_script(script, "--version")
    assert version.returncode == 0 and version.stdout.startswith("mindsec ")


@pytest.mark.parametrize("args, message", [
    (["attack", "--eps", "2"], "error: --eps must be <= 1.0, got 2.0"),
    (["report", "--ckpt", "nowhere.ckpt"], "error: checkpoint nowhere.ckpt does not exist"),
    (["evaluate", "--eps", "0.1,0.5x"], "error: --eps must be comma-separated numbers, got "
                                        "'0.1,0.5x'"),
    (["defend", "--workers", "0"], "error: --workers must be a positive integer, got 0"),
    (["validate", "--reference", "missing.json"], "error: --reference missing.json cannot "
                                                  "be read"),
    (["train", "--device", "TPU"], "error: device must be one of CPU, GPU, Ascend or auto, "
                                   "got 'TPU'"),
    (["train", "--lr", "-0.1"], "error: --lr must be > 0.0, got -0.1"),
    (["train", "--batch", "0"], "error: --batch must be a positive integer, got 0"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    proc = mindsec(*args, "--out", tmp_path)
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [message]


@pytest.mark.parametrize("command", ["attack", "defend"])
def test_a_mistyped_checkpoint_is_refused_not_trained(command, tmp_path):
    missing = tmp_path / "typo" / "my_model.ckpt"
    proc = mindsec(command, "--device", "CPU", "--ckpt", missing, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [f"error: --ckpt {missing} does not exist: pass a "
                                        f"trained checkpoint, or --train-if-missing to train "
                                        f"a LeNet5 there"]
    assert not missing.exists() and not (tmp_path / "out").exists()
    assert "training LeNet5" not in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--ckpt", "{d}"], "error: --ckpt {d} is a directory: name a file"),
    (["train", "--out", "{f}"], "error: --out {f} is a file: name a directory"),
    (["attack", "--ckpt", "{f}/x.ckpt"], "error: --ckpt {f}/x.ckpt: {f} is not a directory"),
    (["defend", "--defended-ckpt", "{d}"], "error: --defended-ckpt {d} is a directory: name "
                                           "a file"),
])
def test_output_paths_are_checked_before_any_work(args, message, tmp_path):
    folder, plain = tmp_path / "a_dir", tmp_path / "a_file"
    folder.mkdir()
    plain.write_text("not a directory")
    fill = {"d": folder, "f": plain}
    args = [a.format(**fill) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    proc = mindsec(*args, "--device", "CPU", *out, timeout=120)
    assert proc.returncode == 2, proc.stdout[-500:]
    assert error_lines(proc.stderr) == [message.format(**fill)]
    assert "epoch" not in proc.stdout                  # nothing was trained first


def test_unknown_command_exits_2():
    proc = mindsec("harden")
    assert proc.returncode == 2 and "invalid choice: 'harden'" in proc.stderr


def test_train_monitor_then_attack_report_and_validate(tmp_path):
    data = ["--device", "CPU", "--train-samples", "2000", "--test-samples", "200"]
    ckpt, out = tmp_path / "lenet.ckpt", tmp_path / "train"
    proc = mindsec("train", *data, "--epochs", "3", "--ckpt", ckpt, "--out", out,
                   "--monitor-every", "1", "--monitor-images", "100")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("robustness @ epoch") == 3
    summary = json.loads((out / "train.json").read_text())
    assert len(summary["epochs"]) == 3 and summary["test_accuracy"] > 0.5
    history = json.loads((out / "robustness_history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert all(r["pgd_acc"] <= r["clean_acc"] for r in history)
    assert (out / "robustness_history.png").read_bytes()[:8] == PNG
    assert (out / "best_robust.ckpt").exists()

    attack = mindsec("attack", *data, "--ckpt", ckpt, "--attack", "pgd", "--steps", "5",
                     "--out", tmp_path / "pgd")
    assert attack.returncode == 0, attack.stderr
    assert f"loaded {ckpt}" in attack.stdout
    pgd = json.loads((tmp_path / "pgd" / "summary.json").read_text())
    assert pgd["attack"] == "pgd" and pgd["accuracy_after"] < pgd["accuracy_before"]
    assert len(pgd["eps_curve"]["accuracy"]) == 7

    report = mindsec("report", *data, "--ckpt", ckpt, "--baseline", ckpt, "--out",
                     tmp_path / "report")
    assert report.returncode == 0, report.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    for heading in ("## FGSM, eps 0.3: AttackEvaluate", "## Accuracy against eps",
                    "## Robustness runner", "## Training history",
                    "## DefenseEvaluate against the baseline"):
        assert heading in md, heading
    for name in ("fgsm_examples.png", "accuracy_vs_eps.png", "training_history.png"):
        assert f"]({name})" in md
        assert (tmp_path / "report" / name).read_bytes()[:8] == PNG
    result = json.loads((tmp_path / "report" / "report.json").read_text())
    assert result["defense_evaluate"]["crr"] == 0.0          # the model against itself
    assert result["curves"]["model PGD-20"][-1] <= result["curves"]["model FGSM"][-1]

    first = mindsec("validate", *data, "--ckpt", ckpt, "--out", tmp_path / "v1")
    assert first.returncode == 0, first.stderr
    ref = tmp_path / "v1" / "validate-CPU.json"
    again = mindsec("validate", *data, "--ckpt", ckpt, "--reference", ref,
                    "--out", tmp_path / "v2")
    assert again.returncode == 0 and "validation PASSED" in again.stdout
    tampered = json.loads(ref.read_text())
    tampered["validation"]["fgsm_accuracy"] += 0.05
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    failed = mindsec("validate", *data, "--ckpt", ckpt, "--reference", tmp_path / "bad.json",
                     "--out", tmp_path / "v3")
    assert failed.returncode == 1 and "FAIL fgsm_accuracy" in failed.stdout


def test_defend_on_two_workers_reports_what_one_process_reports(tmp_path):
    common = ["defend", "--device", "CPU", "--train-samples", "1000", "--test-samples",
              "200", "--epochs", "3", "--nad-epochs", "1", "--ckpt", tmp_path / "lenet.ckpt",
              "--train-if-missing"]
    one = mindsec(*common, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = mindsec(*common, "--workers", "2", "--out", tmp_path / "two")
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-2000:]
    assert "64 on each of 2 workers" in two.stdout
    a, b = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two"))
    assert b["workers"] == 2
    for key in ("clean", "fgsm_transfer", "fgsm_adaptive", "pgd"):
        assert a["defended"][key] == b["defended"][key], key
    assert a["history"][0]["loss"] == pytest.approx(b["history"][0]["loss"], abs=1e-5)


@pytest.mark.parametrize("defense", ["pgd", "fast"])
def test_defend_with_pgd_and_fast_training(defense, tmp_path):
    proc = mindsec("defend", "--device", "CPU", "--train-samples", "1000", "--test-samples",
                   "100", "--epochs", "3", "--nad-epochs", "1", "--defense", defense,
                   "--ckpt", tmp_path / "lenet.ckpt", "--train-if-missing",
                   "--out", tmp_path / defense)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / defense / "report.json").read_text())
    assert report["defense"] == defense and report["nad"]["replace_ratio"] == 1.0
    assert (tmp_path / defense / f"lenet_{defense}_quick.ckpt").exists()
    assert f"== {defense.upper()} report" in proc.stdout


def test_defend_full_uses_its_documented_recipes(tmp_path):
    proc = mindsec("defend", "--device", "CPU", "--full", "--train-samples", "1000",
                   "--test-samples", "100", "--epochs", "1", "--nad-epochs", "1",
                   "--ckpt", tmp_path / "lenet.ckpt", "--train-if-missing",
                   "--out", tmp_path / "full")
    assert proc.returncode == 0, proc.stderr
    assert "training LeNet5 (fast recipe, 1 epochs)" in proc.stdout
    report = json.loads((tmp_path / "full" / "report.json").read_text())
    assert report["setting"] == "full"
    assert {k: report["nad"][k] for k in ("optimizer", "lr", "schedule", "batch")} == \
        {"optimizer": "adam", "lr": 3e-3, "schedule": "cosine-step", "batch": 128}


def test_train_on_two_workers_writes_the_weights_one_process_writes(tmp_path):
    from mindsec import checkpoint
    common = ["train", "--device", "CPU", "--train-samples", "2000", "--test-samples", "300",
              "--epochs", "2"]
    one = mindsec(*common, "--ckpt", tmp_path / "one.ckpt", "--out", tmp_path / "one")
    two = mindsec(*common, "--workers", "2", "--ckpt", tmp_path / "two.ckpt",
                  "--out", tmp_path / "two")
    assert one.returncode == 0 and two.returncode == 0, two.stdout[-2000:] + two.stderr[-2000:]
    assert "batch 128 (64 on each of 2 workers)" in two.stdout
    a, b = (json.loads((tmp_path / d / "train.json").read_text()) for d in ("one", "two"))
    assert b["workers"] == 2 and b["test_images"] == a["test_images"] == 300
    # the two runs sum gradients in another order: after 30 steps one of the 300 test
    # images may fall on the other side of the boundary, never more
    assert abs(a["test_accuracy"] - b["test_accuracy"]) * 300 <= 1 + 1e-9, (a, b)
    wa, _ = checkpoint.load(tmp_path / "one.ckpt")
    wb, _ = checkpoint.load(tmp_path / "two.ckpt")
    # 30 Adam steps: float summation order moves single weights by up to ~3e-6 here
    # (tests/test_distributed.py checks 1e-6 on shorter runs)
    for name in ("conv1.weight", "fc3.weight", "fc3.bias"):
        np.testing.assert_allclose(wa[name].asnumpy(), wb[name].asnumpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)


def test_attack_prints_the_fgsm_tutorials_lines_and_reuses_its_model(tmp_path):
    ckpt, out = tmp_path / "lenet.ckpt", tmp_path / "fgsm"
    args = ["attack", "--device", "CPU", "--train-samples", "3000", "--test-samples", "400",
            "--epochs", "6", "--ckpt", ckpt, "--train-if-missing", "--out", out]
    proc = mindsec(*args)
    assert proc.returncode == 0, proc.stderr
    for line in ("prediction accuracy before attacking is", "mis-classification rate",
                 "The average confidence of adversarial class", "(l0, l2, linf)",
                 "structural similarity", "The average costing time",
                 "softmax saturated"):
        assert line in proc.stdout, line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_images"] == 400
    assert summary["accuracy_before"] > 0.7
    assert summary["accuracy_after"] < summary["accuracy_before"] - 0.5
    assert abs(summary["avg_lp_distance"][2] - 0.3) < 0.05
    assert len(summary["eps_curve"]["accuracy"]) == 16
    assert summary["eps_curve"]["accuracy"][0] == summary["accuracy_before"]
    for name in ("fgsm_examples.png", "fgsm_eps_curve.png"):
        assert (out / name).read_bytes()[:8] == PNG
    record = json.loads((out / "run.json").read_text())      # the run's record
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["command_line"].startswith("mindsec attack --device CPU")
    assert {Path(f["path"]).name for f in record["files"]} >= {
        "summary.json", "report.md", "fgsm_examples.png"}
    assert record["inputs"]["ckpt"]["written_by_this_run"] and record["data"]["sha256"]
    status = mindsec("status", out)
    assert status.returncode == 0 and "status   succeeded (exit 0)" in status.stdout
    assert f"wrote    {ckpt} (sha256 {record['inputs']['ckpt']['sha256'][:12]})" in \
        status.stdout
    # a second run reuses the finished checkpoint instead of training again
    again = mindsec(*args)
    assert again.returncode == 0 and f"loaded {ckpt}" in again.stdout
    assert "written_by_this_run" not in json.loads((out / "run.json").read_text())[
        "inputs"]["ckpt"]
    assert json.loads((out / "summary.json").read_text())["accuracy_before"] == \
        summary["accuracy_before"]


def test_defend_reports_both_protocols(tmp_path):
    common = ["defend", "--device", "CPU", "--train-samples", "3000", "--test-samples", "300",
              "--ckpt", tmp_path / "lenet.ckpt", "--train-if-missing", "--epochs", "8"]
    proc = mindsec(*common, "--nad-epochs", "4", "--out", tmp_path / "nad")
    assert proc.returncode == 0, proc.stderr
    assert "(a) FGSM made on the undefended model" in proc.stdout
    assert "(b) FGSM made on the model itself" in proc.stdout
    assert "(c) PGD-40 made on the model itself" in proc.stdout
    assert "retrained on the training split" in proc.stdout
    report = json.loads((tmp_path / "nad" / "report.json").read_text())
    assert report["test_images"] == 300 and report["setting"] == "quick"
    assert report["undefended"]["clean"] > 0.8
    assert report["defended"]["fgsm_transfer"] > report["undefended"]["fgsm"]
    assert report["undefended"]["pgd"] <= report["undefended"]["fgsm"]
    assert 0.0 <= report["defended"]["pgd"] <= report["defended"]["fgsm_adaptive"]
    assert set(report["defended"]["defense_evaluate"]) == {"cav", "crr", "csr", "ccv", "cos"}
    md = (tmp_path / "nad" / "report.md").read_text()
    assert "| (a) FGSM made on the undefended model |" in md and "CAV" in md
    for name in ("defended_examples.png", "training_history.png"):
        assert f"]({name})" in md
        assert (tmp_path / "nad" / name).read_bytes()[:8] == PNG
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3, 4]
    tut = mindsec(*common, "--tutorial-protocol", "--nad-epochs", "1", "--out", tmp_path / "t")
    assert tut.returncode == 0, tut.stderr
    assert "tutorial protocol: retrained on the test images" in tut.stdout
    assert json.loads((tmp_path / "t" / "report.json").read_text())["setting"] == "tutorial"


def test_adv_train_then_evaluate(tmp_path):
    ckpt = tmp_path / "pgd.ckpt"
    train_args = ["adv-train", "--defense", "pgd", "--model", "lenet5", "--epochs", "1",
                  "--train-samples", "2200", "--test-samples", "200", "--pgd-steps", "2",
                  "--eps", "0.1", "--out", ckpt]
    proc = mindsec(*train_args)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(ckpt.with_suffix(".json").read_text())
    assert result["model"] == "lenet5" and 0.0 <= result["pgd20_acc"] <= result["clean_acc"]
    again = mindsec(*train_args)          # finished checkpoint: nothing is retrained
    assert again.returncode == 0 and "resumed from" in again.stdout
    assert "epoch  1/1" not in again.stdout
    short = mindsec(*train_args[:-2], "--train-samples", "1050", "--out", tmp_path / "s.ckpt")
    assert short.returncode == 2 and error_lines(short.stderr) == [
        "error: the training data must hold more than 1100 images (the last 1000 are held "
        "out), got 1050"]

    out = tmp_path / "rob"
    proc = mindsec("evaluate", "--ckpt", f"pgd={ckpt}", "--test-samples", "100",
                   "--pgd-steps", "5", "--restarts", "1", "--eps", "0.05,0.1", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "robust acc" in proc.stdout
    summary = json.loads((out / "robustness.json").read_text())
    model = summary["models"]["pgd"]
    assert model["model"] == "lenet5" and len(model["robust_accuracy"]) == 2
    assert isinstance(model["flags"], list)
    assert (out / "robustness.png").stat().st_size > 10_000
    md = (out / "report.md").read_text()
    assert "## pgd (`" in md and "| eps | robust accuracy | interval |" in md
    assert "](robustness.png)" in md
    redo = mindsec("evaluate", "--plot-from", out / "robustness.json",
                   "--out", tmp_path / "again")
    assert redo.returncode == 0, redo.stderr
    assert (tmp_path / "again" / "robustness.png").stat().st_size > 10_000
