"""Evaluate an adversarially trained model with AutoAttack through mindsec's library API.

    python examples/mnist_robustness.py

Loads runs/robust/fast_smallcnn.ckpt (examples/mnist_adversarial_training.py writes it)
and runs AutoAttack's standard cascade (APGD-CE, APGD-T, FAB-T, Square) at Linf eps 0.3 on
the first 200 test digits: the worst-case robust accuracy with its interval, how many
points each attack broke, and the sanity flags. Then the adversarial examples themselves
for the first 50 digits.
More models, more images, eps grids, the PGD cascade, resumable state and msrun workers
are options of `mindsec evaluate` (`mindsec evaluate --help`).
"""
import numpy as np

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, workflows
from mindsec.batching import accuracy
from mindsec.evaluations import AutoAttack

EPS = 0.3

print(f"device {context.set_device('auto')}")
source = data.resolve_data_dir()
x, y = data.load_mnist("test", num_samples=200, source=source)
net, name = workflows.load_model("runs/robust/fast_smallcnn.ckpt", source.name)

attack = AutoAttack(net, norm="Linf", eps=EPS, version="standard", seed=0)
report = attack.evaluate(x, y)
print(report.format())

x, y = x[:50], y[:50]
adv = attack.batch_generate(x, y)
print(f"{name}, first 50 digits: clean accuracy {accuracy(net, x, y):.4f}, on "
      f"AutoAttack's examples {accuracy(net, adv, y):.4f}; largest perturbation "
      f"{np.abs(adv - x).max():.4f} (budget {EPS})")
for label in [a.label for a in attack.last_run]:
    print(f"  broken by {label:12s} {int((attack.broken_by == label).sum())}")
