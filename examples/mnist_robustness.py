"""Robust evaluation of MNIST models: accuracy vs eps under a cascade of attacks.

    python examples/mnist_robustness.py                          # the default LeNet5
    python examples/mnist_robustness.py --model runs/lenet5.ckpt \\
        --model fast=runs/robust/fast_smallcnn.ckpt --transfer-from runs/lenet5.ckpt

For every model (NAME=CKPT, or a checkpoint path; the architecture is read from the
checkpoint, LeNet5 otherwise) and every eps: PGD (random start, restarts), then FGSM, then
optional DeepFool and transfer attacks, each only on the test images still standing
(mindsec.evaluations.evaluate_robustness). Prints the report with its sanity flags and
writes <out>/robustness.json and <out>/robustness.png (worst-case accuracy vs eps).
"""
import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import numpy as np
from mindspore import nn

from mindsec import checkpoint, context, data, plots, workflows
from mindsec.attacks import (DeepFool, FastGradientSignMethod, ProjectedGradientDescent,
                             TransferAttack)
from mindsec.cli_support import (add_data_arguments, check_positive, data_source, run_main,
                                  write_json)
from mindsec.errors import InputError
from mindsec.evaluations import evaluate_robustness
from mindsec.models import MODELS


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    context.add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--model", action="append", default=None,
                        help="NAME=CKPT or CKPT, repeatable (default: runs/lenet5.ckpt, "
                             "trained there if missing)")
    parser.add_argument("--eps", default="0.05,0.1,0.15,0.2,0.25,0.3",
                        help="comma-separated Linf budgets")
    parser.add_argument("--pgd-steps", type=int, default=40)
    parser.add_argument("--pgd-step", type=float, default=0.01,
                        help="PGD step at eps 0.3 (scaled with eps)")
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
    return parser.parse_args(argv)


def load_model(path, source):
    """A network with the weights in ``path`` (architecture from its metadata)."""
    _, meta = checkpoint.load(path)
    name = meta.get("model", "lenet5")
    if name not in MODELS:
        raise InputError(f"checkpoint {path} names model {name!r}; known: {', '.join(MODELS)}")
    net = MODELS[name]()
    checkpoint.load_into(net, path)
    net.set_train(False)
    return net, name


def attacks_for(net, args, surrogate):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    pgd = dict(eps=0.3, eps_iter=args.pgd_step, nb_iter=args.pgd_steps, loss_fn=loss)
    attacks = [ProjectedGradientDescent(net, nb_restarts=args.restarts, seed=args.seed, **pgd),
               FastGradientSignMethod(net, eps=0.3, loss_fn=loss)]
    if args.deepfool:
        attacks.append(DeepFool(net, 10, norm_level=np.inf, bounds=(0.0, 1.0)))
    if surrogate is not None:
        attacks += [TransferAttack(FastGradientSignMethod(surrogate, eps=0.3, loss_fn=loss)),
                    TransferAttack(ProjectedGradientDescent(surrogate, seed=args.seed,
                                                            **pgd))]
    return attacks


def replot(path, out):
    """The figure of a saved summary JSON."""
    try:
        summary = json.loads(Path(path).read_text())
        reports = {name: SimpleNamespace(**{k: m[k] for k in ("eps", "robust_accuracy",
                                                              "robust_ci", "attacks")})
                   for name, m in summary["models"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"--plot-from {path} is not a robustness.json written by this "
                         f"script") from None
    out.mkdir(parents=True, exist_ok=True)
    return plots.robustness_curves(reports, out / "robustness.png",
                                   title=f"{summary['data']} test split, {summary['n']} images")


def main(argv=None):
    args = parse_args(argv)
    if args.plot_from:
        print(f"wrote {replot(args.plot_from, Path(args.out))}")
        return 0
    try:
        eps = [float(v) for v in args.eps.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--eps must be comma-separated numbers, got {args.eps!r}") from None
    if not eps or not all(0.0 <= e <= 1.0 for e in eps):
        raise InputError(f"--eps values must lie in [0, 1] (Linf, fraction of the pixel "
                         f"range), got {args.eps!r}")
    check_positive(args, "pgd_steps", "restarts")
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    specs = args.model or ["runs/lenet5.ckpt"]
    surrogate = load_model(args.transfer_from, source)[0] if args.transfer_from else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports, summary = {}, {"data": source.name, "n": len(x), "device": target, "eps": eps,
                            "models": {}}
    for spec in specs:
        name, _, path = spec.rpartition("=")
        name = name or Path(path).stem
        if not Path(path).exists() and spec == "runs/lenet5.ckpt":
            workflows.lenet5(path, source, train_samples=args.train_samples)
        net, arch = load_model(path, source)
        print(f"\n== {name} ({arch}, {path}) on {len(x)} {source.name} test images")
        report = evaluate_robustness(net, (x, y), eps, attacks_for(net, args, surrogate),
                                     log=print)
        print(report.format())
        reports[name] = report
        summary["models"][name] = {"ckpt": path, "model": arch, **report.to_dict()}
    write_json(out / "robustness.json", summary)
    png = replot(out / "robustness.json", out)
    print(f"\nwrote {out / 'robustness.json'} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
