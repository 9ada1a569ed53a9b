"""A data-parallel adversarial-training job for tests/test_distributed.py.

Run under ``msrun`` (one process per worker) or alone: for each of ``--jobs`` (plain
training through ``train.fit``, NAD, PGD training from a random start) trains LeNet5 from a
fixed seed on a slice of real MNIST and writes this process's final weights to
``OUT/<job>_rank<r>.npz`` (``OUT/<job>_single.npz`` alone).
``--fail-rank R`` makes worker R exit with an error after joining the cluster.
"""
import argparse
import sys

import mindsec  # noqa: F401  (runtime settings first)
import mindspore as ms
import numpy as np
from mindspore import nn

from mindsec import context, data, distributed, train
from mindsec.defenses import (NaturalAdversarialDefense, ProjectedAdversarialDefense)
from mindsec.models import LeNet5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", default="plain,nad,pgd")
    parser.add_argument("--batch", type=int, default=16, help="per worker")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--fail-rank", type=int, default=None)
    args = parser.parse_args()
    context.set_device("CPU", "graph")
    rank, world = distributed.setup()
    if args.fail_rank == rank:
        raise SystemExit(f"worker {rank}: failing on purpose")
    x, y = data.load_mnist("train", num_samples=args.samples, source=data.resolve_data_dir())
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    for job in args.jobs.split(","):
        ms.set_seed(0)
        net = LeNet5()
        if job == "plain":
            train.fit(net, x, y, train.Recipe("t", "adam", 1e-3, args.batch, 2), seed=3,
                      log=print)
        else:
            opt = nn.Adam(net.trainable_params(), learning_rate=1e-3)
            defense = NaturalAdversarialDefense(net, loss, opt, eps=0.3) if job == "nad" \
                else ProjectedAdversarialDefense(net, loss, opt, eps=0.3, eps_iter=0.1,
                                                 nb_iter=3)
            defense.batch_defense(x, y, batch_size=args.batch, epochs=2, shuffle=True, seed=3,
                                  log=print)
        name = f"rank{rank}" if world > 1 else "single"
        np.savez(f"{args.out}/{job}_{name}.npz",
                 **{p.name: p.asnumpy() for p in net.get_parameters()})
        print(f"{job}: worker {rank}/{world} done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
