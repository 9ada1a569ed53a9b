"""A record of every run, beside its outputs: what ran, on what, with which inputs, how far
it got and what it wrote. ``mindsec status DIR`` reads it from another shell.

The record (``<out>/run.json``, or ``<name>.run.json`` beside an output file) holds the
command line, the mindsec, MindSpore, NumPy and Python versions, the host, the device, the
data root with a SHA-256 digest of its files, the SHA-256 of every checkpoint the command
was given, the seed, start and end times, the process id, the last progress line, the
exit status and the files the run wrote. It is rewritten atomically at the start, on
progress (at most every few seconds) and at the end, so a reader never sees half of it,
and a run killed without warning is recognisable: ``running`` with a process that is gone.
It is written only into a folder that exists (the run's own output folder, once the run
has made it): a run refused before it starts leaves nothing behind.
"""
import hashlib
import json
import os
import platform
import socket
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import atomic
from ._version import __version__
from .atomic import sha256

NAME = "run.json"
_CURRENT = {"record": None}
_MIN_INTERVAL = 2.0        # seconds between progress rewrites


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_path(out):
    """Where the record of a run writing to ``out`` goes: ``out/run.json`` for a folder,
    ``<out without suffix>.run.json`` beside a file (a checkpoint, a JSON report)."""
    out = Path(out)
    if out.suffix and not out.is_dir():
        return out.with_name(f"{out.stem}.{NAME}")
    return out / NAME


