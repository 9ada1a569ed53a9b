"""Adversarial training from random weights (fast, PGD or NAD), as a library call.

    >>> from mindsec import flows
    >>> setting = flows.RobustSetting(defense="pgd", epochs=15, warmup=3)
    >>> report = flows.adversarial_training(train_data, test_data, setting,
    ...                                     ckpt="runs/robust/pgd_smallcnn.ckpt")
    >>> print(report.format())

The last 1,000 training images are held out (fast training's collapse check watches them;
no defense trains on them). The optimizer is Adam with a one-cycle learning rate (0 ->
``lr`` at 40% -> 0); fast: FGSM from a random start, step ``alpha`` (default 1.25 eps,
Wong et al. 2020); pgd: ``pgd_steps`` steps of ``pgd_step`` from a random start on every
sample; nad: FGSM at eps on half of each batch (MindArmour's NAD). The checkpoint is
written after every epoch and resumed; the report gives clean and pgd20 accuracy on the
test split (an upper bound: judge the model with AutoAttack, ``mindsec evaluate``).
"""
import time
from dataclasses import asdict, dataclass

from mindspore import nn

from .. import checkpoint, distributed, train
from ..batching import accuracy
from ..checks import check_count, check_number
from ..errors import InputError
from ..evaluations import protocols

HOLDOUT = 1000
DEFENSES = ("fast", "pgd", "nad")
PROTOCOL = "pgd20"


@dataclass(frozen=True)
class RobustSetting:
    """What the training does: the defense and model, its optimizer's peak ``lr``, the
    global ``batch``, ``epochs``, the eps and its linear ``warmup`` (in epochs), the
    defense's own numbers, and whether it attacks the labels or the model's predictions."""
    defense: str = "fast"
    model: str = "smallcnn"
    epochs: int = 10
    lr: float = 5e-3
    batch: int = 100
    eps: float = 0.3
    alpha: float = None
    pgd_steps: int = 10
    pgd_step: float = 0.05
    warmup: float = 0.0
    predicted_labels: bool = False

    def check(self):
        """Raise ``InputError`` on a setting that cannot train."""
        if self.defense not in DEFENSES:
            raise InputError(f"defense must be one of {', '.join(DEFENSES)}, got "
                             f"{self.defense!r}")
        check_number("eps", self.eps, low=0.0, high=1.0)
        check_number("lr", self.lr, low=0.0)
        check_number("warmup", self.warmup, low=0.0, low_open=False)
        check_number("pgd_step", self.pgd_step, low=0.0)
        check_number("alpha", self.alpha, low=0.0, allow_none=True)
        for name in ("epochs", "batch", "pgd_steps"):
            check_count(name, getattr(self, name))
        return self


@dataclass
class RobustTrainingReport:
    """What :func:`adversarial_training` measured (``to_dict`` is the JSON written beside
    the checkpoint)."""
    defense: str
    model: str
    data: str
    epochs: int
    train_seconds: float
    stopped_after: int
    clean_acc: float
    pgd20_acc: float
    ckpt: str
    eps: float

    def to_dict(self):
        return asdict(self)

    def format(self):
        return (f"trained in {self.train_seconds:.0f} s; test clean accuracy "
                f"{self.clean_acc:.4f}, PGD-20 (eps {self.eps}) {self.pgd20_acc:.4f}")


def make_robust_defense(setting, net, loss, optimizer, holdout, epoch_scale=1.0):
    """The defense ``setting`` names, on ``net`` (warmup in the scaled epochs)."""
    # pylint: disable=import-outside-toplevel
    from ..defenses import (FastAdversarialDefense, NaturalAdversarialDefense,
                            ProjectedAdversarialDefense)
    common = {"predicted_labels": setting.predicted_labels,
              "warmup": setting.warmup * epoch_scale}
    if setting.defense == "fast":
        return FastAdversarialDefense(net, loss, optimizer, eps=setting.eps,
                                      alpha=setting.alpha, holdout=holdout, **common)
    if setting.defense == "pgd":
        return ProjectedAdversarialDefense(net, loss, optimizer, eps=setting.eps,
                                           eps_iter=setting.pgd_step,
                                           nb_iter=setting.pgd_steps, replace_ratio=1.0,
                                           **common)
    return NaturalAdversarialDefense(net, loss, optimizer, eps=setting.eps, **common)


def adversarial_training(train_data, test_data, setting=RobustSetting(), *, ckpt,
                         epochs=None, seed=0, data="mnist", log=print):
    """Train ``setting.model`` from random weights with ``setting.defense`` on
    ``train_data`` (minus the last 1,000 images, held out) into ``ckpt`` (resumed when
    it exists), for ``epochs`` (default ``setting.epochs``; warmup scales with it), and
    return a :class:`RobustTrainingReport` on ``test_data``. Under msrun every worker
    trains its shard of each global batch; only rank 0 gets the report (others: None)."""
    import mindspore as ms    # pylint: disable=import-outside-toplevel
    from ..models import MODELS    # pylint: disable=import-outside-toplevel
    setting.check()
    if setting.model not in MODELS:
        raise InputError(f"model must be one of {', '.join(sorted(MODELS))}, got "
                         f"{setting.model!r}")
    epochs = setting.epochs if epochs is None else check_count("epochs", epochs)
    rank, world = distributed.rank(), distributed.world()
    x, y = train_data
    if len(x) <= HOLDOUT + setting.batch:
        raise InputError(f"the training data must hold more than {HOLDOUT + setting.batch} "
                         f"images (the last {HOLDOUT} are held out), got {len(x)}")
    if setting.batch % world:
        raise InputError(f"batch {setting.batch} must be a multiple of the {world} workers")
    hold, x, y = (x[-HOLDOUT:], y[-HOLDOUT:]), x[:-HOLDOUT], y[:-HOLDOUT]
    ms.set_seed(seed)
    net = MODELS[setting.model]()
    recipe = train.Recipe(setting.defense, "adam", setting.lr, setting.batch, epochs,
                          "onecycle")
    opt = train.make_optimizer(net, recipe, len(x) // setting.batch)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    defense = make_robust_defense(setting, net, loss, opt, hold, epochs / setting.epochs)
    start = time.perf_counter()
    defense.batch_defense(x, y, batch_size=setting.batch // world, epochs=epochs,
                          shuffle=True, seed=seed, ckpt_path=ckpt, resume=True, log=log,
                          meta={"model": setting.model, "data": data,
                                "recipe": f"{setting.defense}-adversarial"})
    seconds = time.perf_counter() - start
    if rank != 0:
        return None
    checkpoint.load_into(net, ckpt)     # the final (or, after early stopping, best) weights
    net.set_train(False)
    test_x, test_y = test_data
    pgd = protocols.pgd(PROTOCOL, net, setting.eps, loss_fn=loss, seed=seed)
    return RobustTrainingReport(
        defense=setting.defense, model=setting.model, data=data, epochs=epochs,
        train_seconds=round(seconds, 1), stopped_after=getattr(defense, "stopped_after", None),
        clean_acc=accuracy(net, test_x, test_y),
        pgd20_acc=accuracy(net, pgd.batch_generate(test_x, test_y), test_y), ckpt=str(ckpt),
        eps=setting.eps)
