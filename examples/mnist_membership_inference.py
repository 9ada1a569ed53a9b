"""Membership inference against a LeNet5 behind an API with mindsec's library API.

    python examples/mnist_membership_inference.py

For 2, 10 and 30 training epochs, a victim LeNet5 trains on 500 training digits (the
members); as many test digits are the non-members. The flow
(:func:`mindsec.flows.membership_inference`) scores every record through the victim's API
with the confidence threshold and with a shadow model trained the same way on 1,000 other
training digits, and reports ROC AUC and advantage per attack beside the victim's
train/test accuracy gap: longer training, more leakage. Under a minute on 2 CPU cores; the
report goes to runs/membership/report.md. `mindsec membership` runs the same flow with
every option (members, epochs) and gives docs/results.md's full-size figures.
"""
import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, flows

context.set_device("auto")
source = data.resolve_data_dir()
train_data = data.load_mnist("train", num_samples=4000, source=source)
test_data = data.load_mnist("test", num_samples=1000, source=source)

report = flows.membership_inference(train_data, test_data, members=500, epochs=[2, 10, 30],
                                    seed=0, data=source.describe(), log=print)
print(report.format())
print(f"report: {report.to_markdown('runs/membership')}")
