"""MindArmour's NAD tutorial through mindsec's library API (what `mindsec defend` runs).

    python examples/library/nad_tutorial.py

An undefended LeNet5, FGSM at eps 0.3 against it, NaturalAdversarialDefense retraining a
copy on the training split, and the report side by side: the tutorial's protocol (FGSM
replayed from the undefended model), adaptive FGSM, and PGD-40. Small settings (4,000
training digits, 1,000 test digits), a few minutes on a laptop CPU; the report goes to
runs/library_nad/report.md.
"""
from dataclasses import replace

import mindspore as ms

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, flows, train
from mindsec.models import LeNet5

context.set_device("auto")
source = data.resolve_data_dir()
train_data = data.load_mnist("train", num_samples=4000, source=source)
test_data = data.load_mnist("test", num_samples=1000, source=source)

ms.set_seed(0)
base = LeNet5()
train.fit(base, *train_data, train.get_recipe("default", epochs=8), log=print)
base.set_train(False)

# Adam 1e-3 on a cosine, batch 128; 6 epochs instead of 2 on this small training set
setting = replace(flows.NAD_SETTINGS["quick"], epochs=6)
report = flows.nad_tutorial(base, train_data, test_data, setting, eps=0.3,
                            data=source.name)
print(report.format())
print(f"report: {report.to_markdown('runs/library_nad')}")
