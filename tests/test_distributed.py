"""Data-parallel adversarial training on MindSpore's own cluster engine (msrun, mccl).

Two local workers on loopback train at batch B each; one process trains at batch 2B on
the same seeded batches. Both workers must end with identical weights, equal to the single
process's within 1e-6, for plain training, NAD and PGD training (random start).
"""
import re

import numpy as np
import psutil
import pytest

from mindsec import distributed
from mindsec.errors import InputError

from conftest import ROOT, run_script

WORKER = ROOT / "tests" / "workers" / "data_parallel.py"
JOBS = ("plain", "nad", "pgd")


def _weights(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _progress(lines):
    """The epoch lines without their timing."""
    return [re.sub(r"\s+[\d,]+ samples/s.*", "", line) for line in lines
            if line.startswith("epoch")]


def _leftovers(marker):
    """Processes whose command line mentions ``marker`` (a test's own tmp path)."""
    left = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or ()):
                left.append(proc.pid)
        except psutil.Error:
            continue
    return left


def test_two_workers_train_what_one_process_trains_on_the_joined_batches(tmp_path):
    lines = []
    code = distributed.launch([WORKER, "--out", tmp_path, "--batch", "16"], 2,
                              tmp_path / "logs", timeout=240, echo=lines.append)
    assert code == 0, "\n".join(lines[-20:])
    assert any("nad: worker 0/2 done" in line for line in lines)     # worker 0 echoed
    single = run_script(WORKER, "--out", tmp_path, "--batch", "32", timeout=120)
    assert single.returncode == 0, single.stderr[-2000:]
    for job in JOBS:
        rank0, rank1 = _weights(tmp_path / f"{job}_rank0.npz"), \
            _weights(tmp_path / f"{job}_rank1.npz")
        alone = _weights(tmp_path / f"{job}_single.npz")
        assert rank0.keys() == alone.keys()
        for name in rank0:
            np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=f"{job} {name}")
            np.testing.assert_allclose(rank0[name], alone[name], rtol=0, atol=1e-6,
                                       err_msg=f"{job} {name}")
    # worker 0 reports the global batch's loss and accuracies: the single process's lines
    assert _progress(lines) == _progress(single.stdout.splitlines())
    assert len(_progress(lines)) == 2 * len(JOBS)
    assert not _leftovers(str(tmp_path))


def test_a_failing_worker_ends_the_job_and_leaves_no_process(tmp_path, monkeypatch):
    monkeypatch.setenv("MS_NODE_TIMEOUT", "10")      # the scheduler's heartbeat timeout
    lines = []
    code = distributed.launch([WORKER, "--out", tmp_path, "--fail-rank", "1"], 2,
                              tmp_path / "logs", timeout=240, echo=lines.append)
    assert code != 0
    assert "failing on purpose" in (tmp_path / "logs" / "worker_1.log").read_text()
    assert not list(tmp_path.glob("*.npz"))
    assert not _leftovers(str(tmp_path))


def test_a_job_past_its_timeout_is_killed(tmp_path):
    with pytest.raises(Exception, match="did not finish in 3 s"):
        distributed.launch([WORKER, "--out", tmp_path], 2, tmp_path / "logs", timeout=3,
                           echo=lambda line: None)
    assert not _leftovers(str(tmp_path))


@pytest.mark.parametrize("workers", [1, 0, "2", True])
def test_workers_must_be_two_or_more(workers):
    with pytest.raises(InputError, match="workers must be an integer >= 2"):
        distributed.msrun_command(["x.py"], workers, 1234, "logs")


def test_outside_msrun_setup_is_a_single_process(monkeypatch):
    monkeypatch.delenv("MS_ROLE", raising=False)
    assert distributed.setup() == (0, 1)
    assert distributed.world() == 1 and distributed.is_main()
    assert distributed.grad_reducer([]) is None
    rows = np.arange(8)
    np.testing.assert_array_equal(distributed.local(rows), rows)
