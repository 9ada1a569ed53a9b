"""``mindsec report``: one Markdown report, with PNG figures, on a model's robustness.

Sections: the model; FGSM at --eps with AttackEvaluate and an examples grid; accuracy
against eps of FGSM and PGD-20 (and of the --baseline model); the robustness runner's
cascade and sanity flags; the training history with robust accuracy (the RobustnessMonitor
history named in the checkpoint, or --history); DefenseEvaluate against --baseline.
"""
import json
from pathlib import Path

import numpy as np

from ..cli_support import add_data_arguments, add_device_argument, check_positive

PROTOCOL = "pgd20"          # mindsec.evaluations.protocols: 20 steps of 2.5 eps / 20
PGD_STEPS = 20


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.set_defaults(test_samples=1000)
    parser.add_argument("--ckpt", required=True, help="the model's checkpoint")
    parser.add_argument("--baseline", default=None, metavar="CKPT",
                        help="an undefended model: its curves beside the model's, and "
                             "DefenseEvaluate on FGSM examples made against it")
    parser.add_argument("--history", default=None, metavar="JSON",
                        help="RobustnessMonitor history (default: the one the checkpoint "
                             "names, if any)")
    parser.add_argument("--eps", type=float, default=0.3,
                        help="largest Linf budget (default 0.3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/report",
                        help="directory for report.md, report.json and figures "
                             "(default: %(default)s)")
    return parser


def _curves(net, x, y, eps_grid, seed):
    """{attack: accuracy per eps} for FGSM and PGD-20 (random start)."""
    # pylint: disable=import-outside-toplevel
    from ..evaluations import robustness_curve
    from ..evaluations.protocols import pgd
    from .attack import make_attack
    top = float(eps_grid[-1])
    return {"FGSM": robustness_curve(make_attack("fgsm", net, top), x, y, eps_grid).accuracy,
            f"PGD-{PGD_STEPS}": robustness_curve(pgd(PROTOCOL, net, top, seed=seed), x, y,
                                                 eps_grid).accuracy}


def _history(args, meta):
    path = args.history or meta.get("history")
    if not path:
        return None, None
    from ..errors import DataError  # pylint: disable=import-outside-toplevel
    try:
        records = json.loads(Path(path).read_text())
    except OSError:
        if args.history:
            raise DataError(f"--history {path} cannot be read") from None
        return None, None        # the checkpoint names a history that has since moved
    except ValueError:
        raise DataError(f"history {path} is not JSON") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "epoch" in r
                                                 for r in records):
        raise DataError(f"history {path} is not a RobustnessMonitor history (a list of "
                        f"records with 'epoch')")
    return path, records


