"""The subcommands of ``mindsec``: each module has ``add_arguments(parser)`` and
``run(args) -> exit code``, and imports MindSpore only when it runs (``--help`` is fast).
The examples in ``examples/`` call the same library flows without options."""
from . import (adv_train, attack, defend, evaluate,
               extract, imagenet, invert, membership, report, status, train, validate)

COMMANDS = {
    "train": (train, "train a classifier (optionally watching its robustness)"),
    "attack": (attack, "attack a model and evaluate the attack (AttackEvaluate)"),
    "adv-train": (adv_train, "adversarial training from random weights (fast, PGD, NAD)"),
    "defend": (defend, "adversarial training (NAD, PGD, fast) and the honest report"),
    "evaluate": (evaluate, "worst-case accuracy vs eps under a cascade of attacks"),
    "report": (report, "a Markdown report with figures on one model's robustness"),
    "extract": (extract, "model extraction through an API (equation solving, knockoff)"),
    "invert": (invert, "model inversion (MI-Face, C2G) against a model behind an API"),
    "membership": (membership, "membership inference (threshold, shadow models) vs training"),
    "imagenet": (imagenet, "FGSM tutorial on a photo with a pretrained ImageNet model"),
    "validate": (validate, "hardware validation: compare a run with a reference device"),
    "status": (status, "what a run did or is doing, from its record (run.json)"),
}
