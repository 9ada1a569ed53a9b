"""TensorFlow's FGSM tutorial ("Adversarial example using FGSM") on a pretrained ImageNet
classifier, offline, as a library call.

    >>> from mindsec import flows, imagenet
    >>> net, names = imagenet.efficientnet_lite0(), imagenet.class_names()
    >>> report = flows.imagenet_tutorial(net, imagenet.sample_photo("chelsea"), names)
    >>> print(report.format()); report.to_markdown("runs/imagenet")

1. the clean photo's top-1 class and confidence (top-5 kept);
2. the perturbation: the sign of the input gradient of the cross-entropy at that class
   (FGSM's direction), as a picture;
3. adversarial images ``clip(x + eps * sign, 0, 1)`` at each ``eps`` (the tutorial's 0.01,
   0.1, 0.15), with their top-1 classes and confidences;
4. the clean class's probability against eps, from one gradient
   (:meth:`mindsec.attacks.FastGradientSignMethod.sweep`), and the smallest eps of that
   grid that changes the top-1;
5. targeted PGD (Linf, random start) toward a class the caller names.

eps is a fraction of the [0, 1] pixel range (the model normalises inside).
"""
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from mindspore import nn

from ..attacks import FastGradientSignMethod, ProjectedGradientDescent
from ..batching import predict_proba
from ..checks import check_count, check_number
from ..errors import InputError
from ..imagenet import Photo, class_index, preprocess, top_k

TUTORIAL_EPS = (0.01, 0.1, 0.15)
DEFAULT_TARGET = "guacamole"
SWEEP_POINTS = 41


def _short(name):
    return name if len(name) <= 24 else name[:22] + ".."


@dataclass
class ImageNetReport:
    """What :func:`imagenet_tutorial` measured. ``to_dict()`` for JSON, ``format()`` for
    text, ``to_markdown(out)`` for report.md with its figures."""
    model: str
    image: str
    image_note: str
    clean: dict
    adversarial: list
    sweep: dict
    flip_eps: float
    targeted: dict
    seconds: float
    arrays: dict = field(default=None, repr=False, compare=False)   # the figures' pixels

    def to_dict(self):
        out = asdict(self)
        out.pop("arrays")
        return out

    def format(self):
        c, t = self.clean, self.targeted
        lines = [f"\n== FGSM on {self.model}: {self.image}" +
                 (f" ({self.image_note})" if self.image_note else ""),
                 f"clean: {c['name']} ({c['index']}) {c['prob']:.1%}; top-5: " +
                 ", ".join(f"{n} {p:.1%}" for _, n, p in c["top5"]),
                 f"{'eps':>7s}  {'top-1':28s}{'conf':>7s}{'p(' + _short(c['name']) + ')':>30s}"]
        lines += [f"{a['eps']:>7.3f}  {_short(a['name']):28s}{a['prob']:>7.1%}"
                  f"{a['clean_class_prob']:>30.1%}" for a in self.adversarial]
        flip = "no eps of the sweep" if self.flip_eps is None else f"eps {self.flip_eps:g}"
        lines.append(f"FGSM changes the top-1 from {flip} on (sweep of "
                     f"{len(self.sweep['eps'])} eps up to {max(self.sweep['eps']):g})")
        lines.append(f"targeted PGD-{t['steps']} (eps {t['eps']:.4g}) toward {t['name']} "
                     f"({t['index']}): {'reached' if t['reached'] else 'NOT reached'}, "
                     f"p(target) {t['prob']:.1%}, top-1 {t['top1']}")
        lines.append(f"{self.seconds:.1f} s")
        return "\n".join(lines)

    def to_markdown(self, out):
        """``out``/report.md with the figures: the clean photo and the perturbation, the
        adversarial images, the confidence-vs-eps curve, the targeted example."""
        from .. import plots    # pylint: disable=import-outside-toplevel
        from ..report import Markdown    # pylint: disable=import-outside-toplevel
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        a, c, t = self.arrays, self.clean, self.targeted
        md = Markdown(f"FGSM on {self.model}: {self.image}")
        md.paragraph(f"Clean top-1: **{c['name']}** ({c['index']}), {c['prob']:.1%}." +
                     (f" The photo was converted: {self.image_note}." if self.image_note
                      else "") + " eps is a fraction of the [0, 1] pixel range.")
        md.table(["rank", "class", "index", "probability"],
                 [[r + 1, n, i, f"{p:.2%}"] for r, (i, n, p) in enumerate(c["top5"])])
        md.section("The perturbation")
        md.figure(image_row([a["x"], 0.5 + 0.5 * a["sign"]],
                            [f"{_short(c['name'])} {c['prob']:.0%}", "sign of the gradient"],
                            out / "perturbation.png"),
                  "The photo as the model sees it, and the sign of the loss gradient")
        md.section("Adversarial images")
        md.table(["eps", "top-1", "index", "confidence", f"p({c['name']})"],
                 [[f"{v['eps']:g}", v["name"], v["index"], f"{v['prob']:.1%}",
                   f"{v['clean_class_prob']:.1%}"] for v in self.adversarial])
        md.figure(image_row(list(a["adversarial"]),
                            [f"eps {v['eps']:g}: {_short(v['name'])} {v['prob']:.0%}"
                             for v in self.adversarial], out / "adversarial.png"),
                  "FGSM images at each eps with their top-1 class and confidence")
        s = self.sweep
        chart = plots.line_chart(
            [(f"p({c['name']})", s["eps"], [100 * p for p in s["clean_class_prob"]],
              {"marker": "o", "ms": 2})], out / "confidence_vs_eps.png",
            "eps (fraction of the [0, 1] pixel range)", "probability of the clean class (%)",
            "FGSM: one gradient, every eps", ylim=(0, 100), legend_at="upper right")
        flip = "no eps of this grid" if self.flip_eps is None else f"eps {self.flip_eps:g}"
        md.section("Confidence against eps").figure(
            chart, f"The clean class's probability; the top-1 changes from {flip} on")
        md.section(f"Targeted PGD toward {t['name']}")
        md.paragraph(f"PGD-{t['steps']}, Linf eps {t['eps']:.4g}, step {t['eps_iter']:.4g}, "
                     f"random start: {'reached' if t['reached'] else 'did not reach'} "
                     f"{t['name']} ({t['index']}); p(target) {t['prob']:.1%}; top-1 "
                     f"{t['top1']}; Linf distance {t['linf']:.4f}.")
        delta = a["targeted"] - a["x"]
        md.figure(image_row([a["x"], a["targeted"],
                             0.5 + 0.5 * delta / max(float(np.abs(delta).max()), 1e-12)],
                            ["clean", f"{_short(t['top1'])} {t['prob']:.0%}",
                             "perturbation (scaled)"], out / "targeted.png"),
                  "Clean, targeted adversarial image, and its perturbation (scaled to show)")
        md.paragraph(f"{self.seconds:.1f} s.")
        return md.write(out / "report.md")


