"""``mindsec attack``: attack a model on the test split and evaluate it (MindArmour's lines).

Loads --ckpt (the architecture named in it; a missing LeNet5 checkpoint is trained there
first when it is the default path or with --train-if-missing), attacks the test images, prints the tutorial's AttackEvaluate lines and writes
summary.json, report.md and figures (examples grid, accuracy vs eps) to --out.
"""
import time
from pathlib import Path

import numpy as np

from ..cli_support import (RECIPE_NAMES, add_data_arguments, add_device_argument,
                           add_model_checkpoint, check_positive)

DEFAULT_CKPT = "runs/lenet5.ckpt"
ATTACKS = ("fgsm", "pgd", "bim", "mim")
CURVE_IMAGES = 1000     # images of the iterative attacks' eps curve


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    add_model_checkpoint(parser, DEFAULT_CKPT)
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
    from .. import context, data, workflows
    from ..attacks import auto_batch_size
    from ..checks import check_number
    from ..cli_support import check_output_dir, data_source, model_checkpoint, write_json

    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_positive(args, "steps", "batch_size", "epochs")
    args.ckpt = model_checkpoint(args, DEFAULT_CKPT)
    check_output_dir("--out", args.out)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    print(f"device {target} ({args.mode} mode); {source.describe()}")
    net, arch = workflows.model_or_lenet5(args.ckpt, source, args.recipe, args.epochs,
                                          args.seed, args.train_samples)
    net.set_train(False)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    attack = make_attack(args.attack, net, args.eps, args.steps, args.strict_loss, args.seed)
    batch = args.batch_size or auto_batch_size(x.shape[1:])
    summary, arrays = evaluate(attack, net, x, y, batch)
    summary.update(ckpt=str(args.ckpt), model=arch, data=source.describe(), device=target,
                   attack=args.attack, steps=args.steps if args.attack != "fgsm" else 1,
                   loss="softmax cross-entropy (MindArmour)" if args.strict_loss
                   else "cancellation-free cross-entropy")
    print_evaluation(summary, batch, len(x), args.strict_loss)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    curve = eps_curve(args, attack, x, y, batch, summary, out, source.name)
    write_json(out / "summary.json", summary)
    report = markdown(args, summary, arrays, curve, out)
    print(f"report: {report}; summary: {out / 'summary.json'}; figures: "
          f"{out / f'{args.attack}_examples.png'}, {curve[0]}")
    return 0


def evaluate(attack, net, x, y, batch):
    """(summary, arrays): accuracy before and after ``attack``, MindArmour's AttackEvaluate
    metrics, the time per example (compiled once, outside the timing) and, for FGSM, the
    saturated-softmax count."""
    # pylint: disable=import-outside-toplevel
    from ..batching import predict_proba
    from ..evaluations import AttackEvaluate
    clean_probs = predict_proba(net, x)
    attack.batch_generate(x[:batch], y[:batch], batch)    # compile once, outside the timing
    start = time.perf_counter()
    adv = attack.batch_generate(x, y, batch_size=batch)
    seconds = time.perf_counter() - start
    adv_probs = predict_proba(net, adv)
    ev = AttackEvaluate(x, y, adv, adv_probs)
    summary = {
        "test_images": int(len(x)), "eps": attack.eps,
        "accuracy_before": float(np.mean(clean_probs.argmax(1) == y)),
        "accuracy_after": float(np.mean(adv_probs.argmax(1) == y)), **ev.to_dict(),
        "seconds_per_example": seconds / len(x),
    }
    if attack.kind == "single-step":
        summary["saturated"] = attack.stats["saturated"]
    return summary, {"x": x, "y": y, "adv": adv, "clean_probs": clean_probs,
                     "adv_probs": adv_probs}


