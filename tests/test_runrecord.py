"""Progress lines and bars, and the run record that `mindsec status` reads."""
import io
import json
import subprocess
import sys

from mindsec import progress, runrecord


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_stages_log_one_line_each_off_a_terminal_and_draw_a_bar_on_one(monkeypatch):
    monkeypatch.setattr(progress, "_STATE", {"quiet": False})
    lines, stream = [], io.StringIO()
    with progress.Stages(2, "job", log=lines.append, stream=stream) as stages:
        stages.step("first: 3 of 4")
        stages.step("second: 1 of 1")
    assert lines == ["first: 3 of 4", "second: 1 of 1"] and stream.getvalue() == ""

    lines, tty = [], Terminal()
    with progress.Stages(2, "job", log=lines.append, stream=tty) as stages:
        stages.step("first")
        stages.step("second")
    assert lines == [] and "job" in tty.getvalue() and "2/2" in tty.getvalue()

    progress.set_quiet(True)
    lines, tty = [], Terminal()
    with progress.Stages(2, "job", log=lines.append, stream=tty) as stages:
        stages.step("first")
    assert lines == [] and tty.getvalue() == ""


def test_the_record_follows_a_run_and_says_when_its_process_is_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(runrecord, "_MIN_INTERVAL", 0.0)
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"weights")
    out = tmp_path / "out"
    assert not runrecord.RunRecord(runrecord.record_path(out), "attack", [], {}).start() \
        .path.exists()                     # no folder yet: a refused run leaves nothing
    runrecord.current().finish(2)
    assert not out.exists()
    out.mkdir()
    record = runrecord.RunRecord(runrecord.record_path(out), "attack",
                                 ["--ckpt", str(ckpt)], {"ckpt": str(ckpt), "seed": 3})
    record.start()
    first = json.loads((out / "run.json").read_text())
    assert first["status"] == "running" and first["seed"] == 3
    assert first["inputs"]["ckpt"]["sha256"] == runrecord.sha256(ckpt)
    with progress.Stages(4, "robustness", log=lambda line: None) as stages:
        stages.step("eps 0.3 APGD-CE: broke 5 of 9")
    running = json.loads((out / "run.json").read_text())
    assert running["progress"]["line"] == "eps 0.3 APGD-CE: broke 5 of 9"
    assert running["progress"]["done"] == 1 and running["progress"]["total"] == 4
    (out / "report.json").write_text("{}")
    record.finish(0)
    done = json.loads((out / "run.json").read_text())
    assert done["status"] == "succeeded" and done["exit_code"] == 0
    assert [f["path"] for f in done["files"]] == [str(out / "report.json")]
    assert runrecord.current() is None
    [(path, read)] = runrecord.read(out)
    assert path == out / "run.json" and "  status   succeeded (exit 0)" in \
        runrecord.describe(read)

    # a record still "running" whose process has ended: killed
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    first["pid"] = int(gone)
    assert any("killed" in line for line in runrecord.describe(first))
    assert runrecord.record_path(tmp_path / "pgd.ckpt") == tmp_path / "pgd.run.json"
