"""``mindsec evaluate``: worst-case accuracy against eps under a cascade of attacks.

For every model (NAME=CKPT, or a checkpoint path; the architecture is read from the
checkpoint, LeNet5 otherwise) and every eps, one of two protocols, each attack only on the
test images still standing (mindsec.evaluations.evaluate_robustness):

* ``--attack cascade`` (default): PGD-40 (random start, restarts), then FGSM, then Square
  (1,000 queries), then optional DeepFool and transfer attacks; every figure an upper bound;
* ``--attack autoattack``: AutoAttack (``--version standard|plus|rand``): APGD-CE, APGD-T,
  FAB-T, Square.

Prints the report with its sanity flags and writes robustness.json, robustness.png and
report.md to --out. Every finished chunk of images is saved under <out>/state at once: the
same command after a kill resumes there. ``--workers N`` shares the images between N msrun
workers (the result equals one process's).
"""
import json
from pathlib import Path
from types import SimpleNamespace

from ..cli_support import add_data_arguments, add_device_argument, check_positive

DEFAULT_CKPT = "runs/lenet5.ckpt"


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--ckpt", "--model", dest="ckpt", action="append", default=None,
                        help="NAME=CKPT or CKPT, repeatable (default: runs/lenet5.ckpt, "
                             "trained there if missing)")
    parser.add_argument("--eps", default="0.05,0.1,0.15,0.2,0.25,0.3",
                        help="comma-separated Linf budgets")
    parser.add_argument("--pgd-steps", type=int, default=None,
                        help="override the cascade protocol's 40 PGD steps")
    parser.add_argument("--pgd-step", type=float, default=None,
                        help="override its PGD step at eps 0.3 (eps/30; scaled with eps)")
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--square", type=int, default=1000,
                        help="the cascade's Square queries per image (0: leave it out)")
    parser.add_argument("--deepfool", action="store_true",
                        help="add DeepFool (median distance to flip)")
    parser.add_argument("--transfer-from", default=None,
                        help="checkpoint of a surrogate model: add transfer FGSM and PGD")
    parser.add_argument("--attack", choices=("cascade", "autoattack"), default="cascade",
                        help="the protocol: mindsec's PGD cascade (upper bounds) or "
                             "AutoAttack")
    parser.add_argument("--version", choices=("standard", "plus", "rand"),
                        default="standard", help="AutoAttack's version")
    parser.add_argument("--n-queries", type=int, default=5000,
                        help="AutoAttack's Square queries per image")
    parser.add_argument("--n-iter", type=int, default=100,
                        help="AutoAttack's APGD and FAB iterations")
    parser.add_argument("--chunk", type=int, default=500,
                        help="images per resumable chunk (saved under <out>/state as each "
                             "finishes; part of the protocol: each chunk is seeded by its "
                             "position)")
    parser.add_argument("--workers", type=int, default=1,
                        help="share the images between N local msrun workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/robustness")
    parser.add_argument("--plot-from", metavar="JSON", default=None,
                        help="redraw <out>/robustness.png from a saved robustness.json and "
                             "exit (no attacks run)")
    return parser


def attacks_for(net, args, surrogate):
    """The cascade protocol: PGD-40 with restarts, FGSM, optionally DeepFool and transfer
    attacks (see :mod:`mindsec.evaluations.protocols`); or AutoAttack."""
    # pylint: disable=import-outside-toplevel
    from ..evaluations.protocols import cascade
    if args.attack == "autoattack":
        from ..evaluations.autoattack import AutoAttack
        return AutoAttack(net, "Linf", 0.3, version=args.version, seed=args.seed,
                          n_queries=args.n_queries, n_iter=args.n_iter)
    return cascade(net, 0.3, restarts=args.restarts, deepfool=args.deepfool,
                   surrogate=surrogate, seed=args.seed, steps=args.pgd_steps,
                   step=args.pgd_step, square=args.square)