def image_row(images, captions, path):
    """RGB images (3, H, W) in [0, 1] side by side with captions; PNG at ``path``."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.9), squeeze=False)
    for ax, image, caption in zip(axes[0], images, captions):
        ax.imshow(np.clip(np.asarray(image).transpose(1, 2, 0), 0.0, 1.0))
        ax.set_title(caption, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _sweep_grid(eps):
    grid = np.concatenate([np.linspace(0.0, max(0.2, max(eps)), SWEEP_POINTS),
                           np.linspace(0.0, 0.01, 11), eps])     # finer where FGSM flips
    return np.unique(np.round(grid, 6)).astype(np.float32)


def imagenet_tutorial(net, photo, names, *, eps=TUTORIAL_EPS, target=DEFAULT_TARGET,
                      pgd_eps=8 / 255, pgd_steps=10, seed=0, model="EfficientNet-Lite0"):
    """Run the tutorial on one photo (see the module docstring). ``net``: an ImageNet
    classifier on (N, 3, 224, 224) in [0, 1] returning logits; ``photo``: a
    :class:`mindsec.imagenet.Photo` or an image array; ``names``: the class names;
    ``target``: the targeted attack's class (index or name). Returns an
    :class:`ImageNetReport`."""
    start = time.perf_counter()
    eps = [check_number("eps", e, low=0.0, high=1.0) for e in np.atleast_1d(eps)]
    pgd_eps = check_number("pgd_eps", pgd_eps, low=0.0, high=1.0)
    pgd_steps = check_count("pgd_steps", pgd_steps)
    target = class_index(target, names)
    photo = photo if isinstance(photo, Photo) else Photo(np.asarray(photo), "image array")
    x = preprocess(photo)
    probs = predict_proba(net, x, batch_size=1)[0]
    label = int(probs.argmax())
    if target == label:
        raise InputError(f"the target class {target} ({names[target]}) is already the "
                         f"photo's top-1: name another class")
    y = np.array([label], np.int32)
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    # with no bounds and eps 1 (data units), FGSM returns x + sign(gradient) unclipped
    sign = FastGradientSignMethod(net, eps=1.0, bounds=None, loss_fn=ce).generate(x, y)[0] \
        - x[0]
    adv = np.clip(x[0][None] + np.asarray(eps, np.float32).reshape(-1, 1, 1, 1) * sign,
                  0.0, 1.0).astype(np.float32)
    adv_probs = predict_proba(net, adv, batch_size=len(adv))
    adversarial = [{"eps": e, "index": int(p.argmax()), "name": names[int(p.argmax())],
                    "prob": float(p.max()), "clean_class_prob": float(p[label]),
                    "changed": bool(p.argmax() != label)} for e, p in zip(eps, adv_probs)]
    sweep = FastGradientSignMethod(net, bounds=(0.0, 1.0), loss_fn=ce).sweep(
        x, y, _sweep_grid(eps))
    changed = np.flatnonzero(sweep.preds[:, 0] != label)
    flip = None if changed.size == 0 else float(sweep.eps[changed[0]])
    pgd = ProjectedGradientDescent(net, eps=pgd_eps, eps_iter=pgd_eps / 4, nb_iter=pgd_steps,
                                   is_targeted=True, loss_fn=ce, seed=seed)
    x_t = pgd.generate(x, np.array([target], np.int32))
    t_probs = predict_proba(net, x_t, batch_size=1)[0]
    targeted = {"index": target, "name": names[target], "eps": pgd_eps,
                "eps_iter": pgd_eps / 4, "steps": pgd_steps, "seed": seed,
                "reached": bool(t_probs.argmax() == target), "prob": float(t_probs[target]),
                "top1": names[int(t_probs.argmax())],
                "linf": float(np.abs(x_t - x).max())}
    return ImageNetReport(
        model=model, image=photo.source, image_note=photo.note,
        clean={"index": label, "name": names[label], "prob": float(probs[label]),
               "top5": top_k(probs, names, 5)},
        adversarial=adversarial,
        sweep={"eps": [float(e) for e in sweep.eps],
               "clean_class_prob": [float(p) for p in sweep.label_prob[:, 0]],
               "top1": [int(p) for p in sweep.preds[:, 0]]},
        flip_eps=flip, targeted=targeted, seconds=time.perf_counter() - start,
        arrays={"x": x[0], "sign": sign, "adversarial": adv, "targeted": x_t[0]})


__all__ = ["ImageNetReport", "imagenet_tutorial", "image_row", "TUTORIAL_EPS",
           "DEFAULT_TARGET"]
