"""Adversarial training from random weights through mindsec's library API.

    python examples/mnist_adversarial_training.py

Fast adversarial training (FGSM from a random start, step 1.25 eps, Wong et al. 2020) of
a SmallCNN at Linf eps 0.3: Adam on a one-cycle learning rate, batch 100, 10 epochs, eps
ramped up over the first 3. The last 1,000 training images are held out: the collapse
check (catastrophic overfitting) watches them. On full MNIST this is the documented
recipe (about 2 minutes on 2 CPU cores); on the 5,000 offline digits it is 10 epochs of
4,000 images, a weaker model (`mindsec adv-train` trains as many steps as on full MNIST).
Writes runs/robust/fast_smallcnn.ckpt; examples/mnist_robustness.py evaluates it with
AutoAttack. PGD or NAD training, other numbers and msrun workers are options of
`mindsec adv-train` (`mindsec adv-train --help`).
"""
import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, flows

print(f"device {context.set_device('auto')}")
source = data.resolve_data_dir()
train_data = data.load_mnist("train", source=source)
test_data = data.load_mnist("test", source=source)

setting = flows.RobustSetting(defense="fast", model="smallcnn", epochs=10, lr=5e-3,
                              batch=100, eps=0.3, warmup=3)
report = flows.adversarial_training(train_data, test_data, setting,
                                    ckpt="runs/robust/fast_smallcnn.ckpt", data=source.name)
print(report.format())
print("the PGD-20 figure is an upper bound: examples/mnist_robustness.py runs AutoAttack")
