"""MindArmour's NAD tutorial flow, with an honest evaluation protocol, as a library call.

    >>> from mindsec import flows, data
    >>> report = flows.nad_tutorial(base, train_data, test_data, flows.NAD_SETTINGS["full"])
    >>> print(report.format()); report.to_markdown("runs/nad")

1. FGSM at ``eps`` against the undefended model ``base`` on the test split;
2. adversarial training (NAD: FGSM on half of each batch; or PGD / fast training) of a
   copy of ``base`` on ``train_data`` (the tutorial retrains on the test images it then
   scores; pass the test split as ``train_data`` to reproduce that, and say so in
   ``protocol``); under msrun every worker trains its shard;
3. the report, side by side: (a) the tutorial's protocol, the examples made against the
   original model replayed on the defended one, with DefenseEvaluate; (b) adaptive, FGSM
   regenerated against the defended model; (c) the pgd40 protocol against each model.
"""
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from mindspore import nn

from .. import distributed, train, workflows
from ..attacks import FastGradientSignMethod
from ..batching import accuracy, predict_proba
from ..checks import check_number
from ..errors import InputError
from ..evaluations import DefenseEvaluate
from ..evaluations.protocols import PROTOCOLS

DEFENSES = ("nad", "pgd", "fast")
PGD_PROTOCOL = "pgd40"


@dataclass(frozen=True)
class NADSetting:
    """How the defense trains: the undefended model's recipe (when it must be trained),
    then the defense's optimizer, peak learning rate, global batch, epochs, shuffling and
    learning-rate schedule."""
    name: str
    base_recipe: str
    optimizer: str
    lr: float
    batch: int
    epochs: int
    shuffle: bool
    schedule: str

    def for_data(self, source):
        """This setting with as many optimizer steps on ``source`` as on full MNIST
        (``source.epoch_scale`` times the epochs: 15 on the 5k subset)."""
        return replace(self, epochs=self.epochs * source.epoch_scale)


NAD_SETTINGS = {
    "quick": NADSetting("quick", "default", "adam", 1e-3, 128, 2, True, "cosine"),
    "full": NADSetting("full", "fast", "adam", 3e-3, 128, 3, True, "cosine-step"),
    "tutorial": NADSetting("tutorial", "default", "momentum", 0.01, 32, 10, False,
                           "constant"),                          # MindArmour's
}


def make_defense(defense, network, optimizer, loss, eps):
    """NaturalAdversarialDefense (``"nad"``), ProjectedAdversarialDefense (``"pgd"``: PGD-10
    of eps/4 on every sample) or FastAdversarialDefense (``"fast"``) on ``network``."""
    # pylint: disable=import-outside-toplevel
    from ..defenses import (FastAdversarialDefense, NaturalAdversarialDefense,
                            ProjectedAdversarialDefense)
    if defense == "nad":
        return NaturalAdversarialDefense(network, loss_fn=loss, optimizer=optimizer,
                                         bounds=(0.0, 1.0), eps=eps)
    if defense == "pgd":
        return ProjectedAdversarialDefense(network, loss, optimizer, replace_ratio=1.0,
                                           eps=eps, eps_iter=eps / 4, nb_iter=10)
    if defense == "fast":
        return FastAdversarialDefense(network, loss, optimizer, eps=eps)
    raise InputError(f"defense must be one of {', '.join(DEFENSES)}, got {defense!r}")


def pgd_accuracy(net, x, y, eps, loss, seed):
    """Accuracy under the pgd40 protocol (40 steps of eps/30, random start) at ``eps``."""
    attack = PROTOCOLS[PGD_PROTOCOL].attack(net, eps, loss_fn=loss, seed=seed)
    return accuracy(net, attack.batch_generate(x, y), y)


def honest_warnings(defended):
    """The honest-protocol warnings on the defended model's figures: gradient masking,
    FGSM-only robustness."""
    d, found = defended, []
    if d["fgsm_adaptive"] > d["fgsm_transfer"] + 0.01:     # beyond a point of noise
        found.append("FGSM made against the defended model is weaker than FGSM transferred "
                     "from the undefended one: the signature of gradient masking / label "
                     "leaking (Kurakin et al. 2017).")
    if d["pgd"] < min(d["fgsm_adaptive"], d["fgsm_transfer"]) - 0.2:
        found.append(f"PGD leaves {d['pgd']:.1%} where FGSM leaves {d['fgsm_adaptive']:.1%}: "
                     f"FGSM training made the model robust to FGSM, not to iterative attacks. "
                     f"For robustness, use ProjectedAdversarialDefense (--defense pgd).")
    return found


