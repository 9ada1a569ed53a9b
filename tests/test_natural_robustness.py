"""MindArmour's natural perturbations (mindsec.natural_robustness.transform.image) against
mindarmour 2.0.0 itself, on real MNIST digits and a real colour photo, and accuracy under
natural corruptions (mindsec.evaluations.corruptions) on a trained LeNet5.

MindArmour 2.0.0's transforms import under MindSpore 2.10, but Translate, Scale, Shear and
NaturalNoise build their matrices with ``np.float``, which NumPy 1.24 removed: the
``ma`` fixture puts the alias back (``float``) for this module only, so MindArmour's own
code is the reference for every class.

Deterministic transforms: mindsec reproduces OpenCV's fixed-point arithmetic (1/32-pixel
warp coordinates, 11-bit resize weights, 8-bit Gaussian taps, fused float32
multiply-adds), so outputs are bit-exact; the one stated exception is MotionBlur with a
kernel of 130 taps or more, which OpenCV filters through a DFT (float rounding: a grey
level, doubled at most by the contrast stretch that follows). Random transforms draw from
``np.random`` in MindArmour's order, so the same ``np.random.seed`` gives the same image;
with independent seeds, the change's mean and standard deviation agree within a few
percent.
"""
import json

import numpy as np
import pytest
import skimage.data

from mindsec.batching import accuracy
from mindsec.errors import InputError
from mindsec.evaluations import CorruptionReport, corruption_accuracy
from mindsec.evaluations.corruptions import CORRUPTIONS, FAMILIES, corrupt
from mindsec.natural_robustness.transform import image as nr


@pytest.fixture(scope="module")
def ma():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np, "float", float, raising=False)
        from mindarmour.natural_robustness.transform import image   # noqa: E402
        yield image


@pytest.fixture(scope="module")
def photo():
    """Chelsea the cat, every other pixel: (150, 226, 3) uint8."""
    return np.ascontiguousarray(skimage.data.chelsea()[::2, ::2])


@pytest.fixture(scope="module")
def images(test_slice, photo):
    """Real digits in the layouts MindArmour takes, and the photo in three layouts."""
    x = test_slice[0]
    return {"digit (1,H,W) float32": x[0], "digit2 (1,H,W) float32": x[1],
            "digit (H,W) uint8": np.uint8(np.rint(x[2, 0] * 255)),
            "digit (H,W) float64 0-255": np.rint(x[3, 0] * 255).astype(np.float64),
            "photo (H,W,3) uint8": photo,
            "photo (3,H,W) uint8": np.ascontiguousarray(photo.transpose(2, 0, 1)),
            "photo (H,W,3) float32": photo.astype(np.float32) / 255,
            "photo square (H,W,3) uint8": np.ascontiguousarray(photo[:100, 40:140])}


def _levels(a, b, image):
    """|a - b| in grey levels (0-255) for ``image``'s scale."""
    scale = 255.0 if image.dtype.kind == "f" and image.max() <= 1 else 1.0
    return np.abs(a.astype(np.float64) - b.astype(np.float64)) * scale


SQUARE = [[0, 0], [0, 30], [30, 0], [30, 30]]
DETERMINISTIC = [
    ("Translate", dict(x_bias=0.1, y_bias=-0.07)),
    ("Translate", dict()),
    ("Scale", dict(factor_x=0.7, factor_y=0.85)),
    ("Shear", dict(factor=0.3)),
    ("Shear", dict(factor=0.25, direction="vertical")),
    ("Rotate", dict(angle=27)),
    ("Rotate", dict(angle=-50)),
    ("Perspective", dict(ori_pos=SQUARE, dst_pos=[[3, 1], [0, 28], [27, 2], [31, 30]])),
    ("Curve", dict(curves=2, depth=3, mode="horizontal")),
    ("GaussianBlur", dict()),
    ("GaussianBlur", dict(ksize=5)),
    ("MotionBlur", dict()),
    ("MotionBlur", dict(degree=9, angle=100)),
    ("GradientBlur", dict(point=(10, 12))),
    ("GradientBlur", dict(point=(20, 6), kernel_num=5, center=False)),
    ("Contrast", dict(alpha=1.7, beta=-20)),
    ("Contrast", dict(alpha=0.4, beta=30)),
    ("GradientLuminance", dict()),
    ("GradientLuminance", dict(color_start=(255, 255, 255), color_end=(0, 0, 0),
                               start_point=(8, 20), scope=0.3, pattern="dark",
                               bright_rate=0.6)),
    ("GradientLuminance", dict(mode="horizontal", start_point=(10, 5))),
    ("GradientLuminance", dict(mode="vertical", start_point=(5, 20), bright_rate=0.5)),
]


