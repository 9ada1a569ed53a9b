"""MindSpore ``.ckpt`` files written atomically, with a little metadata.

A checkpoint is written to a temporary file in the same directory, flushed, then renamed
over the target, so a run killed at any moment leaves either the previous checkpoint or
the new one, never a half-written file.
"""
from pathlib import Path

import mindspore as ms

from .atomic import atomic_path
from .errors import DataError

_META_PREFIX = "mindsec_"


def save(cell, path, **meta):
    """Save ``cell``'s parameters (and optimizer state if ``cell`` holds it) to ``path``.

    ``meta`` values (int, float, str) are stored beside the parameters and come back from
    :func:`load`.
    """
    path = Path(path)
    with atomic_path(path) as tmp:         # a .ckpt name, as MindSpore wants
        ms.save_checkpoint(cell, str(tmp),
                           append_dict={_META_PREFIX + k: v for k, v in meta.items()})
    return path


def load(path):
    """Read a checkpoint. Returns ``(params, meta)``: a name->Parameter dict and the
    metadata given to :func:`save`. A missing or corrupt file raises ``DataError``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        params = ms.load_checkpoint(str(path))
    except (ValueError, RuntimeError, OSError) as exc:
        raise DataError(f"checkpoint {path} is corrupt or not a MindSpore checkpoint "
                        f"({type(exc).__name__})") from None
    meta = {}
    for key in [k for k in params if k.startswith(_META_PREFIX)]:
        value = params.pop(key)
        meta[key[len(_META_PREFIX):]] = value if isinstance(value, str) \
            else value.asnumpy().item()
    return params, meta


def load_into(cell, path):
    """Load the weights in ``path`` into ``cell``; every parameter of ``cell`` must be found.

    Returns the metadata. Extra entries (optimizer state) are ignored. A parameter saved
    under a prefixed name (``_network._backbone.conv1.weight``: MindSpore renames a
    network's parameters in place when another Cell, e.g. a MindArmour attack, wraps it) is
    found by its unique name suffix.
    """
    params, meta = load(path)
    for param in cell.get_parameters():
        if param.name not in params:
            found = [k for k in params if k.endswith("." + param.name)
                     and not k.startswith(("moments.", "moment1.", "moment2.", "accum."))]
            if len(found) == 1:
                params[param.name] = params[found[0]]
    missing = [p.name for p in cell.get_parameters() if p.name not in params]
    if missing:
        raise DataError(f"checkpoint {path} does not fit this network: missing "
                        f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    try:
        ms.load_param_into_net(cell, params, strict_load=False)
    except (ValueError, RuntimeError) as exc:
        raise DataError(f"checkpoint {path} does not fit this network: "
                        f"{str(exc).splitlines()[0]}") from None
    return meta
