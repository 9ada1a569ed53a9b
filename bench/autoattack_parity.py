"""AutoAttack standard, stage by stage: mindsec against torchattacks on the same weights
and the same images (the torch side rebuilt from the MindSpore checkpoint by
``tests/torch_reference.py``).

    python bench/autoattack_parity.py CKPT EPS N [TORCH_THREADS]
    python bench/autoattack_parity.py runs/robust/pgd_smallcnn.ckpt 0.3 500 2

Prints, per stage (clean, after APGD-CE, APGD-T, FAB-T, Square), the robust accuracy of
both and the share of points on which their verdicts agree, then one JSON line with the
times.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import torch
from mindsec import context, data, workflows
from mindsec.evaluations import AutoAttack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import torch_reference as tr  # noqa: E402  pylint: disable=wrong-import-position,import-error


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    ckpt, eps, n = argv[0], float(argv[1]), int(argv[2])
    torch.set_num_threads(int(argv[3]) if len(argv) == 4 else 1)
    context.set_device("CPU", "graph")
    source = data.resolve_data_dir()
    x, y = data.load_mnist("test", num_samples=n, source=source)
    net, _ = workflows.load_model(ckpt, source.name)
    net.set_train(False)
    began = time.perf_counter()
    aa = AutoAttack(net, "Linf", eps, seed=0)
    aa.batch_generate(x, y)
    ours_s = time.perf_counter() - began
    began = time.perf_counter()
    ref = tr.reference_cascade(tr.torch_copy(net), x, y, eps, seed=0)
    theirs_s = time.perf_counter() - began
    labels = ["clean error"] + [a.label for a in aa.last_run]
    out = {"ckpt": ckpt, "eps": eps, "n": n, "mindsec_seconds": ours_s,
           "torch_seconds": theirs_s, "torch_stage_seconds": ref["seconds"], "stages": []}
    ours = np.zeros(n, bool)
    for label, stage in zip(labels, ref["stages"]):
        ours |= aa.broken_by == label
        theirs = ref["fooled"][stage]
        row = {"stage": stage, "mindsec": float(1 - ours.mean()),
               "torch": float(1 - theirs.mean()), "agree": float((ours == theirs).mean())}
        out["stages"].append(row)
        print(row, flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
