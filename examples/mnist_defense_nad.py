"""MindArmour's NAD tutorial flow, with an honest evaluation protocol.

    python examples/mnist_defense_nad.py                 # quick: 2 NAD epochs (30 on the 5k subset)
    python examples/mnist_defense_nad.py --full          # the documented full-MNIST recipe (~3 min)
    python examples/mnist_defense_nad.py --tutorial-protocol   # MindArmour's exact setting
    python examples/mnist_defense_nad.py --full --workers 2    # NAD data-parallel (msrun)

1. LeNet5: loaded from --ckpt, or trained (default recipe into runs/lenet5.ckpt; with
   --full the fast recipe into runs/lenet5_fast.ckpt);
2. FGSM eps=0.3 against it on the test split;
3. NaturalAdversarialDefense (FGSM eps=0.3 on half of each batch) retrains a copy of it on
   the TRAINING split (the tutorial retrains on the test images it then scores; use
   --tutorial-protocol to reproduce that, labelled as such);
4. the report, side by side: (a) the tutorial's protocol — the examples made against the
   original model, replayed on the defended one, with DefenseEvaluate; (b) adaptive — FGSM
   regenerated against the defended model; (c) PGD (40 steps of eps/30, random start, both
   models) — where FGSM training only masked gradients, this is where it shows.
Writes report.json, report.md, figures and the defended checkpoint to --out (default
runs/nad). The same as `mindsec defend`.
"""
import sys

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec.cli import run_example

if __name__ == "__main__":
    sys.exit(run_example("defend", __doc__))
