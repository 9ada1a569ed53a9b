"""Robust evaluation of MNIST models: accuracy vs eps under a cascade of attacks.

    python examples/mnist_robustness.py                          # the default LeNet5
    python examples/mnist_robustness.py --model runs/lenet5.ckpt \\
        --model fast=runs/robust/fast_smallcnn.ckpt --transfer-from runs/lenet5.ckpt

For every model (NAME=CKPT, or a checkpoint path; the architecture is read from the
checkpoint, LeNet5 otherwise) and every eps: PGD (random start, restarts), then FGSM, then
Square (1,000 queries), then optional DeepFool and transfer attacks, each only on the test
images still standing (mindsec.evaluations.evaluate_robustness); or, with
--attack autoattack, AutoAttack (APGD-CE, APGD-T, FAB-T, Square). Prints the report with its sanity flags and
writes <out>/robustness.json, robustness.png (worst-case accuracy vs eps) and report.md.
The same as `mindsec evaluate` (--model is --ckpt).
"""
import sys

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec.cli import run_example

if __name__ == "__main__":
    sys.exit(run_example("evaluate", __doc__))
