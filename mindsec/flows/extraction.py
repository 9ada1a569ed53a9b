"""Model extraction through a prediction API, as a library call.

    >>> report = flows.model_extraction(victim, (train_x, train_y), (test_x, test_y),
    ...                                 budgets=[1000, 5000], pools={"MNIST": attacker_x})
    >>> print(report.format()); report.to_markdown("runs/privacy/extraction")

1. Equation solving (Tramer et al. 2016) against a binary logistic regression (digits 3 vs
   5) and a 10-class softmax regression trained on ``train_data``: d+1 queries, max
   relative parameter error, and how it degrades when the API rounds its answers.
2. Knockoff extraction of the LeNet5 ``victim``: a LeNet5 substitute trained on the API's
   answers to the attacker's own images (each of ``pools``), for each query budget and for
   a probability API and a label-only API. Fidelity = agreement with the victim on
   ``test_data``; accuracy = on its true labels.
3. Transfer: FGSM and PGD-40 (eps 0.3) crafted white-box on the substitute of the first
   pool's probability API at the largest budget, replayed on the victim; success rate over
   the test images the victim classifies correctly.
"""
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import nn

from .. import train
from ..attacks import FastGradientSignMethod
from ..batching import predict_logits
from ..checks import check_count
from ..errors import InputError
from ..evaluations import protocols
from ..models import LeNet5
from ..progress import Stages
from ..privacy import (EquationSolvingExtraction, KnockoffExtraction, PredictionAPI,
                       parameter_error)

OUTPUTS = ("probabilities", "label")
ROUNDINGS = (None, 4, 3, 2)
FIGURE = "extraction.png"


@dataclass
class ExtractionReport:
    """What :func:`model_extraction` measured (fidelity and accuracy are fractions of
    ``test_images``). ``to_dict()`` for JSON, ``format()`` for text, ``to_markdown(out)``
    for report.md with the fidelity-against-queries figure."""
    data: str
    victim_accuracy: float
    test_images: int
    equation_solving: list
    knockoff: list
    transfer: dict
    wall_seconds: float

    def to_dict(self):
        return asdict(self)

    def format(self):
        lines = [f"victim test accuracy {self.victim_accuracy:.4f}"]
        lines += [f"equation solving, {r['model']}, rounding {r['decimals']}: {r['queries']} "
                  f"queries, max relative parameter error {r['max_rel_error']:.3g}"
                  for r in self.equation_solving]
        lines += [f"knockoff, {r['queries_from']} queries, {r['output']} API, budget "
                  f"{r['budget']}: fidelity {r['fidelity']:.4f}, accuracy "
                  f"{r['accuracy']:.4f} ({r['seconds']:.0f} s)" for r in self.knockoff]
        t = self.transfer
        lines.append(f"transfer from the substitute ({t['substitute']}), success on the "
                     f"victim over {t['images']} images: FGSM {t['fgsm_substitute']:.4f} "
                     f"(white-box {t['fgsm_white_box']:.4f}), PGD-40 "
                     f"{t['pgd_substitute']:.4f} (white-box {t['pgd_white_box']:.4f})")
        return "\n".join(lines)

    def plot(self, path):
        """Fidelity against the query budget, one curve per pool and API output."""
        from ..plots import line_chart    # pylint: disable=import-outside-toplevel
        rows = self.knockoff
        series = []
        for key in sorted({(r["queries_from"], r["output"]) for r in rows}):
            pts = sorted((r["budget"], r["fidelity"]) for r in rows
                         if (r["queries_from"], r["output"]) == key)
            series.append((f"{key[0]} queries, {key[1]} API", *zip(*pts), {"marker": "o"}))
        return line_chart(series, path, "queries (attacker's images answered by the API)",
                          "fidelity (agreement with the victim, test split)",
                          "Knockoff extraction of a LeNet5 victim", log_x=True, ylim=(0, 1),
                          hline=0.95)

    def to_markdown(self, out):
        """``out``/report.md with the three tables and ``out``/extraction.png."""
        from ..report import Markdown    # pylint: disable=import-outside-toplevel
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        md = Markdown("Model extraction of a LeNet5 behind a prediction API")
        md.paragraph(f"{self.data}; {self.test_images} test images; victim test accuracy "
                     f"{self.victim_accuracy:.4f}. Every query goes through `PredictionAPI`, "
                     f"which counts it.")
        md.section("Equation solving").table(
            ["model", "API rounding", "queries", "max relative parameter error"],
            [[r["model"], "none" if r["decimals"] is None else f"{r['decimals']} decimals",
              r["queries"], f"{r['max_rel_error']:.3g}"] for r in self.equation_solving])
        md.section("Knockoff extraction").table(
            ["attacker's images", "API answers", "queries", "epochs", "fidelity", "accuracy",
             "seconds"],
            [[r["queries_from"], r["output"], r["queries"], r["epochs"], r["fidelity"],
              r["accuracy"], f"{r['seconds']:.0f}"] for r in self.knockoff])
        md.figure(self.plot(out / FIGURE), "Fidelity (agreement with the victim on the test "
                                           "split) against the query budget")
        t = self.transfer
        md.section("Transfer from the substitute").paragraph(
            f"Substitute: {t['substitute']}; success rates on the victim over the "
            f"{t['images']} test images it classifies correctly.")
        md.table(["attack (eps 0.3)", "crafted on the substitute", "white-box on the victim"],
                 [["FGSM", t["fgsm_substitute"], t["fgsm_white_box"]],
                  ["PGD-40", t["pgd_substitute"], t["pgd_white_box"]]])
        md.paragraph(f"Whole flow {self.wall_seconds:.1f} s.")
        return md.write(out / "report.md")


