"""Membership inference against a LeNet5 behind an API: longer training, more leakage.

    python examples/mnist_membership_inference.py            # about a minute on 2 CPU cores
    python examples/mnist_membership_inference.py --epochs 5,20,80 --members 5000

For each number of training epochs, a victim LeNet5 is trained on ``--members`` training
records; the non-members are as many test images. Two attacks score every record through
the API: the confidence threshold (Yeom et al. 2018) and Shokri et al.'s shadow models
(trained the same way on the attacker's own records, the second half of the training split,
never the victim's). Reports ROC AUC and advantage (max TPR - FPR) per attack, with the
victim's train/test accuracy gap, as JSON and a PNG.
"""
import argparse
import sys
import time

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import mindspore as ms

from mindsec import context, data, train
from mindsec.batching import accuracy
from mindsec.cli_support import (add_data_arguments, add_device_argument, check_positive,
                                 data_source, positive_ints, run_main, write_report)
from mindsec.errors import InputError
from mindsec.models import LeNet5
from mindsec.plots import line_chart
from mindsec.privacy import PredictionAPI, ShadowModelMembershipAttack, ThresholdMembershipAttack


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--members", type=int, default=2000,
                        help="training records of each victim (default %(default)s)")
    parser.add_argument("--epochs", default="2,10,40",
                        help="victim training lengths, comma-separated (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/privacy/membership.json")
    return parser.parse_args(argv)


def plot(rows, path):
    epochs = [r["epochs"] for r in rows]
    line_chart([("confidence threshold", epochs, [r["threshold"]["auc"] for r in rows],
                 {"marker": "o"}),
                ("shadow models", epochs, [r["shadow"]["auc"] for r in rows], {"marker": "s"}),
                ("0.5 + train/test accuracy gap", epochs,
                 [0.5 + r["train_accuracy"] - r["test_accuracy"] for r in rows],
                 {"ls": "--", "color": "grey"})],
               path, "victim training epochs", "membership ROC AUC (0.5 = no leak)",
               "Membership inference: longer training leaks more", log_x=True,
               ylim=(0.45, 1.0), legend_at="upper left")


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    check_positive(args, "members")
    epoch_list = positive_ints("--epochs", args.epochs)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    test_x, test_y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    n = args.members
    half = len(train_x) // 2
    if n > half or n > len(test_x) or 2 * n > len(train_x) - half:
        raise InputError(f"--members {n} is too many for {len(train_x)} training and "
                         f"{len(test_x)} test images")
    members = (train_x[:n], train_y[:n])
    nonmembers = (test_x[:n], test_y[:n])
    attacker = (train_x[half:half + 2 * n], train_y[half:half + 2 * n])
    print(f"device {target}; {source.describe()}; {n} members, {n} non-members; the "
          f"attacker's shadow data: {2 * n} other training records")
    rows = []
    for epochs in epoch_list:
        recipe = train.Recipe(f"victim-{epochs}", "adam", lr=2e-3, batch_size=64,
                              epochs=epochs)
        ms.set_seed(args.seed)
        victim = LeNet5()
        train.fit(victim, *members, recipe, seed=args.seed, log=lambda line: None)
        api = PredictionAPI(victim)
        shadow = ShadowModelMembershipAttack(api, LeNet5, recipe)
        shadow.fit(*attacker, seed=args.seed + 1, log=lambda line: None)
        row = {"epochs": epochs, "train_accuracy": accuracy(victim, *members),
               "test_accuracy": accuracy(victim, test_x, test_y),
               "threshold": ThresholdMembershipAttack(api).evaluate(members, nonmembers),
               "shadow": shadow.evaluate(members, nonmembers), "queries": None}
        row["queries"] = api.queries
        rows.append(row)
        print(f"{epochs:>3} epochs: train acc {row['train_accuracy']:.4f}, test acc "
              f"{row['test_accuracy']:.4f}; AUC threshold {row['threshold']['auc']:.3f} "
              f"(advantage {row['threshold']['advantage']:.3f}), shadow "
              f"{row['shadow']['auc']:.3f} (advantage {row['shadow']['advantage']:.3f})")
    write_report(args.out, {"data": source.describe(), "members": n, "rows": rows},
                 lambda png: plot(rows, png), start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
