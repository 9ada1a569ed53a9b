"""Train LeNet5 on MNIST (32x32) and report test accuracy.

    python examples/mnist_train.py --device CPU                      # default recipe
    python examples/mnist_train.py --recipe tutorial                 # MindArmour's recipe
    python examples/mnist_train.py --out runs/lenet5.ckpt --resume   # continue a killed run
"""
import argparse
import sys
import time

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import mindspore as ms

from mindsec import context, data, train
from mindsec.batching import accuracy
from mindsec.cli_support import add_data_arguments, data_source, run_main
from mindsec.models import LeNet5


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    context.add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--recipe", default="default", choices=sorted(train.RECIPES),
                        help="default: Adam+cosine, batch 128, 6 epochs; tutorial: "
                             "Momentum(0.01, 0.09), batch 32, 10 epochs")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the recipe's number of epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/lenet5.ckpt",
                        help="checkpoint written after every epoch (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --out if it exists")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    recipe = train.get_recipe(args.recipe, args.epochs)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    test_x, test_y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    print(f"device {target} ({args.mode} mode); {source.describe()}; "
          f"{len(train_x)} train / {len(test_x)} test images")
    print(f"recipe {recipe.name}: {recipe.optimizer} lr {recipe.lr} ({recipe.schedule}), "
          f"batch {recipe.batch_size}, {recipe.epochs} epochs, seed {args.seed}")
    ms.set_seed(args.seed)
    net = LeNet5()
    t0 = time.perf_counter()
    train.fit(net, train_x, train_y, recipe, seed=args.seed, ckpt_path=args.out,
              resume=args.resume, eval_data=(test_x, test_y), meta={"data": source.name})
    wall = time.perf_counter() - t0
    acc = accuracy(net, test_x, test_y)
    print(f"test accuracy {acc:.4f} on {len(test_x)} images; training wall time {wall:.1f} s; "
          f"checkpoint {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