@dataclass
class NADReport:
    """What :func:`nad_tutorial` measured (accuracies are fractions of ``test_images``).
    ``to_dict()`` for JSON, ``format()`` for text, ``to_markdown(out)`` for report.md with
    its figures."""
    setting: str
    defense: str
    data: str
    test_images: int
    eps: float
    workers: int
    protocol: str
    pgd_protocol: str
    undefended: dict
    defended: dict
    nad: dict
    nad_seconds: float
    pgd_seconds: float
    wall_seconds: float
    history: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    ckpt: str = None
    defended_ckpt: str = None
    # for the figures, not serialised
    arrays: dict = field(default=None, repr=False, compare=False)

    def to_dict(self):
        out = asdict(self)
        out.pop("arrays")
        return out

    def format(self):
        u, d = self.undefended, self.defended
        e = d["defense_evaluate"]
        lines = [f"\n== {self.defense.upper()} report ({self.protocol}; {self.test_images} "
                 f"test images, eps {self.eps})",
                 f"{'':36s}{'undefended':>12s}{'defended':>10s}",
                 f"{'clean accuracy':36s}{u['clean']:>12.4f}{d['clean']:>10.4f}",
                 f"{'(a) FGSM made on the undefended model':36s}{u['fgsm']:>12.4f}"
                 f"{d['fgsm_transfer']:>10.4f}   <- the tutorial's figure",
                 f"{'(b) FGSM made on the model itself':36s}{u['fgsm']:>12.4f}"
                 f"{d['fgsm_adaptive']:>10.4f}   <- adaptive",
                 f"{'(c) PGD-40 made on the model itself':36s}{u['pgd']:>12.4f}"
                 f"{d['pgd']:>10.4f}   <- adaptive, iterative",
                 f"(c) is the {self.pgd_protocol}; every figure is an upper bound on "
                 f"robust accuracy",
                 f"DefenseEvaluate on (a): CAV {e['cav']:.4f}  CRR {e['crr']:.4f}  CSR "
                 f"{e['csr']:.4f}  CCV {e['ccv']:.4f}  COS {e['cos']:.4f}"]
        lines += ["warning: " + line for line in self.warnings]
        lines.append(f"{self.defense.upper()} {self.nad_seconds:.1f} s; whole flow "
                     f"{self.wall_seconds:.1f} s")
        return "\n".join(lines)

    def to_markdown(self, out):
        """``out``/report.md with the protocol table, DefenseEvaluate, the warnings, the
        examples grid (judged by the defended model) and the training history."""
        # pylint: disable=import-outside-toplevel
        from .. import plots
        from ..report import Markdown
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        u, d = self.undefended, self.defended
        md = Markdown(f"{self.defense.upper()} on LeNet5: the honest protocol")
        md.paragraph(f"{self.data}; {self.test_images} test images; eps {self.eps}; "
                     f"{self.protocol}. Undefended: `{self.ckpt or 'the model passed in'}`; "
                     f"defended: `{self.defended_ckpt or 'not saved'}`. PGD rows: the {self.pgd_protocol}; every "
                     f"figure is an upper bound on robust accuracy.")
        md.section("Accuracy").table(["", "undefended", "defended", "what it measures"], [
            ["clean", u["clean"], d["clean"], ""],
            ["(a) FGSM made on the undefended model", u["fgsm"], d["fgsm_transfer"],
             "the tutorial's figure (transfer)"],
            ["(b) FGSM made on the model itself", u["fgsm"], d["fgsm_adaptive"], "adaptive"],
            ["(c) PGD-40 made on the model itself", u["pgd"], d["pgd"],
             "adaptive, iterative"]])
        e = d["defense_evaluate"]
        md.section("DefenseEvaluate on (a)").table(
            ["CAV", "CRR", "CSR", "CCV", "COS"], [[e["cav"], e["crr"], e["csr"], e["ccv"],
                                                   e["cos"]]])
        if self.warnings:
            md.section("Warnings").bullets(self.warnings)
        a = self.arrays
        grid = plots.adversarial_grid(a["x"], a["adv_base"], a["y"], a["clean_probs"],
                                      a["adv_probs"], out / "defended_examples.png",
                                      title=f"FGSM eps={self.eps} made on the undefended "
                                            f"model, judged by the defended one")
        md.section("Examples").figure(grid, "Originals, perturbations and adversarial images "
                                            "(made on the undefended model); predictions of "
                                            "the defended model")
        if self.history:
            self._history_section(md, out)
        md.paragraph(f"Training {self.nad_seconds:.1f} s; PGD rows {self.pgd_seconds:.1f} s; "
                     f"whole flow {self.wall_seconds:.1f} s.")
        return md.write(out / "report.md")

    def _history_section(self, md, out):
        from .. import plots    # pylint: disable=import-outside-toplevel
        hist = self.history
        series = [(name, [h["epoch"] for h in hist], [100 * h[key] for h in hist],
                   {"marker": "o", "ms": 3}) for key, name in
                  (("clean_acc", "clean rows of each batch"),
                   ("adv_acc", "adversarial rows of each batch")) if key in hist[0]]
        chart = plots.line_chart(series, out / "training_history.png", "epoch",
                                 "training-batch accuracy (%)",
                                 f"{self.defense.upper()} training", ylim=(0, 100),
                                 integer_x=True, legend_at="lower right")
        md.section("Training").table(
            ["epoch", "loss", "samples/s"],
            [[h["epoch"], h["loss"], f"{h['samples_per_s']:,.0f}"] for h in hist])
        md.figure(chart, "Accuracy on the clean and adversarial rows of the training batches")


