"""``mindsec attack``: attack a model on the test split and evaluate it (MindArmour's lines).

Loads --ckpt (the architecture named in it; a missing LeNet5 checkpoint is trained there
first), attacks the test images, prints the tutorial's AttackEvaluate lines and writes
summary.json, report.md and figures (examples grid, accuracy vs eps) to --out.
"""
import time
from pathlib import Path

import numpy as np

from ..cli_support import (RECIPE_NAMES, add_data_arguments, add_device_argument,
                           check_positive)

ATTACKS = ("fgsm", "pgd", "bim", "mim")
CURVE_IMAGES = 1000     # images of the iterative attacks' eps curve


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--ckpt", default="runs/lenet5.ckpt",
                        help="model checkpoint (architecture read from it); a missing one "
                             "is trained there as LeNet5 (default: %(default)s)")
    parser.add_argument("--attack", choices=ATTACKS, default="fgsm",
                        help="fgsm (default), pgd (random start), bim or mim")
    parser.add_argument("--eps", type=float, default=0.3,
                        help="Linf budget, fraction of the [0, 1] range (default 0.3)")
    parser.add_argument("--steps", type=int, default=40,
                        help="iterations of pgd/bim/mim, step 2.5 eps / steps (default 40)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="attack batch (default: mindsec's automatic choice)")
    parser.add_argument("--strict-loss", action="store_true",
                        help="softmax cross-entropy as MindArmour computes it (saturates)")
    parser.add_argument("--recipe", default="default", choices=RECIPE_NAMES,
                        help="training recipe when --ckpt is missing")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs when --ckpt is missing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", "--out-dir", default="runs/attack",
                        help="directory for summary.json, report.md and figures "
                             "(default: %(default)s)")
    return parser


def make_attack(name, net, eps, steps=40, strict_loss=False, seed=0):
    """The attack ``name`` on ``net`` at ``eps`` (cross-entropy on logits)."""
    # pylint: disable=import-outside-toplevel
    from mindspore import nn
    from ..attacks import (BasicIterativeMethod, FastGradientSignMethod,
                           MomentumIterativeMethod, ProjectedGradientDescent)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    if name == "fgsm":
        return FastGradientSignMethod(net, eps=eps, loss_fn=loss, stable_loss=not strict_loss)
    common = dict(eps=eps, eps_iter=2.5 * eps / steps, nb_iter=steps, loss_fn=loss,
                  stable_loss=not strict_loss, seed=seed)
    cls = {"pgd": ProjectedGradientDescent, "bim": BasicIterativeMethod,
           "mim": MomentumIterativeMethod}[name]
    return cls(net, **common)


def label(args):
    return (f"{args.attack.upper()} eps={args.eps:g}" +
            (f", {args.steps} steps" if args.attack != "fgsm" else ""))


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data, plots, workflows
    from ..attacks import auto_batch_size
    from ..checks import check_number
    from ..batching import predict_proba
    from ..cli_support import data_source, write_json
    from ..evaluations import AttackEvaluate, robustness_curve
    from ..report import Markdown

    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_positive(args, "steps", "batch_size", "epochs")
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    print(f"device {target} ({args.mode} mode); {source.describe()}")
    net, arch = workflows.model_or_lenet5(args.ckpt, source, args.recipe, args.epochs,
                                          args.seed, args.train_samples)
    net.set_train(False)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)

    clean_probs = predict_proba(net, x)
    clean_acc = float(np.mean(clean_probs.argmax(1) == y))
    attack = make_attack(args.attack, net, args.eps, args.steps, args.strict_loss, args.seed)
    batch = args.batch_size or auto_batch_size(x.shape[1:])
    attack.batch_generate(x[:batch], y[:batch], batch)    # compile once, outside the timing
    start = time.perf_counter()
    adv = attack.batch_generate(x, y, batch_size=batch)
    seconds = time.perf_counter() - start
    adv_probs = predict_proba(net, adv)
    adv_acc = float(np.mean(adv_probs.argmax(1) == y))
    ev = AttackEvaluate(x, y, adv, adv_probs)
    l0, l2, linf = ev.avg_lp_distance()
    summary = {
        "ckpt": str(args.ckpt), "model": arch, "test_images": int(len(x)),
        "data": source.describe(), "device": target, "attack": args.attack,
        "eps": args.eps, "steps": args.steps if args.attack != "fgsm" else 1,
        "loss": "softmax cross-entropy (MindArmour)" if args.strict_loss
                else "cancellation-free cross-entropy",
        "accuracy_before": clean_acc, "accuracy_after": adv_acc,
        "mis_classification_rate": ev.mis_classification_rate(),
        "avg_conf_adv_class": ev.avg_conf_adv_class(),
        "avg_conf_true_class": ev.avg_conf_true_class(),
        "avg_lp_distance": [l0, l2, linf], "avg_ssim": ev.avg_ssim(),
        "seconds_per_example": seconds / len(x),
    }
    print(f"prediction accuracy before attacking is : {clean_acc:.4f}")
    print(f"prediction accuracy after attacking is : {adv_acc:.4f}")
    print(f"mis-classification rate of adversaries is : {summary['mis_classification_rate']:.4f}")
    print(f"The average confidence of adversarial class is : {summary['avg_conf_adv_class']:.4f}")
    print(f"The average confidence of true class is : {summary['avg_conf_true_class']:.4f}")
    print(f"The average distance (l0, l2, linf) between original samples and adversarial "
          f"samples are: ({l0:.4f}, {l2:.4f}, {linf:.4f})")
    print(f"The average structural similarity between original samples and adversarial "
          f"samples are: {summary['avg_ssim']:.4f}")
    print(f"The average costing time is {summary['seconds_per_example']:.6f} s per example "
          f"({len(x) / seconds:,.0f} examples/s, batch {batch})")
    if args.attack == "fgsm":
        summary["saturated"] = attack.stats["saturated"]
        print(f"samples whose float32 softmax saturated (p_true == 1.0): "
              f"{attack.stats['saturated']} of {len(x)}" +
              ("" if args.strict_loss else " (the cancellation-free loss attacks them too)"))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = plots.adversarial_grid(x, adv, y, clean_probs, adv_probs,
                                  out / f"{args.attack}_examples.png", title=label(args))
    if args.attack == "fgsm":
        sweep = attack.sweep(x, y, np.linspace(0.0, args.eps, 16), batch_size=args.batch_size)
        curve_n, eps_grid, curve_acc = len(x), sweep.eps, sweep.accuracy
        summary["eps_curve"] = {"eps": sweep.eps.tolist(), "accuracy": sweep.accuracy.tolist(),
                                "mean_true_class_prob": sweep.mean_label_prob.tolist()}
        curve = plots.eps_curve(sweep, out / f"{args.attack}_eps_curve.png",
                                title=f"FGSM on {len(x)} {source.name} test images")
    else:        # iterative: one run per eps, on the first CURVE_IMAGES images
        curve_n = min(len(x), CURVE_IMAGES)
        eps_grid = np.linspace(0.0, args.eps, 7)
        result = robustness_curve(attack, x[:curve_n], y[:curve_n], eps_grid, batch_size=batch)
        curve_acc = result.accuracy
        summary["eps_curve"] = {"eps": eps_grid.tolist(), "accuracy": curve_acc.tolist(),
                                "images": curve_n}
        curve = plots.line_chart(
            [(args.attack.upper(), eps_grid, 100 * curve_acc, {"marker": "o", "ms": 3})],
            out / f"{args.attack}_eps_curve.png",
            "eps (Linf, fraction of the [0, 1] pixel range)", "accuracy (%)",
            f"{label(args)} on {curve_n} {source.name} test images", ylim=(0, 100),
            legend_at="upper right")
    write_json(out / "summary.json", summary)

    md = Markdown(f"{label(args)} on {arch} ({args.ckpt})")
    md.paragraph(f"{source.describe()}; {len(x)} test images; device {target}; loss: "
                 f"{summary['loss']}.")
    md.section("AttackEvaluate").table(["metric", "value"], [
        ["accuracy before the attack", clean_acc], ["accuracy after the attack", adv_acc],
        ["misclassification rate", summary["mis_classification_rate"]],
        ["mean confidence of the adversarial class", summary["avg_conf_adv_class"]],
        ["mean confidence of the true class", summary["avg_conf_true_class"]],
        ["mean relative L0 / L2 / Linf distance", f"{l0:.4f} / {l2:.4f} / {linf:.4f}"],
        ["mean SSIM", summary["avg_ssim"]],
        ["seconds per example", f"{summary['seconds_per_example']:.2e}"]])
    md.figure(grid, f"Originals, perturbations (grey = 0) and adversarial images; "
                    f"prediction and confidence above each ({label(args)})")
    md.section("Accuracy against eps")
    md.table(["eps"] + [f"{e:.3f}" for e in eps_grid[::max(1, len(eps_grid) // 8)]],
             [["accuracy"] + [f"{a:.4f}" for a in curve_acc[::max(1, len(eps_grid) // 8)]]])
    md.figure(curve, f"Accuracy against eps on {curve_n} test images")
    report = md.write(out / "report.md")
    print(f"report: {report}; summary: {out / 'summary.json'}; figures: {grid}, {curve}")
    return 0
