"""mindsec vs MindArmour, side by side, in one process on real MNIST (32x32).

    python bench/run.py [--device CPU] [--quick] [--ckpt runs/lenet5.ckpt]

Rows (median of --repeats timed runs after one warm-up; samples/s):
  floor   LeNet5 forward and forward+backward w.r.t. the input, compiled, batch 32/64/128/512
  fgsm    FGSM eps=0.3 over the test images: mindsec vs mindarmour at batch 32/128/512 and
          each one's default batch, in GRAPH and PYNATIVE mode, timed interleaved (round
          by round, so a shared machine's load hits both alike); max |difference| between
          mindsec(stable_loss=False) and mindarmour outputs, and each one's adv. accuracy
  sweep   10 eps values (0.03..0.3), scored: mindsec's one-gradient sweep vs mindarmour
          generating and predicting once per eps
  eval    AttackEvaluate, all metrics with SSIM, on the FGSM examples
  pgd     PGD-10 (Linf, eps 0.3, step 0.03, MindArmour's start at x and loss) over the test
          images: mindsec (compiled loop on the device, default batch) vs mindarmour
          batch_generate (default batch), GRAPH and PYNATIVE, with pixel agreement
  nad     one NaturalAdversarialDefense pass at batch 32 over --nad-images training images:
          mindsec's fused step vs mindarmour's batch_defense, GRAPH and PYNATIVE
  torch   PyTorch peer (optional; skipped when torch is not installed): the same LeNet5 and
          weights, FGSM at batch 512, vs mindsec, with perturbation-sign agreement
  knobs   MindSpore runtime settings (oneDNN ISA cap, op/dispatch threads, jit level,
          dataset sink mode), each in a fresh process (bench/knobs.py)
  imagenet FGSM and PGD-10 on EfficientNet-Lite0 at 224x224 (real photos, ImageNet weights):
          mindsec vs the same weights in PyTorch, same CPU, with sign agreement (optional;
          skipped without pip install "mindsec[imagenet]")
  blackbox MindArmour's query attacks (salt and pepper, genetic, HopSkipJump, NES,
          PointWise, PSO) on the first 32 test digits at the same query budget: mindsec
          through a counting PredictionAPI vs mindarmour through a BlackModel (bench/blackbox.py)
  flow    the whole tutorial flow from random weights, each side in a fresh process:
          mindsec's --full recipe vs MindArmour's tutorial recipe (bench/mindarmour_flow.py),
          wall time and accuracies against the targets
Default rows: floor, fgsm, sweep, eval, torch; ``--rows all`` runs every row.
Every run also records a validation fingerprint (mindsec.validation: weights digest, clean
and FGSM accuracy, FGSM perturbation signs of the first 64 images). With --reference
FILE.json (an earlier run, e.g. on CPU) it prints PASS/FAIL per check with its tolerance
and exits 1 on any FAIL — the hardware-validation run:

    python bench/run.py --device GPU --reference bench/results/2026-11-22-CPU.json

Writes bench/results/<date>-<device>.json and .md (the table docs/results.md quotes).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from mindsec import checkpoint, context, data, train, validation
from mindsec.cli_support import check_positive, run_main, write_json
from mindsec.commands.validate import load_reference
from mindsec.errors import InputError
from mindsec.attacks import FastGradientSignMethod, auto_batch_size
from mindsec.batching import predict_logits, predict_proba
from mindsec.evaluations import AttackEvaluate
from mindsec.models import LeNet5
from mindsec.progress import Stages

from blackbox import blackbox_rows, blackbox_table  # noqa: E402  (bench/ is on sys.path)

HERE = Path(__file__).resolve().parent
MODES = {"graph": ms.GRAPH_MODE, "pynative": ms.PYNATIVE_MODE}
FLOOR_BATCHES = (32, 64, 128, 512, 2048)     # 64: MindArmour's default; 2048: mindsec's
ROWS = ("floor", "fgsm", "sweep", "eval", "torch", "pgd", "nad", "knobs", "flow",
        "autoattack", "imagenet", "blackbox")
DEFAULT_ROWS = "floor,fgsm,sweep,eval,torch"


def timed(fns, repeats):
    """Median wall seconds of each of ``fns`` (name -> callable) over ``repeats`` rounds,
    after one warm-up call each. The calls are interleaved round by round, so the load
    from other processes on a shared machine hits every contender alike."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


class _InputGrad(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="sum")
        self.grad = ops.GradOperation()

    def _loss(self, x, y):
        return self.loss(self.net(x), y)

    @ms.jit
    def construct(self, x, y):
        return self.grad(self._loss)(x, y)


