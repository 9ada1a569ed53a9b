"""An independent PyTorch side for checking mindsec's AutoAttack: the mindsec networks
rebuilt in PyTorch with the same weights, and a runner for torchattacks' attacks that
returns per-point verdicts.

* :func:`torch_copy` turns a mindsec ``LeNet5`` or ``SmallCNN`` (MindSpore, eval mode) into
  an equivalent ``torch.nn.Module`` (eval mode, float32, weights copied).
* :func:`torch_logits` runs it on numpy inputs.
* :func:`reference` runs one torchattacks attack ("apgd-ce", "apgd-t", "fab-t", "square",
  "autoattack") and says, per point, whether it was fooled within ``eps``.
* :func:`reference_cascade` runs AutoAttack's standard cascade attack by attack (each on the
  points still robust) and returns the cumulative fooled mask after every stage.

torchattacks 3.5.1 semantics this relies on (read from its source):

* ``APGDT(n_classes=K)`` and ``FAB(multi_targeted=True, n_classes=K)`` count the true class:
  they attack ``K - 1`` targets, the 2nd..K-th largest *clean* logits, one after another,
  each only on the points not yet fooled.
* ``AutoAttack(version='standard')`` is a ``MultiAttack`` of APGD(loss='ce'), APGDT,
  FAB(multi_targeted=True) and Square(n_queries=5000), all with ``n_restarts=1`` and the one
  ``seed`` (``time.time()`` when ``seed=None``), but leaves ``steps`` at the constructors'
  default of **10** (the original AutoAttack uses 100). Each attack runs only on the points
  the previous ones left classified correctly (no eps check there: the attacks project).
* Every attack calls ``torch.manual_seed(seed)`` at the start of its ``perturb``, so a rerun
  with the same seed, the same points and the same thread count repeats the result.
* ``Square``'s default ``loss='margin'`` is the logit margin ``z_y - max_{j != y} z_j`` (on the
  model's outputs, i.e. logits here), ``p_init=0.8``, ``resc_schedule=True``.
"""
import inspect
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

DEFAULT_N_CLASSES = 10
ATTACKS = ("apgd-ce", "apgd-t", "fab-t", "square", "autoattack")
CASCADE = ("apgd-ce", "apgd-t", "fab-t", "square")
SLACK = 1e-6


# ---------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------
def _pair(value):
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return int(value[0]), int(value[0])
        return tuple(int(v) for v in value[-2:])
    return int(value), int(value)


