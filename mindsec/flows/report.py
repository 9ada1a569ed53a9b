"""A model's robustness report, as a library call.

    >>> report = flows.model_report(net, (x, y), eps=0.3, baseline=undefended)
    >>> report.to_markdown("runs/report")      # report.md and its PNG figures

Sections: FGSM at ``eps`` with AttackEvaluate and an examples grid; accuracy against eps
under FGSM and the pgd20 protocol (and of the ``baseline`` model); the robustness runner's
cascade (pgd20, then FGSM) and sanity flags; the training history (a RobustnessMonitor
history); DefenseEvaluate on FGSM examples made against ``baseline``.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mindspore import nn

from ..attacks import FastGradientSignMethod
from ..batching import predict_proba
from ..checks import check_number
from ..evaluations import AttackEvaluate, DefenseEvaluate, evaluate_robustness, \
    robustness_curve
from ..evaluations.protocols import PROTOCOLS

PROTOCOL = "pgd20"
_PGD = f"PGD-{PROTOCOL[3:]}"


@dataclass
class ModelReport:
    """What :func:`model_report` measured: ``result`` is the JSON (``to_dict``);
    ``format()`` a summary; ``to_markdown(out)`` the report with its figures."""
    title: str
    description: str
    result: dict
    rows: list                      # the model table
    curves: dict                    # who -> attack -> accuracy per eps (np arrays)
    eps_grid: np.ndarray
    runner: object                  # the RobustnessReport
    history: list = None
    history_path: str = None
    baseline_name: str = None
    arrays: dict = field(default=None, repr=False)

    def to_dict(self):
        return self.result

    def format(self):
        r, f = self.result, self.result["fgsm"]
        lines = [f"{self.title}: clean {r['clean_accuracy']:.4f}, FGSM eps {r['eps']:g} "
                 f"{f['accuracy']:.4f}"]
        lines += [f"{who} {name}: " + " ".join(f"{a:.4f}" for a in acc)
                  for who, per in self.curves.items() for name, acc in per.items()]
        lines.append(self.runner.format())
        return "\n".join(lines)

    def to_markdown(self, out):
        # pylint: disable=import-outside-toplevel
        from .. import plots
        from ..report import Markdown
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        r, a = self.result, self.arrays
        md = Markdown(self.title)
        md.paragraph(self.description)
        md.section("Model").table(["", ""], self.rows)
        f = r["fgsm"]
        l0, l2, linf = f["avg_lp_distance"]
        md.section(f"FGSM, eps {r['eps']:g}: AttackEvaluate").table(["metric", "value"], [
            ["clean accuracy", r["clean_accuracy"]], ["accuracy under FGSM", f["accuracy"]],
            ["misclassification rate", f["mis_classification_rate"]],
            ["mean confidence of the adversarial class", f["avg_conf_adv_class"]],
            ["mean confidence of the true class", f["avg_conf_true_class"]],
            ["mean relative L0 / L2 / Linf distance", f"{l0:.4f} / {l2:.4f} / {linf:.4f}"],
            ["mean SSIM", f["avg_ssim"]]])
        grid = plots.adversarial_grid(a["x"], a["adv"], a["y"], a["clean_probs"],
                                      a["adv_probs"], out / "fgsm_examples.png",
                                      title=f"FGSM eps={r['eps']:g} on {r['model']}")
        md.figure(grid, "Originals, perturbations (grey = 0) and adversarial images, with "
                        "the model's prediction and confidence")
        self._curves_section(md, out)
        runner = self.runner
        md.section("Robustness runner: worst case and sanity flags")
        md.paragraph(f"Cascade: the {PROTOCOLS[PROTOCOL].title}, then FGSM, each on the "
                     f"points the earlier left standing. An upper bound on robust accuracy "
                     f"(AutoAttack can only lower it).")
        md.table(["eps", "robust accuracy", "95% interval"],
                 [[f"{e:.3f}", runner.robust_accuracy[k],
                   f"[{runner.robust_ci[k][0]:.4f}, {runner.robust_ci[k][1]:.4f}]"]
                  for k, e in enumerate(runner.eps)])
        md.bullets([f"FLAG {g['flag']}: {g['message']}" for g in runner.flags] or
                   ["sanity flags: none (no gradient-masking signature: PGD beats FGSM, "
                    "accuracy falls with eps, gradients are alive)"])
        if self.history:
            self._history_section(md, out)
        if "defense_evaluate" in r:
            md.section(f"DefenseEvaluate against the baseline (`{self.baseline_name}`)")
            md.paragraph(f"FGSM eps {r['eps']:g} examples made against the baseline, "
                         f"replayed on the model (MindArmour's tutorial protocol, a "
                         f"transfer setting).")
            d = r["defense_evaluate"]
            md.table(["CAV", "CRR", "CSR", "CCV", "COS"],
                     [[d["cav"], d["crr"], d["csr"], d["ccv"], d["cos"]]])
        return md.write(out / "report.md")

    def _curves_section(self, md, out):
        from .. import plots    # pylint: disable=import-outside-toplevel
        eps_grid, curves = self.eps_grid, self.curves
        series = [(f"{who}: {name}", eps_grid, 100 * acc,
                   {"marker": "o" if who == "model" else "s", "ms": 3,
                    "ls": "-" if who == "model" else "--"})
                  for who, per in curves.items() for name, acc in per.items()]
        chart = plots.line_chart(series, out / "accuracy_vs_eps.png",
                                 "eps (Linf, fraction of the [0, 1] pixel range)",
                                 "accuracy (%)",
                                 f"Accuracy against eps, {self.result['test_images']} test "
                                 f"images", ylim=(0, 100), legend_at="upper right")
        md.section("Accuracy against eps")
        md.table(["attack"] + [f"{e:.3f}" for e in eps_grid],
                 [[f"{who}: {name}"] + [f"{a:.4f}" for a in acc]
                  for who, per in curves.items() for name, acc in per.items()])
        md.figure(chart, f"Accuracy against eps: FGSM and the {PROTOCOLS[PROTOCOL].title}" +
                  ("; dashed: the baseline" if "baseline" in curves else ""))

    def _history_section(self, md, out):
        from .. import plots    # pylint: disable=import-outside-toplevel
        history = self.history
        png = plots.robustness_history(history, out / "training_history.png",
                                       title="Accuracy during training (validation slice)")
        names = {"clean_acc": "clean", "fgsm_acc": "FGSM", "pgd_acc": "PGD"}
        keys = [k for k in names if k in history[0]]
        md.section("Training history").table(
            ["epoch", "training loss"] + [f"{names[k]} accuracy" for k in keys],
            [[r["epoch"], "" if r.get("loss") is None else f"{r['loss']:.4f}"] +
             [r[k] for k in keys] for r in history])
        md.figure(png, f"Clean and adversarial accuracy during training ({self.history_path})")


def _fgsm(net, eps):
    return FastGradientSignMethod(net, eps=eps,
                                  loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True))


def _curves(net, x, y, eps_grid, seed):
    """{attack: accuracy per eps} for FGSM and the pgd20 protocol."""
    top = float(eps_grid[-1])
    return {"FGSM": robustness_curve(_fgsm(net, top), x, y, eps_grid).accuracy,
            _PGD: robustness_curve(PROTOCOLS[PROTOCOL].attack(net, top, seed=seed), x, y,
                                   eps_grid).accuracy}


def model_report(net, test_data, *, eps=0.3, baseline=None, history=None, seed=0,
                 name="model", info=None, log=print):
    """Measure ``net`` on ``test_data`` = ``(x, y)`` for the report (see the module
    docstring). ``baseline``: an undefended model to compare with; ``history``:
    ``(path, records)`` of a RobustnessMonitor history; ``info``: the report's header
    (``ckpt``, ``data``, ``device``, ``meta``, ``baseline_ckpt``). Returns a
    :class:`ModelReport`."""
    eps = check_number("eps", eps, low=0.0, high=1.0)
    info = dict(info or {})
    x, y = test_data
    result = {"ckpt": info.get("ckpt"), "model": name, "data": info.get("data"),
              "device": info.get("device"), "test_images": int(len(x)), "eps": eps,
              "meta": info.get("meta", {})}
    log(f"FGSM eps {eps} ...")
    fgsm = _fgsm(net, eps)
    adv = fgsm.batch_generate(x, y)
    clean_probs, adv_probs = predict_proba(net, x), predict_proba(net, adv)
    ev = AttackEvaluate(x, y, adv, adv_probs)
    result["clean_accuracy"] = float(np.mean(clean_probs.argmax(1) == y))
    result["fgsm"] = {"accuracy": float(np.mean(adv_probs.argmax(1) == y)), **ev.to_dict()}

    # the runner's cascade; each attack's accuracy alone are the model's curves (PGD and
    # FGSM are not run a second time for them)
    log(f"robustness runner: {_PGD}, then FGSM ...")
    eps_grid = np.linspace(0.0, eps, 7).astype(np.float32)
    runner = evaluate_robustness(net, (x, y), [float(e) for e in eps_grid[1:]],
                                 [PROTOCOLS[PROTOCOL].attack(net, eps, seed=seed), fgsm])
    result["robustness"] = runner.to_dict()
    result["protocol"] = f"cascade of the {PROTOCOLS[PROTOCOL].title}, then FGSM"
    label = {a["name"]: _PGD if a["kind"] == "iterative" else "FGSM" for a in runner.attacks}
    curves = {"model": {label[key]: np.array([result["clean_accuracy"]] + acc)
                        for key, acc in sorted(runner.standalone.items(),
                                               key=lambda kv: label[kv[0]])}}
    if baseline is not None:
        log(f"baseline: FGSM and {_PGD} against eps ...")
        curves["baseline"] = _curves(baseline, x, y, eps_grid, seed)
    result["curves"] = {"eps": eps_grid.tolist(),
                        **{f"{who} {key}": acc.tolist() for who, per in curves.items()
                           for key, acc in per.items()}}
    history_path, records = history if history else (None, None)
    if records:
        result["history"] = records
    if baseline is not None:
        transfer = _fgsm(baseline, eps).batch_generate(x, y)
        de = DefenseEvaluate(predict_proba(baseline, transfer), predict_proba(net, transfer), y)
        result["defense_evaluate"] = de.to_dict()
    ckpt = info.get("ckpt")
    return ModelReport(
        title=f"Robustness report: {name} (`{ckpt}`)",
        description=f"{info.get('data')}; {len(x)} test images; device "
                    f"{info.get('device')}; budgets are Linf fractions of the [0, 1] pixel "
                    f"range.",
        result=result, rows=[["checkpoint", ckpt], ["architecture", name]] +
        [[k, v] for k, v in sorted(result["meta"].items())],
        curves=curves, eps_grid=eps_grid, runner=runner, history=records,
        history_path=history_path, baseline_name=info.get("baseline_ckpt"),
        arrays={"x": x, "y": y, "adv": adv, "clean_probs": clean_probs,
                "adv_probs": adv_probs})


__all__ = ["ModelReport", "model_report", "PROTOCOL"]
