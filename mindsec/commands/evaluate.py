"""``mindsec evaluate``: worst-case accuracy against eps under a cascade of attacks.

For every model (NAME=CKPT, or a checkpoint path; the architecture is read from the
checkpoint, LeNet5 otherwise) and every eps: PGD (random start, restarts), then FGSM, then
optional DeepFool and transfer attacks, each only on the test images still standing
(mindsec.evaluations.evaluate_robustness). Prints the report with its sanity flags and
writes robustness.json, robustness.png and report.md to --out.
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
    parser.add_argument("--deepfool", action="store_true",
                        help="add DeepFool (median distance to flip)")
    parser.add_argument("--transfer-from", default=None,
                        help="checkpoint of a surrogate model: add transfer FGSM and PGD")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/robustness")
    parser.add_argument("--plot-from", metavar="JSON", default=None,
                        help="redraw <out>/robustness.png from a saved robustness.json and "
                             "exit (no attacks run)")
    return parser


def attacks_for(net, args, surrogate):
    """The cascade protocol: PGD-40 with restarts, FGSM, optionally DeepFool and transfer
    attacks (see :mod:`mindsec.evaluations.protocols`)."""
    from ..evaluations.protocols import cascade   # pylint: disable=import-outside-toplevel
    return cascade(net, 0.3, restarts=args.restarts, deepfool=args.deepfool,
                   surrogate=surrogate, seed=args.seed, steps=args.pgd_steps,
                   step=args.pgd_step)


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
    if args.pgd_steps is None and args.pgd_step is None and args.restarts == 5:
        return CASCADE
    return (f"custom cascade: PGD-{args.pgd_steps or 40} (step "
            f"{args.pgd_step if args.pgd_step is not None else 'eps/30'} at eps 0.3) x"
            f"{args.restarts} restarts, then FGSM (+ DeepFool, transfer attacks if asked)")


def markdown(summary, reports, png, out):
    """report.md: one table per model (robust accuracy per eps and its interval, inputs
    broken by each attack), the sanity flags, and the figure."""
    from ..report import Markdown  # pylint: disable=import-outside-toplevel
    md = Markdown("Robustness evaluation")
    md.paragraph(f"{summary['data']} test split, {summary['n']} images, device "
                 f"{summary['device']}. Each attack runs only on the inputs still standing "
                 f"(cascade); robust accuracy is the worst case, with a "
                 f"{int(round(next(iter(reports.values())).confidence * 100))}% "
                 f"Clopper-Pearson interval. Protocol: {summary['protocol']}. Gradient "
                 f"and transfer attacks only: every figure is an upper bound on robust "
                 f"accuracy (AutoAttack can only lower it).")
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


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data, workflows
    from ..cli_support import check_output_dir, data_source, parse_eps_list, write_json
    from ..evaluations import evaluate_robustness

    if args.plot_from:
        print(f"wrote {replot(args.plot_from, Path(args.out))}")
        return 0
    eps = parse_eps_list("--eps", args.eps)
    check_positive(args, "pgd_steps", "restarts")
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    specs = args.ckpt or [DEFAULT_CKPT]
    surrogate = workflows.load_model(args.transfer_from, source.name)[0] \
        if args.transfer_from else None
    check_output_dir("--out", args.out)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports, summary = {}, {"data": source.name, "n": len(x), "device": target, "eps": eps,
                            "protocol": _protocol(args), "models": {}}
    for spec in specs:
        name, _, path = spec.rpartition("=")
        name = name or Path(path).stem
        if spec == DEFAULT_CKPT:
            net, arch = workflows.model_or_lenet5(path, source,
                                                  train_samples=args.train_samples)
        else:
            net, arch = workflows.load_model(path, source.name)
        print(f"\n== {name} ({arch}, {path}) on {len(x)} {source.name} test images")
        report = evaluate_robustness(net, (x, y), eps, attacks_for(net, args, surrogate),
                                     log=print)
        print(report.format())
        reports[name] = report
        summary["models"][name] = {"ckpt": path, "model": arch, **report.to_dict()}
    write_json(out / "robustness.json", summary)
    png = replot(out / "robustness.json", out)
    md = markdown(summary, reports, png, out)
    print(f"\nwrote {out / 'robustness.json'}, {png} and {md}")
    return 0
