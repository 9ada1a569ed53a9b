"""bench/: the PyTorch peer row, the runtime-settings worker, the MindArmour flow reference
and the tables built from their rows."""
import json
import sys

import numpy as np
import pytest

from conftest import ROOT, error_lines, run_script

sys.path.insert(0, str(ROOT / "bench"))
import run as bench  # noqa: E402  pylint: disable=wrong-import-position


def test_torch_row_matches_mindsec_signs(trained_lenet, test_slice):
    pytest.importorskip("torch", reason="the PyTorch peer is optional")
    x, y = test_slice
    rows = bench.torch_rows(trained_lenet, x[:512], y[:512], repeats=1)
    assert [r["impl"] for r in rows] == ["mindsec", "pytorch"]
    # the same LeNet5, weights and loss: the perturbations agree wherever both are non-zero
    assert rows[0]["sign_agreement"] > 0.999
    assert rows[0]["adv_accuracy"] == pytest.approx(rows[1]["adv_accuracy"], abs=0.01)
    table = "\n".join(bench._torch_table(rows))  # pylint: disable=protected-access
    assert "PyTorch / mindsec" in table and ("| met |" in table or "NOT met" in table)


def test_knob_worker_measures_a_setting():
    done = run_script("bench/knobs.py", json.dumps({"op_threads": 1, "device": "CPU"}))
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {"fgsm512", "train32", "model32_sink_false", "model32_sink_true"}
    assert all(v > 0 for v in result.values())


def test_mindarmour_flow_reference_runs(tmp_path):
    out = tmp_path / "flow.json"
    done = run_script("bench/mindarmour_flow.py", "--device", "CPU", "--train-samples", "640",
                      "--test-samples", "200", "--epochs", "1", "--nad-epochs", "1",
                      "--out", out)
    assert done.returncode == 0, error_lines(done.stderr)[-3:]
    report = json.loads(out.read_text())
    assert report["train_images"] == 640 and report["test_images"] == 200
    assert set(report["seconds"]) == {"setup", "train", "attack", "nad", "total"}
    assert 0.0 <= report["defended"]["fgsm_transfer"] <= 1.0


def test_flow_and_knob_tables_state_the_targets():
    flow = [dict(row="flow", impl="mindsec", seconds=150.0, seconds_to_result=120.0,
                 clean=0.9896, fgsm=0.0236, defended_clean=0.9879, transfer=0.884,
                 command="python -m mindsec.cli defend --full", targets_met=True),
            dict(row="flow", impl="mindarmour", seconds=400.0, seconds_to_result=400.0,
                 clean=0.97, fgsm=0.05, defended_clean=0.97, transfer=0.80,
                 command="python bench/mindarmour_flow.py", targets_met=False)]
    lines = "\n".join(bench._flow_table(flow))  # pylint: disable=protected-access
    assert "time to result: 0.30" in lines and "met)" in lines
    slow = [dict(flow[0], seconds_to_result=200.0), flow[1]]
    assert "NOT met" in "\n".join(bench._flow_table(slow))  # pylint: disable=protected-access
    knobs = [{"row": "knob", "setting": "mindsec defaults", "fgsm512": 100.0, "train32": 10.0,
              "model32_sink_false": 5.0, "model32_sink_true": 5.0,
              "vs_defaults": {"fgsm512": 1.0}},
             {"row": "knob", "setting": "broken", "failed": True}]
    table = "\n".join(bench._knob_table(knobs))  # pylint: disable=protected-access
    assert "| mindsec defaults | 100 (1.00)" in table and "| broken | failed |" in table


def test_bench_rejects_an_unknown_row():
    done = run_script("bench/run.py", "--rows", "floor,warp")
    assert done.returncode == 2
    assert error_lines(done.stderr) == ["error: --rows: unknown row(s) warp; choose from "
                                        "floor, fgsm, sweep, eval, torch, pgd, nad, knobs, "
                                        "flow, autoattack, imagenet, blackbox or all"]


def test_blackbox_row_times_both_sides_at_one_budget(trained_lenet, test_slice):
    """The blackbox row on three digits (three of its attacks: the others take as long as
    MindArmour's one-image-at-a-time runs): both implementations ran, on the same budget
    (queries per point within it), and the table states the 3x target."""
    import blackbox  # noqa: E402  pylint: disable=import-outside-toplevel
    x, y = test_slice
    names = ("SaltAndPepperNoiseAttack", "NES (Query_Limit)", "PSOAttack")
    rows = blackbox.blackbox_rows(trained_lenet, x[:3], y[:3].astype(np.int64), 1,
                                  bench.timed, names=names)
    assert {r["attack"] for r in rows} == set(names) and len(rows) == 6
    assert all(r["seconds"] > 0 and 0.0 <= r["success"] <= 1.0 for r in rows)
    salt = {r["impl"]: r for r in rows if r["attack"] == "SaltAndPepperNoiseAttack"}
    assert salt["mindsec"]["success"] == 1.0 and salt["mindsec"]["queries_per_point"] <= 50
    nes = [r for r in rows if r["attack"].startswith("NES")]
    assert all(r["queries_per_point"] <= 1500 for r in nes)
    table = "\n".join(blackbox.blackbox_table(rows))
    assert "| PSOAttack |" in table and "(target 3x)" in table
    assert "met" in table