@pytest.mark.parametrize("name,kwargs", DETERMINISTIC,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(DETERMINISTIC)])
def test_deterministic_transforms_equal_mindarmour(ma, images, name, kwargs):
    ours, ref = getattr(nr, name)(**kwargs), getattr(ma, name)(**kwargs)
    for label, image in images.items():
        got, want = ours(image.copy()), ref(image.copy())
        assert got.shape == want.shape == image.shape, label
        assert got.dtype == want.dtype == image.dtype, label
        assert _levels(got, want, image).max() == 0, f"{name}{kwargs} on {label}"


def test_motion_blur_large_kernel_within_one_level(ma, images):
    """15 x 15 = 225 taps: OpenCV filters through a DFT; one grey level before the
    contrast stretch (at most two after), on a handful of pixels."""
    ours, ref = nr.MotionBlur(degree=15, angle=30), ma.MotionBlur(degree=15, angle=30)
    for label, image in images.items():
        diff = _levels(ours(image.copy()), ref(image.copy()), image)
        assert diff.max() <= 2 and (diff > 0).mean() < 1e-3, label


def test_curve_vertical(ma, images):
    """MindArmour's vertical Curve returns a grayscale image unchanged (it transposes the
    input back, not the result) and changes the shape of a non-square colour image; its
    documented meaning, the horizontal bend of the transposed image, is what mindsec
    computes. A square colour image, where MindArmour is right, matches it directly."""
    kwargs = dict(curves=2, depth=3)
    ours = nr.Curve(mode="vertical", **kwargs)
    square = images["photo square (H,W,3) uint8"]
    np.testing.assert_array_equal(ours(square), ma.Curve(mode="vertical", **kwargs)(square))
    horizontal = ma.Curve(mode="horizontal", **kwargs)
    for label in ("digit (H,W) uint8", "photo (H,W,3) uint8"):
        image = images[label]
        axes = (1, 0, 2)[:image.ndim]
        want = horizontal(np.ascontiguousarray(image.transpose(axes))).transpose(axes)
        np.testing.assert_array_equal(ours(image), want)
    digit = images["digit (H,W) uint8"]
    assert np.array_equal(ma.Curve(mode="vertical", **kwargs)(digit), digit)
    assert not np.array_equal(ours(digit), digit)


RANDOM = [("UniformNoise", dict()), ("UniformNoise", dict(factor=0.3)),
          ("GaussianNoise", dict(factor=0.05)), ("GaussianNoise", dict()),
          ("SaltAndPepperNoise", dict(factor=0.1)),
          ("NaturalNoise", dict()), ("NaturalNoise", dict(ratio=0.002)),
          ("NaturalNoise", dict(ratio=0.05, k_x_range=(2, 6), k_y_range=(2, 9)))]


@pytest.mark.parametrize("name,kwargs", RANDOM,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(RANDOM)])
def test_random_transforms_same_draws_as_mindarmour(ma, images, name, kwargs):
    for seed in range(3):
        for label, image in images.items():
            np.random.seed(seed)
            want = getattr(ma, name)(**kwargs)(image.copy())
            np.random.seed(seed)
            got = getattr(nr, name)(**kwargs)(image.copy())
            assert got.shape == image.shape and got.dtype == image.dtype, label
            assert _levels(got, want, image).max() == 0, f"{name}{kwargs} {label} {seed}"


@pytest.mark.parametrize("name,factor", [("UniformNoise", 0.1), ("GaussianNoise", 0.1),
                                         ("SaltAndPepperNoise", 0.1)])
