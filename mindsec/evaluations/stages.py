"""Resumable, shardable cascade stages: the per-point results of an evaluation, chunk by chunk.

A cascade stage (one attack at one eps, on the points still standing) is cut into chunks of
``chunk`` points in index order; chunk ``j`` is attacked with the attack reseeded from
``(seed, stage, j)``, so its result depends on nothing but its points. That makes two things
exact:

* **resume**: every finished chunk is written at once, atomically, to ``directory`` (one
  ``.npy`` per chunk, no pickle, beside a ``manifest.json`` naming the run: inputs, model
  weights, eps, attacks, seed, chunk, mindsec version); a run that is killed, even by
  ``kill -9``, and started again with the same arguments reads the chunks done and attacks
  only the rest,
  ending with the result it would have had;
* **data parallelism**: with ``world`` workers, worker ``rank`` attacks chunks ``j = rank
  (mod world)`` and the stage's result is the sum over workers (``merge``: an AllReduce on
  MindSpore's engine, :func:`mindsec.distributed.sum_across`), equal to one process's.

A directory holding the state of another run (a different manifest) is started afresh.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, is_temporary, sweep, write_json

CHUNK = 500


def fingerprint(*arrays):
    """A short SHA-256 of numpy arrays (the inputs, the labels, the weights)."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


def model_fingerprint(model):
    """A fingerprint of a network's parameters (names and values)."""
    params = sorted(model.parameters_dict().items())
    digest = hashlib.sha256()
    for name, p in params:
        digest.update(name.encode())
        digest.update(fingerprint(p.asnumpy()).encode())
    return digest.hexdigest()[:16]


class StageStore:
    """Chunks of a cascade's stages, on disk and across workers (see the module docstring).

    Args:
        directory (str or Path): where chunk results go; None keeps them in memory only
            (sharding without resume).
        manifest (dict): what identifies the run (JSON-serialisable).
        seed (int): the evaluation's seed.
        chunk (int): points per chunk.
        rank, world (int): this worker and the number of workers.
        merge (callable): numpy array -> its sum over the workers (``world > 1``).
        log (callable): progress lines.
    """

    def __init__(self, directory, manifest, seed=0, chunk=CHUNK, rank=0, world=1,
                 merge=None, log=None):
        self.dir = Path(directory) if directory is not None else None
        self.seed = int(seed)
        self.chunk = int(chunk)
        self.rank, self.world = int(rank), int(world)
        self.merge = merge
        self.log = log or (lambda line: None)
        self.done = 0          # chunks read from an earlier run
        self.computed = 0
        if world > 1 and merge is None:
            raise ValueError("merge is required with more than one worker")
        if self.dir is not None:
            self._open({**manifest, "chunk": self.chunk, "seed": self.seed})

    def _open(self, manifest):
        path = self.dir / "manifest.json"
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = None
        if self.dir.is_dir():
            sweep(self.dir)                       # what a kill -9 left half-written
        if old == manifest:
            n = len(self._chunks())
            self.log(f"resuming from {self.dir}: {n} chunks already done")
            return
        if old is not None or self._chunks():
            self.log(f"{self.dir} held the state of another run: starting afresh")
            for stale in self._chunks():      # each worker removes its own share
                if int(stale.stem.rsplit("-", 1)[-1]) % self.world == self.rank:
                    stale.unlink(missing_ok=True)
        write_json(path, manifest)     # every worker writes the same bytes, atomically

    def _chunks(self):
        return [p for p in self.dir.glob("*.npy") if not is_temporary(p)]

    def _seed_for(self, key, j):
        words = [self.seed, j] + list(key.encode())
        return int(np.random.SeedSequence(words).generate_state(1)[0])

    def _path(self, key, j):
        return self.dir / f"{key}-{j:05d}.npy"

    def _load(self, key, j, shape):
        if self.dir is None:
            return None
        path = self._path(key, j)
        try:
            value = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return value if value.shape == shape else None

    def _save(self, key, j, value):
        if self.dir is None:
            return
        with atomic_path(self._path(key, j)) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, value, allow_pickle=False)

    def run(self, key, idx, compute, attack, rows=()):
        """The result (bool, ``rows + (len(idx),)``) of ``compute(part)`` over the chunks of
        ``idx``, each chunk with ``attack`` reseeded by its position; chunks done before are
        read, this worker computes its share of the rest, and the workers' results merge."""
        out = np.zeros(tuple(rows) + (len(idx),), np.float64)
        for j, start in enumerate(range(0, len(idx), self.chunk)):
            if j % self.world != self.rank:
                continue
            part = idx[start:start + self.chunk]
            shape = tuple(rows) + (part.size,)
            value = self._load(key, j, shape)
            if value is None:
                attack.reseed(self._seed_for(key, j))
                value = np.asarray(compute(part), bool).reshape(shape)
                self._save(key, j, value)
                self.computed += 1
            else:
                self.done += 1
            out[..., start:start + part.size] = value
        if self.world > 1:
            out = self.merge(out)
        return out > 0.5


__all__ = ["StageStore", "CHUNK", "fingerprint", "model_fingerprint"]