def replot(path, out):
    """The figure of a saved robustness.json."""
    from .. import plots  # pylint: disable=import-outside-toplevel
    from ..errors import InputError  # pylint: disable=import-outside-toplevel
    try:
        summary = json.loads(Path(path).read_text())
        reports = {name: SimpleNamespace(**{k: m[k] for k in ("eps", "robust_accuracy",
                                                              "robust_ci", "attacks")})
                   for name, m in summary["models"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"--plot-from {path} is not a robustness.json written by mindsec "
                         f"evaluate") from None
    out.mkdir(parents=True, exist_ok=True)
    return plots.robustness_curves(reports, out / "robustness.png",
                                   title=f"{summary['data']} test split, {summary['n']} images")


def _protocol(args):
    """The cascade protocol's name, or what the options changed in it."""
    from ..evaluations.protocols import CASCADE   # pylint: disable=import-outside-toplevel
    if args.attack == "autoattack":
        changed = (f", {args.n_iter} iterations" if args.n_iter != 100 else "") + \
            (f", Square with {args.n_queries} queries" if args.n_queries != 5000 else "")
        return (f"AutoAttack {args.version} (APGD-CE, APGD-T, FAB-T, Square; Croce & Hein "
                f"2020{changed})")
    if args.pgd_steps is None and args.pgd_step is None and args.restarts == 5 and \
            args.square == 1000:
        return CASCADE
    square = f", then Square-{args.square}" if args.square else ""
    return (f"custom cascade: PGD-{args.pgd_steps or 40} (step "
            f"{args.pgd_step if args.pgd_step is not None else 'eps/30'} at eps 0.3) x"
            f"{args.restarts} restarts, then FGSM{square} (+ DeepFool, transfer attacks if "
            f"asked)")


def markdown(summary, reports, png, out):
    """report.md: one table per model (robust accuracy per eps and its interval, inputs
    broken by each attack), the sanity flags, and the figure."""
    from ..report import Markdown  # pylint: disable=import-outside-toplevel
    md = Markdown("Robustness evaluation")
    md.paragraph(f"{summary['data']} test split, {summary['n']} images, device "
                 f"{summary['device']}. Each attack runs only on the inputs still standing "
                 f"(cascade); robust accuracy is the worst case, with a "
                 f"{int(round(next(iter(reports.values())).confidence * 100))}% "
                 f"Clopper-Pearson interval. Protocol: {summary['protocol']}. " +
                 ("" if summary["protocol"].startswith("AutoAttack") else
                  "Gradient and transfer attacks only: every figure is an upper bound on "
                  "robust accuracy (AutoAttack can only lower it)."))
    for name, rep in reports.items():
        md.section(f"{name} (`{summary['models'][name]['ckpt']}`)")
        md.paragraph(f"clean accuracy {rep.clean_accuracy:.4f}")
        attack_names = [a["name"] for a in rep.attacks]
        md.table(["eps", "robust accuracy", "interval"] + [f"broken by {n}" for n in
                                                          attack_names],
                 [[f"{e:.3f}", rep.robust_accuracy[k],
                   f"[{rep.robust_ci[k][0]:.4f}, {rep.robust_ci[k][1]:.4f}]"] +
                  [a["broken"][k] for a in rep.attacks] for k, e in enumerate(rep.eps)])
        md.bullets([f"FLAG {f['flag']}: {f['message']}" for f in rep.flags] or
                   ["sanity flags: none (no gradient masking signature found)"])
    md.figure(png, "Worst-case robust accuracy against eps (band: confidence interval)")
    return md.write(out / "report.md")


def _models(args, source):
    """(name, path, network, architecture) of every --ckpt."""
    from .. import workflows  # pylint: disable=import-outside-toplevel
    for spec in args.ckpt or [DEFAULT_CKPT]:
        name, _, path = spec.rpartition("=")
        if spec == DEFAULT_CKPT:
            net, arch = workflows.model_or_lenet5(path, source,
                                                  train_samples=args.train_samples)
        else:
            net, arch = workflows.load_model(path, source.name)
        yield name or Path(path).stem, path, net, arch


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data, distributed, workflows
    from ..cli_support import check_output_dir, data_source, parse_eps_list, write_json
    from ..errors import InputError
    from ..evaluations import evaluate_robustness
    from .relaunch import relaunch

    if args.plot_from:
        print(f"wrote {replot(args.plot_from, Path(args.out))}")
        return 0
    eps = parse_eps_list("--eps", args.eps)
    check_positive(args, "pgd_steps", "restarts", "n_queries", "n_iter", "chunk", "workers")
    if args.square < 0:
        raise InputError(f"--square must be 0 (off) or a positive integer, got {args.square}")
    check_output_dir("--out", args.out)
    target = context.set_device(args.device, args.mode)
    rank, world = distributed.setup()
    if args.workers > 1 and world == 1:
        return relaunch("evaluate", args, args.workers)
    say = print if rank == 0 else (lambda line: None)
    source = data_source(args)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    surrogate = workflows.load_model(args.transfer_from, source.name)[0] \
        if args.transfer_from else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports, summary = {}, {"data": source.name, "n": len(x), "device": target, "eps": eps,
                            "protocol": _protocol(args), "workers": world, "models": {}}
    for name, path, net, arch in _models(args, source):
        say(f"\n== {name} ({arch}, {path}) on {len(x)} {source.name} test images")
        report = evaluate_robustness(net, (x, y), eps, attacks_for(net, args, surrogate),
                                     log=say, state_dir=out / "state" / name,
                                     seed=args.seed, shard=(rank, world), chunk=args.chunk)
        say(report.format())
        reports[name] = report
        summary["models"][name] = {"ckpt": path, "model": arch, **report.to_dict()}
    if rank == 0:
        write_json(out / "robustness.json", summary)
        png = replot(out / "robustness.json", out)
        md = markdown(summary, reports, png, out)
        print(f"\nwrote {out / 'robustness.json'}, {png} and {md}")
    return 0
