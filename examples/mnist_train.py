"""Train LeNet5 on MNIST (32x32) and report test accuracy.

    python examples/mnist_train.py --device CPU                       # default recipe
    python examples/mnist_train.py --recipe tutorial                  # MindArmour's recipe
    python examples/mnist_train.py --ckpt runs/lenet5.ckpt --resume   # continue a killed run
    python examples/mnist_train.py --monitor-every 1                  # robustness per epoch

The same as `mindsec train`.
"""
import sys

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec.cli import run_example

if __name__ == "__main__":
    sys.exit(run_example("train", __doc__))
