"""``mindsec train``: train a classifier on MNIST (32x32), optionally watching its robustness.

Writes the checkpoint after every epoch (atomically; --resume continues a killed run) and
train.json (and, with --monitor-every, the robustness history and its figure) to --out.
"""
import time
from pathlib import Path

from ..cli_support import (RECIPE_NAMES, SCHEDULES, add_data_arguments,
                           add_device_argument, check_positive)
from .relaunch import relaunch


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--model", choices=("lenet5", "smallcnn"), default="lenet5")
    parser.add_argument("--recipe", default="default", choices=RECIPE_NAMES,
                        help="default: Adam+cosine, batch 128, 6 epochs; fast: Adam+cosine "
                             "per step, batch 32, 3 epochs; tutorial: Momentum(0.01, 0.09), "
                             "batch 32, 10 epochs")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the recipe's number of epochs")
    parser.add_argument("--lr", type=float, default=None,
                        help="override the recipe's (peak) learning rate")
    parser.add_argument("--batch", type=int, default=None,
                        help="override the recipe's (global) batch size")
    parser.add_argument("--schedule", default=None,
                        choices=SCHEDULES,
                        help="override the recipe's learning-rate schedule")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ckpt", default="runs/lenet5.ckpt",
                        help="checkpoint written after every epoch (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --ckpt if it exists")
    parser.add_argument("--monitor-every", type=int, default=0, metavar="N",
                        help="every N epochs measure clean/FGSM/PGD-10 accuracy on "
                             "--monitor-images test images (RobustnessMonitor; 0: off)")
    parser.add_argument("--monitor-images", type=int, default=1000)
    parser.add_argument("--monitor-eps", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=1,
                        help="train data-parallel on N local workers (msrun); the recipe's "
                             "batch is the global batch, so the result does not depend on N")
    parser.add_argument("--out", default="runs/train",
                        help="directory for train.json and figures (default: %(default)s)")
    return parser


def run(args):
    # pylint: disable=import-outside-toplevel
    from dataclasses import replace
    import mindspore as ms
    from .. import context, data, distributed, plots, train
    from ..checks import check_number
    from ..batching import accuracy
    from ..cli_support import (check_output_dir, check_output_file, data_source, per_worker,
                               write_json)
    from ..errors import InputError
    from ..models import MODELS

    check_positive(args, "epochs", "batch", "monitor_images", "workers")
    check_number("--lr", args.lr, low=0.0, allow_none=True)
    if args.monitor_every < 0:
        raise InputError(f"--monitor-every must be 0 (off) or a positive integer, got "
                         f"{args.monitor_every}")
    check_output_file("--ckpt", args.ckpt)
    check_output_dir("--out", args.out)
    target = context.set_device(args.device, args.mode)
    rank, world = distributed.setup()            # (0, 1) unless started by msrun
    if args.workers > 1 and world == 1:
        return relaunch("train", args, args.workers)
    source = data_source(args)
    recipe = _recipe(args, source)
    global_batch = recipe.batch_size
    recipe = replace(recipe, batch_size=per_worker("the recipe's batch", global_batch, world))
    say = print if rank == 0 else (lambda line: None)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    test_x, test_y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    say(f"device {target} ({args.mode} mode); {source.describe()}; "
        f"{len(train_x)} train / {len(test_x)} test images")
    say(f"{args.model}, recipe {recipe.name}: {recipe.optimizer} lr {recipe.lr} "
        f"({recipe.schedule}), batch {global_batch}" +
        (f" ({recipe.batch_size} on each of {world} workers)" if world > 1 else "") +
        f", {recipe.epochs} epochs, seed {args.seed}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ms.set_seed(args.seed)
    net = MODELS[args.model]()
    callbacks, meta = _monitor(args, net, test_x, test_y, out, say)
    meta.update(data=source.name, model=args.model)
    t0 = time.perf_counter()
    records = train.fit(net, train_x, train_y, recipe, seed=args.seed, ckpt_path=args.ckpt,
                        resume=args.resume, eval_data=(test_x, test_y), meta=meta,
                        callbacks=callbacks, log=say)
    wall = time.perf_counter() - t0
    if rank != 0:
        return 0
    acc = accuracy(net, test_x, test_y)
    summary = {"ckpt": str(args.ckpt), "model": args.model, "data": source.describe(),
               "device": target, "recipe": dict(train.recipe_dict(recipe),
                                                batch_size=global_batch),
               "workers": world, "seed": args.seed,
               "test_accuracy": acc, "test_images": int(len(test_x)),
               "train_seconds": wall, "epochs": records}
    if callbacks:
        summary["robustness_history"] = callbacks[0].records
        png = plots.robustness_history(callbacks[0].records, out / "robustness_history.png",
                                       title=f"{args.model}: accuracy on "
                                             f"{len(callbacks[0].x)} test images, eps "
                                             f"{args.monitor_eps}")
        print(f"robustness history: {meta['history']}, {png}")
    write_json(out / "train.json", summary)
    print(f"test accuracy {acc:.4f} on {len(test_x)} images; training wall time {wall:.1f} s; "
          f"checkpoint {args.ckpt}; summary {out / 'train.json'}")
    return 0


def _monitor(args, net, test_x, test_y, out, log):
    """``([RobustnessMonitor], meta)`` with --monitor-every (the pgd10 protocol on the
    first --monitor-images test images, its history and best-robust checkpoint in --out),
    else ``([], {})``."""
    from ..callbacks import RobustnessMonitor   # pylint: disable=import-outside-toplevel
    if not args.monitor_every:
        return [], {}
    n = min(args.monitor_images, len(test_x))
    history = out / "robustness_history.json"
    monitor = RobustnessMonitor(net, test_x[:n], test_y[:n], eps=args.monitor_eps,
                                every=args.monitor_every, history=str(history),
                                best_ckpt=str(out / "best_robust.ckpt"), log=log)
    return [monitor], {"history": str(history)}


def _recipe(args, source):
    """The recipe the options name (on the 5k subset with more epochs, unless --epochs:
    as many optimizer steps as on full MNIST); overridden lr, batch or schedule make
    another recipe, named apart, so --resume does not mix the two."""
    from dataclasses import replace    # pylint: disable=import-outside-toplevel
    from .. import recipes             # pylint: disable=import-outside-toplevel
    recipe = recipes.get_recipe(args.recipe, args.epochs)
    if args.epochs is None and source.epoch_scale != 1:
        recipe = recipe.with_epochs(recipe.epochs * source.epoch_scale)
    custom = {k: v for k, v in (("lr", args.lr), ("batch_size", args.batch),
                                ("schedule", args.schedule)) if v is not None}
    if custom:
        recipe = replace(recipe, name=f"{recipe.name}+custom", **custom)
    return recipe
