"""Robustness curves and an honest robust-evaluation runner.

:func:`robustness_curve` runs one attack at many budgets and returns per-sample success of
shape (K eps, N) (Foolbox's contract); single-step attacks reuse one gradient for every eps,
DeepFool's minimal perturbations answer every eps from one run.

:func:`evaluate_robustness` is a cascade (AutoAttack's protocol, Croce & Hein 2020,
arXiv:2003.01690): at each eps every attack runs only on the points still standing, so the
result is the worst case over the attacks (robust accuracy with a Clopper-Pearson interval),
and each attack's share of the breaks is reported. White-box iterative and minimal attacks
run first, single-step ones next, then score-based (Square) and transfer (black-box) ones,
whatever the order given: anything a weaker attack still breaks after a stronger one is a
sign that the stronger one is not working, which the runner flags (see :data:`FLAGS`),
as it flags the model checks AutoAttack makes (randomised outputs, probabilities instead
of logits, a model left in training mode). With ``state_dir`` a run resumes after a kill;
with ``shard`` it runs data-parallel on msrun workers (:mod:`mindsec.evaluations.stages`).
"""
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import mindspore as ms
from mindspore import nn, ops
from scipy.stats import binomtest

from ..attacks.base import Attack, AttackKind, auto_batch_size
from ..attacks.losses import log_odds, saturated
from ..attacks.norms import LINF
from ..batching import num_classes, pad_to, padded_batches, predict_logits
from ..checks import check_batch_size, check_count, check_inputs, check_number, check_seed
from ..errors import InputError
from ..progress import Stages
from .checks import labels_to_indices

_ORDER = {AttackKind.ITERATIVE: 0, AttackKind.MINIMAL: 1, AttackKind.SINGLE_STEP: 2,
          AttackKind.SCORE_BASED: 3, AttackKind.TRANSFER: 4}

FLAGS = {
    "zero_gradients": "inputs whose loss gradient is exactly zero: gradient attacks cannot "
                      "move them (gradient masking?)",
    "saturated_softmax": "inputs where float32 softmax gives the true class probability "
                         "1.0: plain cross-entropy gradients lose the true-class term there",
    "no_collapse": "accuracy does not fall to ~0 at a large eps",
    "iterative_weaker_than_single_step": "a single-step attack broke points an iterative "
                                         "attack left standing",
    "accuracy_rises_with_eps": "accuracy rises with eps",
    "transfer_beats_white_box": "a transfer (black-box) attack broke points the white-box "
                                "attacks left standing",
    "score_based_beats_white_box": "a score-based (black-box) attack broke points the "
                                   "white-box attacks left standing: the gradients mislead "
                                   "them (AutoAttack's check)",
    "randomized_model": "the model's outputs differ between two calls on the same inputs: "
                        "use AutoAttack's 'rand' version (expectation over transformation)",
    "probability_outputs": "the model outputs probabilities, not logits: losses on them "
                           "saturate",
    "training_mode": "the model is in training mode (dropout, batch statistics): call "
                     "set_train(False) before evaluating it",
}


# ----------------------------------------------------------------------------- helpers
def _check_eps(eps_values, linf):
    eps = np.asarray(eps_values, dtype=np.float64).reshape(-1)
    if eps.size == 0 or not np.isfinite(eps).all() or (eps < 0).any() or \
            (linf and (eps > 1).any()):
        raise InputError(f"eps must be finite values in {'[0, 1]' if linf else '[0, inf)'}, "
                         f"got {eps_values!r}")
    return eps


def _attack_norm(attack):
    """The Norm an attack's budget is measured in (None: any, e.g. DeepFool's)."""
    return None if _answers_all_eps(attack) else attack.norm


def _answers_all_eps(attack):
    """A minimal attack without a budget (DeepFool): one run gives every point's distance
    to flip, hence success at every eps. A minimal attack with one (FAB) runs per eps."""
    return attack.kind is AttackKind.MINIMAL and attack.eps is None


def _predict(model, x, batch_size):
    return predict_logits(model, x, batch_size).argmax(axis=1).astype(np.int32)


def _minimal_distances(attack, model, x, y, norm, batch_size):
    """(n,) distance (fraction of the range, in ``norm``) of a minimal attack's example
    from each input; inf where the example does not fool ``model``."""
    adv = attack.batch_generate(x, y, batch_size)
    bounds = attack.bounds
    dist = norm.distance(adv, x, (bounds[1] - bounds[0]) if bounds is not None else 1.0)
    dist[_predict(model, adv, batch_size) == y] = np.inf
    return dist


