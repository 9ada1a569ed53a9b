"""Steps the example scripts and the command line share."""
from pathlib import Path

import mindspore as ms

from . import checkpoint, data, train
from .errors import InputError
from .models import LeNet5


def lenet5(ckpt, source, recipe="default", epochs=None, seed=0, train_samples=None,
           log=print):
    """LeNet5 from ``ckpt``: foreign weights are loaded; a finished mindsec training
    checkpoint is loaded; an unfinished one is resumed to completion; a missing one is
    trained with ``recipe`` on ``source``'s training split and written there (on the 5k
    subset with ``source.epoch_scale`` times the recipe's epochs unless ``epochs`` is
    given)."""
    ms.set_seed(seed)
    net = LeNet5()
    ckpt = Path(ckpt)
    if ckpt.exists():
        _, meta = checkpoint.load(ckpt)
        if "recipe" not in meta:
            checkpoint.load_into(net, ckpt)
            log(f"loaded weights from {ckpt}")
            return net
        check_same_data(ckpt, meta, source.name, log)
        if meta.get("epoch") == meta.get("epochs"):
            checkpoint.load_into(net, ckpt)
            log(f"loaded {ckpt} (recipe {meta['recipe']}, {meta['epoch']} epochs)")
            net.set_train(False)
            return net
    rec = train.get_recipe(recipe, epochs)
    if epochs is None and source.epoch_scale != 1:
        rec = rec.with_epochs(rec.epochs * source.epoch_scale)
    train_x, train_y = data.load_mnist("train", num_samples=train_samples, source=source)
    log(f"training LeNet5 ({rec.name} recipe, {rec.epochs} epochs) -> {ckpt}")
    train.fit(net, train_x, train_y, rec, seed=seed, ckpt_path=ckpt, resume=True, log=log,
              meta={"data": source.name})
    return net


def _family(name):
    return "fashion-mnist" if name == "fashion-mnist" else "mnist"


def check_same_data(ckpt, meta, name, log=print):
    """A checkpoint trained on another dataset (MNIST vs Fashion-MNIST) is refused; the
    MNIST 5k subset against full MNIST only gets a note."""
    trained_on = meta.get("data")
    if trained_on is None or trained_on == name:
        return
    if _family(trained_on) != _family(name):
        raise InputError(f"{ckpt} was trained on {trained_on}, this run uses {name}: pass "
                         f"a --ckpt trained on {name} (attack and defend train a missing one)")
    log(f"note: {ckpt} was trained on {trained_on}, this run uses {name}; pass another "
        f"--ckpt to train afresh")


def copy_of(network):
    """A LeNet5 with the same weights as ``network`` (to defend without touching it).
    Parameters are matched by position and shape, not name: wrapping a Cell in another
    renames its parameters (``inner.conv1.weight``)."""
    twin = LeNet5()
    mine, theirs = twin.get_parameters(), list(network.get_parameters())
    for target, (i, source) in zip(mine, enumerate(theirs)):
        if tuple(target.shape) != tuple(source.shape):
            raise InputError(f"copy_of needs a LeNet5: parameter {i} ({source.name}) has "
                             f"shape {tuple(source.shape)}, LeNet5's {target.name} "
                             f"{tuple(target.shape)}")
        target.set_data(source.data.copy())
    if len(list(twin.get_parameters())) != len(theirs):
        raise InputError(f"copy_of needs a LeNet5: got {len(theirs)} parameters")
    twin.set_train(False)
    return twin


def classifier(model, ckpt, train_x, train_y, recipe="default", epochs=None, seed=0,
               log=print, meta=None):
    """A ``model`` (a name in :data:`mindsec.models.MODELS`) from ``ckpt`` when it holds a
    finished training run, else trained (resumably) on ``train_x``/``train_y`` with
    ``recipe`` and written there."""
    from .models import MODELS  # pylint: disable=import-outside-toplevel
    if model not in MODELS:
        raise InputError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    ms.set_seed(seed)
    net = MODELS[model]()
    ckpt = Path(ckpt)
    if ckpt.exists():
        _, saved = checkpoint.load(ckpt)
        if meta and "data" in meta:
            check_same_data(ckpt, saved, meta["data"], log)
        if saved.get("epoch") is not None and saved.get("epoch") == saved.get("epochs"):
            checkpoint.load_into(net, ckpt)
            log(f"loaded {model} from {ckpt}")
            net.set_train(False)
            return net
    rec = train.get_recipe(recipe, epochs)
    log(f"training {model} ({rec.name} recipe, {rec.epochs} epochs, {len(train_x)} images) "
        f"-> {ckpt}")
    train.fit(net, train_x, train_y, rec, seed=seed, ckpt_path=ckpt, resume=True, log=log,
              meta=meta)
    net.set_train(False)
    return net


def load_model(path, data_name=None, log=print):
    """``(network, name)``: the model a checkpoint names in its metadata (LeNet5 when it
    names none, e.g. MindArmour's own checkpoints) with the checkpoint's weights, in
    inference mode. With ``data_name``, a checkpoint trained on the other dataset family
    is refused (:func:`check_same_data`)."""
    from .models import MODELS  # pylint: disable=import-outside-toplevel
    _, meta = checkpoint.load(path)
    if data_name is not None:
        check_same_data(path, meta, data_name, log)
    name = meta.get("model", "lenet5")
    if name not in MODELS:
        raise InputError(f"checkpoint {path} names model {name!r}; known: {', '.join(MODELS)}")
    net = MODELS[name]()
    checkpoint.load_into(net, path)
    net.set_train(False)
    return net, name


def model_or_lenet5(ckpt, source, recipe="default", epochs=None, seed=0, train_samples=None,
                    log=print):
    """``(network, name)`` from ``ckpt``: a model of another architecture is loaded; a
    LeNet5 checkpoint (or a missing one) goes through :func:`lenet5`, which resumes an
    unfinished training run and trains a missing one."""
    if Path(ckpt).exists():
        _, meta = checkpoint.load(ckpt)
        if meta.get("model", "lenet5") != "lenet5":
            net, name = load_model(ckpt, source.name, log)
            log(f"loaded {name} from {ckpt}")
            return net, name
    return lenet5(ckpt, source, recipe, epochs, seed, train_samples, log), "lenet5"
