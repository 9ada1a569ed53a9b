"""Reconstruct a LeNet5's classes from its API (MI-Face, C2G) with mindsec's library API.

    python examples/mnist_model_inversion.py

The target, a LeNet5, trains on the first half of 4,000 training digits; an independent
evaluator (SmallCNN, another architecture) trains on the same half and judges what the
attacker reconstructs. The attacker holds the API and the other half as auxiliary images.
The flow (:func:`mindsec.flows.model_inversion`) runs MI-Face with white-box gradients and
gradient-free through the API (one image per class), then C2G (a conditional GAN on the
auxiliary images and the API's confidences; 100 samples per class), and reports how often
each model recognises the class asked for. C2G gets 40 steps here, far too few for
recognisable digits: `mindsec invert` runs the same flow with every option (C2G's 1,500
steps, Fashion-MNIST auxiliary data) and gives docs/results.md's full-size figures. Under
a minute on 2 CPU cores; the report and image grids go to runs/inversion/.
"""
import mindspore as ms

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, flows, train
from mindsec.models import LeNet5, SmallCNN

context.set_device("auto")
source = data.resolve_data_dir()
train_x, train_y = data.load_mnist("train", num_samples=4000, source=source)
test_data = data.load_mnist("test", num_samples=500, source=source)
half = len(train_x) // 2                      # the target's data, then the attacker's

models = {}
for name, make, epochs in (("target", LeNet5, 8), ("evaluator", SmallCNN, 3)):
    ms.set_seed(0)
    models[name] = make()
    train.fit(models[name], train_x[:half], train_y[:half],
              train.get_recipe("default", epochs=epochs), log=print)
    models[name].set_train(False)

report = flows.model_inversion(models["target"], models["evaluator"], test_data,
                               {"MNIST (disjoint half)": train_x[half:]}, c2g_steps=40,
                               miface_steps=100, query_steps=10, seed=0,
                               data=source.describe())
print(report.format())
print(f"report: {report.to_markdown('runs/inversion')}")