class _Forward(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net = net

    @ms.jit
    def construct(self, x):
        return self.net(x)


def floor_rows(net, x, y, repeats):
    rows = []
    fwd, bwd = _Forward(net), _InputGrad(net)
    size = max(len(x), max(FLOOR_BATCHES))      # enough images for one batch of each size
    x, y = np.resize(x, (size,) + x.shape[1:]), np.resize(y, size)
    for bs in FLOOR_BATCHES:
        n = max(bs, (min(len(x), 4096) // bs) * bs)
        xb = [ms.Tensor(x[i:i + bs]) for i in range(0, n, bs)]
        yb = [ms.Tensor(y[i:i + bs]) for i in range(0, n, bs)]

        def run_fwd():
            out = [fwd(b) for b in xb]
            out[-1].asnumpy()

        def run_bwd():
            out = [bwd(a, b) for a, b in zip(xb, yb)]
            out[-1].asnumpy()
        seconds = timed({"fwd": run_fwd, "bwd": run_bwd}, repeats)
        rows.append({"row": "floor", "what": "forward", "batch": bs,
                     "samples_per_s": n / seconds["fwd"]})
        rows.append({"row": "floor", "what": "forward+backward(input)", "batch": bs,
                     "samples_per_s": n / seconds["bwd"]})
    return rows


def fgsm_rows(net, x, y, repeats, mode):
    from mindarmour.adv_robustness.attacks import FastGradientSignMethod as MAFGSM  # noqa
    ms.set_context(mode=MODES[mode])
    onehot = np.eye(10, dtype=np.float32)[y]
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=False)
    ours = FastGradientSignMethod(net, eps=0.3, loss_fn=ce)
    strict = FastGradientSignMethod(net, eps=0.3, loss_fn=ce, stable_loss=False)
    ref = MAFGSM(net, eps=0.3, loss_fn=ce)
    outputs, fns, meta = {}, {}, {}
    for who, attack in (("mindsec", ours), ("mindarmour", ref)):
        default = auto_batch_size(x.shape[1:]) if who == "mindsec" else 64
        for bs in (32, 128, 512, None):
            kwargs = {} if bs is None else {"batch_size": bs}
            key = (who, bs)
            fns[key] = (lambda a=attack, k=kwargs, key=key:
                        outputs.__setitem__(key, a.batch_generate(x, onehot, **k)))
            meta[key] = f"default ({default})" if bs is None else bs
    seconds = timed(fns, repeats)
    rows = [{"row": "fgsm", "mode": mode, "impl": who, "batch": meta[(who, bs)],
             "samples_per_s": len(x) / seconds[(who, bs)],
             "adv_accuracy": float(np.mean(predict_logits(net, outputs[(who, bs)])
                                           .argmax(1) == y))}
            for who, bs in fns]
    diff = float(np.abs(strict.batch_generate(x, onehot) - outputs[("mindarmour", None)]).max())
    ms.set_context(mode=ms.GRAPH_MODE)
    return rows, diff, ours.stats["saturated"], outputs[("mindsec", None)]


def sweep_rows(net, x, y, repeats):
    from mindarmour.adv_robustness.attacks import FastGradientSignMethod as MAFGSM  # noqa
    eps_values = np.linspace(0.03, 0.3, 10)
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    ours = FastGradientSignMethod(net, loss_fn=ce)
    result = {}

    def mindsec_sweep():
        result["ours"] = ours.sweep(x, y, eps_values).accuracy

    def mindarmour_loop():
        accs = []
        for eps in eps_values:
            adv = MAFGSM(net, eps=float(eps), loss_fn=ce).batch_generate(x, y)
            accs.append(np.mean(predict_logits(net, adv, 64).argmax(1) == y))
        result["ref"] = np.array(accs)
    seconds = timed({"ours": mindsec_sweep, "ref": mindarmour_loop}, max(1, min(repeats, 3)))
    t_ours, t_ref = seconds["ours"], seconds["ref"]
    return [{"row": "sweep", "impl": "mindsec", "samples_per_s": len(x) / t_ours,
             "seconds": t_ours, "adv_accuracy": result["ours"].round(4).tolist()},
            {"row": "sweep", "impl": "mindarmour", "samples_per_s": len(x) / t_ref,
             "seconds": t_ref, "adv_accuracy": result["ref"].round(4).tolist()}]


def eval_rows(net, x, y, adv, repeats):
    from mindarmour.adv_robustness.evaluations import AttackEvaluate as MAEval  # noqa
    probs = predict_proba(net, adv)
    onehot = np.eye(10, dtype=np.float32)[y]
    def evaluate(cls):
        ev = cls(x, onehot, adv, probs)
        return (ev.mis_classification_rate(), ev.avg_conf_adv_class(),
                ev.avg_conf_true_class(), ev.avg_lp_distance(), ev.avg_ssim(), ev.nte())
    seconds = timed({"mindsec": lambda: evaluate(AttackEvaluate),
                     "mindarmour": lambda: evaluate(MAEval)}, repeats)
    return [{"row": "eval", "impl": who, "seconds": seconds[who],
             "samples_per_s": len(x) / seconds[who], "ssim": float(evaluate(cls)[4])}
            for who, cls in (("mindsec", AttackEvaluate), ("mindarmour", MAEval))]


def pgd_rows(net, x, y, repeats):
    from mindarmour.adv_robustness.attacks import ProjectedGradientDescent as MAPGD  # noqa
    from mindsec.attacks import ProjectedGradientDescent  # noqa
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    kw = dict(eps=0.3, eps_iter=0.03, nb_iter=10)
    rows = []
    for mode in ("graph", "pynative"):
        ms.set_context(mode=MODES[mode])
        ours = ProjectedGradientDescent(net, loss_fn=ce, rand_init=False, stable_loss=False,
                                        **kw)
        ref = MAPGD(net, loss_fn=ce, **kw)
        out = {}
        seconds = timed({"mindsec": lambda: out.__setitem__("mindsec",
                                                            ours.batch_generate(x, y)),
                         "mindarmour": lambda: out.__setitem__("mindarmour",
                                                               ref.batch_generate(x, y))},
                        max(1, min(repeats, 3)))
        agree = float(np.mean(np.abs(out["mindsec"] - out["mindarmour"]) <= 1e-5))
        rows += [{"row": "pgd", "mode": mode, "impl": who, "seconds": seconds[who],
                  "samples_per_s": len(x) / seconds[who], "pixel_agreement": agree,
                  "adv_accuracy": float(np.mean(predict_logits(net, out[who], 1000)
                                                .argmax(1) == y))} for who in seconds]
    ms.set_context(mode=ms.GRAPH_MODE)
    return rows


def autoattack_rows(ckpt, source, n_images, repeats):
    """AutoAttack standard (Linf 0.3) on the first ``n_images`` test images of the model in
    ``ckpt``: mindsec's cascade against torchattacks' run attack by attack on the same
    weights rebuilt in PyTorch (``tests/torch_reference.py``), same CPU, same images,
    PyTorch given every core; plus APGD-CE alone against the compiled forward+backward
    floor of that model at the same batch."""
    import torch  # pylint: disable=import-outside-toplevel
    sys.path.insert(0, str(HERE.parent / "tests"))
    import torch_reference as tr  # pylint: disable=import-outside-toplevel,import-error
    from mindsec import workflows  # pylint: disable=import-outside-toplevel
    from mindsec.attacks import AutoProjectedGradientDescent  # pylint: disable=import-outside-toplevel
    from mindsec.evaluations import AutoAttack  # pylint: disable=import-outside-toplevel
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    net, arch = workflows.load_model(ckpt, source.name)
    net.set_train(False)
    x, y = data.load_mnist("test", num_samples=n_images, source=source)
    aa = AutoAttack(net, "Linf", 0.3, seed=0)
    began = time.perf_counter()
    aa.batch_generate(x, y)
    ours = time.perf_counter() - began
    ref = tr.reference_cascade(tr.torch_copy(net), x, y, 0.3, seed=0)
    theirs = float(sum(ref["seconds"].values()))
    graphs = sum(len(a.shapes) for a in aa.last_run
                 if isinstance(a, AutoProjectedGradientDescent))
    rows = [{"row": "autoattack", "impl": "mindsec", "model": arch, "images": n_images,
             "seconds": ours, "seconds_per_image": ours / n_images,
             "robust_accuracy": float(np.mean(aa.broken_by == ""))},
            {"row": "autoattack", "impl": "torchattacks", "model": arch, "images": n_images,
             "seconds": theirs, "seconds_per_image": theirs / n_images,
             "robust_accuracy": ref["robust_accuracy"],
             "stage_seconds": ref["seconds"]}]
    apgd = AutoProjectedGradientDescent(net, eps=0.3, nb_iter=100, seed=0)
    batch = min(len(x), 2048)
    apgd.batch_generate(x[:batch], y[:batch])            # compile
    seconds = timed({"apgd": lambda: apgd.batch_generate(x[:batch], y[:batch])},
                    max(1, min(repeats, 2)))["apgd"]
    floor = next(r for r in floor_rows(net, x[:batch], y[:batch], repeats)
                 if r["batch"] == min(FLOOR_BATCHES, key=lambda b: abs(b - batch)) and
                 r["what"].startswith("forward+"))
    rows.append({"row": "autoattack", "impl": "apgd-ce", "model": arch, "batch": batch,
                 "samples_per_s": batch * 100 / seconds, "floor_batch": floor["batch"],
                 "floor_samples_per_s": floor["samples_per_s"], "graphs": graphs,
                 "fooled": apgd.stats["fooled"]})
    return rows


def nad_rows(net, source, n_images, repeats):
    """One NaturalAdversarialDefense pass (eps 0.3, batch 32, Momentum(0.01, 0.09) as in
    the tutorial) over ``n_images`` training images: mindsec's fused step vs mindarmour's
    batch_defense, GRAPH and PYNATIVE, timed interleaved."""
    from mindarmour.adv_robustness.defenses import NaturalAdversarialDefense as MANAD  # noqa
    from mindsec.defenses import NaturalAdversarialDefense  # noqa
    from mindsec.workflows import copy_of  # noqa
    x, y = data.load_mnist("train", num_samples=n_images, source=source)
    rows = []
    for mode in ("graph", "pynative"):
        ms.set_context(mode=MODES[mode])
        makers = {}
        for who, cls in (("mindsec", NaturalAdversarialDefense), ("mindarmour", MANAD)):
            twin = copy_of(net)
            loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
            opt = nn.Momentum(twin.trainable_params(), 0.01, 0.09)
            defense = cls(twin, loss_fn=loss, optimizer=opt, bounds=(0.0, 1.0), eps=0.3)
            makers[who] = (lambda d=defense: d.batch_defense(x, y, batch_size=32, epochs=1))
        seconds = timed(makers, repeats)
        rows += [{"row": "nad", "mode": mode, "impl": who, "batch": 32, "images": n_images,
                  "seconds": seconds[who], "samples_per_s": n_images / seconds[who],
                  "epoch_60k_s": 60000 * seconds[who] / n_images} for who in makers]
    ms.set_context(mode=ms.GRAPH_MODE)
    return rows


def _torch_lenet5(net):
    """The same LeNet5 in PyTorch with ``net``'s weights (torch is imported here: it is
    optional)."""
    import torch  # pylint: disable=import-outside-toplevel
    import torch.nn.functional as F  # pylint: disable=import-outside-toplevel

    class TorchLeNet5(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 6, 5, bias=False)
            self.conv2 = torch.nn.Conv2d(6, 16, 5, bias=False)
            self.fc1 = torch.nn.Linear(400, 120)
            self.fc2 = torch.nn.Linear(120, 84)
            self.fc3 = torch.nn.Linear(84, 10)

        def forward(self, t):
            t = F.max_pool2d(F.relu(self.conv1(t)), 2)
            t = F.max_pool2d(F.relu(self.conv2(t)), 2).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(t)))))
    peer = TorchLeNet5()
    with torch.no_grad():      # same parameter order: conv1, conv2, fc1 w/b, fc2, fc3
        for mine, theirs in zip(peer.parameters(), net.get_parameters()):
            mine.copy_(torch.from_numpy(theirs.asnumpy()))
    return peer


