"""The example scripts, run as a user runs them, on a slice of real MNIST."""
import json
from pathlib import Path

from mindsec.attacks import auto_batch_size
from conftest import ROOT, error_lines, run_script


def test_fgsm_example_end_to_end(tmp_path):
    ckpt, out = tmp_path / "lenet.ckpt", tmp_path / "fgsm"
    args = ["examples/mnist_attack_fgsm.py", "--device", "CPU", "--train-samples", "3000",
            "--test-samples", "400", "--epochs", "6", "--ckpt", ckpt, "--train-if-missing",
            "--out-dir", out]
    proc = run_script(*args)
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
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a second run reuses the finished checkpoint instead of training again
    again = run_script(*args)
    assert again.returncode == 0 and f"loaded {ckpt}" in again.stdout
    assert json.loads((out / "summary.json").read_text())["accuracy_before"] == \
        summary["accuracy_before"]


def test_fgsm_example_rejects_a_bad_eps_in_one_line(tmp_path):
    proc = run_script("examples/mnist_attack_fgsm.py", "--device", "CPU", "--eps", "1.5",
                      "--train-samples", "300", "--test-samples", "50", "--epochs", "1",
                      "--ckpt", tmp_path / "c.ckpt", "--train-if-missing", "--out-dir", tmp_path)
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == ["error: --eps must be <= 1.0, got 1.5"]


def test_auto_batch_size_scales_with_the_input():
    assert auto_batch_size((1, 32, 32)) == 2048          # MNIST
    assert auto_batch_size((3, 32, 32)) == 512           # CIFAR
    assert auto_batch_size((3, 224, 224)) == 64          # ImageNet: MindArmour's default
    assert auto_batch_size((1, 32, 32), share=10) == 128


def test_nad_example_reports_both_protocols(tmp_path):
    common = ["examples/mnist_defense_nad.py", "--device", "CPU", "--train-samples", "3000",
              "--test-samples", "300", "--ckpt", tmp_path / "lenet.ckpt", "--train-if-missing",
              "--epochs", "8"]
    proc = run_script(*common, "--nad-epochs", "4", "--out", tmp_path / "nad")
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
        assert (tmp_path / "nad" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3, 4]
    tut = run_script(*common, "--tutorial-protocol", "--nad-epochs", "1",
                     "--out", tmp_path / "t")
    assert tut.returncode == 0, tut.stderr
    assert "tutorial protocol: retrained on the test images" in tut.stdout
    assert json.loads((tmp_path / "t" / "report.json").read_text())["setting"] == "tutorial"


def test_adversarial_training_and_robustness_examples(tmp_path):
    ckpt = tmp_path / "pgd.ckpt"
    train_args = ["examples/mnist_adversarial_training.py", "--defense", "pgd", "--model",
                  "lenet5", "--epochs", "1", "--train-samples", "2200", "--test-samples",
                  "200", "--pgd-steps", "2", "--eps", "0.1", "--out", ckpt]
    proc = run_script(*train_args)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(ckpt.with_suffix(".json").read_text())
    assert result["model"] == "lenet5" and 0.0 <= result["pgd20_acc"] <= result["clean_acc"]
    again = run_script(*train_args)          # finished checkpoint: nothing is retrained
    assert again.returncode == 0 and "resumed from" in again.stdout
    assert "epoch  1/1" not in again.stdout

    out = tmp_path / "rob"
    proc = run_script("examples/mnist_robustness.py", "--model", f"pgd={ckpt}",
                      "--test-samples", "100", "--pgd-steps", "5", "--restarts", "1",
                      "--eps", "0.05,0.1", "--out", out)
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
    redo = run_script("examples/mnist_robustness.py", "--plot-from", out / "robustness.json",
                      "--out", tmp_path / "again")
    assert redo.returncode == 0, redo.stderr
    assert (tmp_path / "again" / "robustness.png").stat().st_size > 10_000

    bad = run_script("examples/mnist_robustness.py", "--eps", "0.1,x", "--out", out)
    assert bad.returncode == 2
    assert error_lines(bad.stderr) == ["error: --eps must be comma-separated numbers, got "
                                       "'0.1,x'"]


def test_privacy_examples_run_end_to_end(tmp_path):
    """The three privacy examples at toy sizes: they run, count queries and write reports
    and figures (the real figures are in docs/results.md)."""
    common = ["--device", "CPU", "--train-samples", "4000", "--test-samples", "500",
              "--victim-ckpt", tmp_path / "victim.ckpt"]
    done = run_script("examples/mnist_model_extraction.py", *common, "--budgets", "300,1000",
                      "--steps", "40", "--off-distribution", "no", "--out",
                      tmp_path / "extraction.json")
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    report = json.loads((tmp_path / "extraction.json").read_text())
    assert [r["queries"] for r in report["knockoff"]] == [300, 1000, 300, 1000]
    assert report["equation_solving"][0]["max_rel_error"] < 1e-4
    assert (tmp_path / "extraction.png").stat().st_size > 0
    done = run_script("examples/mnist_model_inversion.py", *common, "--evaluator-ckpt",
                      tmp_path / "evaluator.ckpt", "--c2g-steps", "20", "--miface-steps", "20",
                      "--query-steps", "3", "--off-distribution", "no",
                      "--out", tmp_path / "inversion.json")
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    runs = json.loads((tmp_path / "inversion.json").read_text())["runs"]
    assert set(runs) == {"miface_gradient", "miface_queries", "c2g_mnist"}
    assert runs["miface_queries"]["queries"] == 3 * 2 * 40 * 10
    assert all(Path(r["figure"]).stat().st_size > 0 for r in runs.values())
    done = run_script("examples/mnist_membership_inference.py", "--device", "CPU",
                      "--train-samples", "2000", "--test-samples", "500", "--members", "200",
                      "--epochs", "1,3", "--out", tmp_path / "membership.json")
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    rows = json.loads((tmp_path / "membership.json").read_text())["rows"]
    assert [r["epochs"] for r in rows] == [1, 3] and all(r["queries"] == 800 for r in rows)
    bad = run_script("examples/mnist_membership_inference.py", "--epochs", "3,x")
    assert error_lines(bad.stderr) == ["error: --epochs must be comma-separated integers, "
                                       "got '3,x'"]


def test_library_examples_run_as_a_tutorial_reader_runs_them(tmp_path):
    """The short scripts on the library API (examples/library/), run as they are."""
    fgsm = run_script(ROOT / "examples" / "library" / "fgsm_and_pgd.py", cwd=tmp_path)
    assert fgsm.returncode == 0, error_lines(fgsm.stderr)[-5:]
    acc = {line.split()[0]: float(line.split()[-1]) for line in fgsm.stdout.splitlines()
           if line.startswith(("clean accuracy:", "FGSM eps", "PGD-40 (40 steps"))}
    assert acc["clean"] > 0.85 and acc["FGSM"] < acc["clean"] - 0.5
    assert acc["PGD-40"] <= acc["FGSM"] + 0.01
    assert "AttackEvaluate mis_classification_rate" in fgsm.stdout
    nad = run_script(ROOT / "examples" / "library" / "nad_tutorial.py", cwd=tmp_path)
    assert nad.returncode == 0, error_lines(nad.stderr)[-5:]
    assert "(a) FGSM made on the undefended model" in nad.stdout
    assert (tmp_path / "runs" / "library_nad" / "report.md").exists()
