"""The README's headline figures, reproduced on the full MNIST (CI's second pass runs
these with ``MINDSEC_DATA_DIR`` pointing at it; on the offline 5k fallback they are
skipped, saying so)."""
import json
import sys

import pytest

from conftest import error_lines, run_script

pytestmark = pytest.mark.full_mnist


def test_the_nad_tutorial_flow_reaches_its_targets(tmp_path):
    """``mindsec defend --full`` from random weights: the NAD tutorial's targets (LeNet5
    98.9%, FGSM eps 0.3 leaves 5.2%, NAD 97.4% clean and 85.6% on the replayed FGSM set)
    as documented for seeds 0-2 (98.97 / 4.97 / 98.71 / 87.18% at seed 0), each within
    0.3 points of the target: float summation order differs between processors, and the
    fast recipe's 98.97% is 7 test images above 98.9%."""
    done = run_script("-m", "mindsec.cli", "defend", "--full", "--device", "CPU",
                      "--ckpt", tmp_path / "lenet5_fast.ckpt", "--train-if-missing",
                      "--out", tmp_path / "nad",
                      timeout=900)
    assert done.returncode == 0, error_lines(done.stderr)[-5:]
    report = json.loads((tmp_path / "nad" / "report.json").read_text())
    assert report["test_images"] == 10000 and report["setting"] == "full"
    base, defended = report["undefended"], report["defended"]
    assert base["clean"] >= 0.989 - 0.003, base
    assert base["fgsm"] <= 0.052 + 0.003, base
    assert defended["clean"] >= 0.974 - 0.003, defended
    assert defended["fgsm_transfer"] >= 0.856 - 0.003, defended
    # and the report says what FGSM training does not buy
    assert defended["pgd"] < 0.05 and report["warnings"], report["warnings"]
    print(json.dumps({"undefended": base, "defended": {k: v for k, v in defended.items()
                                                       if k != "defense_evaluate"},
                      "wall_seconds": report["wall_seconds"]}), file=sys.stderr)