def torch_rows(net, x, y, repeats):
    """FGSM eps 0.3 at batch 512 over the test images: PyTorch (same LeNet5, same weights,
    softmax cross-entropy summed, its default threads) vs mindsec (the same loss,
    ``stable_loss=False``), interleaved; the fraction of perturbation signs that agree
    where both gradients are non-zero. Empty when torch is not installed."""
    try:
        import torch  # pylint: disable=import-outside-toplevel
        import torch.nn.functional as F  # pylint: disable=import-outside-toplevel
    except ImportError:
        print("torch row skipped: PyTorch is not installed", flush=True)
        return []
    peer = _torch_lenet5(net)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    out = {}

    def torch_fgsm(bs=512):
        advs = []
        for i in range(0, len(xt), bs):
            xb = xt[i:i + bs].clone().requires_grad_(True)
            loss = F.cross_entropy(peer(xb), yt[i:i + bs], reduction="sum")
            grad, = torch.autograd.grad(loss, xb)
            advs.append((xb.detach() + 0.3 * grad.sign()).clamp_(0.0, 1.0))
        out["pytorch"] = torch.cat(advs).numpy()

    ours = FastGradientSignMethod(net, eps=0.3, stable_loss=False,
                                  loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True))
    seconds = timed({"pytorch": torch_fgsm,
                     "mindsec": lambda: out.__setitem__(
                         "mindsec", ours.batch_generate(x, y, batch_size=512))}, repeats)
    d_torch, d_ours = out["pytorch"] - x, out["mindsec"] - x
    both = (d_torch != 0) & (d_ours != 0)
    agree = float(np.mean(np.sign(d_torch[both]) == np.sign(d_ours[both])))
    return [{"row": "torch", "impl": who, "batch": 512, "seconds": seconds[who],
             "samples_per_s": len(x) / seconds[who], "sign_agreement": agree,
             "pixels_equal": float(np.mean(out["pytorch"] == out["mindsec"])),
             "threads": torch.get_num_threads(), "torch_version": torch.__version__,
             "adv_accuracy": float(np.mean(predict_logits(net, out[who]).argmax(1) == y))}
            for who in ("mindsec", "pytorch")]


