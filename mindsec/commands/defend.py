"""``mindsec defend``: MindArmour's NAD tutorial flow, with an honest evaluation protocol.

1. the undefended model: loaded from --ckpt, or LeNet5 trained there (default recipe; the
   fast recipe with --full);
2. FGSM eps=0.3 against it on the test split;
3. adversarial training (NAD: FGSM on half of each batch; or PGD / fast training) retrains
   a copy of it on the TRAINING split (the tutorial retrains on the test images it then
   scores; --tutorial-protocol reproduces that, labelled as such); --workers N runs this
   step data-parallel on N local workers through msrun;
4. the report, side by side: (a) the tutorial's protocol, the examples made against the
   original model replayed on the defended one, with DefenseEvaluate; (b) adaptive, FGSM
   regenerated against the defended model; (c) PGD-40 against each model.
"""
import time
from pathlib import Path

from ..cli_support import SCHEDULES, add_data_arguments, add_device_argument, check_positive
from .relaunch import relaunch

# the undefended model's recipe (mindsec.train.RECIPES, when --ckpt is missing), then the
# defense's (optimizer, peak lr, global batch, epochs, shuffle, schedule)
SETTINGS = {
    "quick": ("default", "adam", 1e-3, 128, 2, True, "cosine"),
    "full": ("fast", "adam", 3e-3, 128, 3, True, "cosine-step"),
    "tutorial": ("default", "momentum", 0.01, 32, 10, False, "constant"),  # MindArmour's
}


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--ckpt", default=None,
                        help="undefended LeNet5 (trained there if missing; default: "
                             "runs/lenet5.ckpt, with --full runs/lenet5_fast.ckpt)")
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


def _make_defense(args, net, optimizer, loss):
    # pylint: disable=import-outside-toplevel
    from ..defenses import (FastAdversarialDefense, NaturalAdversarialDefense,
                            ProjectedAdversarialDefense)
    if args.defense == "nad":
        return NaturalAdversarialDefense(net, loss_fn=loss, optimizer=optimizer,
                                         bounds=(0.0, 1.0), eps=args.eps)
    if args.defense == "pgd":
        return ProjectedAdversarialDefense(net, loss, optimizer, replace_ratio=1.0,
                                           eps=args.eps, eps_iter=args.eps / 4, nb_iter=10)
    return FastAdversarialDefense(net, loss, optimizer, eps=args.eps)


