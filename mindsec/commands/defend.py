"""``mindsec defend``: MindArmour's NAD tutorial flow, with an honest evaluation protocol.

1. the undefended model: loaded from --ckpt, or LeNet5 trained there (default recipe; the
   fast recipe with --full) when it is the default path or with --train-if-missing;
2. FGSM eps=0.3 against it on the test split;
3. adversarial training (NAD: FGSM on half of each batch; or PGD / fast training) retrains
   a copy of it on the TRAINING split (the tutorial retrains on the test images it then
   scores; --tutorial-protocol reproduces that, labelled as such); --workers N runs this
   step data-parallel on N local workers through msrun;
4. the report, side by side: (a) the tutorial's protocol, the examples made against the
   original model replayed on the defended one, with DefenseEvaluate; (b) adaptive, FGSM
   regenerated against the defended model; (c) PGD-40 against each model.

The flow itself is :func:`mindsec.flows.nad_tutorial`; this command parses, trains or
loads the undefended model, starts the workers, calls it and writes what it returns.
"""
import time
from pathlib import Path

from ..cli_support import (SCHEDULES, add_data_arguments, add_device_argument,
                           add_model_checkpoint, check_positive)
from .relaunch import relaunch


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    add_model_checkpoint(parser, "runs/lenet5.ckpt, with --full runs/lenet5_fast.ckpt",
                         what="the undefended LeNet5")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the undefended model's training if it is trained")
    parser.add_argument("--defense", choices=("nad", "pgd", "fast"), default="nad",
                        help="nad (FGSM on half of each batch; default), pgd (PGD-10 from a "
                             "random start) or fast (FGSM from a random start, step 1.25 eps)")
    parser.add_argument("--defended-ckpt", "--nad-ckpt", dest="defended_ckpt", default=None,
                        help="defended model checkpoint, resumable (default: in --out)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true",
                       help="the full-MNIST recipe of docs/results.md: the undefended model "
                            "with the fast recipe (3 epochs), then 3 epochs of Adam 3e-3")
    group.add_argument("--tutorial-protocol", action="store_true",
                       help="MindArmour's tutorial: Momentum(0.01, 0.09), batch 32, "
                            "10 epochs, retrained on the test images it is scored on")
    parser.add_argument("--nad-epochs", type=int, default=None)
    parser.add_argument("--nad-lr", type=float, default=None)
    parser.add_argument("--nad-optimizer", choices=("adam", "momentum"), default=None,
                        help="adam (cosine-decayed) or momentum (0.09, constant: MindArmour's)")
    parser.add_argument("--nad-schedule", choices=SCHEDULES, default=None,
                        help="learning-rate schedule (mindsec.train.Recipe; default: the "
                             "setting's)")
    parser.add_argument("--nad-batch", type=int, default=None,
                        help="global batch (split among --workers)")
    parser.add_argument("--eps", type=float, default=0.3, help="attack and defense eps")
    parser.add_argument("--workers", type=int, default=1,
                        help="train data-parallel on N local workers (msrun); the result "
                             "does not depend on N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/nad",
                        help="directory for report.json, report.md, figures and the "
                             "defended checkpoint (default: %(default)s)")
    return parser


def _setting(args):
    return "tutorial" if args.tutorial_protocol else "full" if args.full else "quick"


def _defended_ckpt(args):
    return Path(args.defended_ckpt or Path(args.out) / f"{Path(args.ckpt).stem}_"
                f"{args.defense}_{_setting(args)}.ckpt")


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import context, data, distributed, workflows
    from ..checks import check_number
    from ..cli_support import (check_output_dir, check_output_file, data_source,
                               model_checkpoint, per_worker, write_json)
    from ..flows.nad import NAD_SETTINGS, nad_tutorial

    start = time.perf_counter()
    check_positive(args, "nad_epochs", "nad_batch", "epochs", "workers")
    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_number("--nad-lr", args.nad_lr, low=0.0, allow_none=True)
    target = context.set_device(args.device, args.mode)
    rank, world = distributed.setup()
    source = data_source(args)
    setting = _setting_of(args, NAD_SETTINGS[_setting(args)], source)
    # one file per base recipe: --full does not reuse another's
    args.ckpt = model_checkpoint(args, "runs/lenet5.ckpt" if setting.base_recipe == "default"
                                 else f"runs/lenet5_{setting.base_recipe}.ckpt")
    check_output_dir("--out", args.out)
    check_output_file("--defended-ckpt", _defended_ckpt(args))
    workers = world if world > 1 else args.workers
    per_worker("--nad-batch", setting.batch, workers)
    say = print if rank == 0 else (lambda line: None)
    say(f"device {target} ({args.mode} mode); {source.describe()}; {args.defense} setting "
        f"{setting.name}" + (f"; worker {rank} of {world}" if world > 1 else ""))
    base = workflows.lenet5(args.ckpt, source, setting.base_recipe, epochs=args.epochs,
                            train_samples=args.train_samples, seed=args.seed, log=say)
    if args.workers > 1 and world == 1:      # the launcher: the workers do the rest
        return relaunch("defend", args, workers)
    test = data.load_mnist("test", num_samples=args.test_samples, source=source)
    if args.tutorial_protocol:
        train_data, protocol = test, "tutorial protocol: retrained on the test images it " \
                                     "is scored on"
    else:
        train_data = data.load_mnist("train", num_samples=args.train_samples, source=source)
        protocol = "retrained on the training split; every score is on the test split"
    report = nad_tutorial(base, train_data, test, setting, defense=args.defense, eps=args.eps,
                          protocol=protocol, defended_ckpt=_defended_ckpt(args),
                          seed=args.seed, data=source.name, log=say)
    if report is None:                       # another worker: it only trained
        return 0
    report.data, report.ckpt = source.describe(), str(args.ckpt)
    report.wall_seconds = time.perf_counter() - start      # with data and the base model
    print(report.format())
    out = Path(args.out)
    write_json(out / "report.json", report.to_dict())
    print(f"report: {out / 'report.json'}, {report.to_markdown(out)}")
    return 0


def _setting_of(args, setting, source):
    """The setting with the command line's overrides (and, on the 5k subset, more
    epochs: as many optimizer steps as on full MNIST)."""
    from dataclasses import replace    # pylint: disable=import-outside-toplevel
    optimizer, schedule = setting.optimizer, setting.schedule
    if args.nad_optimizer not in (None, optimizer):
        optimizer = args.nad_optimizer
        schedule = "cosine" if optimizer == "adam" else "constant"
    return replace(setting, optimizer=optimizer, schedule=args.nad_schedule or schedule,
                   epochs=args.nad_epochs or setting.epochs * source.epoch_scale,
                   lr=args.nad_lr or setting.lr, batch=args.nad_batch or setting.batch)
