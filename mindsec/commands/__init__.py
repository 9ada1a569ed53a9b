"""The subcommands of ``mindsec``: each module has ``add_arguments(parser)`` and
``run(args) -> exit code``, and imports MindSpore only when it runs (``--help`` is fast).
The example scripts in ``examples/`` run the same code."""
from . import attack, defend, evaluate, report, train, validate

COMMANDS = {
    "train": (train, "train a classifier (optionally watching its robustness)"),
    "attack": (attack, "attack a model and evaluate the attack (AttackEvaluate)"),
    "defend": (defend, "adversarial training (NAD, PGD, fast) and the honest report"),
    "evaluate": (evaluate, "worst-case accuracy vs eps under a cascade of attacks"),
    "report": (report, "a Markdown report with figures on one model's robustness"),
    "validate": (validate, "hardware validation: compare a run with a reference device"),
}
