"""Hardware validation: fingerprints, the PASS/FAIL comparison, and bench/run.py --reference
against a deliberately perturbed reference."""
import json

import numpy as np
import pytest

from mindsec import checkpoint, validation, workflows
from mindsec.errors import InputError

from conftest import error_lines, run_script


@pytest.fixture(scope="module")
def reference(trained_lenet, test_slice):
    x, y = test_slice
    return validation.fingerprint(trained_lenet, x[:300], y[:300])


def _flip_signs(ref, fraction):
    signs = validation._unpack_signs(ref["fgsm_signs"]).copy()  # pylint: disable=protected-access
    idx = np.random.default_rng(0).choice(signs.size, int(fraction * signs.size), replace=False)
    signs[idx] = np.where(signs[idx] == 0, 1, -signs[idx])   # always a different sign
    return dict(ref, fgsm_signs=validation._pack_signs(signs))  # pylint: disable=protected-access


def test_same_run_passes_every_check(trained_lenet, test_slice, reference):
    x, y = test_slice
    again = validation.fingerprint(workflows.copy_of(trained_lenet), x[:300], y[:300])
    checks = validation.compare(again, reference)
    assert [c for c, _, _ in checks] == ["clean_accuracy", "fgsm_accuracy",
                                         "fgsm_sign_agreement"]
    assert all(ok for _, ok, _ in checks)
    assert all(line.startswith("PASS") and "tolerance" in line for _, _, line in checks)


def test_perturbed_reference_fails_the_right_checks(reference):
    perturbed = _flip_signs(dict(reference, clean_accuracy=reference["clean_accuracy"] - 0.01,
                                 fgsm_accuracy=reference["fgsm_accuracy"] + 0.004), 0.01)
    result = {c: (ok, line) for c, ok, line in validation.compare(reference, perturbed)}
    assert not result["clean_accuracy"][0] and result["clean_accuracy"][1].startswith("FAIL")
    assert result["fgsm_accuracy"][0]                  # 0.004 is within 0.005
    assert not result["fgsm_sign_agreement"][0]
    assert ": 0.990" in result["fgsm_sign_agreement"][1]
    # a tiny disagreement stays within tolerance
    assert validation.compare(reference, _flip_signs(reference, 0.0005))[2][1]


def test_different_weights_cannot_be_compared(reference):
    with pytest.raises(InputError, match="weights_sha256"):
        validation.compare(dict(reference, weights_sha256="0" * 64), reference)
    with pytest.raises(InputError, match="corrupt"):
        validation.compare(dict(reference, fgsm_signs="!!"), reference)


def test_bench_reference_exit_codes(trained_lenet, tmp_path):
    ckpt = tmp_path / "lenet.ckpt"
    checkpoint.save(trained_lenet, ckpt)
    base = ["bench/run.py", "--quick", "--rows", "", "--ckpt", ckpt, "--out", tmp_path]
    first = run_script(*base)
    assert first.returncode == 0, first.stderr
    run = json.loads(next(tmp_path.glob("*-CPU-quick-.json")).read_text())
    ref = run["validation"]
    (tmp_path / "ok.json").write_text(json.dumps(run))
    same = run_script(*base, "--reference", tmp_path / "ok.json")
    assert same.returncode == 0, same.stderr
    assert same.stdout.count("PASS") == 3
    bad = dict(run, validation=dict(ref, clean_accuracy=ref["clean_accuracy"] + 0.02))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    failed = run_script(*base, "--reference", tmp_path / "bad.json")
    assert failed.returncode == 1
    assert "FAIL clean_accuracy" in failed.stdout and "PASS fgsm_sign_agreement" in failed.stdout
    missing = run_script(*base, "--reference", tmp_path / "nope.json")
    assert missing.returncode == 2
    assert error_lines(missing.stderr) == [f"error: --reference {tmp_path / 'nope.json'} "
                                           f"cannot be read"]


def test_digest_and_copy_survive_a_wrapping_cell(trained_lenet):
    """Wrapping a Cell renames its parameters; the weights, digest and copies stay."""
    import mindspore as ms     # pylint: disable=import-outside-toplevel
    net = workflows.copy_of(trained_lenet)
    before = validation.weights_digest(net)

    class Wrap(ms.nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def construct(self, x):
            return self.inner(x)
    Wrap(net)
    assert next(net.get_parameters()).name.startswith("inner.")
    assert validation.weights_digest(net) == before
    assert validation.weights_digest(workflows.copy_of(net)) == before