def _same_padding(size, kernel, stride, dilation):
    """MindSpore's (and TensorFlow's) "same": output ceil(size / stride), the total padding
    split with the odd pixel at the bottom/right."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class TorchConv2d(nn.Module):
    """A MindSpore ``nn.Conv2d`` (NCHW) in PyTorch: weights (out, in/groups, kh, kw) as in
    torch, explicit padding as (top, bottom, left, right), pad modes "valid", "same", "pad"."""

    def __init__(self, ms_conv):
        super().__init__()
        if getattr(ms_conv, "data_format", "NCHW") != "NCHW":
            raise NotImplementedError(f"only NCHW convolutions, got {ms_conv.data_format}")
        self.pad_mode = str(ms_conv.pad_mode).lower()
        self.kernel = _pair(ms_conv.kernel_size)
        self.stride = _pair(ms_conv.stride)
        self.dilation = _pair(ms_conv.dilation)
        self.groups = int(ms_conv.group)
        if self.pad_mode == "pad":
            pad = ms_conv.padding
            pad = (pad,) * 4 if isinstance(pad, int) else tuple(int(p) for p in pad)
            if len(pad) == 2:          # (h, w)
                pad = (pad[0], pad[0], pad[1], pad[1])
            self.pad = pad             # top, bottom, left, right
        elif self.pad_mode in ("valid", "same"):
            self.pad = None
        else:
            raise NotImplementedError(f"pad_mode {ms_conv.pad_mode!r}")
        self.weight = nn.Parameter(_tensor(ms_conv.weight), requires_grad=False)
        self.bias = nn.Parameter(_tensor(ms_conv.bias), requires_grad=False) \
            if ms_conv.has_bias else None

    def forward(self, x):
        if self.pad_mode == "same":
            top, bottom = _same_padding(x.shape[2], self.kernel[0], self.stride[0],
                                        self.dilation[0])
            left, right = _same_padding(x.shape[3], self.kernel[1], self.stride[1],
                                        self.dilation[1])
        elif self.pad_mode == "pad":
            top, bottom, left, right = self.pad
        else:
            top = bottom = left = right = 0
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class TorchMaxPool2d(nn.Module):
    """A MindSpore ``nn.MaxPool2d`` with pad mode "valid" or "same" (padded cells ignored)."""

    def __init__(self, ms_pool):
        super().__init__()
        self.pad_mode = str(ms_pool.pad_mode).lower()
        if self.pad_mode not in ("valid", "same") or getattr(ms_pool, "use_pad", False):
            raise NotImplementedError(f"MaxPool2d pad_mode {ms_pool.pad_mode!r} with "
                                      "explicit padding")
        if str(getattr(ms_pool, "format", "NCHW")) != "NCHW":
            raise NotImplementedError(f"only NCHW pooling, got {ms_pool.format}")
        self.kernel = _pair(ms_pool.kernel_size)
        self.stride = _pair(ms_pool.stride)

    def forward(self, x):
        if self.pad_mode == "same":
            top, bottom = _same_padding(x.shape[2], self.kernel[0], self.stride[0], 1)
            left, right = _same_padding(x.shape[3], self.kernel[1], self.stride[1], 1)
            x = F.pad(x, (left, right, top, bottom), value=-float("inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


def _tensor(param):
    return torch.from_numpy(np.ascontiguousarray(param.asnumpy(), dtype=np.float32)).clone()


def _linear(ms_dense):
    """A MindSpore ``nn.Dense`` (weight (out, in), like torch) as ``torch.nn.Linear``."""
    if getattr(ms_dense, "activation_flag", False):
        raise NotImplementedError("Dense with a fused activation")
    out_features, in_features = ms_dense.weight.shape
    layer = nn.Linear(in_features, out_features, bias=bool(ms_dense.has_bias))
    with torch.no_grad():
        layer.weight.copy_(_tensor(ms_dense.weight))
        if ms_dense.has_bias:
            layer.bias.copy_(_tensor(ms_dense.bias))
    return layer


class TorchLeNet5(nn.Module):
    """mindsec's LeNet5: conv(valid, no bias) - ReLU - maxpool 2/2, twice, flatten (NCHW),
    dense 400-120-84-K with ReLU between."""

    def __init__(self, net):
        super().__init__()
        self.conv1, self.conv2 = TorchConv2d(net.conv1), TorchConv2d(net.conv2)
        self.pool = TorchMaxPool2d(net.max_pool2d)
        self.fc1, self.fc2, self.fc3 = _linear(net.fc1), _linear(net.fc2), _linear(net.fc3)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class TorchSmallCNN(nn.Module):
    """mindsec's SmallCNN: conv(k4, s2, pad 1) - ReLU, twice, flatten (NCHW), dense
    2048-100 - ReLU - dense 100-K."""

    def __init__(self, net):
        super().__init__()
        self.conv1, self.conv2 = TorchConv2d(net.conv1), TorchConv2d(net.conv2)
        self.fc1, self.fc2 = _linear(net.fc1), _linear(net.fc2)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def _converters():
    from mindsec.models import LeNet5, SmallCNN   # pylint: disable=import-outside-toplevel
    return {LeNet5: TorchLeNet5, SmallCNN: TorchSmallCNN}


def torch_copy(net):
    """An equivalent ``torch.nn.Module`` (eval mode, float32) of a mindsec ``LeNet5`` or
    ``SmallCNN``, its weights copied from ``net``'s parameters (read from the cells, so a
    network whose parameter names were prefixed by a wrapping Cell copies the same).

    Only those two exact classes are accepted (a subclass may compute something else)."""
    converters = _converters()
    build = converters.get(type(net))
    if build is None:
        raise TypeError(f"torch_copy handles {', '.join(c.__name__ for c in converters)} "
                        f"exactly, got {type(net).__module__}.{type(net).__name__}")
    if getattr(net, "training", False):
        raise ValueError("torch_copy wants the network in eval mode: call "
                         "net.set_train(False) first")
    model = build(net).float().eval()
    copied = sum(p.numel() for p in model.parameters())
    expected = sum(int(np.prod(p.shape)) for p in net.get_parameters())
    if copied != expected:
        raise AssertionError(f"copied {copied} weights of {expected}")
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def torch_logits(model, x, batch_size=1024):
    """``model``'s logits for numpy ``x`` (float32 NCHW), as numpy, without gradients."""
    x = np.asarray(x, np.float32)
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(torch.from_numpy(x[start:start + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


# ---------------------------------------------------------------------------------------
# Attacks
# ---------------------------------------------------------------------------------------
def _distance(adv, x, norm):
    diff = (adv - x).reshape(len(x), -1).astype(np.float64)
    if norm == "Linf":
        return np.abs(diff).max(axis=1)
    if norm == "L2":
        return np.sqrt((diff ** 2).sum(axis=1))
    raise ValueError(f"norm must be 'Linf' or 'L2', got {norm!r}")


def _verdict(model, x, adv, y, eps, norm):
    dist = _distance(adv, x, norm)
    pred = torch_logits(model, adv).argmax(axis=1)
    return (pred != y) & (dist <= eps + SLACK), pred, dist


def _build(model, attack, eps, seed, norm, kw):
    """The torchattacks attack with AutoAttack-standard defaults, ``kw`` overriding."""
    import torchattacks   # pylint: disable=import-outside-toplevel
    kw = dict(kw)
    if attack == "apgd-ce":
        args = dict(steps=100, n_restarts=1, loss="ce")
        cls = torchattacks.APGD
    elif attack == "apgd-t":
        args = dict(steps=100, n_restarts=1, n_classes=DEFAULT_N_CLASSES)
        cls = torchattacks.APGDT
    elif attack == "fab-t":
        args = dict(steps=100, n_restarts=1, multi_targeted=True, n_classes=DEFAULT_N_CLASSES)
        cls = torchattacks.FAB
    elif attack == "square":
        args = dict(n_queries=5000, n_restarts=1, p_init=0.8, loss="margin")
        cls = torchattacks.Square
    elif attack == "autoattack":
        # steps / n_queries / ... are not AutoAttack arguments: set on the sub-attacks
        own = set(inspect.signature(torchattacks.AutoAttack.__init__).parameters)
        inner = {k: kw.pop(k) for k in list(kw) if k not in own}
        args = dict(version="standard", n_classes=DEFAULT_N_CLASSES)
        args.update(kw)
        atk = torchattacks.AutoAttack(model, norm=norm, eps=eps, seed=seed, **args)
        subs = atk._autoattack.attacks              # pylint: disable=protected-access
        for name, value in inner.items():
            hit = [sub for sub in subs if hasattr(sub, name)]
            if not hit:
                raise TypeError(f"no AutoAttack sub-attack has a {name!r} setting")
            for sub in hit:
                setattr(sub, name, value)
        return atk
    else:
        raise ValueError(f"attack must be one of {', '.join(ATTACKS)}, got {attack!r}")
    args.update(kw)
    return cls(model, norm=norm, eps=eps, seed=seed, **args)


def _run(atk, x, y, seed):
    torch.manual_seed(seed)        # the attacks reseed themselves; this covers the rest
    return atk(torch.from_numpy(x), torch.from_numpy(y)).detach().numpy().astype(np.float32)


def reference(model, x, y, eps, attack, seed=0, norm="Linf", **kw):
    """Run one torchattacks attack on numpy ``x`` (float32 NCHW in [0, 1]) and class labels
    ``y``.

    ``attack``: "apgd-ce" (APGD loss='ce', steps 100, 1 restart), "apgd-t" (APGDT, 9 target
    classes, steps 100), "fab-t" (FAB multi_targeted, 9 targets, steps 100), "square"
    (n_queries 5000, p_init 0.8, margin loss) or "autoattack" (torchattacks.AutoAttack
    version='standard', whose sub-attacks use steps 10 unless ``steps=`` is given). ``kw``
    overrides the constructor's arguments (for "autoattack", names it lacks, e.g. ``steps``,
    ``n_queries``, are set on every sub-attack that has them).

    Returns ``{"adv", "fooled", "pred", "dist", "seconds"}``: ``fooled[i]`` is True when the
    torch model misclassifies ``adv[i]`` and ``adv[i]`` lies within ``eps`` (+1e-6) of
    ``x[i]`` in ``norm`` (a point misclassified to begin with counts as fooled: the attacks
    return it unchanged).
    """
    x = np.ascontiguousarray(x, np.float32)
    y = np.asarray(y).astype(np.int64)
    atk = _build(model, attack, eps, seed, norm, kw)
    start = time.perf_counter()
    adv = _run(atk, x, y, seed)
    seconds = time.perf_counter() - start
    fooled, pred, dist = _verdict(model, x, adv, y, eps, norm)
    return {"adv": adv, "fooled": fooled, "pred": pred, "dist": dist, "seconds": seconds}


def reference_cascade(model, x, y, eps, seed=0, norm="Linf", **kw):
    """AutoAttack's standard cascade run attack by attack: APGD-CE on the points classified
    correctly, then APGD-T on those still classified correctly, then FAB-T, then Square, each
    built as :func:`reference` builds it (steps 100, 5000 queries, as in the original
    AutoAttack; pass ``steps=10`` to get torchattacks.AutoAttack's own settings). ``kw`` goes
    to every stage whose constructor takes it (``steps`` to the first three, ``n_queries``
    to Square, ``n_restarts``/``n_classes`` where accepted).

    Returns ``{"stages", "fooled", "adv", "robust_accuracy", "seconds"}``: ``stages`` is
    ("clean", "apgd-ce", "apgd-t", "fab-t", "square"), ``fooled[stage]`` the cumulative bool
    mask after that stage ("clean": misclassified to begin with), ``adv`` the first
    successful adversarial of each point (``x`` where none), ``robust_accuracy`` the share
    never fooled, ``seconds[stage]`` each stage's time.
    """
    import torchattacks   # pylint: disable=import-outside-toplevel
    classes = {"apgd-ce": torchattacks.APGD, "apgd-t": torchattacks.APGDT,
               "fab-t": torchattacks.FAB, "square": torchattacks.Square}
    x = np.ascontiguousarray(x, np.float32)
    y = np.asarray(y).astype(np.int64)
    adv = x.copy()
    fooled = torch_logits(model, x).argmax(axis=1) != y
    masks, seconds = {"clean": fooled.copy()}, {"clean": 0.0}
    unknown = set(kw) - {name for cls in classes.values()
                         for name in inspect.signature(cls.__init__).parameters}
    if unknown:
        raise TypeError(f"no cascade stage takes {', '.join(sorted(unknown))}")
    for stage in CASCADE:
        accepted = inspect.signature(classes[stage].__init__).parameters
        stage_kw = {k: v for k, v in kw.items() if k in accepted}
        todo = np.flatnonzero(~fooled)
        start = time.perf_counter()
        if len(todo):
            atk = _build(model, stage, eps, seed, norm, stage_kw)
            adv_todo = _run(atk, x[todo], y[todo], seed)
            hit, _, _ = _verdict(model, x[todo], adv_todo, y[todo], eps, norm)
            adv[todo[hit]] = adv_todo[hit]
            fooled[todo[hit]] = True
        seconds[stage] = time.perf_counter() - start
        masks[stage] = fooled.copy()
    return {"stages": ("clean",) + CASCADE, "fooled": masks, "adv": adv,
            "robust_accuracy": float(1.0 - fooled.mean()), "seconds": seconds}