def _sweepable(attack, model):
    """Whether the attack answers every eps from one gradient (:meth:`sweep`) on the
    judged model itself."""
    return attack.sweepable and attack.model is model


def _success(attack, model, x, y, eps, batch_size, norm):
    """(K, n) bool: ``model`` misclassifies ``attack``'s example at each eps."""
    if attack.targeted:
        raise InputError(f"{attack.label}: the runner measures untargeted robustness; "
                         f"pass untargeted attacks")
    if _sweepable(attack, model):
        res = attack.sweep(x, y, eps, batch_size)
        return res.preds != y[None]
    if _answers_all_eps(attack):
        dist = _minimal_distances(attack, model, x, y, norm, batch_size)
        return dist[None] <= eps[:, None] + 1e-6
    bounds = attack.bounds
    scale = (bounds[1] - bounds[0]) if bounds is not None else 1.0
    rows = []
    for e in eps:
        if e == 0:
            rows.append(_predict(model, x, batch_size) != y)
        else:
            adv = attack.generate_at(x, y, float(e), batch_size)
            # a point counts only inside the ball (FAB's minimal examples may lie outside)
            inside = norm.distance(adv, x, scale) <= e * (1 + 1e-5) + 1e-6
            rows.append((_predict(model, adv, batch_size) != y) & inside)
    return np.stack(rows)


# ----------------------------------------------------------------------------- curve
@dataclass
class RobustnessCurve:
    """``success[k, n]``: the attack at ``eps[k]`` made the model misclassify input n
    (inputs already misclassified count as successes)."""
    eps: np.ndarray
    success: np.ndarray

    @property
    def accuracy(self):
        """(K,) accuracy under the attack at each eps."""
        return 1.0 - self.success.mean(axis=1)


def robustness_curve(attack, inputs, labels, eps_values, *, model=None, batch_size=None):
    """Accuracy vs eps for one untargeted ``attack`` in one call.

    Args:
        attack: a mindsec attack (or :class:`~mindsec.attacks.TransferAttack`).
        inputs (np.ndarray): (N, ...) within the attack's bounds.
        labels: class indices (N,) or one-hot (N, K).
        eps_values: budgets, fractions of the data range.
        model (nn.Cell): the model judged; default the attack's own network (required for
            a transfer attack).
        batch_size (int): default automatic.

    Returns:
        RobustnessCurve with ``success`` of shape (K, N).
    """
    model = _judged_model(attack, model)
    norm = _attack_norm(attack) or LINF
    eps = _check_eps(eps_values, norm is LINF)
    x, y, batch_size = _data(model, inputs, labels, batch_size, attack.bounds)
    return RobustnessCurve(eps=eps.astype(np.float32),
                           success=_success(attack, model, x, y, eps, batch_size, norm))


def _judged_model(attack, model):
    if not isinstance(attack, Attack):
        raise InputError(f"attack must be a mindsec attack, got {type(attack).__name__}")
    if model is None:
        if attack.kind is AttackKind.TRANSFER:
            raise InputError("model is required for a transfer attack (the model judged)")
        model = attack.model
        if model is None:
            raise InputError("the attack's network must return logits (pass model=)")
    if not isinstance(model, nn.Cell):
        raise InputError(f"model must be a mindspore.nn.Cell, got {type(model).__name__}")
    return model


def _data(model, inputs, labels, batch_size, bounds):
    x = check_inputs(inputs, bounds)
    y = labels_to_indices("labels", labels, len(x), num_classes(model, x[:1]))
    batch_size = auto_batch_size(x.shape[1:]) if batch_size is None \
        else check_batch_size(batch_size)
    return x, y, min(batch_size, len(x))


