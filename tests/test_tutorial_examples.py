"""The tutorial examples (examples/mnist_*.py on the library API), run as a reader runs
them: one after another in a fresh folder, each using what the one before wrote."""
import json
import re

from conftest import ROOT, error_lines, run_script


def figures(stdout, pattern):
    """The numbers ``pattern`` (a regex with groups) finds in ``stdout``."""
    match = re.search(pattern, stdout)
    assert match, pattern
    return [float(g) for g in match.groups()]


def test_the_tutorial_examples_run_in_order(tmp_path):
    def example(name):
        proc = run_script(ROOT / "examples" / f"{name}.py", cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, error_lines(proc.stderr)[-5:]
        return proc.stdout

    out = example("mnist_train")
    (acc,) = figures(out, r"test accuracy (\S+) on")
    assert acc > 0.85 and (tmp_path / "runs" / "lenet5.ckpt").exists()

    out = example("mnist_attack_fgsm")
    assert "loaded runs/lenet5.ckpt" in out                   # not trained again
    (before,) = figures(out, r"before attacking is : (\S+)")
    (after,) = figures(out, r"after attacking is : (\S+)")
    assert before == acc and after < before - 0.5
    assert abs(figures(out, r"\(l0, l2, linf\).*: \((\S+), (\S+), (\S+)\)")[2] - 0.3) < 0.01

    out = example("mnist_detectors")
    assert "loaded runs/lenet5.ckpt" in out
    fgsm = out.split("FGSM:")[1].split("PGD:")[0]
    auc, tpr = figures(fgsm, r"ErrorBased\s+ROC AUC (\S+)\s+TPR@5%FPR (\S+)")
    assert auc > 0.95 and tpr > 0.8          # MagNet's reconstruction error sees FGSM noise
    fooled, unseen = figures(out, r"weight 1000: fools LeNet5 on (\S+), unseen by ErrorBased "
                                  r"on (\S+)")
    assert unseen > 0.3 and unseen <= fooled       # ... and not an attack that knows it
    benign, probes = figures(out, r"SimilarityDetector: (\d+) detections in 200 benign "
                                  r"queries, (\d+) in 100 probe")
    assert benign <= 1 and probes >= 1

    out = example("mnist_defense_nad")
    report = json.loads((tmp_path / "runs" / "nad" / "report.json").read_text())
    assert report["undefended"]["clean"] == acc
    assert report["defended"]["fgsm_transfer"] > report["undefended"]["fgsm"] + 0.2
    assert report["defended"]["pgd"] <= report["defended"]["fgsm_adaptive"]
    assert "(c) PGD-40 made on the model itself" in out
    assert (tmp_path / "runs" / "nad" / "report.md").exists()

    out = example("mnist_adversarial_training")
    clean, pgd = figures(out, r"test clean accuracy (\S+), PGD-20 \(eps 0.3\) (\S+)")
    assert clean > 0.8 and 0.0 <= pgd <= clean
    assert (tmp_path / "runs" / "robust" / "fast_smallcnn.ckpt").exists()

    out = example("mnist_robustness")
    assert "APGD-CE-100 -> APGD-T-100 -> FAB-T-100 -> Square-5000" in out
    (robust,) = figures(out, r"\n\s+0\.300\s+(\S+)\s+\[")
    assert robust <= pgd + 0.1            # 200 of the digits PGD-20 saw: within sampling
    (on_examples,) = figures(out, r"on AutoAttack's examples (\S+);")
    assert 0.0 <= on_examples <= clean and "(budget 0.3)" in out
