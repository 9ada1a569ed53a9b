"""Attack LeNet5 on MNIST with FGSM and evaluate it, as in MindArmour's tutorial.

    python examples/mnist_attack_fgsm.py                       # train (or reuse) and attack
    python examples/mnist_attack_fgsm.py --ckpt my_lenet.ckpt  # attack your own weights
    python examples/mnist_attack_fgsm.py --strict-loss         # MindArmour's exact loss

Trains LeNet5 with the default recipe if --ckpt does not exist (and resumes a killed
training run), attacks the whole test split with FastGradientSignMethod, prints the
tutorial's evaluation lines and writes figures and a JSON summary to --out-dir.
"""
import argparse
import sys
import time
from pathlib import Path

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import numpy as np
from mindspore import nn

from mindsec import context, data, plots, train, workflows
from mindsec.attacks import FastGradientSignMethod, auto_batch_size
from mindsec.batching import predict_proba
from mindsec.cli_support import add_data_arguments, data_source, run_main, write_json
from mindsec.evaluations import AttackEvaluate


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    context.add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--ckpt", default="runs/lenet5.ckpt",
                        help="LeNet5 checkpoint: loaded if it exists, else trained and "
                             "written there (default: %(default)s)")
    parser.add_argument("--recipe", default="default", choices=sorted(train.RECIPES))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eps", type=float, default=0.3,
                        help="FGSM eps as a fraction of the [0, 1] range (default 0.3)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="attack batch (default: mindsec's automatic choice, 2048 here)")
    parser.add_argument("--strict-loss", action="store_true",
                        help="use softmax cross-entropy as MindArmour does (saturates)")
    parser.add_argument("--out-dir", default="runs/fgsm",
                        help="figures and summary.json (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    print(f"device {target} ({args.mode} mode); {source.describe()}")
    net = workflows.lenet5(args.ckpt, source, args.recipe, args.epochs, args.seed,
                           args.train_samples)
    net.set_train(False)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)

    clean_probs = predict_proba(net, x)
    clean_acc = float(np.mean(clean_probs.argmax(1) == y))
    attack = FastGradientSignMethod(net, eps=args.eps,
                                    loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True),
                                    stable_loss=not args.strict_loss)
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
        "test_images": int(len(x)), "data": source.describe(), "eps": args.eps,
        "loss": "softmax cross-entropy (MindArmour)" if args.strict_loss
                else "cancellation-free cross-entropy",
        "accuracy_before": clean_acc, "accuracy_after": adv_acc,
        "mis_classification_rate": ev.mis_classification_rate(),
        "avg_conf_adv_class": ev.avg_conf_adv_class(),
        "avg_conf_true_class": ev.avg_conf_true_class(),
        "avg_lp_distance": [l0, l2, linf], "avg_ssim": ev.avg_ssim(),
        "seconds_per_example": seconds / len(x), "saturated": attack.stats["saturated"],
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
    print(f"samples whose float32 softmax saturated (p_true == 1.0): {attack.stats['saturated']}"
          f" of {len(x)}" + ("" if args.strict_loss else
                             " (the cancellation-free loss attacks them too)"))

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sweep = attack.sweep(x, y, np.linspace(0.0, 0.3, 16), batch_size=args.batch_size)
    summary["eps_curve"] = {"eps": sweep.eps.tolist(), "accuracy": sweep.accuracy.tolist(),
                            "mean_true_class_prob": sweep.mean_label_prob.tolist()}
    figures = [
        plots.adversarial_grid(x, adv, y, clean_probs, adv_probs, out / "fgsm_examples.png",
                               title=f"FGSM eps={args.eps}"),
        plots.eps_curve(sweep, out / "fgsm_eps_curve.png",
                        title=f"FGSM on {len(x)} MNIST test images"),
    ]
    write_json(out / "summary.json", summary)
    print(f"figures: {', '.join(str(f) for f in figures)}; summary: {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
