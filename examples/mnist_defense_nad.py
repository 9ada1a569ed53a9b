"""MindArmour's NAD tutorial flow through mindsec's library API, honestly evaluated.

    python examples/mnist_defense_nad.py

1. LeNet5 from runs/lenet5.ckpt (trained there with the default recipe if missing);
2. FGSM eps 0.3 against it on the test split;
3. NaturalAdversarialDefense (FGSM eps 0.3 on half of each batch) retrains a copy of it on
   the TRAINING split (MindArmour's tutorial retrains on the test images it then scores);
4. the report side by side: (a) the tutorial's protocol, the examples made against the
   original model replayed on the defended one, with DefenseEvaluate; (b) adaptive FGSM,
   regenerated against the defended model; (c) PGD-40 against each model.
Writes runs/nad/report.json, report.md and figures. The full-MNIST recipe (--full), the
tutorial's own protocol, PGD or fast training instead of NAD and msrun workers are
options of `mindsec defend`, which runs this same flow (`mindsec defend --help`).
"""
import time
from pathlib import Path

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import atomic, context, data, flows, workflows

start = time.perf_counter()
print(f"device {context.set_device('auto')}")
source = data.resolve_data_dir()
train_data = data.load_mnist("train", source=source)
test_data = data.load_mnist("test", source=source)
base = workflows.lenet5("runs/lenet5.ckpt", source)

setting = flows.NAD_SETTINGS["quick"].for_data(source)   # Adam 1e-3, cosine, batch 128
report = flows.nad_tutorial(base, train_data, test_data, setting, eps=0.3,
                            protocol="retrained on the training split; every score is on "
                                     "the test split",
                            defended_ckpt="runs/nad/lenet5_nad_quick.ckpt", data=source.name)
report.data, report.ckpt = source.describe(), "runs/lenet5.ckpt"
report.wall_seconds = time.perf_counter() - start     # with the data and the base model
print(report.format())
out = Path("runs/nad")
atomic.write_json(out / "report.json", report.to_dict())
print(f"report: {out / 'report.json'}, {report.to_markdown(out)}")
