"""``mindsec membership``: membership inference against a LeNet5 behind an API (longer
training, more leakage).

For each number of training epochs, a victim LeNet5 is trained on --members training
records; the non-members are as many test images. Two attacks score every record through
the API: the confidence threshold (Yeom et al. 2018) and Shokri et al.'s shadow models
(trained the same way on the attacker's own records, the second half of the training split,
never the victim's). Reports ROC AUC and advantage (max TPR - FPR) per attack, with the
victim's train/test accuracy gap: membership.json, report.md and membership.png in --out.
The flow itself is :func:`mindsec.flows.membership_inference`.
"""
import time

from ..cli_support import add_data_arguments, add_device_argument, check_positive
from .extract import check_outputs, write_outputs


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--members", type=int, default=2000,
                        help="training records of each victim (default %(default)s)")
    parser.add_argument("--epochs", default="2,10,40",
                        help="victim training lengths, comma-separated (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/privacy/membership",
                        help="directory for membership.json, report.md and the figure "
                             "(default: %(default)s)")
    return parser


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data
    from ..cli_support import data_source, positive_ints
    from ..flows.membership import check_members, membership_inference

    start = time.perf_counter()
    check_positive(args, "members")
    epochs = positive_ints("--epochs", args.epochs)
    check_outputs(args)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    train = data.load_mnist("train", num_samples=args.train_samples, source=source)
    test = data.load_mnist("test", num_samples=args.test_samples, source=source)
    n = check_members("--members", args.members, len(train[0]), len(test[0]))
    print(f"device {target}; {source.describe()}; {n} members, {n} non-members; the "
          f"attacker's shadow data: {2 * n} other training records")
    report = membership_inference(train, test, members=n, epochs=epochs, seed=args.seed,
                                  data=source.describe())
    write_outputs(args.out, "membership", report, start)
    return 0
