"""Model inversion against a classifier behind an API (MI-Face and C2G), as a library call.

    >>> report = flows.model_inversion(target, evaluator, (test_x, test_y),
    ...                                {"MNIST (disjoint half)": attacker_x})
    >>> print(report.format()); report.to_markdown("runs/privacy/inversion")

The attacker holds the API to ``target`` (white-box where stated) and auxiliary images
(``aux``: ``{name: images}``, e.g. the other half of the training split, or Fashion-MNIST);
``evaluator``, an independent model trained on the target's data, judges the results.

1. MI-Face (Fredrikson et al. 2015), white-box gradients and gradient-free through the API
   (every query counted): one image per class, from the first auxiliary set's mean image.
2. C2G (Kusano & Sakuma 2018), a conditional DCGAN trained on each auxiliary set labelled
   by the API's confidences plus the target's class loss: 100 samples per class.
For every run: the target's and the evaluator's accuracy per class on the generated images,
and a grid (one row per class).
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..batching import predict_logits
from ..checks import check_count, check_number
from ..errors import InputError
from ..privacy import C2GAttack, MIFace, PredictionAPI

CLASSES = 10
C2G_SAMPLES = 100       # per class, judged
SHOWN = 10              # per class, in the figure


def judge(images, classes, target, evaluator):
    """Per-class and overall accuracy of the target and the evaluator on ``images``."""
    out = {}
    for name, net in (("target", target), ("evaluator", evaluator)):
        hit = predict_logits(net, images).argmax(1) == classes
        out[name] = float(hit.mean())
        out[f"{name}_per_class"] = [float(hit[classes == c].mean()) for c in range(CLASSES)]
    return out


def figure_name(key):
    return f"inversion_{key}.png"


@dataclass
class InversionReport:
    """What :func:`model_inversion` measured: ``runs`` by key (``miface_gradient``,
    ``miface_queries``, ``c2g_<aux>``), each with the target's and the evaluator's accuracy
    (overall and per class), the queries and its figure's file name in the report
    directory. ``to_dict()`` for JSON, ``format()`` for text, ``to_markdown(out)`` for
    report.md with the image grids."""
    data: str
    target_test_accuracy: float
    evaluator_test_accuracy: float
    runs: dict
    wall_seconds: float
    # the images of each run's grid, for the figures; not serialised
    images: dict = field(default=None, repr=False, compare=False)

    def to_dict(self):
        return {"data": self.data, "runs": self.runs,
                "target_test_accuracy": self.target_test_accuracy,
                "evaluator_test_accuracy": self.evaluator_test_accuracy,
                "wall_seconds": self.wall_seconds}

    def format(self):
        lines = [f"target test accuracy {self.target_test_accuracy:.4f}, evaluator "
                 f"{self.evaluator_test_accuracy:.4f}"]
        for run in self.runs.values():
            name = f"C2G ({run['aux']})" if "aux" in run else run["title"]
            lines.append(f"{name}: target accuracy {run['target']:.3f}, evaluator accuracy "
                         f"{run['evaluator']:.3f}" +
                         (f" on {run['samples']:,} samples" if "aux" in run else ""))
        return "\n".join(lines)

    def to_markdown(self, out):
        """``out``/report.md with the accuracy table and one grid per run
        (``out``/inversion_<key>.png)."""
        # pylint: disable=import-outside-toplevel
        from ..plots import image_rows
        from ..report import Markdown
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        md = Markdown("Model inversion of a classifier behind a prediction API")
        md.paragraph(f"{self.data}. Target test accuracy {self.target_test_accuracy:.4f}; "
                     f"the independent evaluator's {self.evaluator_test_accuracy:.4f}. "
                     f"Accuracies: the fraction of generated images each model assigns to "
                     f"the class they were generated for.")
        md.section("Accuracy on the generated images").table(
            ["attack", "queries", "images", "target", "evaluator",
             "evaluator per class (0-9)"],
            [[run["title"], run["queries"], run["samples"], run["target"], run["evaluator"],
              " / ".join(f"{a:.0%}" for a in run["evaluator_per_class"])]
             for run in self.runs.values()])
        for key, run in self.runs.items():
            images, labels = self.images[key]
            png = image_rows(images, labels, out / run["figure"], title=run["title"])
            md.figure(png, run["title"] + (f" ({SHOWN} of the {C2G_SAMPLES} samples of each "
                                           f"class)" if "aux" in run else ""))
        md.paragraph(f"Whole flow {self.wall_seconds:.1f} s.")
        return md.write(out / "report.md")


def model_inversion(target, evaluator, test_data, aux, *, c2g_steps=1500,
                    c2g_class_weight=1.0, miface_steps=300, query_steps=150, seed=0,
                    data="", log=print):
    """Run the inversion flow against ``target`` (see the module docstring), judged by
    ``evaluator``; ``test_data`` = ``(x, y)`` gives both models' test accuracy; ``aux``:
    ``{name: the attacker's images}``, C2G trains on each. Returns an
    :class:`InversionReport`."""
    start = time.perf_counter()
    c2g_steps, miface_steps, query_steps = (check_count(name, value) for name, value in (
        ("c2g_steps", c2g_steps), ("miface_steps", miface_steps),
        ("query_steps", query_steps)))
    c2g_class_weight = check_number("c2g_class_weight", c2g_class_weight, low=0.0,
                                    low_open=False)
    if not aux:
        raise InputError("model_inversion needs at least one auxiliary image set")
    x_test, y_test = test_data
    accuracies = [float(np.mean(predict_logits(net, x_test).argmax(1) == y_test))
                  for net in (target, evaluator)]
    report = InversionReport(data=data, target_test_accuracy=accuracies[0],
                             evaluator_test_accuracy=accuracies[1], runs={}, wall_seconds=0.0,
                             images={})
    prior = next(iter(aux.values())).mean(axis=0)        # the attacker's own mean image
    classes = np.arange(CLASSES)

    def record(key, title, images, labels, shown, **extra):
        report.runs[key] = dict(judge(images, labels, target, evaluator), title=title,
                                samples=int(len(images)), figure=figure_name(key), **extra)
        report.images[key] = shown

    log("MI-Face, white-box gradients")
    api = PredictionAPI(target, white_box=True)
    images = MIFace(api, (1, 32, 32), steps=miface_steps, prior=prior).invert(classes)
    record("miface_gradient", "MI-Face, white-box gradients", images, classes,
           (images, classes), queries=api.queries)
    log("MI-Face, gradient-free through the API")
    api = PredictionAPI(target)
    images = MIFace(api, (1, 32, 32), mode="queries", steps=query_steps,
                    prior=prior, seed=seed).invert(classes)
    record("miface_queries", "MI-Face, gradient-free through the API", images, classes,
           (images, classes), queries=api.queries)

    labels = np.repeat(classes, C2G_SAMPLES)
    for aux_name, aux_x in aux.items():
        key = "c2g_" + aux_name.split()[0].split("-")[0].lower()   # c2g_mnist, c2g_fashion
        api = PredictionAPI(target, white_box=True)
        attack = C2GAttack(api, class_weight=c2g_class_weight, seed=seed)
        t0 = time.perf_counter()
        log(f"C2G, auxiliary data: {aux_name}")
        attack.fit(aux_x, steps=c2g_steps, log=log)
        samples = attack.generate(labels, seed=seed)
        shown = samples.reshape(CLASSES, C2G_SAMPLES, *samples.shape[1:])[:, :SHOWN]
        record(key, f"C2G, auxiliary data: {aux_name}", samples, labels,
               (shown.reshape(-1, *samples.shape[1:]), np.repeat(classes, SHOWN)),
               aux=aux_name, queries=api.queries, class_weight=c2g_class_weight,
               steps=c2g_steps, seconds=time.perf_counter() - t0, history=attack.history)
    report.wall_seconds = time.perf_counter() - start
    return report


__all__ = ["InversionReport", "model_inversion", "judge"]
