"""Model extraction through a prediction API: equation solving, knockoff nets, transfer.

    python examples/mnist_model_extraction.py                  # a few minutes on 2 CPU cores
    python examples/mnist_model_extraction.py --steps 3000     # longer substitute training

1. Equation solving (Tramer et al. 2016) against a binary logistic regression (digits 3 vs
   5) and a 10-class softmax regression trained here on MNIST: d+1 queries, max relative
   parameter error, and how it degrades when the API rounds its answers.
2. Knockoff extraction of a LeNet5 victim (trained on the FIRST half of the MNIST training
   split): a LeNet5 substitute trained on the API's answers to the attacker's own images
   (the SECOND half, disjoint; off-distribution: Fashion-MNIST when installed), for each
   query budget and for a probability API and a label-only API. Fidelity = agreement with
   the victim on the test split; accuracy = on the true test labels.
3. Transfer: FGSM and PGD (eps 0.3) crafted white-box on the best substitute, replayed on
   the victim; success rate over test images the victim classifies correctly.
Writes a JSON report and a PNG of fidelity vs queries.
"""
import argparse
import sys
import time

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import numpy as np
import mindspore as ms
from mindspore import nn

from mindsec import context, data, train, workflows
from mindsec.attacks import FastGradientSignMethod
from mindsec.batching import predict_logits
from mindsec.cli_support import (add_data_arguments, add_device_argument, check_positive,
                                 data_source, positive_ints, run_main, write_report)
from mindsec.errors import DataError, InputError
from mindsec.evaluations import protocols
from mindsec.models import LeNet5
from mindsec.plots import line_chart
from mindsec.privacy import (EquationSolvingExtraction, KnockoffExtraction, PredictionAPI,
                             parameter_error)


DEFAULT_BUDGETS = "1000,5000,20000"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--victim-ckpt", default="runs/privacy/victim_lenet5.ckpt",
                        help="victim LeNet5 (trained on the first half of the training "
                             "split if missing)")
    parser.add_argument("--budgets", default=None,
                        help="query budgets, comma-separated (default 1000,5000,20000, "
                             "capped at the attacker's pool)")
    parser.add_argument("--steps", type=int, default=800,
                        help="optimizer steps per substitute, whatever the budget "
                             "(default %(default)s)")
    parser.add_argument("--off-distribution", choices=("auto", "yes", "no"), default="auto",
                        help="also query with Fashion-MNIST images (auto: when installed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/privacy/extraction.json")
    return parser.parse_args(argv)


# ----------------------------------------------------------------------- equation solving
def linear_model(x, y, classes, seed):
    """A logistic (classes == 2: one logit) or softmax regression on flattened images."""
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


def equation_solving(train_x, train_y, seed, log):
    rows = []
    pair = np.isin(train_y, (3, 5))
    models = {"binary logistic regression (3 vs 5)":
              linear_model(train_x[pair], (train_y[pair] == 5).astype(np.int32), 2, seed),
              "softmax regression (10 classes)": linear_model(train_x, train_y, 10, seed)}
    for name, (net, weights, bias) in models.items():
        for decimals in (None, 4, 3, 2):
            api = PredictionAPI(net, decimals=decimals)
            extracted = EquationSolvingExtraction(api, train_x.shape[1:]).extract()
            err = parameter_error(extracted, weights, bias)
            rows.append({"model": name, "decimals": decimals, "queries": api.queries,
                         "max_rel_error": err})
            log(f"equation solving, {name}, rounding {decimals}: {api.queries} queries, "
                f"max relative parameter error {err:.3g}")
    return rows