def test_noise_statistics_match_with_independent_seeds(ma, photo, name, factor):
    image = photo.astype(np.float32) / 255
    np.random.seed(1)
    ref = getattr(ma, name)(factor)(image) - image
    got = getattr(nr, name)(factor).transform(image, np.random.RandomState(2)) - image
    assert abs(got.mean() - ref.mean()) < 0.05 * abs(ref).mean()
    assert abs(got.std() - ref.std()) < 0.03 * ref.std()
    assert not np.array_equal(got, ref)


def test_natural_noise_changes_pixels(photo):
    out = nr.NaturalNoise(ratio=0.005).transform(photo, np.random.RandomState(0))
    changed = (out != photo).any(axis=2)
    assert 0 < changed.mean() < 0.5
    assert (out[changed] < 100).all()                 # dark specks


AUTO = [("Translate", {}), ("Scale", {}), ("Shear", {}), ("Rotate", {}), ("Contrast", {}),
        ("GaussianBlur", {}), ("MotionBlur", {}), ("UniformNoise", {}), ("GaussianNoise", {}),
        ("SaltAndPepperNoise", {}), ("GradientBlur", {"point": (3, 3)}),
        ("GradientLuminance", {}), ("NaturalNoise", {}),
        ("Perspective", {"ori_pos": SQUARE, "dst_pos": SQUARE})]


@pytest.mark.parametrize("name,kwargs", AUTO, ids=[n for n, _ in AUTO])
def test_auto_param_draws_as_mindarmour(ma, images, name, kwargs):
    """auto_param draws the same parameters from np.random (square images: MindArmour's
    Perspective swaps width and height when it draws)."""
    for seed in range(3):
        for label in ("digit (1,H,W) float32", "photo square (H,W,3) uint8"):
            image = images[label]
            np.random.seed(seed)
            want = getattr(ma, name)(auto_param=True, **kwargs)(image.copy())
            np.random.seed(seed)
            got = getattr(nr, name)(auto_param=True, **kwargs)(image.copy())
            assert _levels(got, want, image).max() == 0, f"{name} {label} {seed}"


def test_layouts_shapes_and_dtypes(test_slice):
    digit = test_slice[0][5, 0]
    layouts = [np.uint8(digit * 255), digit[None], digit[..., None].astype(np.float64),
               np.repeat(np.uint8(digit * 255)[..., None], 3, axis=2),
               np.repeat(digit[None], 3, axis=0)]
    transforms = [nr.Translate(0.1), nr.Scale(0.8, 0.8), nr.Shear(), nr.Rotate(),
                  nr.Perspective(SQUARE, [[1, 1], [0, 30], [30, 2], [29, 29]]), nr.Curve(),
                  nr.GaussianBlur(), nr.MotionBlur(), nr.GradientBlur((16, 16)),
                  nr.Contrast(0.5, 10), nr.GradientLuminance(), nr.UniformNoise(),
                  nr.GaussianNoise(), nr.SaltAndPepperNoise(0.1), nr.NaturalNoise(0.01)]
    for t in transforms:
        for image in layouts:
            out = t(image)
            assert out.shape == image.shape and out.dtype == image.dtype, (t, image.shape)
            assert out.min() >= 0 and out.max() <= (1 if image.max() <= 1 else 255)
    # the same transform on a digit in its three grayscale layouts
    t = nr.Rotate(15)
    np.testing.assert_array_equal(t(digit[None])[0], t(digit[..., None])[..., 0])
    np.testing.assert_array_equal(t(digit[None])[0], t(digit))