def print_evaluation(s, batch, n, strict_loss):
    """MindArmour's evaluation lines, then the throughput (and FGSM's saturation count)."""
    l0, l2, linf = s["avg_lp_distance"]
    print(f"prediction accuracy before attacking is : {s['accuracy_before']:.4f}")
    print(f"prediction accuracy after attacking is : {s['accuracy_after']:.4f}")
    print(f"mis-classification rate of adversaries is : {s['mis_classification_rate']:.4f}")
    print(f"The average confidence of adversarial class is : {s['avg_conf_adv_class']:.4f}")
    print(f"The average confidence of true class is : {s['avg_conf_true_class']:.4f}")
    print(f"The average distance (l0, l2, linf) between original samples and adversarial "
          f"samples are: ({l0:.4f}, {l2:.4f}, {linf:.4f})")
    print(f"The average structural similarity between original samples and adversarial "
          f"samples are: {s['avg_ssim']:.4f}")
    print(f"The average costing time is {s['seconds_per_example']:.6f} s per example "
          f"({1.0 / s['seconds_per_example']:,.0f} examples/s, batch {batch})")
    if "saturated" in s:
        print(f"samples whose float32 softmax saturated (p_true == 1.0): {s['saturated']} "
              f"of {n}" + ("" if strict_loss else " (the cancellation-free loss attacks them "
                                                  "too)"))


def eps_curve(args, attack, x, y, batch, summary, out, data_name):
    """Accuracy against eps (FGSM: one gradient for 16 eps on every image; iterative: one
    run per eps on the first CURVE_IMAGES), into ``summary`` and a figure; returns
    ``(png, images, eps, accuracy)``."""
    from .. import plots    # pylint: disable=import-outside-toplevel
    from ..evaluations import robustness_curve  # pylint: disable=import-outside-toplevel
    png = out / f"{args.attack}_eps_curve.png"
    if args.attack == "fgsm":
        sweep = attack.sweep(x, y, np.linspace(0.0, args.eps, 16), batch_size=args.batch_size)
        summary["eps_curve"] = {"eps": sweep.eps.tolist(), "accuracy": sweep.accuracy.tolist(),
                                "mean_true_class_prob": sweep.mean_label_prob.tolist()}
        plots.eps_curve(sweep, png, title=f"FGSM on {len(x)} {data_name} test images")
        return png, len(x), sweep.eps, sweep.accuracy
    n = min(len(x), CURVE_IMAGES)
    eps_grid = np.linspace(0.0, args.eps, 7)
    acc = robustness_curve(attack, x[:n], y[:n], eps_grid, batch_size=batch).accuracy
    summary["eps_curve"] = {"eps": eps_grid.tolist(), "accuracy": acc.tolist(), "images": n}
    plots.line_chart([(args.attack.upper(), eps_grid, 100 * acc, {"marker": "o", "ms": 3})],
                     png, "eps (Linf, fraction of the [0, 1] pixel range)", "accuracy (%)",
                     f"{label(args)} on {n} {data_name} test images", ylim=(0, 100),
                     legend_at="upper right")
    return png, n, eps_grid, acc


def markdown(args, s, a, curve, out):
    """report.md: the AttackEvaluate table, the examples grid, the eps curve."""
    # pylint: disable=import-outside-toplevel
    from .. import plots
    from ..report import Markdown
    png, n, eps_grid, acc = curve
    grid = plots.adversarial_grid(a["x"], a["adv"], a["y"], a["clean_probs"], a["adv_probs"],
                                  out / f"{args.attack}_examples.png", title=label(args))
    l0, l2, linf = s["avg_lp_distance"]
    md = Markdown(f"{label(args)} on {s['model']} ({args.ckpt})")
    md.paragraph(f"{s['data']}; {s['test_images']} test images; device {s['device']}; "
                 f"loss: {s['loss']}.")
    md.section("AttackEvaluate").table(["metric", "value"], [
        ["accuracy before the attack", s["accuracy_before"]],
        ["accuracy after the attack", s["accuracy_after"]],
        ["misclassification rate", s["mis_classification_rate"]],
        ["mean confidence of the adversarial class", s["avg_conf_adv_class"]],
        ["mean confidence of the true class", s["avg_conf_true_class"]],
        ["mean relative L0 / L2 / Linf distance", f"{l0:.4f} / {l2:.4f} / {linf:.4f}"],
        ["mean SSIM", s["avg_ssim"]],
        ["seconds per example", f"{s['seconds_per_example']:.2e}"]])
    md.figure(grid, f"Originals, perturbations (grey = 0) and adversarial images; "
                    f"prediction and confidence above each ({label(args)})")
    step = max(1, len(eps_grid) // 8)
    md.section("Accuracy against eps")
    md.table(["eps"] + [f"{e:.3f}" for e in eps_grid[::step]],
             [["accuracy"] + [f"{v:.4f}" for v in acc[::step]]])
    md.figure(png, f"Accuracy against eps on {n} test images")
    return md.write(out / "report.md")
