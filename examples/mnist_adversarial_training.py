"""Adversarial training on MNIST: fast (FGSM from a random start), PGD, or NAD.

    python examples/mnist_adversarial_training.py --defense fast            # ~4 min on 2 cores
    python examples/mnist_adversarial_training.py --defense pgd             # PGD-10 training
    python examples/mnist_adversarial_training.py --defense nad --model lenet5
    msrun --worker_num 2 --local_worker_num 2 --master_addr 127.0.0.1 --master_port 8118 \
        --join True --log_dir runs/logs examples/mnist_adversarial_training.py   # data-parallel

Trains from scratch on the training split (the last 1,000 training images are held out
for the early-stopping check of fast training and never trained on), writes a resumable
checkpoint (--out; rerun the same command to resume a killed run), and prints clean and
PGD-20 accuracy on the test split. Evaluate the result with examples/mnist_robustness.py.
Recipes (docs/results.md): Adam with a triangular learning rate (0 -> --lr at 40% -> 0),
batch 100, eps 0.3; fast: alpha 0.375 (Wong et al. 2020); pgd: 10 steps of 0.05 from a
random start; nad: FGSM eps 0.3 on half of each batch (MindArmour's NAD). Under msrun
(docs/distributed.md) it trains data-parallel: --batch is the global batch, split among the
workers, and the result does not depend on their number.
"""
import argparse
import sys
import time
from pathlib import Path

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import mindspore as ms
from mindspore import nn

from mindsec import checkpoint, context, data, distributed, train
from mindsec.checks import check_number
from mindsec.batching import accuracy
from mindsec.cli_support import (add_data_arguments, add_device_argument, check_positive,
                                 data_source, per_worker, run_main, write_json)
from mindsec.defenses import (FastAdversarialDefense, NaturalAdversarialDefense,
                              ProjectedAdversarialDefense)
from mindsec.errors import InputError
from mindsec.evaluations import protocols
from mindsec.models import MODELS

HOLDOUT = 1000


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--defense", choices=("fast", "pgd", "nad"), default="fast")
    parser.add_argument("--model", choices=sorted(MODELS), default="smallcnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-3, help="peak learning rate")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--alpha", type=float, default=None,
                        help="fast training: FGSM step (default 1.25 * eps)")
    parser.add_argument("--pgd-steps", type=int, default=10, help="pgd training: iterations")
    parser.add_argument("--pgd-step", type=float, default=0.05, help="pgd training: step")
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="epochs over which eps ramps up linearly from ~0")
    parser.add_argument("--predicted-labels", action="store_true",
                        help="attack the model's predictions, not the labels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None,
                        help="checkpoint (default runs/robust/<defense>_<model>.ckpt)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_number("--lr", args.lr, low=0.0)
    check_positive(args, "epochs", "batch", "pgd_steps")
    target = context.set_device(args.device, args.mode)
    rank, world = distributed.setup()           # (0, 1) unless started by msrun
    batch = per_worker("--batch", args.batch, world)
    say = print if rank == 0 else (lambda line: None)
    source = data_source(args)
    out = Path(args.out or f"runs/robust/{args.defense}_{args.model}.ckpt")
    x, y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    if len(x) <= HOLDOUT + args.batch:
        raise InputError(f"--train-samples must exceed {HOLDOUT + args.batch} (the last "
                         f"{HOLDOUT} are held out), got {len(x)}")
    hold = (x[-HOLDOUT:], y[-HOLDOUT:])
    x, y = x[:-HOLDOUT], y[:-HOLDOUT]
    test_x, test_y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    epochs = args.epochs * (source.epoch_scale if args.train_samples is None else 1)
    say(f"{args.defense} adversarial training of {args.model} on {len(x)} {source.name} "
        f"images, {epochs} epochs, eps {args.eps}, {target}"
        + (f", {world} workers" if world > 1 else "") + f" -> {out}")

    ms.set_seed(args.seed)
    net = MODELS[args.model]()
    steps = len(x) // args.batch
    recipe = train.Recipe(args.defense, "adam", args.lr, args.batch, epochs, "onecycle")
    opt = train.make_optimizer(net, recipe, steps)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    common = {"predicted_labels": args.predicted_labels,
              "warmup": args.warmup * (epochs / args.epochs)}
    if args.defense == "fast":
        defense = FastAdversarialDefense(net, loss, opt, eps=args.eps, alpha=args.alpha,
                                         holdout=hold, **common)
    elif args.defense == "pgd":
        defense = ProjectedAdversarialDefense(net, loss, opt, eps=args.eps,
                                              eps_iter=args.pgd_step, nb_iter=args.pgd_steps,
                                              replace_ratio=1.0, **common)
    else:
        defense = NaturalAdversarialDefense(net, loss, opt, eps=args.eps, **common)
    start = time.perf_counter()
    defense.batch_defense(x, y, batch_size=batch, epochs=epochs, shuffle=True,
                          seed=args.seed, ckpt_path=out, resume=True, log=say,
                          meta={"model": args.model, "data": source.name,
                                "recipe": f"{args.defense}-adversarial"})
    seconds = time.perf_counter() - start
    if rank != 0:
        return 0
    checkpoint.load_into(net, out)     # the final (or, after early stopping, best) weights
    net.set_train(False)
    pgd = protocols.pgd("pgd20", net, args.eps, loss_fn=loss, seed=args.seed)
    result = {"defense": args.defense, "model": args.model, "data": source.name,
              "epochs": epochs, "train_seconds": round(seconds, 1),
              "stopped_after": getattr(defense, "stopped_after", None),
              "clean_acc": accuracy(net, test_x, test_y),
              "pgd20_acc": accuracy(net, pgd.batch_generate(test_x, test_y), test_y),
              "ckpt": str(out)}
    print(f"trained in {seconds:.0f} s; test clean accuracy {result['clean_acc']:.4f}, "
          f"PGD-20 (eps {args.eps}) {result['pgd20_acc']:.4f}")
    write_json(out.with_suffix(".json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
