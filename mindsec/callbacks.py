"""Robustness monitoring during training.

:class:`RobustnessMonitor` measures, every ``every`` epochs, clean accuracy and accuracy under
FGSM and PGD at ``eps`` on a fixed validation slice; logs it beside the loss; appends it to a
JSON history (written atomically); keeps the checkpoint with the best robust accuracy; and can
stop training when robust accuracy collapses — the signature of catastrophic overfitting in
fast adversarial training (Wong et al. 2020).

It is a ``mindspore.train.Callback`` for ``Model.train`` and, through :meth:`after_epoch`,
the same hook for mindsec's own loops (``train.fit(..., callbacks=[monitor])``,
``defense.batch_defense(..., callbacks=[monitor])``).
"""
import numpy as np
from mindspore import nn
from mindspore.train import Callback

from . import checkpoint, distributed
from .atomic import write_json
from .attacks import FastGradientSignMethod
from .checks import check_count, check_number
from .batching import accuracy
from .errors import InputError
from .evaluations.protocols import PGDProtocol


class RobustnessMonitor(Callback):
    """Clean / FGSM / PGD accuracy of ``network`` on ``(x, y)`` during training.

    Args:
        network (nn.Cell): the network being trained (returns logits).
        x, y (np.ndarray): the fixed validation slice (float32 images, class indices).
        eps (float): attack budget, fraction of the [0, 1] range. Default 0.3.
        every (int): measure every ``every`` epochs. Default 1.
        pgd_steps (int): PGD iterations (step 2.5 eps / steps, random start: the pgd10
            protocol at the default); 0 measures FGSM only. Default 10.
        history (str): JSON file the records are appended to (rewritten atomically), or
            ``None``.
        best_ckpt (str): where the weights with the best robust accuracy are kept, or None.
        collapse_drop (float): stop when robust accuracy falls this far below its best
            (e.g. 0.2); ``None`` never stops. Default None.
        log (callable): receives one line per measurement. Default ``print``.
        robust_attack: an attack object (``batch_generate(x, y)``) measured as ``pgd``
            instead of the pgd10 protocol. Default None.
        fgsm (bool): also measure FGSM. Default True.
        restore_best (bool): keep the best weights in memory and put them back when a
            collapse stops training (fast adversarial training's guard). Default False.

    Robust accuracy is the PGD accuracy when ``pgd_steps`` > 0, else the FGSM accuracy.
    The loss recorded is the epoch's mean in mindsec's loops, and the last batch's under
    ``Model.train`` (what its callback parameters hold). Call :meth:`measure` (epoch 0)
    before training to make the starting point the reference for a collapse.
    ``records`` holds every measurement; ``best`` the best robust accuracy so far.
    """

    def __init__(self, network, x, y, eps=0.3, every=1, pgd_steps=10, history=None,
                 best_ckpt=None, collapse_drop=None, seed=0, log=print, *,
                 robust_attack=None, fgsm=True, restore_best=False):
        super().__init__()
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim < 2:
            raise InputError(f"x must be a float32 array (N, ...), got "
                             f"{getattr(x, 'dtype', type(x).__name__)}")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise InputError(f"y must be (N,) class indices for {len(x)} inputs, got shape "
                             f"{y.shape}")
        check_count("every", every)
        check_count("pgd_steps", pgd_steps, low=0)
        eps = check_number("eps", eps, low=0.0, high=1.0)
        self.collapse_drop = check_number("collapse_drop", collapse_drop, low=0.0,
                                          allow_none=True)
        self.network, self.x, self.y = network, x, y.astype(np.int32)
        self.every, self.history, self.best_ckpt, self.log = every, history, best_ckpt, log
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        self.attacks = {}
        if fgsm:
            self.attacks["fgsm"] = FastGradientSignMethod(network, eps=eps, loss_fn=loss)
        if robust_attack is not None:
            self.attacks["pgd"] = robust_attack
        elif pgd_steps:     # the pgd10 protocol at the default 10 steps
            self.attacks["pgd"] = PGDProtocol(f"pgd{pgd_steps}", pgd_steps, 2.5, pgd_steps) \
                .attack(network, eps, loss_fn=loss, seed=seed)
        if not self.attacks:
            raise InputError("nothing to measure: pass fgsm=True, pgd_steps > 0 or a "
                             "robust_attack")
        self.robust_key = "pgd_acc" if "pgd" in self.attacks else "fgsm_acc"
        self.restore_best = restore_best
        self.reset()

    def reset(self):
        """Forget earlier measurements (a new training run)."""
        self.records = []
        self.best = None
        self.best_weights = None
        self.stopped = False

    def measure(self, epoch, loss=None):
        """Measure now; returns the record (with ``stop`` True on a collapse)."""
        was_training = self.network.training
        self.network.set_train(False)
        record = {"epoch": int(epoch), "loss": None if loss is None else float(loss),
                  "clean_acc": accuracy(self.network, self.x, self.y)}
        for name, attack in self.attacks.items():
            record[f"{name}_acc"] = accuracy(self.network,
                                             attack.batch_generate(self.x, self.y), self.y)
        robust = record[self.robust_key]
        if self.best is None or robust > self.best:
            self.best = robust
            record["best"] = True
            if self.restore_best:
                self.best_weights = {p.name: p.data.copy()
                                     for p in self.network.get_parameters()}
            if self.best_ckpt and distributed.is_main():
                checkpoint.save(self.network, self.best_ckpt, epoch=int(epoch),
                                robust_acc=robust, metric=self.robust_key)
        record["stop"] = bool(self.collapse_drop is not None and
                              robust < self.best - self.collapse_drop)
        if record["stop"] and self.best_weights is not None:
            for param in self.network.get_parameters():
                param.set_data(self.best_weights[param.name])
        self.network.set_train(was_training)
        self.records.append(record)
        if self.history and distributed.is_main():
            write_json(self.history, self.records)
        line = (f"robustness @ epoch {epoch}: clean {record['clean_acc']:.4f}  " +
                "  ".join(f"{k} {record[f'{k}_acc']:.4f}" for k in self.attacks))
        if record["stop"]:
            line += (f"  -> robust accuracy fell from {self.best:.4f}: stopping "
                     f"(catastrophic overfitting?)")
            self.stopped = True
        if self.log:
            self.log(line)
        return record

    # mindsec's loops: train.fit / batch_defense(callbacks=[...])
    def after_epoch(self, record):
        """mindsec's epoch hook: measures every ``every`` epochs, adds the figures to the
        epoch's record and returns True to stop."""
        if record["epoch"] % self.every:
            return False
        result = self.measure(record["epoch"], record.get("loss"))
        record.update({k: v for k, v in result.items() if k.endswith("_acc")})
        return result["stop"]

    # MindSpore's Model.train
    def on_train_epoch_end(self, run_context):
        params = run_context.original_args()
        epoch = params.cur_epoch_num
        if epoch % self.every:
            return
        outputs = params.net_outputs
        loss = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
        loss = float(np.mean(loss.asnumpy())) if hasattr(loss, "asnumpy") else loss
        if self.measure(epoch, loss)["stop"]:
            run_context.request_stop()
