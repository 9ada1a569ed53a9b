"""Atomic writes: a file is either its old self or its complete new self, never half.

Every file mindsec writes (checkpoints, JSON reports, Markdown, decompressed data) goes
through :func:`atomic_path`: the content is written to a temporary file beside the target,
flushed to disk, then renamed over the target in one step (``os.replace``); an error or a
kill leaves the previous file, and no temporary behind (on an error).
"""
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (parents created; same suffix, which some
    writers need, e.g. MindSpore's ``.ckpt``); on a clean exit it is synced to disk and
    renamed to ``path``; on an error it is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
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


__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "sha256"]
