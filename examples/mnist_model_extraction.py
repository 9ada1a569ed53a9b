"""Steal a LeNet5 through its prediction API with mindsec's library API.

    python examples/mnist_model_extraction.py

The victim, a LeNet5, trains on the first half of 4,000 training digits; the attacker owns
the other half and may only query the victim's API, which counts every query. The flow
(:func:`mindsec.flows.model_extraction`) runs equation solving against two linear models,
trains knockoff LeNet5 substitutes on the API's probabilities and on its labels alone (500
and 2,000 queries; fidelity on 300 test digits), and replays FGSM and PGD-40 made on the
best substitute against the victim. Under a minute on 2 CPU cores; the report goes to
runs/extraction/report.md.
`mindsec extract` runs the same flow with every option (budgets, substitute steps,
Fashion-MNIST queries) and gives docs/results.md's full-size figures.
"""
import mindspore as ms

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, flows, train
from mindsec.models import LeNet5

context.set_device("auto")
source = data.resolve_data_dir()
train_x, train_y = data.load_mnist("train", num_samples=4000, source=source)
test_data = data.load_mnist("test", num_samples=300, source=source)
half = len(train_x) // 2                      # the victim's data, then the attacker's

ms.set_seed(0)
victim = LeNet5()
train.fit(victim, train_x[:half], train_y[:half], train.get_recipe("default", epochs=8),
          log=print)
victim.set_train(False)

report = flows.model_extraction(victim, (train_x, train_y), test_data, budgets=[500, 2000],
                                steps=100, pools={"MNIST (disjoint half)": train_x[half:]},
                                seed=0, data=source.describe())
print(report.format())
print(f"report: {report.to_markdown('runs/extraction')}")