def run(args):
    # pylint: disable=import-outside-toplevel,too-many-locals,too-many-statements
    from .. import checkpoint, context, data, plots, workflows
    from ..checks import check_number
    from ..batching import predict_proba
    from ..cli_support import data_source, write_json
    from ..evaluations import AttackEvaluate, DefenseEvaluate, evaluate_robustness
    from ..evaluations.protocols import pgd
    from ..report import Markdown
    from .attack import make_attack

    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_positive(args, "test_samples")
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    net, arch = workflows.load_model(args.ckpt, source.name)
    _, meta = checkpoint.load(args.ckpt)
    baseline = workflows.load_model(args.baseline, source.name)[0] if args.baseline else None
    history_path, history = _history(args, meta)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device {target}; {source.describe()}; report on {arch} ({args.ckpt}), "
          f"{len(x)} test images -> {out}")
    result = {"ckpt": str(args.ckpt), "model": arch, "data": source.describe(),
              "device": target, "test_images": int(len(x)), "eps": args.eps,
              "meta": {k: v for k, v in meta.items() if k != "history"}}

    md = Markdown(f"Robustness report: {arch} (`{args.ckpt}`)")
    md.paragraph(f"{source.describe()}; {len(x)} test images; device {target}; budgets are "
                 f"Linf fractions of the [0, 1] pixel range.")
    md.section("Model").table(["", ""], [["checkpoint", args.ckpt], ["architecture", arch]] +
                              [[k, v] for k, v in sorted(result["meta"].items())])

    # FGSM at eps, MindArmour's metrics
    print(f"FGSM eps {args.eps} ...")
    fgsm = make_attack("fgsm", net, args.eps)
    adv = fgsm.batch_generate(x, y)
    clean_probs, adv_probs = predict_proba(net, x), predict_proba(net, adv)
    ev = AttackEvaluate(x, y, adv, adv_probs)
    l0, l2, linf = ev.avg_lp_distance()
    result["clean_accuracy"] = float(np.mean(clean_probs.argmax(1) == y))
    result["fgsm"] = {"accuracy": float(np.mean(adv_probs.argmax(1) == y)),
                      "mis_classification_rate": ev.mis_classification_rate(),
                      "avg_conf_adv_class": ev.avg_conf_adv_class(),
                      "avg_conf_true_class": ev.avg_conf_true_class(),
                      "avg_lp_distance": [l0, l2, linf], "avg_ssim": ev.avg_ssim()}
    f = result["fgsm"]
    md.section(f"FGSM, eps {args.eps:g}: AttackEvaluate").table(["metric", "value"], [
        ["clean accuracy", result["clean_accuracy"]], ["accuracy under FGSM", f["accuracy"]],
        ["misclassification rate", f["mis_classification_rate"]],
        ["mean confidence of the adversarial class", f["avg_conf_adv_class"]],
        ["mean confidence of the true class", f["avg_conf_true_class"]],
        ["mean relative L0 / L2 / Linf distance", f"{l0:.4f} / {l2:.4f} / {linf:.4f}"],
        ["mean SSIM", f["avg_ssim"]]])
    grid = plots.adversarial_grid(x, adv, y, clean_probs, adv_probs, out / "fgsm_examples.png",
                                  title=f"FGSM eps={args.eps:g} on {arch}")
    md.figure(grid, "Originals, perturbations (grey = 0) and adversarial images, with the "
                    "model's prediction and confidence")

    # the robustness runner: the cascade, its sanity flags, and each attack's accuracy alone
    # (the model's curves below: PGD and FGSM are not run a second time for them)
    print(f"robustness runner: PGD-{PGD_STEPS}, then FGSM ...")
    eps_grid = np.linspace(0.0, args.eps, 7).astype(np.float32)
    runner = evaluate_robustness(net, (x, y), [float(e) for e in eps_grid[1:]],
                                 [pgd(PROTOCOL, net, args.eps, seed=args.seed), fgsm])
    result["robustness"] = runner.to_dict()
    label = {a["name"]: f"PGD-{PGD_STEPS}" if a["kind"] == "iterative" else "FGSM"
             for a in runner.attacks}
    curves = {"model": {label[name]: np.array([result["clean_accuracy"]] + acc)
                        for name, acc in sorted(runner.standalone.items(),
                                                key=lambda kv: label[kv[0]])}}
    if baseline is not None:
        print(f"baseline: FGSM and PGD-{PGD_STEPS} against eps ...")
        curves["baseline"] = _curves(baseline, x, y, eps_grid, args.seed)
    result["curves"] = {"eps": eps_grid.tolist(),
                        **{f"{who} {name}": acc.tolist() for who, per in curves.items()
                           for name, acc in per.items()}}
    series = [(f"{who}: {name}", eps_grid, 100 * acc,
               {"marker": "o" if who == "model" else "s", "ms": 3,
                "ls": "-" if who == "model" else "--"})
              for who, per in curves.items() for name, acc in per.items()]
    chart = plots.line_chart(series, out / "accuracy_vs_eps.png",
                             "eps (Linf, fraction of the [0, 1] pixel range)", "accuracy (%)",
                             f"Accuracy against eps, {len(x)} test images", ylim=(0, 100),
                             legend_at="upper right")
    md.section("Accuracy against eps")
    md.table(["attack"] + [f"{e:.3f}" for e in eps_grid],
             [[f"{who}: {name}"] + [f"{a:.4f}" for a in acc]
              for who, per in curves.items() for name, acc in per.items()])
    md.figure(chart, f"Accuracy against eps: FGSM and PGD-{PGD_STEPS} (step 2.5 eps / "
                     f"{PGD_STEPS}, random start)" +
              ("; dashed: the baseline" if baseline is not None else ""))

    md.section("Robustness runner: worst case and sanity flags")
    md.table(["eps", "robust accuracy", "95% interval"],
             [[f"{e:.3f}", runner.robust_accuracy[k],
               f"[{runner.robust_ci[k][0]:.4f}, {runner.robust_ci[k][1]:.4f}]"]
              for k, e in enumerate(runner.eps)])
    md.bullets([f"FLAG {g['flag']}: {g['message']}" for g in runner.flags] or
               ["sanity flags: none (no gradient-masking signature: PGD beats FGSM, accuracy "
                "falls with eps, gradients are alive)"])

    if history:
        png = plots.robustness_history(history, out / "training_history.png",
                                       title="Accuracy during training (validation slice)")
        names = {"clean_acc": "clean", "fgsm_acc": "FGSM", "pgd_acc": "PGD"}
        keys = [k for k in names if k in history[0]]
        md.section("Training history").table(
            ["epoch", "training loss"] + [f"{names[k]} accuracy" for k in keys],
            [[r["epoch"], "" if r.get("loss") is None else f"{r['loss']:.4f}"] +
             [r[k] for k in keys] for r in history])
        md.figure(png, f"Clean and adversarial accuracy during training ({history_path})")
        result["history"] = history

    if baseline is not None:
        transfer = make_attack("fgsm", baseline, args.eps).batch_generate(x, y)
        de = DefenseEvaluate(predict_proba(baseline, transfer), predict_proba(net, transfer), y)
        result["defense_evaluate"] = {"cav": de.cav(), "crr": de.crr(), "csr": de.csr(),
                                      "ccv": de.ccv(), "cos": de.cos()}
        md.section(f"DefenseEvaluate against the baseline (`{args.baseline}`)")
        md.paragraph(f"FGSM eps {args.eps:g} examples made against the baseline, replayed on "
                     f"the model (MindArmour's tutorial protocol, a transfer setting).")
        d = result["defense_evaluate"]
        md.table(["CAV", "CRR", "CSR", "CCV", "COS"],
                 [[d["cav"], d["crr"], d["csr"], d["ccv"], d["cos"]]])

    write_json(out / "report.json", result)
    path = md.write(out / "report.md")
    print(f"report: {path} (figures beside it); data: {out / 'report.json'}")
    return 0
