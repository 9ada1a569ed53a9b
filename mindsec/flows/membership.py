"""Membership inference against a LeNet5 behind an API, by training length, as a library
call.

    >>> report = flows.membership_inference((train_x, train_y), (test_x, test_y),
    ...                                     members=2000, epochs=[2, 10, 40])
    >>> print(report.format()); report.to_markdown("runs/privacy/membership")

For each number of training epochs, a victim LeNet5 is trained on the first ``members``
training records; the non-members are as many test images. Two attacks score every record
through the API: the confidence threshold (Yeom et al. 2018) and Shokri et al.'s shadow
models (trained the same way on the attacker's own records, ``2 * members`` records of the
second half of the training split, never the victim's). Reports ROC AUC and advantage (max
TPR - FPR) per attack, with the victim's train/test accuracy gap.
"""
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import mindspore as ms

from .. import train
from ..batching import accuracy
from ..checks import check_count
from ..errors import InputError
from ..models import LeNet5
from ..privacy import PredictionAPI, ShadowModelMembershipAttack, ThresholdMembershipAttack

FIGURE = "membership.png"


def check_members(name, members, train_images, test_images):
    """``members`` fits: the victim's records and twice as many shadow records in the two
    halves of ``train_images``, as many non-members among ``test_images``."""
    half = train_images // 2
    if members > half or members > test_images or 2 * members > train_images - half:
        raise InputError(f"{name} {members} is too many for {train_images} training and "
                         f"{test_images} test images")
    return members


@dataclass
class MembershipReport:
    """What :func:`membership_inference` measured, one row per victim training length.
    ``to_dict()`` for JSON, ``format()`` for text, ``to_markdown(out)`` for report.md with
    the AUC-against-epochs figure."""
    data: str
    members: int
    rows: list
    wall_seconds: float

    def to_dict(self):
        return asdict(self)

    def format(self):
        return "\n".join(
            f"{r['epochs']:>3} epochs: train acc {r['train_accuracy']:.4f}, test acc "
            f"{r['test_accuracy']:.4f}; AUC threshold {r['threshold']['auc']:.3f} "
            f"(advantage {r['threshold']['advantage']:.3f}), shadow "
            f"{r['shadow']['auc']:.3f} (advantage {r['shadow']['advantage']:.3f})"
            for r in self.rows)

    def plot(self, path):
        """Both attacks' AUC and 0.5 + the accuracy gap against the training length."""
        from ..plots import line_chart    # pylint: disable=import-outside-toplevel
        rows = self.rows
        epochs = [r["epochs"] for r in rows]
        return line_chart(
            [("confidence threshold", epochs, [r["threshold"]["auc"] for r in rows],
              {"marker": "o"}),
             ("shadow models", epochs, [r["shadow"]["auc"] for r in rows], {"marker": "s"}),
             ("0.5 + train/test accuracy gap", epochs,
              [0.5 + r["train_accuracy"] - r["test_accuracy"] for r in rows],
              {"ls": "--", "color": "grey"})],
            path, "victim training epochs", "membership ROC AUC (0.5 = no leak)",
            "Membership inference: longer training leaks more", log_x=True,
            ylim=(0.45, 1.0), legend_at="upper left")

    def to_markdown(self, out):
        """``out``/report.md with the table and ``out``/membership.png."""
        from ..report import Markdown    # pylint: disable=import-outside-toplevel
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        md = Markdown("Membership inference against a LeNet5 behind a prediction API")
        md.paragraph(f"{self.data}; victims trained on {self.members} records; as many test "
                     f"images as non-members; the attacker's shadow data: {2 * self.members} "
                     f"other training records.")
        md.table(["victim epochs", "train acc", "test acc", "threshold AUC",
                  "threshold advantage", "shadow-model AUC", "shadow-model advantage",
                  "queries"],
                 [[r["epochs"], r["train_accuracy"], r["test_accuracy"],
                   r["threshold"]["auc"], r["threshold"]["advantage"], r["shadow"]["auc"],
                   r["shadow"]["advantage"], r["queries"]] for r in self.rows])
        md.figure(self.plot(out / FIGURE), "Membership ROC AUC against the victim's training "
                                           "length")
        md.paragraph(f"Whole flow {self.wall_seconds:.1f} s.")
        return md.write(out / "report.md")


def membership_inference(train_data, test_data, *, members=2000, epochs=(2, 10, 40), seed=0,
                         data="", log=print):
    """Run the membership flow (see the module docstring) on ``train_data`` and
    ``test_data`` (``(x, y)`` each): one victim per entry of ``epochs``. Returns a
    :class:`MembershipReport`."""
    start = time.perf_counter()
    train_x, train_y = train_data
    test_x, test_y = test_data
    n = check_members("members", check_count("members", members), len(train_x), len(test_x))
    epoch_list = [check_count("epochs", e) for e in epochs]
    half = len(train_x) // 2
    victims_data = (train_x[:n], train_y[:n])
    nonmembers = (test_x[:n], test_y[:n])
    attacker = (train_x[half:half + 2 * n], train_y[half:half + 2 * n])
    rows = []
    for count in epoch_list:
        log(f"victim trained {count} epochs: the two attacks")
        recipe = train.Recipe(f"victim-{count}", "adam", lr=2e-3, batch_size=64,
                              epochs=count)
        ms.set_seed(seed)
        victim = LeNet5()
        train.fit(victim, *victims_data, recipe, seed=seed, log=lambda line: None)
        api = PredictionAPI(victim)
        shadow = ShadowModelMembershipAttack(api, LeNet5, recipe)
        shadow.fit(*attacker, seed=seed + 1, log=lambda line: None)
        row = {"epochs": count, "train_accuracy": accuracy(victim, *victims_data),
               "test_accuracy": accuracy(victim, test_x, test_y),
               "threshold": ThresholdMembershipAttack(api).evaluate(victims_data, nonmembers),
               "shadow": shadow.evaluate(victims_data, nonmembers), "queries": None}
        row["queries"] = api.queries
        rows.append(row)
    return MembershipReport(data=data, members=n, rows=rows,
                            wall_seconds=time.perf_counter() - start)


__all__ = ["MembershipReport", "membership_inference", "check_members"]