# ----------------------------------------------------------------------------- runner
class _GradientProbe(nn.Cell):
    """(x, y) -> (all-zero input gradient of the log-odds loss, saturated softmax)."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network
        self.grad = ops.grad(self._loss, grad_position=0)

    def _loss(self, x, y):
        return log_odds(self.network(x), y).sum()

    @ms.jit
    def construct(self, x, y):
        g = self.grad(x, y).reshape(x.shape[0], -1)
        return ops.abs(g).max(axis=1) == 0, saturated(self.network(x), y)


def gradient_health(model, x, y, batch_size):
    """Fractions of inputs with an all-zero loss gradient and with a saturated softmax."""
    probe = _GradientProbe(model)
    zero = np.empty(len(x), bool)
    sat = np.empty(len(x), bool)
    for start, stop in padded_batches(len(x), batch_size):
        z, s = probe(ms.Tensor(pad_to(x[start:stop], batch_size)),
                     ms.Tensor(pad_to(y[start:stop], batch_size)))
        zero[start:stop] = z.asnumpy()[: stop - start]
        sat[start:stop] = s.asnumpy()[: stop - start]
    return float(zero.mean()), float(sat.mean())


@dataclass
class RobustnessReport:
    """What :func:`evaluate_robustness` found. Accuracies are fractions of ``n`` inputs."""
    eps: list
    n: int
    clean_accuracy: float
    robust_accuracy: list                # worst case over the attacks, per eps
    robust_ci: list                      # (low, high) per eps
    confidence: float
    attacks: list                        # per attack: name, kind, attacked/broken per eps,
                                         # seconds
    zero_gradient_fraction: float
    saturated_fraction: float
    collapse: dict = None                # accuracy at a large eps (the no-collapse check)
    median_distance: float = None        # from a minimal attack, over correct inputs
    flags: list = field(default_factory=list)   # {"flag", "message"}
    standalone: dict = field(default_factory=dict)   # attack -> accuracy per eps, alone

    def to_dict(self):
        return asdict(self)

    def flagged(self, name):
        return any(f["flag"] == name for f in self.flags)

    def format(self):
        """The report as text: one row per eps, then the sanity flags."""
        names = [a["name"] for a in self.attacks]
        widths = [max(8, len(name)) for name in names]
        ci = f"{int(round(self.confidence * 100))}% CI"
        lines = [f"clean accuracy {self.clean_accuracy:.4f} on {self.n} inputs; cascade "
                 f"(inputs broken by each attack, in order): " + " -> ".join(names),
                 f"{'eps':>6}  {'robust acc':>10}  {ci:<18}  "
                 + "  ".join(f"{name:>{w}}" for name, w in zip(names, widths))]
        for k, eps in enumerate(self.eps):
            low, high = self.robust_ci[k]
            lines.append(f"{eps:>6.3f}  {self.robust_accuracy[k]:>10.4f}  "
                         f"{f'[{low:.4f}, {high:.4f}]':<18}  " + "  ".join(
                             f"{a['broken'][k]:>{w}d}" for a, w in zip(self.attacks, widths)))
        if all("seconds" in a for a in self.attacks):
            lines.append("seconds: " + ", ".join(f"{a['name']} {a['seconds']:.1f}"
                                                 for a in self.attacks))
        if self.standalone:
            lines.append("alone: " + "; ".join(
                f"{name} " + " ".join(f"{a:.4f}" for a in acc)
                for name, acc in self.standalone.items()))
        if self.median_distance is not None:
            lines.append(f"median distance to flip a correct input: {self.median_distance:.4f}")
        if self.collapse:
            lines.append(f"no-collapse check: {self.collapse['attack']} at eps "
                         f"{self.collapse['eps']:g} leaves {self.collapse['accuracy']:.4f} "
                         f"of {self.collapse['n']} correct inputs")
        lines.append(f"gradients: {self.zero_gradient_fraction:.2%} all-zero, "
                     f"{self.saturated_fraction:.2%} saturated softmax")
        if self.flags:
            lines += [f"FLAG {f['flag']}: {f['message']}" for f in self.flags]
        else:
            lines.append("sanity flags: none")
        return "\n".join(lines)


def evaluate_robustness(model, data, eps, attacks, *, batch_size=None, confidence=0.95,
                        tol=0.01, collapse_eps=0.5, collapse_max=0.1, collapse_samples=500,
                        log=None, state_dir=None, seed=0, shard=None, chunk=None):
    """Worst-case robust accuracy of ``model`` per eps under a cascade of ``attacks``.

    Args:
        model (nn.Cell): returns logits.
        data (tuple): ``(inputs, labels)``, labels as indices or one-hot.
        eps (list): budgets (fractions of the data range), in the attacks' norm.
        attacks (list): untargeted mindsec attacks on ``model`` (white-box), score-based
            ones (Square) or :class:`~mindsec.attacks.TransferAttack` (black-box); or an
            :class:`~mindsec.evaluations.AutoAttack` (its cascade). Each runs only on the
            points still standing; order: iterative, minimal, single-step, score-based,
            transfer.
        batch_size (int): default automatic.
        confidence (float): level of the Clopper-Pearson intervals. Default 0.95.
        tol (float): fraction of the inputs above which a sanity check flags. Default 0.01.
        collapse_eps (float): the large Linf eps at which the first iterative attack must
            bring accuracy to at most ``collapse_max`` (on ``collapse_samples`` correct
            inputs). None skips the check. At 0.5 of the range every image can be turned
            into the same grey image, so ~0.1 is always reachable.
        log (callable): progress lines.
        state_dir (str): resume: every chunk of points finished is saved there at once, and
            a run started again with the same arguments continues where it stopped (see
            :mod:`mindsec.evaluations.stages`). Each chunk's attacks are then reseeded
            from ``seed`` and the chunk's position.
        seed (int): with ``state_dir`` or ``shard``, the seed the chunks derive theirs from.
        shard (tuple): ``(rank, world)``: this process attacks its share of every stage's
            chunks and the shares are summed across the msrun workers (the result equals
            one process's with the same ``seed``).
        chunk (int): points per chunk (default 500), with ``state_dir`` or ``shard``.

    Returns:
        RobustnessReport (``.format()`` for text, ``.to_dict()`` for JSON).
    """
    log = log or (lambda line: None)
    if hasattr(attacks, "cascade"):                  # an AutoAttack: its attacks
        attacks = attacks.cascade(model, data[0] if isinstance(data, (tuple, list)) and
                                  data else None)
    if not isinstance(attacks, (list, tuple)) or not attacks:
        raise InputError("attacks must be a non-empty list of mindsec attacks")
    for attack in attacks:
        _judged_model(attack, model if isinstance(attack, Attack) and
                      attack.kind is AttackKind.TRANSFER else None)
    norms = {_attack_norm(a) for a in attacks} - {None}
    if len(norms) > 1:
        raise InputError(f"attacks mix norms {sorted(map(repr, norms))}; run one cascade "
                         f"per norm")
    norm = norms.pop() if norms else LINF
    eps = _check_eps(eps, norm is LINF)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise InputError("data must be a pair (inputs, labels)")
    confidence = check_number("confidence", confidence, low=0.0, high=0.999)
    tol = check_number("tol", tol, low=0.0, high=1.0, low_open=False)
    bounds = attacks[0].bounds
    x, y, batch_size = _data(model, data[0], data[1], batch_size, bounds)
    n = len(x)
    order = sorted(attacks, key=lambda a: _ORDER[a.kind])

    store = _store(model, x, y, eps, order, state_dir, seed, shard, chunk, log)
    model_flags = model_checks(model, x[: min(n, 64)])
    correct = _predict(model, x, batch_size) == y
    idx_correct = np.flatnonzero(correct)
    zero_frac, sat_frac = gradient_health(model, x[idx_correct], y[idx_correct], batch_size) \
        if idx_correct.size else (0.0, 0.0)
    log(f"clean accuracy {correct.mean():.4f}; gradients {zero_frac:.2%} zero, "
        f"{sat_frac:.2%} saturated")

    clock = {i: 0.0 for i in range(len(order))}
    standalone, median = _standalone_runs(order, model, x, y, idx_correct, eps, norm,
                                          batch_size, store, clock)
    records = [{"name": a.label, "kind": a.kind.value, "attacked": [], "broken": []}
               for a in order]
    robust = []
    stages = Stages(len(eps) * len(order), "robustness", log=log)
    for k, e in enumerate(eps):
        standing = correct.copy()
        for i, attack in enumerate(order):
            idx = np.flatnonzero(standing)
            broken = np.zeros(0, np.int64)
            began = time.perf_counter()
            if idx.size and e > 0:
                if i in standalone:
                    broken = idx[standalone[i][k, idx]]
                else:
                    hit = _stage(store, f"e{k}-a{i}", attack, idx, (),
                                 lambda part, a=attack, e=eps[k:k + 1]: _success(
                                     a, model, x[part], y[part], e, batch_size, norm)[0])
                    clock[i] += time.perf_counter() - began
                    broken = idx[hit]
            standing[broken] = False
            records[i]["attacked"].append(int(idx.size))
            records[i]["broken"].append(int(broken.size))
            stages.step(f"eps {e:g} {attack.label}: broke {broken.size} of {idx.size} "
                        f"({time.perf_counter() - began:.1f} s)")
        robust.append(int(standing.sum()))
        log(f"eps {e:g}: robust accuracy {standing.mean():.4f}")
    stages.close()
    for i, rec in enumerate(records):
        rec["seconds"] = round(clock[i], 2)

    ci = [tuple(float(v) for v in binomtest(r, n).proportion_ci(confidence, "exact"))
          for r in robust]
    report = RobustnessReport(
        eps=[float(e) for e in eps], n=n, clean_accuracy=float(correct.mean()),
        robust_accuracy=[r / n for r in robust], robust_ci=ci, confidence=confidence,
        attacks=records, zero_gradient_fraction=zero_frac, saturated_fraction=sat_frac)
    report.median_distance = median
    # accuracy under each attack alone: the first of the cascade, and those run once on
    # every correct input (clean errors count as broken)
    first = {0: None} if 0 not in standalone else {}
    for i in list(first) + sorted(standalone):
        broken = standalone[i] if i in standalone else None
        if broken is None:
            acc = [(a - b) / n for a, b in zip(records[0]["attacked"], records[0]["broken"])]
        else:
            acc = (1.0 - (broken | ~correct[None]).mean(axis=1)).tolist()
        report.standalone[records[i]["name"]] = [float(a) for a in acc]
    report.collapse = _collapse_check(order, model, x, y, idx_correct, norm, collapse_eps,
                                      collapse_samples, batch_size)
    report.flags = model_flags + _flags(report, order, correct, tol, collapse_max)
    for f in report.flags:
        log(f"FLAG {f['flag']}: {f['message']}")
    return report


def _standalone_runs(order, model, x, y, idx_correct, eps, norm, batch_size, store, clock):
    """The attacks that answer every eps in one run (DeepFool, the FGSM sweep), once on all
    correct points: ({cascade position: (K, n) success}, median distance or None)."""
    standalone, median = {}, None
    for i, attack in enumerate(order):
        if not idx_correct.size:
            break
        full = np.zeros((eps.size, len(x)), bool)
        began = time.perf_counter()
        if _answers_all_eps(attack):
            dist = _minimal_distances(attack, model, x[idx_correct], y[idx_correct], norm,
                                      batch_size)
            median = float(np.median(dist)) if median is None else median
            full[:, idx_correct] = dist[None] <= eps[:, None] + 1e-6
        elif _sweepable(attack, model):
            full[:, idx_correct] = _stage(
                store, f"all-a{i}", attack, idx_correct, (eps.size,),
                lambda part, a=attack: _success(a, model, x[part], y[part], eps, batch_size,
                                                norm))
        else:
            continue
        clock[i] += time.perf_counter() - began
        standalone[i] = full
    return standalone, median


def _store(model, x, y, eps, order, state_dir, seed, shard, chunk, log):
    """The :class:`~mindsec.evaluations.stages.StageStore` of a resumable or sharded run,
    or None (every stage in one call, as without either)."""
    rank, world = (0, 1) if shard is None else (int(shard[0]), int(shard[1]))
    if state_dir is None and world == 1:
        return None
    from .stages import CHUNK, StageStore, fingerprint, model_fingerprint
    from ..distributed import sum_across
    from .._version import __version__
    manifest = {"inputs": fingerprint(x, y), "model": model_fingerprint(model),
                "eps": [float(e) for e in eps], "attacks": [a.label for a in order],
                "mindsec": __version__}
    return StageStore(state_dir, manifest, seed=check_seed(seed),
                      chunk=CHUNK if chunk is None else check_count("chunk", chunk),
                      rank=rank, world=world, merge=sum_across, log=log)


def _stage(store, key, attack, idx, rows, compute):
    """``compute(idx)``, or, with a store, the same chunk by chunk (resumable, sharded)."""
    if store is None:
        return compute(idx)
    return store.run(key, idx, compute, attack, rows)


def model_checks(model, sample):
    """AutoAttack's checks of the model itself, as flags: outputs that vary between calls
    (a randomised defense, or a model left in training mode), probability outputs."""
    flags = []

    def flag(name, detail):
        flags.append({"flag": name, "message": f"{FLAGS[name]}: {detail}"})

    if getattr(model, "training", False):
        flag("training_mode", "model.training is True")
    first = predict_logits(model, sample, len(sample))
    second = predict_logits(model, sample, len(sample))
    if not np.allclose(first, second, rtol=1e-5, atol=1e-6):
        flag("randomized_model", f"largest difference {np.abs(first - second).max():.3g} on "
             f"{len(sample)} inputs")
    rows = first.sum(axis=1)
    if first.min() >= 0 and first.max() <= 1 and np.allclose(rows, 1.0, atol=1e-4):
        flag("probability_outputs", "every output row is in [0, 1] and sums to 1; attack "
             "the network before its softmax (AutoAttack does where the model is a "
             "SequentialCell ending in nn.Softmax)")
    return flags


def _collapse_check(order, model, x, y, idx, norm, collapse_eps, samples, batch_size):
    if collapse_eps is None or norm is not LINF or not idx.size:
        return None
    iterative = [a for a in order if a.kind is AttackKind.ITERATIVE] or \
        [a for a in order if a.kind is AttackKind.SINGLE_STEP]
    if not iterative:
        return None
    attack = iterative[0]
    pick = idx[: int(samples)]
    hit = _success(attack, model, x[pick], y[pick], np.array([collapse_eps]), batch_size,
                   norm)[0]
    return {"attack": attack.label, "eps": float(collapse_eps), "n": int(pick.size),
            "accuracy": float(1.0 - hit.mean())}


def _rises(acc, n, tol):
    """Indices k where accuracy rises from eps k to k+1 by more than ``tol`` (and by at
    least 3 inputs, so one noisy input does not flag)."""
    acc = np.asarray(acc)
    rise = np.diff(acc)
    return [k for k in range(rise.size) if rise[k] > tol and rise[k] * n >= 3]


def _flags(report, order, correct, tol, collapse_max):
    n = report.n
    n_correct = max(int(correct.sum()), 1)
    flags = []

    def flag(name, detail):
        flags.append({"flag": name, "message": f"{FLAGS[name]}: {detail}"})

    if report.zero_gradient_fraction > tol:
        flag("zero_gradients", f"{report.zero_gradient_fraction:.1%} of correct inputs; "
             f"white-box figures are upper bounds, add transfer or gradient-free attacks")
    if report.saturated_fraction > tol:
        flag("saturated_softmax", f"{report.saturated_fraction:.1%} of correct inputs; "
             f"attacks with stable_loss=False (and MindArmour's) under-report there, "
             f"mindsec's default loss does not")
    if report.collapse and report.collapse["accuracy"] > collapse_max:
        flag("no_collapse", f"{report.collapse['attack']} at eps {report.collapse['eps']:g} "
             f"leaves {report.collapse['accuracy']:.1%} (expected <= {collapse_max:.0%})")
    white = [i for i, a in enumerate(order)
             if a.kind in (AttackKind.ITERATIVE, AttackKind.MINIMAL)]
    for i, attack in enumerate(order):
        rec = report.attacks[i]
        late = [k for k, b in enumerate(rec["broken"]) if b > max(tol * n_correct, 2)]
        if attack.kind is AttackKind.SINGLE_STEP and late and \
                any(a.kind is AttackKind.ITERATIVE for a in order[:i]):
            flag("iterative_weaker_than_single_step", f"{rec['name']} broke "
                 + ", ".join(f"{rec['broken'][k]} at eps {report.eps[k]:g}" for k in late))
        black = {AttackKind.TRANSFER: "transfer_beats_white_box",
                 AttackKind.SCORE_BASED: "score_based_beats_white_box"}.get(attack.kind)
        if black and white and late:
            flag(black, f"{rec['name']} broke "
                 + ", ".join(f"{rec['broken'][k]} at eps {report.eps[k]:g} "
                             f"({rec['broken'][k] / n:.1%} of the inputs)" for k in late))
    curves = [("worst case", report.robust_accuracy)] + list(report.standalone.items())
    for name, acc in curves:
        ks = _rises(acc, n, tol)
        if ks:
            flag("accuracy_rises_with_eps", f"{name}: " + ", ".join(
                f"{acc[k]:.3f} at eps {report.eps[k]:g} -> {acc[k + 1]:.3f} at "
                f"{report.eps[k + 1]:g}" for k in ks))
            break
    return flags


__all__ = ["RobustnessCurve", "RobustnessReport", "robustness_curve", "evaluate_robustness",
           "gradient_health", "FLAGS"]
