"""Accuracy under natural corruptions: an MNIST-C-like set of corruptions built from
MindArmour's natural perturbations (``mindsec.natural_robustness.transform.image``), each
at five severities, and the accuracy of a model on every corruption and severity.

    >>> report = corruption_accuracy(net, test_x, test_y)
    >>> print(report.format()); report.to_markdown("runs/corruptions")

The severities of every default corruption are in one table, :data:`SEVERITY_TABLE`.
Random corruptions draw from a ``numpy.random.RandomState`` seeded by ``seed`` and the
corruption's name: a cell's images do not depend on which other cells are computed, and
every severity of a corruption makes the same draws, so a higher severity is the same
noise made stronger (salt and pepper: a superset of the pixels) and differences between
severities are not sampling noise of the corruption.
"""
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..batching import num_classes, predict_logits
from ..checks import check_batch_size, check_inputs, check_seed, to_class_indices
from ..errors import InputError
from ..natural_robustness.transform import image as nr

LEVELS = (1, 2, 3, 4, 5)
FIGURE = "corruptions.png"

# name -> (transform class, the argument(s) the severity sets, their value at severities
#          1..5, the other arguments). Sizes in pixels are for 28-32 pixel digits.
SEVERITY_TABLE = {
    "gaussian_noise": (nr.GaussianNoise, "factor", (0.1, 0.2, 0.3, 0.4, 0.5), {}),
    "uniform_noise": (nr.UniformNoise, "factor", (0.15, 0.3, 0.45, 0.6, 0.75), {}),
    "impulse_noise": (nr.SaltAndPepperNoise, "factor", (0.03, 0.06, 0.1, 0.15, 0.2), {}),
    "natural_noise": (nr.NaturalNoise, "ratio", (0.05, 0.1, 0.2, 0.35, 0.5),
                      {"k_x_range": (1, 4), "k_y_range": (1, 6)}),
    "gaussian_blur": (nr.GaussianBlur, "ksize", (1, 2, 3, 4, 5), {}),
    "motion_blur": (nr.MotionBlur, "degree", (3, 5, 7, 9, 11), {"angle": 30}),
    "gradient_blur": (nr.GradientBlur, "kernel_num", (1, 2, 3, 4, 5),
                      {"point": (16, 16), "center": False}),
    "contrast": (nr.Contrast, "alpha", (0.4, 0.25, 0.15, 0.08, 0.04), {}),
    "brightness": (nr.Contrast, "beta", (40, 80, 120, 160, 200), {}),
    "fog": (nr.GradientLuminance, "bright_rate", (0.2, 0.35, 0.5, 0.65, 0.8),
            {"start_point": (16, 16), "scope": 1.0, "color_start": (255, 255, 255),
             "color_end": (0, 0, 0), "pattern": "light"}),
    "translate": (nr.Translate, ("x_bias", "y_bias"), (0.02, 0.04, 0.06, 0.08, 0.1), {}),
    "scale": (nr.Scale, ("factor_x", "factor_y"), (0.96, 0.92, 0.88, 0.84, 0.8), {}),
    "shear": (nr.Shear, "factor", (0.15, 0.3, 0.45, 0.6, 0.75), {}),
    "rotate": (nr.Rotate, "angle", (10, 20, 30, 40, 50), {}),
    "curve": (nr.Curve, "depth", (1, 2, 3, 4, 5), {"curves": 1, "mode": "vertical"}),
}
CORRUPTIONS = tuple(SEVERITY_TABLE)
FAMILIES = {"noise": ("gaussian_noise", "uniform_noise", "impulse_noise", "natural_noise"),
            "blur": ("gaussian_blur", "motion_blur", "gradient_blur"),
            "luminance": ("contrast", "brightness", "fog"),
            "geometric": ("translate", "scale", "shear", "rotate", "curve")}


def corruption_transform(name, severity):
    """The transform of corruption ``name`` (a key of :data:`SEVERITY_TABLE`) at
    ``severity`` (1-5)."""
    if name not in SEVERITY_TABLE:
        raise InputError(f"unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}")
    severity = _severity(severity)
    cls, arguments, values, fixed = SEVERITY_TABLE[name]
    return cls(**fixed, **{a: values[severity - 1] for a in _names(arguments)})


def _names(arguments):
    return (arguments,) if isinstance(arguments, str) else tuple(arguments)


def _severity(severity):
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) \
            or severity not in LEVELS:
        raise InputError(f"severity must be an integer in 1..5, got {severity!r}")
    return int(severity)


def _rng(seed, name):
    return np.random.RandomState([seed, zlib.crc32(name.encode())])


def corrupt(inputs, name, severity, seed=0):
    """``inputs`` (float (N, ...) images in [0, 1], each an image the transforms take,
    e.g. (N, 1, H, W)) under corruption ``name`` at ``severity``: same shape and dtype."""
    dtype = getattr(inputs, "dtype", np.float32)
    inputs = check_inputs(inputs, (0.0, 1.0))
    transform = corruption_transform(name, severity)
    rng = _rng(check_seed(seed), name)
    return np.stack([transform.transform(x, rng) for x in inputs]).astype(dtype)