def _torch_efficientnet():
    """The PyTorch reference EfficientNet-Lite0 (the package's architecture and weights)
    taking [0, 1] input, like mindsec's port (which normalises inside)."""
    import torch  # pylint: disable=import-outside-toplevel
    from efficientnet_lite_pytorch import EfficientNet  # pylint: disable=import-outside-toplevel
    from mindsec import imagenet  # pylint: disable=import-outside-toplevel
    body = EfficientNet.from_name("efficientnet-lite0")
    body.load_state_dict(torch.load(str(imagenet.source_weights()), map_location="cpu",
                                    weights_only=True), strict=True)

    class Peer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, t):
            return self.body((t * 255.0 - 127.0) / 128.0)
    return Peer().eval()


def imagenet_rows(repeats, batch=8):
    """FGSM (eps 2/255) and PGD-10 (Linf 8/255, step 2/255, from x) on EfficientNet-Lite0
    at 224x224, ``batch`` real photos: mindsec (its port, softmax cross-entropy as given,
    ``stable_loss=False``) vs PyTorch on the same weights, same CPU, interleaved."""
    from mindsec import imagenet  # pylint: disable=import-outside-toplevel
    from mindsec.errors import MindsecError  # pylint: disable=import-outside-toplevel
    try:
        import torch  # pylint: disable=import-outside-toplevel
        import torch.nn.functional as F  # pylint: disable=import-outside-toplevel
        net = imagenet.efficientnet_lite0(log=print)
        peer = _torch_efficientnet()
    except (ImportError, MindsecError) as exc:
        print(f"imagenet row skipped: {exc}", flush=True)
        return []
    from mindsec.attacks import ProjectedGradientDescent  # pylint: disable=import-outside-toplevel
    names = ("chelsea", "coffee", "rocket", "astronaut", "stereo_motorcycle")
    x = imagenet.preprocess([imagenet.sample_photo(n) for n in names])
    x = np.resize(x, (batch,) + x.shape[1:]).astype(np.float32)
    y = predict_logits(net, x, batch).argmax(1).astype(np.int32)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    eps, step = 8 / 255, 2 / 255
    attacks = {"fgsm": FastGradientSignMethod(net, eps=2 / 255, loss_fn=ce, stable_loss=False),
               "pgd10": ProjectedGradientDescent(net, eps=eps, eps_iter=step, nb_iter=10,
                                                 loss_fn=ce, rand_init=False,
                                                 stable_loss=False)}

    def torch_attack(steps, size, radius):
        adv = xt.clone()
        for _ in range(steps):
            adv.requires_grad_(True)
            grad, = torch.autograd.grad(F.cross_entropy(peer(adv), yt, reduction="sum"), adv)
            adv = adv.detach() + size * grad.sign()
            adv = torch.min(torch.max(adv, xt - radius), xt + radius).clamp_(0.0, 1.0)
        return adv.numpy()
    peers = {"fgsm": lambda: torch_attack(1, 2 / 255, 2 / 255),
             "pgd10": lambda: torch_attack(10, step, eps)}
    rows = []
    for what, attack in attacks.items():
        out = {}
        seconds = timed({"mindsec": lambda a=attack: out.__setitem__(
                             "mindsec", a.batch_generate(x, y, batch_size=batch)),
                         "pytorch": lambda w=what: out.__setitem__("pytorch", peers[w]())},
                        max(1, min(repeats, 3)))
        d_ours, d_peer = out["mindsec"] - x, out["pytorch"] - x
        both = (d_ours != 0) & (d_peer != 0)
        rows += [{"row": "imagenet", "attack": what, "impl": who, "batch": batch,
                  "seconds": seconds[who], "samples_per_s": batch / seconds[who],
                  "sign_agreement": float(np.mean(np.sign(d_ours[both]) ==
                                                  np.sign(d_peer[both]))),
                  "threads": torch.get_num_threads(), "torch_version": torch.__version__}
                 for who in ("mindsec", "pytorch")]
    return rows


