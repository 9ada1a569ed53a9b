"""The example scripts, run as a user runs them, on a slice of real MNIST."""
import json
import re

from mindsec.attacks import auto_batch_size
from conftest import ROOT, error_lines, run_script

CLI = ["-m", "mindsec.cli"]
PNG = b"\x89PNG\r\n\x1a\n"


def test_auto_batch_size_scales_with_the_input():
    assert auto_batch_size((1, 32, 32)) == 2048          # MNIST
    assert auto_batch_size((3, 32, 32)) == 512           # CIFAR
    assert auto_batch_size((3, 224, 224)) == 64          # ImageNet: MindArmour's default
    assert auto_batch_size((1, 32, 32), share=10) == 128


def test_privacy_examples_run_end_to_end(tmp_path):
    """The three privacy commands at toy sizes: they run, count queries and write reports
    and figures (the real figures are in docs/results.md)."""
    common = ["--device", "CPU", "--train-samples", "4000", "--test-samples", "500",
              "--victim-ckpt", tmp_path / "victim.ckpt"]
    out = tmp_path / "extraction"
    done = run_script(*CLI, "extract", *common, "--budgets", "300,1000", "--steps", "40",
                      "--off-distribution", "no", "--out", out)
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    report = json.loads((out / "extraction.json").read_text())
    assert [r["queries"] for r in report["knockoff"]] == [300, 1000, 300, 1000]
    assert report["equation_solving"][0]["max_rel_error"] < 1e-4
    assert (out / "extraction.png").read_bytes()[:8] == PNG
    assert "](extraction.png)" in (out / "report.md").read_text()
    assert "transfer from the substitute (probabilities API, 1000 queries)" in done.stdout
    out = tmp_path / "inversion"
    done = run_script(*CLI, "invert", *common, "--evaluator-ckpt",
                      tmp_path / "evaluator.ckpt", "--c2g-steps", "20", "--miface-steps", "20",
                      "--query-steps", "3", "--off-distribution", "no", "--out", out)
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    assert "loaded lenet5 from" in done.stdout              # extract's victim, not retrained
    runs = json.loads((out / "inversion.json").read_text())["runs"]
    assert set(runs) == {"miface_gradient", "miface_queries", "c2g_mnist"}
    assert runs["miface_queries"]["queries"] == 3 * 2 * 40 * 10
    md = (out / "report.md").read_text()
    assert all((out / r["figure"]).read_bytes()[:8] == PNG and f"]({r['figure']})" in md
               for r in runs.values())
    out = tmp_path / "membership"
    done = run_script(*CLI, "membership", "--device", "CPU", "--train-samples", "2000",
                      "--test-samples", "500", "--members", "200", "--epochs", "1,3",
                      "--out", out)
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    rows = json.loads((out / "membership.json").read_text())["rows"]
    assert [r["epochs"] for r in rows] == [1, 3] and all(r["queries"] == 800 for r in rows)
    assert (out / "membership.png").read_bytes()[:8] == PNG
    bad = run_script(*CLI, "membership", "--epochs", "3,x")
    assert bad.returncode == 2
    assert error_lines(bad.stderr) == ["error: --epochs must be comma-separated integers, "
                                       "got '3,x'"]


def test_privacy_examples_run_as_a_tutorial_reader_runs_them(tmp_path):
    """The three privacy examples on the library API, run as they are in a fresh folder:
    real figures in range, and each report with its figures under runs/."""
    def example(name):
        proc = run_script(ROOT / "examples" / f"{name}.py", cwd=tmp_path)
        assert proc.returncode == 0, error_lines(proc.stderr)[-5:]
        return proc.stdout

    def report(name, *figures):
        folder = tmp_path / "runs" / name
        md = (folder / "report.md").read_text()
        for png in figures:
            assert f"]({png})" in md and (folder / png).read_bytes()[:8] == PNG, png
        return md

    out = example("mnist_model_extraction")
    errors = [float(e) for e in re.findall(r"rounding None: 1025 queries, max relative "
                                           r"parameter error (\S+)", out)]
    assert len(errors) == 2 and max(errors) < 1e-4
    fidelity = [float(f) for f in re.findall(r"budget \d+: fidelity (\S+),", out)]
    assert len(fidelity) == 4 and all(0.5 < f <= 1.0 for f in fidelity)
    rates = re.search(r"FGSM (\S+) \(white-box (\S+)\), PGD-40 (\S+)", out).groups()
    assert all(0.0 <= float(r) <= 1.0 for r in rates)
    report("extraction", "extraction.png")

    out = example("mnist_model_inversion")
    found = re.findall(r"^(.+): target accuracy (\S+), evaluator accuracy (\S+?)"
                       r"(?: on 1,000 samples)?$", out, re.M)
    scores = {name: (float(t), float(e)) for name, t, e in found}
    assert len(scores) == 3 and all(0.0 <= v <= 1.0 for p in scores.values() for v in p)
    assert scores["MI-Face, white-box gradients"][0] >= 0.9
    report("inversion", "inversion_miface_gradient.png", "inversion_miface_queries.png",
           "inversion_c2g_mnist.png")

    out = example("mnist_membership_inference")
    rows = re.findall(r"^ *(\d+) epochs: train acc (\S+), test acc (\S+); AUC threshold "
                      r"(\S+) \(advantage \S+\), shadow (\S+)", out, re.M)
    assert [int(r[0]) for r in rows] == [2, 10, 30]
    assert all(0.0 <= float(v) <= 1.0 for r in rows for v in r[1:])
    assert float(rows[-1][1]) > float(rows[-1][2])        # longest training: a gap
    report("membership", "membership.png")


