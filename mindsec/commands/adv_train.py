"""``mindsec adv-train``: adversarial training from random weights (fast, PGD or NAD).

Trains on the training split (the last 1,000 images are held out for fast training's
collapse check and never trained on), writes a resumable checkpoint after every epoch
(--out; the same command resumes a killed run), and prints clean and PGD-20 accuracy on
the test split (an upper bound: judge the model with ``mindsec evaluate --attack
autoattack``). Recipes (docs/results.md): Adam with a one-cycle learning rate (0 -> --lr at
40% -> 0), batch 100, eps 0.3; fast: alpha 1.25 eps (Wong et al. 2020); pgd: 10 steps of
0.05 from a random start; nad: FGSM eps 0.3 on half of each batch (MindArmour's NAD).
--workers N (or msrun) trains data-parallel: --batch is the global batch and the result
does not depend on the number of workers. The flow is :func:`mindsec.flows.adversarial_training`.
"""
from pathlib import Path

from ..cli_support import add_data_arguments, add_device_argument, check_positive
from .relaunch import relaunch


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--defense", choices=("fast", "pgd", "nad"), default="fast")
    parser.add_argument("--model", choices=("lenet5", "smallcnn"), default="smallcnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-3, help="peak learning rate")
    parser.add_argument("--batch", type=int, default=100, help="global batch")
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--alpha", type=float, default=None,
                        help="fast training: FGSM step (default 1.25 * eps)")
    parser.add_argument("--pgd-steps", type=int, default=10, help="pgd training: iterations")
    parser.add_argument("--pgd-step", type=float, default=0.05, help="pgd training: step")
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="epochs over which eps ramps up linearly from ~0")
    parser.add_argument("--predicted-labels", action="store_true",
                        help="attack the model's predictions, not the labels")
    parser.add_argument("--workers", type=int, default=1,
                        help="train data-parallel on N local workers (msrun)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None,
                        help="checkpoint (default runs/robust/<defense>_<model>.ckpt); its "
                             "report goes beside it as .json")
    return parser


def output_path(args):
    """The checkpoint this run writes (its report and run record go beside it)."""
    return Path(args.out or f"runs/robust/{args.defense}_{args.model}.ckpt")


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data, distributed
    from ..checks import check_number
    from ..cli_support import check_output_file, data_source, per_worker, write_json
    from ..flows.robust import RobustSetting, adversarial_training

    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_number("--lr", args.lr, low=0.0)
    check_positive(args, "epochs", "batch", "pgd_steps", "workers")
    out = output_path(args)
    check_output_file("--out", out)
    target = context.set_device(args.device, args.mode)
    rank, world = distributed.setup()           # (0, 1) unless started by msrun
    per_worker("--batch", args.batch, world if world > 1 else args.workers)
    if args.workers > 1 and world == 1:
        return relaunch("adv-train", args, args.workers, logs=out.parent / "logs")
    say = print if rank == 0 else (lambda line: None)
    source = data_source(args)
    train_data = data.load_mnist("train", num_samples=args.train_samples, source=source)
    test_data = data.load_mnist("test", num_samples=args.test_samples, source=source)
    setting = RobustSetting(args.defense, args.model, args.epochs, args.lr, args.batch,
                            args.eps, args.alpha, args.pgd_steps, args.pgd_step,
                            args.warmup, args.predicted_labels)
    epochs = args.epochs * (source.epoch_scale if args.train_samples is None else 1)
    say(f"{args.defense} adversarial training of {args.model} on "
        f"{len(train_data[0]) - 1000} {source.name} images, {epochs} epochs, eps {args.eps}, "
        f"{target}" + (f", {world} workers" if world > 1 else "") + f" -> {out}")
    report = adversarial_training(train_data, test_data, setting, ckpt=out, epochs=epochs,
                                  seed=args.seed, data=source.name, log=say)
    if report is None:                       # another worker: it only trained
        return 0
    print(report.format())
    write_json(out.with_suffix(".json"), report.to_dict())
    return 0