def _imagenet_table(rows):
    found = [r for r in rows if r["row"] == "imagenet"]
    if not found:
        return []
    pair = {(r["attack"], r["impl"]): r for r in found}
    first = found[0]
    lines = ["", f"EfficientNet-Lite0, 224x224, batch {first['batch']} real photos, same "
                 f"weights in PyTorch (torch {first['torch_version']}, {first['threads']} "
                 f"threads):", "",
             "| attack | mindsec samples/s | PyTorch samples/s | PyTorch / mindsec | "
             "signs agree |", "|---|---:|---:|---:|---:|"]
    for what, label in (("fgsm", "FGSM eps 2/255"), ("pgd10", "PGD-10 Linf 8/255")):
        ours, peer = pair[(what, "mindsec")], pair[(what, "pytorch")]
        lines.append(f"| {label} | {ours['samples_per_s']:.2f} | {peer['samples_per_s']:.2f} "
                     f"| {peer['samples_per_s'] / ours['samples_per_s']:.2f}x | "
                     f"{ours['sign_agreement']:.4%} |")
    return lines


def flow_rows(quick, data_dir, device, log=print):
    """The whole tutorial flow, each side in a fresh process from random weights: mindsec's
    documented recipe (``mindsec defend --full``) vs MindArmour's tutorial
    recipe (``bench/mindarmour_flow.py``), wall time and the accuracies reached. mindsec's
    time to result leaves out its PGD rows, which the reference does not compute. --quick:
    10,000 training and 1,000 test images, 2 epochs of each phase (times only: the
    targets need the full run)."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel
    root = HERE.parent
    common = (["--data-dir", str(data_dir)] if data_dir else []) + ["--device", device]
    if quick:
        common += ["--train-samples", "10000", "--test-samples", "1000"]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        commands = {
            "mindsec": [sys.executable, "-m", "mindsec.cli", "defend", *common, "--ckpt",
                        str(work / "lenet5.ckpt"), "--train-if-missing",
                        "--out", str(work / "mindsec")]
                       + (["--epochs", "2", "--nad-epochs", "2"] if quick else ["--full"]),
            "mindarmour": [sys.executable, str(HERE / "mindarmour_flow.py"), *common,
                           "--out", str(work / "mindarmour.json")]
                          + (["--epochs", "2", "--nad-epochs", "2"] if quick else []),
        }
        for who, command in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(command, capture_output=True, text=True, check=False,
                                  cwd=root)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"flow row: {who} failed: "
                                   f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            report = json.loads((work / "mindsec" / "report.json" if who == "mindsec" else
                                 work / f"{who}.json").read_text())
            extra = report.get("pgd_seconds", 0.0)
            row = {"row": "flow", "impl": who, "seconds": wall,
                   "seconds_to_result": wall - extra, "pgd_seconds": extra,
                   "clean": report["undefended"]["clean"],
                   "fgsm": report["undefended"]["fgsm"],
                   "defended_clean": report["defended"]["clean"],
                   "transfer": report["defended"]["fgsm_transfer"],
                   "command": "python " + " ".join(
                       str(Path(c).relative_to(root)) if c.startswith(str(root)) else
                       c.replace(str(work), "TMP") for c in command[1:])}
            row["targets_met"] = bool(row["clean"] >= 0.989 and row["fgsm"] <= 0.08 and
                                      row["defended_clean"] >= 0.974 and
                                      row["transfer"] >= 0.856)
            log(f"flow {who}: {wall:.1f} s, clean {row['clean']:.4f}, fgsm {row['fgsm']:.4f}, "
                f"defended {row['defended_clean']:.4f}, transfer {row['transfer']:.4f}")
            rows.append(row)
    return rows


def knob_rows(rounds, device, data_dir):
    """MindSpore runtime settings, each in its own process (bench/knobs.py)."""
    sys.path.insert(0, str(HERE))
    import knobs  # pylint: disable=import-outside-toplevel
    return knobs.run_settings(rounds=rounds, device=device, data_dir=data_dir, log=print)


def get_model(ckpt, quick, source):
    ms.set_seed(0)
    net = LeNet5()
    if ckpt and Path(ckpt).exists():
        checkpoint.load_into(net, ckpt)
        return net, str(ckpt)
    n = 10000 if quick else None
    recipe = train.get_recipe("default", 2 if quick else None)
    tx, ty = data.load_mnist("train", num_samples=n, source=source)
    train.fit(net, tx, ty, recipe, log=lambda s: None)
    return net, f"trained here: default recipe, {recipe.epochs} epochs on {len(tx)} images"


def markdown(result):
    lines = [f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; "
             f"MindSpore {result['versions']['mindspore']}, MindArmour "
             f"{result['versions']['mindarmour']}; {result['images']} test images; model "
             f"{result['model']}; median of {result['repeats']} runs. Command: "
             f"`{result['command']}`", "",
             ]
    if any(r["row"] in ("floor", "fgsm") for r in result["rows"]):
        lines += ["| row | mode | impl | batch | samples/s | vs mindarmour default | vs floor "
                  "| adv. acc |", "|---|---|---|---|---:|---:|---:|---:|"]
    floor = {r["batch"]: r["samples_per_s"] for r in result["rows"]
             if r["row"] == "floor" and r["what"].startswith("forward+")}
    ref = {(r["mode"]): r["samples_per_s"] for r in result["rows"]
           if r["row"] == "fgsm" and r["impl"] == "mindarmour" and str(r["batch"]).startswith("default")}
    for r in result["rows"]:
        if r["row"] == "floor":
            lines.append(f"| floor | compiled | {r['what']} | {r['batch']} | "
                         f"{r['samples_per_s']:,.0f} | | | |")
        elif r["row"] == "fgsm":
            bs = r["batch"] if isinstance(r["batch"], int) else int(str(r["batch"]).split("(")[1][:-1])
            vs_floor = f"{r['samples_per_s'] / floor[bs]:.2f}" if bs in floor else \
                "- (no floor row)"
            lines.append(f"| fgsm | {r['mode']} | {r['impl']} | {r['batch']} | "
                         f"{r['samples_per_s']:,.0f} | {r['samples_per_s'] / ref[r['mode']]:.2f}x"
                         f" | {vs_floor} | {100 * r['adv_accuracy']:.2f}% |")
    tasks = []
    for row, label in (("sweep", "eps sweep, 10 eps, scored"),
                       ("eval", "AttackEvaluate, all metrics"),
                       ("pgd", "PGD-10 Linf, default batches"),
                       ("nad", "NAD pass, batch 32")):
        by_mode = {}
        for r in result["rows"]:
            if r["row"] == row:
                by_mode.setdefault(r.get("mode", ""), {})[r["impl"]] = r
        for mode, pair in by_mode.items():
            ours, ref = pair["mindsec"]["seconds"], pair["mindarmour"]["seconds"]
            what = f"{label}, {mode}" if mode else label
            if row == "nad":
                what += f" ({pair['mindsec']['images']} images)"
            if row == "pgd":
                what += (f" (adv. acc {pair['mindsec']['adv_accuracy']:.2%} vs "
                         f"{pair['mindarmour']['adv_accuracy']:.2%}; pixels equal "
                         f"{pair['mindsec']['pixel_agreement']:.4%})")
            tasks.append(f"| {what} | {ours:.3f} | {ref:.3f} | {ref / ours:.2f}x |")
    if tasks:
        lines += ["", "| task | mindsec s | mindarmour s | speed-up |", "|---|---:|---:|---:|"]
        lines += tasks
    lines += _torch_table(result["rows"]) + _knob_table(result["rows"]) + \
        _flow_table(result["rows"]) + _autoattack_table(result["rows"]) + \
        _imagenet_table(result["rows"]) + blackbox_table(result["rows"])
    if result.get("max_abs_diff_strict") is not None:
        lines += ["", f"max |mindsec(stable_loss=False) - mindarmour| over all FGSM outputs: "
                      f"{result['max_abs_diff_strict']:g} (graph), "
                      f"{result['max_abs_diff_strict_pynative']:g} (pynative); saturated "
                      f"samples: {result['saturated']}"]
    return "\n".join(lines) + "\n"


def _autoattack_table(rows):
    pair = {r["impl"]: r for r in rows if r["row"] == "autoattack"}
    if not pair:
        return []
    ours, peer, apgd = pair["mindsec"], pair["torchattacks"], pair["apgd-ce"]
    return ["", f"AutoAttack standard, Linf 0.3, {ours['model']}, {ours['images']} images:",
            "", "| impl | s per image | robust accuracy | mindsec / peer time |",
            "|---|---:|---:|---:|",
            f"| mindsec | {ours['seconds_per_image']:.3f} | {ours['robust_accuracy']:.2%} | "
            f"{ours['seconds'] / peer['seconds']:.2f}x |",
            f"| torchattacks | {peer['seconds_per_image']:.3f} | "
            f"{peer['robust_accuracy']:.2%} | |", "",
            f"APGD-CE alone, batch {apgd['batch']}: {apgd['samples_per_s']:,.0f} sample-steps/s "
            f"= {apgd['samples_per_s'] / apgd['floor_samples_per_s']:.2f} of the compiled "
            f"forward+backward floor ({apgd['floor_samples_per_s']:,.0f}/s at batch "
            f"{apgd['floor_batch']}); the APGD attacks of the cascade compiled "
            f"{apgd['graphs']} graphs"]


def _torch_table(rows):
    pair = {r["impl"]: r for r in rows if r["row"] == "torch"}
    if not pair:
        return []
    ours, peer = pair["mindsec"], pair["pytorch"]
    ratio = peer["samples_per_s"] / ours["samples_per_s"]
    return ["", f"PyTorch peer (torch {peer['torch_version']}, {peer['threads']} threads; same "
                f"LeNet5 and weights, FGSM eps 0.3, softmax cross-entropy, batch 512):", "",
            "| mindsec samples/s | PyTorch samples/s | PyTorch / mindsec | target <= 1.5x | "
            "signs agree | pixels equal |", "|---:|---:|---:|---|---:|---:|",
            f"| {ours['samples_per_s']:,.0f} | {peer['samples_per_s']:,.0f} | {ratio:.2f}x | "
            f"{'met' if ratio <= 1.5 else 'NOT met'} | {ours['sign_agreement']:.4%} | "
            f"{ours['pixels_equal']:.4%} |"]


def _knob_table(rows):
    knob = [r for r in rows if r["row"] == "knob"]
    if not knob:
        return []
    lines = ["", "MindSpore runtime settings (one process each, bench/knobs.py; samples/s, "
                 "ratio to mindsec's defaults):", "",
             "| setting | FGSM b512 | train step b32 | Model.train b32 | Model.train b32, sink |",
             "|---|---:|---:|---:|---:|"]
    for r in knob:
        if r.get("failed"):
            lines.append(f"| {r['setting']} | failed | | | |")
            continue
        rel = r.get("vs_defaults", {})
        cells = [f"{r[k]:,.0f} ({rel.get(k, 1.0):.2f})" for k in
                 ("fgsm512", "train32", "model32_sink_false", "model32_sink_true")]
        lines.append(f"| {r['setting']} | " + " | ".join(cells) + " |")
    return lines


def _flow_table(rows):
    pair = {r["impl"]: r for r in rows if r["row"] == "flow"}
    if not pair:
        return []
    lines = ["", "Whole flow from random weights (train, FGSM eps 0.3, NAD, evaluate; each in "
                 "a fresh process):", "",
             "| recipe | wall s | to result s | clean | FGSM | NAD clean | NAD transfer "
             "| targets |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for who, r in pair.items():
        lines.append(f"| {who}: `{r['command']}` | {r['seconds']:.1f} | "
                     f"{r['seconds_to_result']:.1f} | {r['clean']:.2%} | {r['fgsm']:.2%} | "
                     f"{r['defended_clean']:.2%} | {r['transfer']:.2%} | "
                     f"{'met' if r['targets_met'] else 'not met'} |")
    if len(pair) == 2:
        ratio = pair["mindsec"]["seconds_to_result"] / pair["mindarmour"]["seconds_to_result"]
        both = pair["mindsec"]["targets_met"]
        lines += ["", f"mindsec / MindArmour time to result: {ratio:.2f} (target <= 0.33 with "
                      f"the accuracy targets met: {'met' if both and ratio <= 1 / 3 else 'NOT met'}"
                      f"). Targets: clean >= 98.9%, FGSM <= 8%, NAD clean >= 97.4%, transfer "
                      f">= 85.6%."]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true",
                        help="2,000 images, 5 repeats (a few minutes on 2 cores)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ckpt", default="runs/lenet5.ckpt",
                        help="trained LeNet5 (trained here if missing)")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--rows", default=DEFAULT_ROWS,
                        help=f"comma-separated rows to run: {', '.join(ROWS)}, or all "
                             f"(default: %(default)s)")
    parser.add_argument("--knob-rounds", type=int, default=None,
                        help="passes over the runtime settings (default 2; 1 with --quick)")
    parser.add_argument("--aa-ckpt", default="runs/robust/pgd_smallcnn.ckpt",
                        help="the model of the autoattack row (PGD-AT SmallCNN)")
    parser.add_argument("--aa-images", type=int, default=200,
                        help="test images of the autoattack row")
    parser.add_argument("--nad-images", type=int, default=12800,
                        help="training images per NAD pass (default %(default)s)")
    parser.add_argument("--reference", metavar="FILE.json",
                        help="an earlier run's JSON: check this run's results against it")
    parser.add_argument("--table", metavar="FILE.json",
                        help="print the markdown table of an earlier run and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(json.loads(Path(args.table).read_text())))
        return 0
    wanted = {r for r in args.rows.split(",") if r}
    if "all" in wanted:
        wanted = (wanted - {"all"}) | set(ROWS)
    unknown = wanted - set(ROWS)
    if unknown:
        raise InputError(f"--rows: unknown row(s) {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(ROWS)} or all")
    check_positive(args, "repeats", "nad_images", "knob_rounds")
    reference = load_reference(args.reference) if args.reference else None
    target = context.set_device(args.device, "graph")
    source = data.resolve_data_dir(args.data_dir)
    n = 2000 if args.quick else None
    x, y = data.load_mnist("test", num_samples=n, source=source)
    net, model = get_model(args.ckpt, args.quick, source)
    net.set_train(False)
    from importlib.metadata import version  # pylint: disable=import-outside-toplevel

    rows, diff_graph, diff_py, saturated, adv = [], None, None, None, None
    stages = Stages(len(wanted), "bench", unit="row", log=lambda line: print(line, flush=True))
    began = time.perf_counter()

    def done(name):
        stages.step(f"{name} done ({time.perf_counter() - began:.0f} s)")
    if "floor" in wanted:
        rows += floor_rows(net, x, y, args.repeats)
        done("floor")
    if wanted & {"fgsm", "eval"}:
        graph_rows, diff_graph, saturated, adv = fgsm_rows(net, x, y, args.repeats, "graph")
        py_rows, diff_py, _, _ = fgsm_rows(net, x, y, args.repeats, "pynative")
        rows += graph_rows + py_rows
        done("fgsm")
    for name, run in (
            ("sweep", lambda: sweep_rows(net, x, y, args.repeats)),
            ("eval", lambda: eval_rows(net, x, y, adv, args.repeats)),
            ("pgd", lambda: pgd_rows(net, x, y, args.repeats)),
            ("nad", lambda: nad_rows(net, source, args.nad_images,
                                     max(1, min(args.repeats, 2)))),
            ("torch", lambda: torch_rows(net, x, y, args.repeats)),
            ("autoattack", lambda: autoattack_rows(args.aa_ckpt, source, args.aa_images,
                                                   args.repeats)),
            ("imagenet", lambda: imagenet_rows(args.repeats)),
            ("blackbox", lambda: blackbox_rows(net, x[:32], y[:32], min(args.repeats, 2),
                                               timed)),
            ("knobs", lambda: knob_rows(args.knob_rounds or (1 if args.quick else 2), target,
                                        args.data_dir)),
            ("flow", lambda: flow_rows(args.quick, args.data_dir, target))):
        if name in wanted:
            rows += run()
            done(name)
    stages.close()
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    result = {
        "date": datetime.date.today().isoformat(), "device": target, "images": len(x),
        "repeats": args.repeats, "model": model, "data": source.describe(),
        "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpu": cpu, "cores": len(os.sched_getaffinity(0)),
                    "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA")},
        "versions": {"mindspore": ms.__version__, "mindarmour": version("mindarmour"),
                     "mindsec": mindsec.__version__, "numpy": np.__version__},
        "rows": rows, "max_abs_diff_strict": diff_graph,
        "max_abs_diff_strict_pynative": diff_py, "saturated": saturated,
        "validation": validation.fingerprint(net, x, y),
    }
    failed = False
    if reference is not None:
        checks = validation.compare(result["validation"], reference)
        result["validation_checks"] = [{"check": c, "passed": ok, "line": line}
                                       for c, ok, line in checks]
        print(f"validation against {args.reference}:")
        for _, ok, line in checks:
            print("  " + line)
        failed = not all(ok for _, ok, _ in checks)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['date']}-{target}{'-quick' if args.quick else ''}" + \
        ("" if args.rows == DEFAULT_ROWS else "-" + args.rows.replace(",", "-"))
    write_json(out / f"{stem}.json", result)
    table = markdown(result)
    (out / f"{stem}.md").write_text(table)
    print(table)
    print(f"written {out / stem}.json and .md")
    if failed:
        print("validation FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
