"""MindArmour's NAD tutorial recipe, end to end, as the reference for the flow row.

    python bench/mindarmour_flow.py --out runs/bench/mindarmour_flow.json [--quick]

Only MindSpore and MindArmour do the work: LeNet5 (the tutorial's architecture) trained with
``mindspore.train.Model`` (Momentum(0.01, 0.09), batch 32, 10 epochs, shuffled), attacked
with MindArmour's ``FastGradientSignMethod`` (eps 0.3), retrained with MindArmour's
``NaturalAdversarialDefense`` (eps 0.3, replace_ratio 0.5, Momentum(0.01, 0.09), batch 32,
10 epochs) on the TRAINING split, and scored on the test split: clean accuracy before and
after, FGSM accuracy of the undefended model, and the tutorial's protocol (the undefended
model's FGSM examples replayed on the defended model). mindsec only loads the data (the same
arrays its own flow uses), copies the trained weights for NAD, and applies its oneDNN
setting, which speeds up both sides alike.
Writes JSON with the wall time of each phase.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import mindsec  # noqa: F401  (same runtime settings as the mindsec side)
import numpy as np
import mindspore as ms
from mindspore import nn
from mindspore.train import Model

from mindsec import context, data, workflows
from mindsec.batching import accuracy
from mindsec.cli_support import (add_data_arguments, add_device_argument, check_positive,
                                 data_source, run_main, write_json)
from mindsec.models import LeNet5


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (10)")
    parser.add_argument("--nad-epochs", type=int, default=10, help="NAD epochs (10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="JSON to write")
    args = parser.parse_args(argv)
    check_positive(args, "epochs", "nad_epochs")
    # imported here: MindArmour prints a warning and sleeps at import
    from mindarmour.adv_robustness.attacks import FastGradientSignMethod  # noqa
    from mindarmour.adv_robustness.defenses import NaturalAdversarialDefense  # noqa

    start = time.perf_counter()
    context.set_device(args.device, args.mode)
    source = data_source(args)
    tx, ty = data.load_mnist("train", num_samples=args.train_samples, source=source)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    times = {"setup": time.perf_counter() - start}

    t = time.perf_counter()
    ms.set_seed(args.seed)
    net = LeNet5()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    dataset = ms.dataset.NumpySlicesDataset((tx, ty.astype(np.int32)), ["image", "label"],
                                            shuffle=True).batch(32, drop_remainder=True)
    model = Model(net, loss, nn.Momentum(net.trainable_params(), 0.01, 0.09))
    model.train(args.epochs, dataset, dataset_sink_mode=False)
    net.set_train(False)
    times["train"] = time.perf_counter() - t

    t = time.perf_counter()
    adv = FastGradientSignMethod(net, eps=0.3, loss_fn=loss).batch_generate(x, y, batch_size=32)
    times["attack"] = time.perf_counter() - t
    report = {"undefended": {"clean": accuracy(net, x, y), "fgsm": accuracy(net, adv, y)}}

    t = time.perf_counter()
    defended = workflows.copy_of(net)
    nad = NaturalAdversarialDefense(defended, loss_fn=loss, optimizer=nn.Momentum(
        defended.trainable_params(), 0.01, 0.09), bounds=(0.0, 1.0), eps=0.3)
    nad.batch_defense(tx, ty, batch_size=32, epochs=args.nad_epochs)
    defended.set_train(False)
    times["nad"] = time.perf_counter() - t
    report["defended"] = {"clean": accuracy(defended, x, y),
                          "fgsm_transfer": accuracy(defended, adv, y)}
    times["total"] = time.perf_counter() - start
    report.update(recipe="MindArmour tutorial: Model.train Momentum(0.01, 0.09) batch 32, "
                         f"{args.epochs} epochs; NAD eps 0.3 Momentum(0.01, 0.09) batch 32, "
                         f"{args.nad_epochs} epochs on the training split",
                  train_images=int(len(tx)), test_images=int(len(x)), seconds=times,
                  data=source.describe())
    write_json(Path(args.out), report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