def linear_model(x, y, classes, seed):
    """A logistic (classes == 2: one logit) or softmax regression on flattened images,
    trained 3 epochs with Adam 1e-2: ``(net, weights, bias)``."""
    ms.set_seed(seed)
    d = int(np.prod(x.shape[1:]))
    binary = classes == 2
    net = nn.SequentialCell([nn.Flatten(), nn.Dense(d, 1 if binary else classes)])
    optimizer = nn.Adam(net.trainable_params(), 1e-2)
    loss = nn.BCEWithLogitsLoss() if binary else nn.SoftmaxCrossEntropyWithLogits(
        sparse=True, reduction="mean")
    step = train.TrainStep(net, loss, optimizer)
    y_loss = y.astype(np.float32)[:, None] if binary else y.astype(np.int32)

    def batch(idx, epoch, i):   # pylint: disable=unused-argument
        return ms.Tensor(x[idx]), ms.Tensor(y[idx].astype(np.int32)), ms.Tensor(y_loss[idx])
    train.run_epochs(step, net, len(x), 128, 3, batch, counts=(("train_acc", 0),),
                     seed=seed, log=lambda line: None)
    net.set_train(False)
    dense = net[1]
    return net, dense.weight.asnumpy(), dense.bias.asnumpy()


def equation_solving(train_x, train_y, seed):
    """Equation solving against the two linear models, unrounded and rounded."""
    rows = []
    pair = np.isin(train_y, (3, 5))
    models = {"binary logistic regression (3 vs 5)":
              linear_model(train_x[pair], (train_y[pair] == 5).astype(np.int32), 2, seed),
              "softmax regression (10 classes)": linear_model(train_x, train_y, 10, seed)}
    for name, (net, weights, bias) in models.items():
        for decimals in ROUNDINGS:
            api = PredictionAPI(net, decimals=decimals)
            extracted = EquationSolvingExtraction(api, train_x.shape[1:]).extract()
            rows.append({"model": name, "decimals": decimals, "queries": api.queries,
                         "max_rel_error": parameter_error(extracted, weights, bias)})
    return rows


