"""Attack LeNet5 on MNIST with FGSM and evaluate it, as in MindArmour's tutorial.

    python examples/mnist_attack_fgsm.py                       # train (or reuse) and attack
    python examples/mnist_attack_fgsm.py --ckpt my_lenet.ckpt  # attack your own weights
    python examples/mnist_attack_fgsm.py --strict-loss         # MindArmour's exact loss
    python examples/mnist_attack_fgsm.py --attack pgd          # PGD-40 instead

Trains LeNet5 with the default recipe if --ckpt does not exist (and resumes a killed
training run), attacks the whole test split with FastGradientSignMethod, prints the
tutorial's evaluation lines and writes summary.json, report.md and figures to --out
(default runs/fgsm). The same as `mindsec attack`.
"""
import sys

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec.cli import run_example

if __name__ == "__main__":
    sys.exit(run_example("attack", __doc__, defaults={"out": "runs/fgsm"}))