# ----------------------------------------------------------------------- knockoff
def knockoff(victim, pool, pool_name, output, budget, args, test, log):
    x_test, y_test, victim_pred = test       # the victim's answers, computed once
    api = PredictionAPI(victim, output=output, budget=budget)
    ms.set_seed(args.seed)
    substitute = LeNet5()
    epochs = max(1, -(-args.steps * 128 // budget))
    extraction = KnockoffExtraction(api, substitute, epochs=epochs,
                                    batch_size=min(128, budget), seed=args.seed)
    start = time.perf_counter()
    extraction.extract(pool[:budget], log=lambda line: None)
    predicted = predict_logits(substitute, x_test).argmax(1)
    row = {"queries_from": pool_name, "output": output, "budget": budget,
           "queries": api.queries, "epochs": epochs,
           "fidelity": float(np.mean(predicted == victim_pred)),   # = privacy.agreement
           "accuracy": float(np.mean(predicted == y_test)),
           "seconds": time.perf_counter() - start}
    log(f"knockoff, {pool_name} queries, {output} API, budget {budget}: fidelity "
        f"{row['fidelity']:.4f}, accuracy {row['accuracy']:.4f} ({row['seconds']:.0f} s)")
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


def plot(rows, path):
    keys = sorted({(r["queries_from"], r["output"]) for r in rows})
    series = []
    for key in keys:
        pts = sorted((r["budget"], r["fidelity"]) for r in rows
                     if (r["queries_from"], r["output"]) == key)
        series.append((f"{key[0]} queries, {key[1]} API", *zip(*pts), {"marker": "o"}))
    line_chart(series, path, "queries (attacker's images answered by the API)",
               "fidelity (agreement with the victim, test split)",
               "Knockoff extraction of a LeNet5 victim", log_x=True, ylim=(0, 1), hline=0.95)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    check_positive(args, "steps")
    budgets = positive_ints("--budgets", args.budgets or DEFAULT_BUDGETS)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    train_x, train_y = data.load_mnist("train", num_samples=args.train_samples, source=source)
    x_test, y_test = data.load_mnist("test", num_samples=args.test_samples, source=source)
    half = len(train_x) // 2
    pool_size = len(train_x) - half
    if args.budgets is None and budgets[-1] > pool_size:      # e.g. the offline 5k subset
        budgets = [b for b in budgets if b < pool_size] + [pool_size]
        print(f"note: the attacker's pool holds {pool_size} images; budgets {budgets}")
    if budgets[-1] > pool_size:
        raise InputError(f"--budgets: the attacker's pool holds {len(train_x) - half} images "
                         f"(second half of the training split), budget {budgets[-1]} asked")
    print(f"device {target}; {source.describe()}; victim trains on {half} images, the "
          f"attacker queries from the other {len(train_x) - half}")
    victim = workflows.classifier("lenet5", args.victim_ckpt, train_x[:half], train_y[:half],
                                  seed=args.seed, meta={"data": source.name,
                                                        "train_images": half})
    victim_pred = predict_logits(victim, x_test).argmax(1)
    report = {"data": source.describe(), "victim_accuracy": float(np.mean(victim_pred == y_test)),
              "test_images": int(len(x_test))}
    print(f"victim test accuracy {report['victim_accuracy']:.4f}")

    report["equation_solving"] = equation_solving(train_x, train_y, args.seed, print)

    pools = {"MNIST (disjoint half)": train_x[half:]}
    if args.off_distribution != "no" and source.dataset != "mnist":
        print("off-distribution setting skipped: it queries with Fashion-MNIST, and this run's "
              "own data is not MNIST")
    elif args.off_distribution != "no":
        try:
            fashion = data.resolve_data_dir(dataset="fashion-mnist")
            pools["Fashion-MNIST"] = data.load_mnist("train", num_samples=budgets[-1],
                                                     source=fashion)[0]
        except DataError as exc:
            if args.off_distribution == "yes":
                raise
            print(f"off-distribution setting skipped: {exc}")
    rows, best = [], {}
    test = (x_test, y_test, victim_pred)
    for pool_name, pool in pools.items():
        for output in ("probabilities", "label"):
            for budget in budgets:
                row, substitute = knockoff(victim, pool, pool_name, output, budget, args,
                                           test, print)
                rows.append(row)
                if pool_name.startswith("MNIST") and output == "probabilities":
                    best = {"row": row, "net": substitute}
    report["knockoff"] = rows
    report["transfer"] = dict(transfer(victim, best["net"], x_test, y_test, args.seed),
                              substitute=f"{best['row']['output']} API, "
                                         f"{best['row']['budget']} queries")
    t = report["transfer"]
    print(f"transfer from the substitute ({t['substitute']}), success on the victim over "
          f"{t['images']} images: FGSM {t['fgsm_substitute']:.4f} (white-box "
          f"{t['fgsm_white_box']:.4f}), PGD-40 {t['pgd_substitute']:.4f} (white-box "
          f"{t['pgd_white_box']:.4f})")
    write_report(args.out, report, lambda png: plot(rows, png), start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