def nad_tutorial(base, train_data, test_data, setting, *, defense="nad", eps=0.3,
                 protocol="retrained on the training split; every score is on the test "
                          "split", defended_ckpt=None, seed=0, data="", log=print):
    """Run the NAD tutorial flow on the undefended LeNet5 ``base`` (see the module
    docstring). ``setting``: an :class:`NADSetting` (e.g. ``NAD_SETTINGS["full"]``);
    ``defended_ckpt``: the defended model's checkpoint, written each epoch and resumed
    from. Returns an :class:`NADReport` on the main process, None on the other workers of
    a data-parallel job (which only train)."""
    start = time.perf_counter()
    if not isinstance(setting, NADSetting):
        raise InputError(f"setting must be a mindsec.flows.NADSetting, got "
                         f"{type(setting).__name__}")
    if defense not in DEFENSES:
        raise InputError(f"defense must be one of {', '.join(DEFENSES)}, got {defense!r}")
    eps = check_number("eps", eps, low=0.0, high=1.0)
    x, y = test_data
    train_x, train_y = train_data
    workers = distributed.world()
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    main = distributed.is_main()
    undefended, pgd_seconds = {}, 0.0
    if main:
        adv_base = FastGradientSignMethod(base, eps=eps, loss_fn=ce).batch_generate(x, y)
        raw_probs = predict_proba(base, adv_base)      # also DefenseEvaluate's raw_preds
        undefended = {"clean": accuracy(base, x, y), "fgsm": _hit_rate(raw_probs, y)}
        t_pgd = time.perf_counter()
        undefended["pgd"] = pgd_accuracy(base, x, y, eps, ce, seed)
        pgd_seconds = time.perf_counter() - t_pgd

    defended = workflows.copy_of(base)
    s = setting
    recipe = train.Recipe(defense, s.optimizer, s.lr, s.batch, s.epochs, s.schedule,
                          momentum=0.09)
    optimizer = train.make_optimizer(defended, recipe, len(train_x) // s.batch)
    trainer = make_defense(defense, defended, optimizer, ce, eps)
    log(f"{defense}: {s.optimizer} lr {s.lr} ({s.schedule}), batch {s.batch}" +
        (f" ({s.batch // workers} on each of {workers} workers)" if workers > 1 else "") +
        f", {s.epochs} epochs, eps {eps}, on {len(train_x)} images -> {defended_ckpt}")
    t_train = time.perf_counter()
    trainer.batch_defense(train_x, train_y, batch_size=s.batch // workers, epochs=s.epochs,
                          shuffle=s.shuffle, seed=seed, ckpt_path=defended_ckpt, resume=True,
                          log=log, meta={"model": "lenet5", "data": data})
    train_seconds = time.perf_counter() - t_train
    if not main:
        return None

    def_probs, def_clean_probs = predict_proba(defended, adv_base), predict_proba(defended, x)
    de = DefenseEvaluate(raw_probs, def_probs, y)
    adv_def = FastGradientSignMethod(defended, eps=eps, loss_fn=ce).batch_generate(x, y)
    t_pgd = time.perf_counter()
    pgd_defended = pgd_accuracy(defended, x, y, eps, ce, seed)
    pgd_seconds += time.perf_counter() - t_pgd
    scores = {"clean": _hit_rate(def_clean_probs, y), "fgsm_transfer": _hit_rate(def_probs, y),
              "fgsm_adaptive": accuracy(defended, adv_def, y), "pgd": pgd_defended,
              "defense_evaluate": de.to_dict()}
    return NADReport(
        setting=s.name, defense=defense, data=data, test_images=int(len(x)), eps=eps,
        workers=workers, protocol=protocol, pgd_protocol=f"pgd40 protocol: "
        f"{PROTOCOLS[PGD_PROTOCOL].title}", undefended=undefended, defended=scores,
        nad={"optimizer": s.optimizer, "lr": s.lr, "schedule": s.schedule, "batch": s.batch,
             "epochs": s.epochs, "shuffle": s.shuffle,
             "replace_ratio": 0.5 if defense == "nad" else 1.0},
        nad_seconds=train_seconds, pgd_seconds=pgd_seconds,
        wall_seconds=time.perf_counter() - start,
        history=getattr(trainer, "history", []), warnings=honest_warnings(scores),
        defended_ckpt=None if defended_ckpt is None else str(defended_ckpt),
        arrays={"x": x, "y": y, "adv_base": adv_base, "clean_probs": def_clean_probs,
                "adv_probs": def_probs})


def _hit_rate(probs, y):
    """Accuracy of predicted probabilities (N, K) against class indices."""
    return float((np.asarray(probs).argmax(axis=1) == y).mean())


__all__ = ["NADSetting", "NAD_SETTINGS", "NADReport", "nad_tutorial", "make_defense",
           "pgd_accuracy", "honest_warnings", "DEFENSES"]
