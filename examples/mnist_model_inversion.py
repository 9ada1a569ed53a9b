"""Model inversion: MI-Face and the C2G generator attack against a LeNet5 behind an API.

    python examples/mnist_model_inversion.py                 # a few minutes on 2 CPU cores
    python examples/mnist_model_inversion.py --c2g-steps 4000

Target: a LeNet5 trained on the FIRST half of the MNIST training split (shared with
examples/mnist_model_extraction.py). Judge: an independent evaluator, SmallCNN (another
architecture) trained on the same first half — data the attacker never sees. The attacker
holds the API (white-box where stated) and auxiliary images: the SECOND half of the training
split (same distribution) or Fashion-MNIST (off-distribution, when installed).

1. MI-Face (Fredrikson et al. 2015), white-box gradients and gradient-free through the API
   (every query counted): one image per class.
2. C2G (Kusano & Sakuma 2018), a conditional DCGAN trained on the auxiliary images labelled
   by the API's confidences plus the target's class loss: 100 samples per class.
For every run: the target's and the evaluator's accuracy per class on the generated images,
and a PNG grid (one row per class).
"""
import argparse
import sys
import time
from pathlib import Path

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import numpy as np

from mindsec import context, data, workflows
from mindsec.batching import predict_logits
from mindsec.cli_support import (add_data_arguments, add_device_argument, check_positive,
                                 data_source, run_main, write_json)
from mindsec.errors import DataError
from mindsec.plots import image_rows
from mindsec.privacy import C2GAttack, MIFace, PredictionAPI


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--victim-ckpt", default="runs/privacy/victim_lenet5.ckpt",
                        help="target LeNet5 (trained on the first half of the training "
                             "split if missing)")
    parser.add_argument("--evaluator-ckpt", default="runs/privacy/evaluator_smallcnn.ckpt",
                        help="independent evaluator SmallCNN (trained there if missing)")
    parser.add_argument("--c2g-steps", type=int, default=1500,
                        help="C2G generator/discriminator updates (default %(default)s)")
    parser.add_argument("--c2g-class-weight", type=float, default=1.0,
                        help="weight of the target's class loss in C2G's generator loss; 0 "
                             "is a plain conditional DCGAN on the API's labels (default 1)")
    parser.add_argument("--miface-steps", type=int, default=300)
    parser.add_argument("--query-steps", type=int, default=150,
                        help="steps of the gradient-free MI-Face (default %(default)s)")
    parser.add_argument("--off-distribution", choices=("auto", "yes", "no"), default="auto",
                        help="also run C2G on Fashion-MNIST auxiliary images (auto: when "
                             "installed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/privacy/inversion.json")
    return parser.parse_args(argv)


def judge(images, classes, target, evaluator):
    """Per-class and overall accuracy of the target and the evaluator on ``images``."""
    out = {}
    for name, net in (("target", target), ("evaluator", evaluator)):
        hit = predict_logits(net, images).argmax(1) == classes
        out[name] = float(hit.mean())
        out[f"{name}_per_class"] = [float(hit[classes == c].mean()) for c in range(10)]
    return out


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    check_positive(args, "c2g_steps", "miface_steps", "query_steps")
    target_name = context.set_device(args.device, args.mode)
    source = data_source(args)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    half = len(train_x) // 2
    print(f"device {target_name}; {source.describe()}; target and evaluator train on {half} "
          f"images, the attacker's auxiliary data is the other {len(train_x) - half}")
    meta = {"data": source.name, "train_images": half}
    victim = workflows.classifier("lenet5", args.victim_ckpt, train_x[:half], train_y[:half],
                                  seed=args.seed, meta=meta)
    evaluator = workflows.classifier("smallcnn", args.evaluator_ckpt, train_x[:half],
                                     train_y[:half], recipe="default", epochs=3,
                                     seed=args.seed + 1, meta=meta)
    x_test, y_test = data.load_mnist("test", num_samples=args.test_samples, source=source)
    report = {"data": source.describe(), "runs": {}}
    for name, net in (("target", victim), ("evaluator", evaluator)):
        report[f"{name}_test_accuracy"] = float(np.mean(
            predict_logits(net, x_test).argmax(1) == y_test))
    print(f"target test accuracy {report['target_test_accuracy']:.4f}, evaluator "
          f"{report['evaluator_test_accuracy']:.4f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    aux = {"MNIST (disjoint half)": train_x[half:]}
    prior = train_x[half:].mean(axis=0)          # the attacker's own mean image
    classes = np.arange(10)

    def record(key, images, labels, title, extra):
        result = dict(judge(images, labels, victim, evaluator), **extra)
        png = out.with_name(f"{out.stem}_{key}.png")
        image_rows(images, labels, png, title=title)
        result["figure"] = str(png)
        report["runs"][key] = result
        print(f"{title}: target accuracy {result['target']:.3f}, evaluator accuracy "
              f"{result['evaluator']:.3f} -> {png}")

    api = PredictionAPI(victim, white_box=True)
    images = MIFace(api, (1, 32, 32), steps=args.miface_steps, prior=prior).invert(classes)
    record("miface_gradient", images, classes, "MI-Face, white-box gradients",
           {"queries": api.queries})
    api = PredictionAPI(victim)
    images = MIFace(api, (1, 32, 32), mode="queries", steps=args.query_steps,
                    prior=prior, seed=args.seed).invert(classes)
    record("miface_queries", images, classes, "MI-Face, gradient-free through the API",
           {"queries": api.queries})

    if args.off_distribution != "no" and source.dataset != "mnist":
        print("off-distribution setting skipped: it queries with Fashion-MNIST, and this run's "
              "own data is not MNIST")
    elif args.off_distribution != "no":
        try:
            fashion = data.resolve_data_dir(dataset="fashion-mnist")
            aux["Fashion-MNIST"] = data.load_mnist("train", num_samples=len(train_x) - half,
                                                   source=fashion)[0]
        except DataError as exc:
            if args.off_distribution == "yes":
                raise
            print(f"off-distribution setting skipped: {exc}")
    labels = np.repeat(classes, 10)
    for aux_name, aux_x in aux.items():
        key = "c2g_" + ("mnist" if aux_name.startswith("MNIST") else "fashion")
        api = PredictionAPI(victim, white_box=True)
        attack = C2GAttack(api, class_weight=args.c2g_class_weight, seed=args.seed)
        t0 = time.perf_counter()
        attack.fit(aux_x, steps=args.c2g_steps, log=print)
        samples = attack.generate(np.repeat(classes, 100), seed=args.seed)
        result = judge(samples, np.repeat(classes, 100), victim, evaluator)
        png = out.with_name(f"{out.stem}_{key}.png")
        image_rows(samples.reshape(10, 100, 1, 32, 32)[:, :10].reshape(-1, 1, 32, 32),
                   labels, png, title=f"C2G, auxiliary data: {aux_name}")
        result.update(figure=str(png), aux=aux_name, queries=api.queries,
                      class_weight=args.c2g_class_weight,
                      steps=args.c2g_steps, seconds=time.perf_counter() - t0,
                      history=attack.history)
        report["runs"][key] = result
        print(f"C2G ({aux_name}): target accuracy {result['target']:.3f}, evaluator "
              f"accuracy {result['evaluator']:.3f} on 1,000 samples -> {png}")
    report["wall_seconds"] = time.perf_counter() - start
    write_json(out, report)
    print(f"report: {out}; {report['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