@dataclass
class CorruptionReport:
    """What :func:`corruption_accuracy` measured: ``accuracy[name]`` holds one accuracy
    per severity in ``severities`` (fractions of ``images``). ``to_dict()`` for JSON,
    ``format()`` for a text table, ``to_markdown(out)`` for report.md with a heat map."""
    images: int
    severities: list
    clean_accuracy: float
    accuracy: dict
    parameters: dict
    seed: int
    wall_seconds: float

    @property
    def mean_corruption_accuracy(self):
        """The mean over every corruption and severity."""
        return float(np.mean([a for row in self.accuracy.values() for a in row]))

    def mean_by_corruption(self):
        return {name: float(np.mean(row)) for name, row in self.accuracy.items()}

    def mean_by_severity(self, names=None):
        """Mean accuracy at each severity over ``names`` (default: all corruptions)."""
        rows = [self.accuracy[n] for n in (names or self.accuracy) if n in self.accuracy]
        return [float(v) for v in np.mean(rows, axis=0)] if rows else []

    def to_dict(self):
        out = asdict(self)
        out["mean_corruption_accuracy"] = self.mean_corruption_accuracy
        return out

    def _rows(self):
        means = self.mean_by_corruption()
        return [[name, *row, means[name]] for name, row in self.accuracy.items()]

    def format(self):
        head = f"{'corruption':16s}" + "".join(f"{'s' + str(s):>8s}" for s in self.severities)
        lines = [f"accuracy under natural corruptions ({self.images} images, seed "
                 f"{self.seed})", head + f"{'mean':>8s}"]
        lines += [f"{row[0]:16s}" + "".join(f"{v:8.4f}" for v in row[1:])
                  for row in self._rows()]
        lines += [f"{'mean':16s}" + "".join(f"{v:8.4f}" for v in self.mean_by_severity())
                  + f"{self.mean_corruption_accuracy:8.4f}",
                  f"clean accuracy {self.clean_accuracy:.4f}; mean corruption accuracy "
                  f"{self.mean_corruption_accuracy:.4f}"]
        return "\n".join(lines)

    def plot(self, path):
        """A heat map of accuracy, corruption x severity. Returns the path."""
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
        names = list(self.accuracy)
        grid = 100 * np.array([self.accuracy[n] for n in names])
        fig, ax = plt.subplots(figsize=(1.0 * len(self.severities) + 3.0,
                                        0.32 * len(names) + 1.4))
        im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if v < 60 else "black")
        ax.set_xticks(range(len(self.severities)), [str(s) for s in self.severities])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("severity")
        ax.set_title(f"accuracy (%) under corruption; clean {100 * self.clean_accuracy:.1f}%",
                     fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.05)
        fig.tight_layout()
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
        plt.close(fig)
        return path

    def to_markdown(self, out):
        """``out``/report.md with the table and ``out``/corruptions.png."""
        from ..report import Markdown  # pylint: disable=import-outside-toplevel
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        md = Markdown("Accuracy under natural corruptions")
        md.paragraph(f"{self.images} images; clean accuracy {self.clean_accuracy:.4f}; mean "
                     f"corruption accuracy {self.mean_corruption_accuracy:.4f} (over every "
                     f"corruption and severity); seed {self.seed}.")
        md.table(["corruption", *[f"severity {s}" for s in self.severities], "mean"],
                 self._rows() + [["mean", *self.mean_by_severity(),
                                  self.mean_corruption_accuracy]])
        md.figure(self.plot(out / FIGURE), "Accuracy, corruption x severity")
        md.section("Parameters").table(
            ["corruption", "transform", "argument", *[str(s) for s in self.severities],
             "other arguments"],
            [[n, p["transform"], p["argument"], *(f"{v:g}" for v in p["values"]), p["fixed"]]
             for n, p in self.parameters.items()])
        md.paragraph(f"{self.wall_seconds:.1f} s.")
        return md.write(out / "report.md")


def _corruption_names(corruptions):
    if corruptions is None:
        return list(CORRUPTIONS)
    if isinstance(corruptions, str):
        corruptions = [corruptions]
    names = list(corruptions)
    if not names:
        raise InputError("corruptions must name at least one corruption")
    for name in names:
        if name not in SEVERITY_TABLE:
            raise InputError(f"unknown corruption {name!r}; choose from "
                             f"{', '.join(CORRUPTIONS)}")
    return names


def corruption_accuracy(model, inputs, labels, corruptions=None, severities=LEVELS, seed=0,
                        batch_size=None):
    """Accuracy of ``model`` on ``inputs`` (float (N, ...) in [0, 1]) with class-index or
    one-hot ``labels``, clean and under each of ``corruptions`` (names from
    :data:`SEVERITY_TABLE`; None: all) at each of ``severities``. Returns a
    :class:`CorruptionReport`."""
    start = time.time()
    inputs = check_inputs(inputs, (0.0, 1.0))
    labels = to_class_indices(labels, inputs.shape[0], num_classes(model, inputs[:1]))
    names = _corruption_names(corruptions)
    if isinstance(severities, (int, np.integer)):
        severities = [severities]
    severities = sorted({_severity(s) for s in severities})
    if not severities:
        raise InputError("severities must hold at least one of 1..5")
    seed = check_seed(seed)
    batch_size = check_batch_size(1000 if batch_size is None else batch_size)

    def accuracy_of(x):
        return float(np.mean(predict_logits(model, x, batch_size).argmax(axis=1) == labels))

    table = {name: [accuracy_of(corrupt(inputs, name, s, seed)) for s in severities]
             for name in names}
    parameters = {}
    for name in names:
        cls, arguments, values, fixed = SEVERITY_TABLE[name]
        parameters[name] = {"transform": cls.__name__,
                            "argument": " = ".join(_names(arguments)),
                            "values": [values[s - 1] for s in severities],
                            "fixed": ", ".join(f"{k}={v}" for k, v in fixed.items())}
    return CorruptionReport(images=int(inputs.shape[0]), severities=severities,
                            clean_accuracy=accuracy_of(inputs), accuracy=table,
                            parameters=parameters, seed=seed,
                            wall_seconds=time.time() - start)


__all__ = ["CORRUPTIONS", "FAMILIES", "SEVERITY_TABLE", "CorruptionReport", "corrupt",
           "corruption_accuracy", "corruption_transform"]
