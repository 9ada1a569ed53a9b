"""Atomic writes: a file is either its old self or its complete new self, never half.

Every file mindsec writes (checkpoints, JSON reports, Markdown, decompressed data) goes
through :func:`atomic_path`: the content is written to a temporary file beside the target,
flushed to disk, then renamed over the target in one step (``os.replace``); an error or a
kill leaves the previous file, and no temporary behind (on an error). A ``kill -9`` between
the write and the rename can leave only a hidden temporary (``.name.tmpPID.suffix``), which
no reader mistakes for a result (:func:`is_temporary`) and :func:`sweep` removes on resume.
"""
import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path


_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.tmp(?P<pid>\d+)(?P<suffix>\.[^.]*)?$")


def _temporary(path):
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def is_temporary(path):
    """True for the temporary file of a write in progress (or of one that was killed)."""
    return _TEMPORARY.match(Path(path).name) is not None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # someone else's process: alive
        return True
    return True


def sweep(directory):
    """Remove the temporaries that killed writers left in ``directory`` (a ``kill -9``
    between the write and the rename); those of live processes on this host are kept.
    Returns the paths removed."""
    removed = []
    for path in Path(directory).glob(".*.tmp*"):
        match = _TEMPORARY.match(path.name)
        if match and not _alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (parents created; same suffix, which some
    writers need, e.g. MindSpore's ``.ckpt``); on a clean exit it is synced to disk and
    renamed to ``path``; on an error it is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path, data):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data):
    """``data`` as indented JSON at ``path``, atomically. Returns the path."""
    return write_text(path, json.dumps(data, indent=2))


def sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes (what a checkpoint or data file is checked against)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "sha256", "is_temporary",
           "sweep"]