@pytest.mark.parametrize("make,argument", [
    (lambda: nr.GaussianNoise(factor=1.5), "factor"),
    (lambda: nr.UniformNoise(factor=float("nan")), "factor"),
    (lambda: nr.SaltAndPepperNoise(factor=-0.1), "factor"),
    (lambda: nr.GaussianBlur(ksize=0), "ksize"),
    (lambda: nr.MotionBlur(degree=2.5), "degree"),
    (lambda: nr.Shear(direction="diagonal"), "direction"),
    (lambda: nr.Scale(factor_x=0), "factor_x"),
    (lambda: nr.Curve(depth=-1), "depth"),
    (lambda: nr.GradientLuminance(bright_rate=1.0), "bright_rate"),
    (lambda: nr.GradientLuminance(color_end=(0, 0, 300)), "color_end"),
    (lambda: nr.GradientLuminance(mode="radial"), "mode"),
    (lambda: nr.Perspective([[0, 0], [1, 1], [2, 2]], SQUARE), "ori_pos"),
    (lambda: nr.GradientBlur(point=(1.5, 2)), "point"),
    (lambda: nr.NaturalNoise(k_x_range=(5, 1)), "k_x_range"),
    (lambda: nr.Contrast(auto_param=1), "auto_param"),
])
def test_bad_arguments_raise_one_line(make, argument):
    with pytest.raises(InputError, match=argument) as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("image,words", [
    (np.full((8, 8), np.nan, np.float32), "NaN"),
    (np.zeros((8, 8, 4), np.uint8), "shape"),
    (np.zeros((2, 8, 8, 3), np.uint8), "shape"),
    (np.zeros((3, 2, 5), np.uint8), "shape"),
    (np.full((8, 8), -1.0), r"\[0, 1\] or \[0, 255\]"),
    (np.full((8, 8), 300, np.int64), r"\[0, 1\] or \[0, 255\]"),
    (np.zeros((8, 8), bool), "dtype"),
    ([[0, 1], [1, 0]], "numpy array"),
])
def test_bad_images_raise_one_line(image, words):
    with pytest.raises(InputError, match=words) as info:
        nr.GaussianBlur()(image)
    assert "\n" not in str(info.value) and "image" in str(info.value)
    with pytest.raises(InputError, match="rng"):
        nr.UniformNoise().transform(np.zeros((8, 8)), rng=0)


# -- accuracy under corruptions ----------------------------------------------------------

def test_corrupt_keeps_shape_dtype_and_is_seeded(test_slice):
    x = test_slice[0][:4]
    for name in CORRUPTIONS:
        for severity in (1, 5):
            out = corrupt(x, name, severity)
            assert out.shape == x.shape and out.dtype == x.dtype, name
            assert 0 <= out.min() and out.max() <= 1, name
            assert not np.array_equal(out, x), (name, severity)
    assert corrupt(x.astype(np.float64), "rotate", 1).dtype == np.float64
    noisy = corrupt(x, "gaussian_noise", 3, seed=0)
    np.testing.assert_array_equal(noisy, corrupt(x, "gaussian_noise", 3, seed=0))
    assert not np.array_equal(noisy, corrupt(x, "gaussian_noise", 3, seed=1))
    with pytest.raises(InputError, match="severity"):
        corrupt(x, "rotate", 6)
    with pytest.raises(InputError, match="unknown corruption"):
        corrupt(x, "snow", 1)


def test_corruption_accuracy_on_lenet(trained_lenet, test_slice, tmp_path):
    x, y = test_slice[0][:300], test_slice[1][:300]
    names = FAMILIES["noise"] + FAMILIES["blur"] + ("rotate",)
    report = corruption_accuracy(trained_lenet, x, y, corruptions=names, seed=0)
    assert isinstance(report, CorruptionReport)
    assert report.clean_accuracy == accuracy(trained_lenet, x, y)
    assert list(report.accuracy) == list(names) and report.severities == [1, 2, 3, 4, 5]
    for family in ("noise", "blur"):
        means = report.mean_by_severity(FAMILIES[family])
        assert all(b <= a + 1e-12 for a, b in zip(means, means[1:])), (family, means)
        assert means[-1] < report.clean_accuracy
    cells = [a for row in report.accuracy.values() for a in row]
    assert report.mean_corruption_accuracy == pytest.approx(np.mean(cells))
    text = report.format()
    assert "clean accuracy" in text and "mean corruption accuracy" in text
    assert all(name in text for name in names)
    json.dumps(report.to_dict())
    md = report.to_markdown(tmp_path)
    assert (tmp_path / "corruptions.png").stat().st_size > 1000
    assert "| gaussian_noise |" in md.read_text()
    # one-hot labels, one severity, a subset: the same cell
    again = corruption_accuracy(trained_lenet, x, np.eye(10, dtype=np.float32)[y],
                                corruptions=["rotate"], severities=[3], batch_size=128)
    assert again.accuracy["rotate"] == [report.accuracy["rotate"][2]]
    with pytest.raises(InputError, match="inputs"):
        corruption_accuracy(trained_lenet, x * 2, y)