def run(args):
    # pylint: disable=import-outside-toplevel,too-many-locals,too-many-statements
    from mindspore import nn
    from .. import context, data, distributed, train, workflows
    from ..attacks import FastGradientSignMethod
    from ..checks import check_number
    from ..batching import accuracy, predict_proba
    from ..cli_support import data_source, per_worker, write_json
    from ..evaluations import DefenseEvaluate

    start = time.perf_counter()
    check_positive(args, "nad_epochs", "nad_batch", "epochs", "workers")
    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_number("--nad-lr", args.nad_lr, low=0.0, allow_none=True)
    target = context.set_device(args.device, args.mode)
    rank, world = distributed.setup()
    source = data_source(args)
    setting = _setting(args)
    base_recipe, opt_name, lr, batch, epochs, shuffle, schedule = SETTINGS[setting]
    if args.ckpt is None:      # one file per base recipe: --full does not reuse another's
        args.ckpt = "runs/lenet5.ckpt" if base_recipe == "default" else \
            f"runs/lenet5_{base_recipe}.ckpt"
    epochs = args.nad_epochs or epochs * source.epoch_scale   # 5k subset: more epochs
    lr = args.nad_lr or lr
    if args.nad_optimizer not in (None, opt_name):
        opt_name = args.nad_optimizer
        schedule = "cosine" if opt_name == "adam" else "constant"
    schedule = args.nad_schedule or schedule
    batch = args.nad_batch or batch
    workers = world if world > 1 else args.workers
    per_worker("--nad-batch", batch, workers)
    say = print if rank == 0 else (lambda line: None)
    say(f"device {target} ({args.mode} mode); {source.describe()}; {args.defense} setting "
        f"{setting}" + (f"; worker {rank} of {world}" if world > 1 else ""))

    base = workflows.lenet5(args.ckpt, source, base_recipe, epochs=args.epochs,
                            train_samples=args.train_samples, seed=args.seed, log=say)
    if args.workers > 1 and world == 1:      # the launcher: the workers do the rest
        return relaunch("defend", args, workers)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    report = {"setting": setting, "defense": args.defense, "data": source.describe(),
              "test_images": int(len(x)), "eps": args.eps, "workers": workers}
    pgd_seconds = 0.0
    if rank == 0:
        adv_base = FastGradientSignMethod(base, eps=args.eps, loss_fn=ce).batch_generate(x, y)
        raw_probs = predict_proba(base, adv_base)      # also DefenseEvaluate's raw_preds
        report["undefended"] = {"clean": accuracy(base, x, y),
                                "fgsm": _hit_rate(raw_probs, y)}
        t_pgd = time.perf_counter()
        report["undefended"]["pgd"] = pgd_accuracy(base, x, y, args.eps, ce, args.seed)
        pgd_seconds = time.perf_counter() - t_pgd

    if args.tutorial_protocol:
        train_x, train_y = x, y
        protocol = "tutorial protocol: retrained on the test images it is scored on"
    else:
        train_x, train_y = data.load_mnist("train", num_samples=args.train_samples,
                                           source=source)
        protocol = "retrained on the training split; every score is on the test split"
    defended = workflows.copy_of(base)
    recipe = train.Recipe(args.defense, opt_name, lr, batch, epochs, schedule, momentum=0.09)
    optimizer = train.make_optimizer(defended, recipe, len(train_x) // batch)
    defense = _make_defense(args, defended, optimizer, ce)
    ckpt = _defended_ckpt(args)
    say(f"{args.defense}: {opt_name} lr {lr} ({schedule}), batch {batch}" +
        (f" ({batch // workers} on each of {workers} workers)" if workers > 1 else "") +
        f", {epochs} epochs, eps {args.eps}, on {len(train_x)} images -> {ckpt}")
    t_train = time.perf_counter()
    defense.batch_defense(train_x, train_y, batch_size=batch // workers, epochs=epochs,
                          shuffle=shuffle, seed=args.seed, ckpt_path=ckpt, resume=True,
                          log=say, meta={"model": "lenet5", "data": source.name})
    train_seconds = time.perf_counter() - t_train
    if rank != 0:
        return 0

    def_probs, def_clean_probs = predict_proba(defended, adv_base), predict_proba(defended, x)
    de = DefenseEvaluate(raw_probs, def_probs, y)
    adv_def = FastGradientSignMethod(defended, eps=args.eps, loss_fn=ce).batch_generate(x, y)
    t_pgd = time.perf_counter()
    pgd_defended = pgd_accuracy(defended, x, y, args.eps, ce, args.seed)
    pgd_seconds += time.perf_counter() - t_pgd
    report["defended"] = {
        "clean": _hit_rate(def_clean_probs, y),
        "fgsm_transfer": _hit_rate(def_probs, y),
        "fgsm_adaptive": accuracy(defended, adv_def, y),
        "pgd": pgd_defended,
        "defense_evaluate": {"cav": de.cav(), "crr": de.crr(), "csr": de.csr(),
                             "ccv": de.ccv(), "cos": de.cos()},
    }
    report.update(protocol=protocol, ckpt=str(args.ckpt), defended_ckpt=str(ckpt),
                  nad_seconds=train_seconds, pgd_seconds=pgd_seconds,
                  wall_seconds=time.perf_counter() - start,
                  nad={"optimizer": opt_name, "lr": lr, "schedule": schedule, "batch": batch,
                       "epochs": epochs, "shuffle": shuffle,
                       "replace_ratio": 0.5 if args.defense == "nad" else 1.0},
                  history=getattr(defense, "history", []))
    report["warnings"] = warnings(report)
    print_report(report)
    out = Path(args.out)
    write_json(out / "report.json", report)
    md = markdown_report(report, out, x, y, adv_base, def_clean_probs, def_probs)
    print(f"report: {out / 'report.json'}, {md}")
    return 0


def _hit_rate(probs, y):
    """Accuracy of predicted probabilities (N, K) against class indices."""
    return float((probs.argmax(axis=1) == y).mean())


def pgd_accuracy(net, x, y, eps, loss, seed):
    """Accuracy under the pgd40 protocol (40 steps of eps/30, random start) at ``eps``."""
    # pylint: disable=import-outside-toplevel
    from ..batching import accuracy
    from ..evaluations.protocols import pgd
    attack = pgd("pgd40", net, eps, loss_fn=loss, seed=seed)
    return accuracy(net, attack.batch_generate(x, y), y)


def warnings(r):
    """The honest-protocol warnings: gradient masking, FGSM-only robustness."""
    d, found = r["defended"], []
    if d["fgsm_adaptive"] > d["fgsm_transfer"] + 0.01:     # beyond a point of noise
        found.append("FGSM made against the defended model is weaker than FGSM transferred "
                     "from the undefended one: the signature of gradient masking / label "
                     "leaking (Kurakin et al. 2017).")
    if d["pgd"] < min(d["fgsm_adaptive"], d["fgsm_transfer"]) - 0.2:
        found.append(f"PGD leaves {d['pgd']:.1%} where FGSM leaves {d['fgsm_adaptive']:.1%}: "
                     f"FGSM training made the model robust to FGSM, not to iterative attacks. "
                     f"For robustness, use ProjectedAdversarialDefense (--defense pgd).")
    return found


def print_report(r):
    u, d = r["undefended"], r["defended"]
    e = d["defense_evaluate"]
    print(f"\n== {r['defense'].upper()} report ({r['protocol']}; {r['test_images']} test "
          f"images, eps {r['eps']})")
    print(f"{'':36s}{'undefended':>12s}{'defended':>10s}")
    print(f"{'clean accuracy':36s}{u['clean']:>12.4f}{d['clean']:>10.4f}")
    print(f"{'(a) FGSM made on the undefended model':36s}{u['fgsm']:>12.4f}"
          f"{d['fgsm_transfer']:>10.4f}   <- the tutorial's figure")
    print(f"{'(b) FGSM made on the model itself':36s}{u['fgsm']:>12.4f}"
          f"{d['fgsm_adaptive']:>10.4f}   <- adaptive")
    print(f"{'(c) PGD-40 made on the model itself':36s}{u['pgd']:>12.4f}{d['pgd']:>10.4f}"
          f"   <- adaptive, iterative")
    print(f"DefenseEvaluate on (a): CAV {e['cav']:.4f}  CRR {e['crr']:.4f}  CSR {e['csr']:.4f}"
          f"  CCV {e['ccv']:.4f}  COS {e['cos']:.4f}")
    for line in r["warnings"]:
        print("warning: " + line)
    print(f"{r['defense'].upper()} {r['nad_seconds']:.1f} s; whole flow "
          f"{r['wall_seconds']:.1f} s")


def markdown_report(r, out, x, y, adv_base, clean_probs, adv_probs):
    """report.md with the protocol table, DefenseEvaluate, the warnings, the examples grid
    (judged by the defended model) and the training history."""
    # pylint: disable=import-outside-toplevel
    from .. import plots
    from ..report import Markdown
    u, d = r["undefended"], r["defended"]
    md = Markdown(f"{r['defense'].upper()} on LeNet5: the honest protocol")
    md.paragraph(f"{r['data']}; {r['test_images']} test images; eps {r['eps']}; "
                 f"{r['protocol']}. Undefended: `{r['ckpt']}`; defended: "
                 f"`{r['defended_ckpt']}`.")
    md.section("Accuracy").table(["", "undefended", "defended", "what it measures"], [
        ["clean", u["clean"], d["clean"], ""],
        ["(a) FGSM made on the undefended model", u["fgsm"], d["fgsm_transfer"],
         "the tutorial's figure (transfer)"],
        ["(b) FGSM made on the model itself", u["fgsm"], d["fgsm_adaptive"], "adaptive"],
        ["(c) PGD-40 made on the model itself", u["pgd"], d["pgd"], "adaptive, iterative"]])
    e = d["defense_evaluate"]
    md.section("DefenseEvaluate on (a)").table(
        ["CAV", "CRR", "CSR", "CCV", "COS"], [[e["cav"], e["crr"], e["csr"], e["ccv"],
                                               e["cos"]]])
    if r["warnings"]:
        md.section("Warnings").bullets(r["warnings"])
    grid = plots.adversarial_grid(x, adv_base, y, clean_probs, adv_probs,
                                  out / "defended_examples.png",
                                  title=f"FGSM eps={r['eps']} made on the undefended model, "
                                        f"judged by the defended one")
    md.section("Examples").figure(grid, "Originals, perturbations and adversarial images "
                                        "(made on the undefended model); predictions of the "
                                        "defended model")
    hist = r.get("history") or []
    if hist:
        series = [(name, [h["epoch"] for h in hist], [100 * h[key] for h in hist],
                   {"marker": "o", "ms": 3}) for key, name in
                  (("clean_acc", "clean rows of each batch"),
                   ("adv_acc", "adversarial rows of each batch")) if key in hist[0]]
        chart = plots.line_chart(series, out / "training_history.png", "epoch",
                                 "training-batch accuracy (%)",
                                 f"{r['defense'].upper()} training", ylim=(0, 100),
                                 integer_x=True, legend_at="lower right")
        md.section("Training").table(
            ["epoch", "loss", "samples/s"],
            [[h["epoch"], h["loss"], f"{h['samples_per_s']:,.0f}"] for h in hist])
        md.figure(chart, "Accuracy on the clean and adversarial rows of the training batches")
    md.paragraph(f"Training {r['nad_seconds']:.1f} s; PGD rows {r['pgd_seconds']:.1f} s; "
                 f"whole flow {r['wall_seconds']:.1f} s.")
    return md.write(out / "report.md")