def _versions():
    found = {"mindsec": __version__, "python": platform.python_version()}
    for name in ("mindspore", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _given_files(options):
    """Files named by the command's options that exist (``NAME=PATH`` values too), with the
    SHA-256 of every checkpoint among them."""
    found = {}
    for key, value in options.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(item, (str, Path)):
                continue
            path = Path(str(item).split("=", 1)[-1] if "=" in str(item) else str(item))
            if path.suffix and path.is_file():
                found[key if not isinstance(value, (list, tuple)) else f"{key}:{path}"] = {
                    "path": str(path), "sha256": sha256(path) if path.suffix == ".ckpt"
                    else None, "mtime": path.stat().st_mtime}
    return found


def data_digest(root):
    """SHA-256 over the names and bytes of the IDX files under a data root."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*-ubyte*")):
        digest.update(path.name.encode())
        digest.update(sha256(path).encode())
    return digest.hexdigest()


class RunRecord:
    """The record of one run of ``command`` with ``argv``, written to ``path``."""

    def __init__(self, path, command, argv, options=None):
        self.path = Path(path)
        self.began = time.time()
        self._written = 0.0
        options = {k: v for k, v in (options or {}).items() if k not in ("argv",)}
        self.data = {
            "command": command, "argv": [str(a) for a in argv],
            "command_line": " ".join(["mindsec", command, *map(str, argv)]),
            "status": "running", "exit_code": None, "pid": os.getpid(),
            "host": socket.gethostname(), "started": _now(), "ended": None,
            "seconds": None, "versions": _versions(), "device": None,
            "seed": options.get("seed"), "data": None, "inputs": {}, "progress": None,
            "files": []}
        self._options = options

    def write(self):
        """Rewrite the record, once its folder exists: a run that fails its checks before
        creating its outputs leaves nothing behind."""
        if not self.path.parent.is_dir():
            return
        self.data["seconds"] = round(time.time() - self.began, 1)
        atomic.write_json(self.path, self.data)
        self._written = time.time()

    def start(self):
        self.data["inputs"] = _given_files(self._options)
        self.write()
        _CURRENT["record"] = self
        return self

    def progress(self, line, done=None, total=None):
        """The last progress line (rewritten at most every few seconds)."""
        self.data["progress"] = {"line": line, "done": done, "total": total, "at": _now()}
        if time.time() - self._written >= _MIN_INTERVAL:
            self.write()

    def finish(self, code, error=None, data_source=None):
        """The end: exit ``code`` (0 ok, 1 check failed, 2 bad input, 130 interrupted,
        other: crashed), the error line, the device, the data and the files written."""
        _CURRENT["record"] = None
        self.data.update(exit_code=int(code), ended=_now(), status={
            0: "succeeded", 1: "check failed", 2: "bad input", 130: "interrupted"}.get(
                int(code), "failed"))
        if error:
            self.data["error"] = str(error)
        ms = sys.modules.get("mindspore")
        if ms is not None:
            try:
                self.data["device"] = ms.get_context("device_target")
            except Exception:       # pylint: disable=broad-except  (a record never fails a run)
                pass
        if data_source is not None:
            self.data["data"] = {"description": data_source.describe(),
                                 "root": str(data_source.root),
                                 "sha256": data_digest(data_source.root)}
        self.data["files"] = self._written_files()
        for key, item in _given_files(self._options).items():   # e.g. a checkpoint it trained
            before = self.data["inputs"].get(key)
            if before is None or before["mtime"] != item["mtime"]:
                self.data["inputs"][key] = dict(item, written_by_this_run=True)
        self.write()
        return self

    def _written_files(self):
        """Files under the record's folder changed since the run began (the record
        itself and hidden temporaries left out)."""
        folder = self.path.parent
        if not folder.is_dir():
            return []
        files = []
        for path in sorted(folder.rglob("*")):
            if (path.is_file() and path != self.path and not path.name.startswith(".")
                    and path.stat().st_mtime >= self.began - 1):
                files.append({"path": str(path), "bytes": path.stat().st_size})
        return files


def current():
    """The record of the run in progress in this process, or None."""
    return _CURRENT["record"]


def note_progress(line, done=None, total=None):
    """Pass a progress line to the run in progress, if any (``mindsec.progress`` calls it)."""
    record = current()
    if record is not None and line:
        record.progress(line, done, total)


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def read(path):
    """The records at ``path``: a record file, or every ``*run.json`` in a folder (newest
    first). A missing or unreadable record raises ``DataError`` naming it."""
    from .errors import DataError    # pylint: disable=import-outside-toplevel
    path = Path(path)
    files = sorted(path.glob(f"*{NAME}"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise DataError(f"no run record in {path} (a run writes {NAME} beside its outputs)")
    records = []
    for file in files:
        try:
            records.append((file, json.loads(file.read_text())))
        except (OSError, ValueError) as exc:
            raise DataError(f"run record {file} cannot be read: {exc}") from None
    return records


def describe(record):
    """Text lines about one record: what ran, its state, its last progress and outputs."""
    state = record.get("status", "?")
    if state == "running" and not (record.get("host") == socket.gethostname() and
                                   _alive(record.get("pid"))):
        state = "killed (status running, but its process is gone)" \
            if record.get("host") == socket.gethostname() else "running on " + record["host"]
    lines = [f"{record.get('command_line', '?')}",
             f"  status   {state}" + (f" (exit {record['exit_code']})"
                                      if record.get("exit_code") is not None else ""),
             f"  started  {record.get('started')}  ({record.get('seconds')} s recorded)"]
    if record.get("error"):
        lines.append(f"  error    {record['error']}")
    progress = record.get("progress")
    if progress:
        lines.append(f"  progress {progress['line']} ({progress['at']})")
    versions = record.get("versions", {})
    lines.append("  versions " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    if record.get("device"):
        lines.append(f"  device   {record['device']}")
    if record.get("data"):
        lines.append(f"  data     {record['data']['description']} "
                     f"(sha256 {record['data']['sha256'][:12]})")
    for item in record.get("inputs", {}).values():
        digest = f" (sha256 {item['sha256'][:12]})" if item.get("sha256") else ""
        kind = "wrote   " if item.get("written_by_this_run") else "input   "
        lines.append(f"  {kind} {item['path']}{digest}")
    for item in record.get("files", []):
        lines.append(f"  wrote    {item['path']} ({item['bytes']:,} bytes)")
    return lines
