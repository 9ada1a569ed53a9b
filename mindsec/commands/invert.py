"""``mindsec invert``: model inversion, MI-Face and the C2G generator attack against a
LeNet5 behind an API.

Target: a LeNet5 trained on the FIRST half of the MNIST training split (the same
--victim-ckpt as `mindsec extract`). Judge: an independent evaluator, SmallCNN (another
architecture) trained on the same first half — data the attacker never sees. The attacker
holds the API (white-box where stated) and auxiliary images: the SECOND half of the training
split (same distribution) or Fashion-MNIST (off-distribution, when installed).

1. MI-Face (Fredrikson et al. 2015), white-box gradients and gradient-free through the API
   (every query counted): one image per class.
2. C2G (Kusano & Sakuma 2018), a conditional DCGAN trained on the auxiliary images labelled
   by the API's confidences plus the target's class loss: 100 samples per class.
For every run: the target's and the evaluator's accuracy per class on the generated images,
and a PNG grid (one row per class). Writes inversion.json, report.md and the grids to --out.
The flow itself is :func:`mindsec.flows.model_inversion`.
"""
import time

from ..cli_support import add_data_arguments, add_device_argument, check_positive
from .extract import (add_off_distribution_argument, add_victim_argument, check_outputs,
                      off_distribution_images, privacy_victim, write_outputs)


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    add_victim_argument(parser, "target")
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
    add_off_distribution_argument(parser, "run C2G on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/privacy/inversion",
                        help="directory for inversion.json, report.md and the figures "
                             "(default: %(default)s)")
    return parser


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data, workflows
    from ..checks import check_number
    from ..cli_support import data_source
    from ..flows.inversion import model_inversion

    start = time.perf_counter()
    check_positive(args, "c2g_steps", "miface_steps", "query_steps")
    check_number("--c2g-class-weight", args.c2g_class_weight, low=0.0, low_open=False)
    check_outputs(args)
    target_name = context.set_device(args.device, args.mode)
    source = data_source(args)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    half = len(train_x) // 2
    print(f"device {target_name}; {source.describe()}; target and evaluator train on {half} "
          f"images, the attacker's auxiliary data is the other {len(train_x) - half}")
    aux = {"MNIST (disjoint half)": train_x[half:],
           **off_distribution_images(args, source, len(train_x) - half)}
    victim = privacy_victim(args, source, train_x[:half], train_y[:half])
    evaluator = workflows.classifier("smallcnn", args.evaluator_ckpt, train_x[:half],
                                     train_y[:half], recipe="default", epochs=3,
                                     seed=args.seed + 1,
                                     meta={"data": source.name, "train_images": half})
    test = data.load_mnist("test", num_samples=args.test_samples, source=source)
    report = model_inversion(victim, evaluator, test, aux, c2g_steps=args.c2g_steps,
                             c2g_class_weight=args.c2g_class_weight,
                             miface_steps=args.miface_steps, query_steps=args.query_steps,
                             seed=args.seed, data=source.describe())
    write_outputs(args.out, "inversion", report, start)
    return 0