def knockoff(victim, pool, pool_name, output, budget, steps, seed, test):
    """One knockoff substitute: ``(row, substitute)``. ``test`` = ``(x, y, victim's
    predictions)``."""
    x_test, y_test, victim_pred = test
    api = PredictionAPI(victim, output=output, budget=budget)
    ms.set_seed(seed)
    substitute = LeNet5()
    epochs = max(1, -(-steps * 128 // budget))
    extraction = KnockoffExtraction(api, substitute, epochs=epochs,
                                    batch_size=min(128, budget), seed=seed)
    start = time.perf_counter()
    extraction.extract(pool[:budget], log=lambda line: None)
    predicted = predict_logits(substitute, x_test).argmax(1)
    row = {"queries_from": pool_name, "output": output, "budget": budget,
           "queries": api.queries, "epochs": epochs,
           "fidelity": float(np.mean(predicted == victim_pred)),   # = privacy.agreement
           "accuracy": float(np.mean(predicted == y_test)),
           "seconds": time.perf_counter() - start}
    return row, substitute


def transfer(victim, substitute, x, y, seed):
    """Success rates on the victim of attacks crafted on ``substitute`` (and, for
    reference, white-box on the victim), over test images the victim gets right."""
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    right = predict_logits(victim, x).argmax(1) == y
    x, y = x[right], y[right]
    out = {"images": int(right.sum())}
    for name, make in (("fgsm", lambda net: FastGradientSignMethod(net, eps=0.3, loss_fn=ce)),
                       ("pgd", lambda net: protocols.pgd("pgd40", net, 0.3, loss_fn=ce,
                                                         seed=seed))):
        for source, net in (("substitute", substitute), ("white_box", victim)):
            adv = make(net).batch_generate(x, y)
            out[f"{name}_{source}"] = float(np.mean(predict_logits(victim, adv).argmax(1) != y))
    return out


def model_extraction(victim, train_data, test_data, *, budgets, steps=800, pools, seed=0,
                     data="", log=print):
    """Run the extraction flow against the LeNet5 ``victim`` (see the module docstring).
    ``train_data``: ``(x, y)`` the linear models of equation solving train on;
    ``pools``: ``{name: attacker's images}`` (each holding at least the largest budget);
    ``budgets``: query budgets; ``steps``: optimizer steps of each substitute, whatever
    the budget. Returns an :class:`ExtractionReport`."""
    start = time.perf_counter()
    budgets = sorted({check_count("budgets", b) for b in budgets})
    steps = check_count("steps", steps)
    if not budgets or not pools:
        raise InputError("model_extraction needs at least one budget and one pool")
    for name, pool in pools.items():
        if len(pool) < budgets[-1]:
            raise InputError(f"pool {name!r} holds {len(pool)} images, budget "
                             f"{budgets[-1]} asked")
    train_x, train_y = train_data
    x_test, y_test = test_data
    victim_pred = predict_logits(victim, x_test).argmax(1)
    log("equation solving: a logistic and a softmax regression, unrounded and rounded")
    solving = equation_solving(train_x, train_y, seed)
    rows, best = [], None
    test = (x_test, y_test, victim_pred)          # the victim's answers, computed once
    stages = Stages(len(pools) * len(OUTPUTS) * len(budgets), "knockoff", unit="substitute",
                    log=log)
    for pool_name, pool in pools.items():
        for output in OUTPUTS:
            for budget in budgets:
                row, substitute = knockoff(victim, pool, pool_name, output, budget, steps,
                                           seed, test)
                rows.append(row)
                stages.step(f"knockoff: {pool_name} queries, {output} API, budget {budget}: "
                            f"fidelity {row['fidelity']:.4f}")
                if pool_name == next(iter(pools)) and output == OUTPUTS[0]:
                    best = {"row": row, "net": substitute}
    stages.close()
    log("transfer: FGSM and PGD-40 crafted on the substitute, replayed on the victim")
    moved = dict(transfer(victim, best["net"], x_test, y_test, seed),
                 substitute=f"{best['row']['output']} API, {best['row']['budget']} queries")
    return ExtractionReport(data=data,
                            victim_accuracy=float(np.mean(victim_pred == y_test)),
                            test_images=int(len(x_test)), equation_solving=solving,
                            knockoff=rows, transfer=moved,
                            wall_seconds=time.perf_counter() - start)


__all__ = ["ExtractionReport", "model_extraction", "linear_model", "equation_solving",
           "knockoff", "transfer"]
