"""``mindsec extract``: model extraction through a prediction API (equation solving,
knockoff nets, transfer).

1. Equation solving (Tramer et al. 2016) against a binary logistic regression (digits 3 vs
   5) and a 10-class softmax regression trained here on MNIST: d+1 queries, max relative
   parameter error, and how it degrades when the API rounds its answers.
2. Knockoff extraction of a LeNet5 victim (trained on the FIRST half of the MNIST training
   split): a LeNet5 substitute trained on the API's answers to the attacker's own images
   (the SECOND half, disjoint; off-distribution: Fashion-MNIST when installed), for each
   query budget and for a probability API and a label-only API. Fidelity = agreement with
   the victim on the test split; accuracy = on the true test labels.
3. Transfer: FGSM and PGD (eps 0.3) crafted white-box on the best substitute, replayed on
   the victim; success rate over test images the victim classifies correctly.

Writes extraction.json, report.md and extraction.png (fidelity vs queries) to --out. The
flow itself is :func:`mindsec.flows.model_extraction`; this command loads the data, trains
or loads the victim, calls it and writes what it returns.
"""
import time
from pathlib import Path

from ..cli_support import add_data_arguments, add_device_argument, check_positive

DEFAULT_BUDGETS = "1000,5000,20000"
VICTIM_CKPT = "runs/privacy/victim_lenet5.ckpt"


def add_victim_argument(parser, what):
    """``--victim-ckpt``: the LeNet5 the privacy commands attack (shared between them)."""
    parser.add_argument("--victim-ckpt", default=VICTIM_CKPT,
                        help=f"{what} LeNet5 (trained on the first half of the training "
                             f"split if missing)")


def add_off_distribution_argument(parser, what):
    parser.add_argument("--off-distribution", choices=("auto", "yes", "no"), default="auto",
                        help=f"also {what} Fashion-MNIST images (auto: when installed)")


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    add_victim_argument(parser, "victim")
    parser.add_argument("--budgets", default=None,
                        help="query budgets, comma-separated (default 1000,5000,20000, "
                             "capped at the attacker's pool)")
    parser.add_argument("--steps", type=int, default=800,
                        help="optimizer steps per substitute, whatever the budget "
                             "(default %(default)s)")
    add_off_distribution_argument(parser, "query with")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/privacy/extraction",
                        help="directory for extraction.json, report.md and the figure "
                             "(default: %(default)s)")
    return parser


def privacy_victim(args, source, train_x, train_y, log=print):
    """The victim LeNet5 of ``--victim-ckpt``: loaded, or trained there on ``train_x``
    (the first half of the training split)."""
    from .. import workflows    # pylint: disable=import-outside-toplevel
    return workflows.classifier("lenet5", args.victim_ckpt, train_x, train_y, seed=args.seed,
                                meta={"data": source.name, "train_images": len(train_x)},
                                log=log)


def off_distribution_images(args, source, count, log=print):
    """``{"Fashion-MNIST": images}`` (``count`` training images) as ``--off-distribution``
    asks, or ``{}`` saying why not."""
    # pylint: disable=import-outside-toplevel
    from .. import data
    from ..errors import DataError
    if args.off_distribution == "no":
        return {}
    if source.dataset != "mnist":
        log("off-distribution setting skipped: it queries with Fashion-MNIST, and this run's "
            "own data is not MNIST")
        return {}
    try:
        fashion = data.resolve_data_dir(dataset="fashion-mnist")
        return {"Fashion-MNIST": data.load_mnist("train", num_samples=count,
                                                 source=fashion)[0]}
    except DataError as exc:
        if args.off_distribution == "yes":
            raise
        log(f"off-distribution setting skipped: {exc}")
        return {}


def check_outputs(args):
    """``--out`` a usable directory; ``--victim-ckpt`` and ``--evaluator-ckpt``, where the
    command has them, files or writable paths (checked before any work starts)."""
    # pylint: disable=import-outside-toplevel
    from ..cli_support import check_output_dir, check_output_file
    check_output_dir("--out", args.out)
    for name in ("victim_ckpt", "evaluator_ckpt"):
        path = getattr(args, name, None)
        if path is not None and not Path(path).is_file():
            check_output_file("--" + name.replace("_", "-"), path)


def write_outputs(out, name, report, start):
    """A privacy command's end: the text report, ``out/<name>.json`` and ``out/report.md``
    with its figures, and one line saying where."""
    from ..cli_support import write_json    # pylint: disable=import-outside-toplevel
    out = Path(out)
    report.wall_seconds = time.perf_counter() - start      # with data and models
    print(report.format())
    md = report.to_markdown(out)
    write_json(out / f"{name}.json", report.to_dict())
    print(f"report: {out / f'{name}.json'}, {md}; {report.wall_seconds:.0f} s")


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data
    from ..cli_support import data_source, positive_ints
    from ..errors import InputError
    from ..flows.extraction import model_extraction

    start = time.perf_counter()
    check_positive(args, "steps")
    budgets = positive_ints("--budgets", args.budgets or DEFAULT_BUDGETS)
    check_outputs(args)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    x_test, y_test = data.load_mnist("test", num_samples=args.test_samples, source=source)
    half = len(train_x) // 2
    pool_size = len(train_x) - half
    if args.budgets is None and budgets[-1] > pool_size:      # e.g. the offline 5k subset
        budgets = [b for b in budgets if b < pool_size] + [pool_size]
        print(f"note: the attacker's pool holds {pool_size} images; budgets {budgets}")
    if budgets[-1] > pool_size:
        raise InputError(f"--budgets: the attacker's pool holds {pool_size} images "
                         f"(second half of the training split), budget {budgets[-1]} asked")
    print(f"device {target}; {source.describe()}; victim trains on {half} images, the "
          f"attacker queries from the other {pool_size}")
    pools = {"MNIST (disjoint half)": train_x[half:],
             **off_distribution_images(args, source, budgets[-1])}
    victim = privacy_victim(args, source, train_x[:half], train_y[:half])
    report = model_extraction(victim, (train_x, train_y), (x_test, y_test), budgets=budgets,
                              steps=args.steps, pools=pools, seed=args.seed,
                              data=source.describe())
    write_outputs(args.out, "extraction", report, start)
    return 0
