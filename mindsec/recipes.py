"""Training recipes: how a model is trained, as data (no MindSpore import, so the command
line can list and check them before MindSpore loads).

Three recipes ship:

* ``default`` — Adam, batch 128, cosine learning-rate decay from 2e-3 (MindSpore's
  ``cosine_decay_lr``, one value per epoch), 6 epochs: reaches the tutorial's 98.9% on full
  MNIST in less wall time than the tutorial's recipe.
* ``fast`` — Adam, batch 32, a per-step cosine from 2e-3 to 0, 3 epochs: a little more
  accuracy in half the epochs (the undefended model of the ``--full`` NAD flow).
* ``tutorial`` — MindArmour's NAD tutorial: Momentum(lr=0.01, momentum=0.09), batch 32,
  10 epochs, constant learning rate.

``docs/results.md`` has the measurements; :func:`mindsec.train.make_optimizer` turns a
recipe into a MindSpore optimizer.
"""
from dataclasses import asdict, dataclass, replace

from .errors import InputError

# "constant"; "cosine": MindSpore's cosine_decay_lr, one value per epoch, from lr down to
# lr * (1 - cos(pi / epochs)) / 2 in the last epoch; "cosine-step": a cosine from lr to 0
# over every step; "onecycle": a triangle 0 -> lr (at 40%) -> 0, per step
SCHEDULES = ("constant", "cosine", "cosine-step", "onecycle")
OPTIMIZERS = ("adam", "momentum")


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer, learning rate and its schedule, batch size, epochs."""
    name: str
    optimizer: str          # "adam" or "momentum"
    lr: float
    batch_size: int
    epochs: int
    schedule: str = "constant"     # one of SCHEDULES
    momentum: float = 0.9

    def with_epochs(self, epochs):
        return self if epochs is None else replace(self, epochs=int(epochs))


RECIPES = {
    "default": Recipe("default", "adam", lr=2e-3, batch_size=128, epochs=6, schedule="cosine"),
    "fast": Recipe("fast", "adam", lr=2e-3, batch_size=32, epochs=3, schedule="cosine-step"),
    "tutorial": Recipe("tutorial", "momentum", lr=0.01, batch_size=32, epochs=10,
                       momentum=0.09),
}


def get_recipe(name, epochs=None):
    if name not in RECIPES:
        raise InputError(f"recipe must be one of {', '.join(RECIPES)}, got {name!r}")
    recipe = RECIPES[name].with_epochs(epochs)
    if recipe.epochs <= 0:
        raise InputError(f"epochs must be a positive integer, got {recipe.epochs}")
    return recipe


RECIPE_NAMES = tuple(RECIPES)


def recipe_dict(recipe):
    return asdict(recipe)


__all__ = ["Recipe", "RECIPES", "RECIPE_NAMES", "SCHEDULES", "OPTIMIZERS", "get_recipe",
           "recipe_dict"]
