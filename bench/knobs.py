"""MindSpore runtime settings, one fresh process each: what each does to mindsec's speed.

    python bench/knobs.py                    # every setting, printed as a table
    python bench/knobs.py '{"op_threads": 1}'   # one worker run (what bench/run.py calls)

Settings that MindSpore reads once per process (thread pools, the oneDNN ISA cap, the jit
level) cannot be switched back and forth in one process, so each runs in its own worker, and
the whole list is walked ``rounds`` times (median per setting) so that load from other
processes on a shared machine spreads over all of them. Each worker measures, in GRAPH mode
on real MNIST test images with an untrained LeNet5 (speed does not depend on the weights):
  fgsm512   mindsec FGSM at batch 512 over 4,096 images (samples/s)
  train32   mindsec's compiled train step (Adam) at batch 32 over 4,096 images (samples/s)
  model32   mindspore.train.Model.train, one epoch of 4,096 images at batch 32, with
            dataset_sink_mode False and True (samples/s; sink mode matters on Ascend/GPU)
"""
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = (
    ("mindsec defaults", {}),
    ("oneDNN ISA uncapped (ONEDNN_MAX_CPU_ISA=ALL)", {"env": {"ONEDNN_MAX_CPU_ISA": "ALL"}}),
    ("CPU op threads = cores", {"op_threads": "cores"}),
    ("CPU op threads = 1", {"op_threads": 1}),
    ("runtime dispatch threads = 1", {"dispatch_threads": 1}),
    ("jit_level O1 (set_context jit_config)", {"jit_level": "O1"}),
)
IMAGES = 4096


def _median_rate(fn, n, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def worker(cfg):
    """Apply ``cfg`` and measure; returns a dict of samples/s."""
    # pylint: disable=import-outside-toplevel
    import mindsec  # noqa: F401
    import numpy as np
    import mindspore as ms
    from mindspore import nn
    from mindspore.train import Model
    from mindsec import context, data, train
    from mindsec.attacks import FastGradientSignMethod
    from mindsec.models import LeNet5

    context.set_device(cfg.get("device", "CPU"), "graph")
    if "op_threads" in cfg:
        n = len(os.sched_getaffinity(0)) if cfg["op_threads"] == "cores" else cfg["op_threads"]
        ms.device_context.cpu.op_tuning.threads_num(n)
    if "dispatch_threads" in cfg:
        ms.runtime.dispatch_threads_num(cfg["dispatch_threads"])
    if "jit_level" in cfg:
        ms.set_context(jit_config={"jit_level": cfg["jit_level"]})
    x, y = data.load_mnist("test", num_samples=IMAGES,
                           source=data.resolve_data_dir(cfg.get("data_dir")))
    ms.set_seed(0)
    net = LeNet5()
    net.set_train(False)
    ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    fgsm = FastGradientSignMethod(net, eps=0.3, loss_fn=ce)
    out = {"fgsm512": _median_rate(lambda: fgsm.batch_generate(x, y, batch_size=512), len(x))}

    train_net = LeNet5()
    step = train.TrainStep(train_net, nn.SoftmaxCrossEntropyWithLogits(sparse=True),
                           nn.Adam(train_net.trainable_params(), 1e-3))
    batches = [(ms.Tensor(x[i:i + 32]), ms.Tensor(y[i:i + 32].astype(np.int32)))
               for i in range(0, len(x) // 32 * 32, 32)]

    def epoch():
        for xb, yb in batches:
            loss, _ = step(xb, yb, yb)
        loss.asnumpy()
    out["train32"] = _median_rate(epoch, len(batches) * 32)
    for sink in (False, True):
        dataset = ms.dataset.NumpySlicesDataset((x, y.astype(np.int32)), ["image", "label"],
                                                shuffle=False).batch(32, drop_remainder=True)
        model_net = LeNet5()
        model = Model(model_net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                      nn.Adam(model_net.trainable_params(), 1e-3))
        out[f"model32_sink_{str(sink).lower()}"] = _median_rate(
            lambda m=model, d=dataset, s=sink: m.train(1, d, dataset_sink_mode=s), len(x) // 32 * 32)
    return out


def run_settings(rounds=2, device="CPU", data_dir=None, log=print):
    """Every setting in its own worker process, ``rounds`` times round-robin; rows with the
    median samples/s per measurement and the ratio to the defaults row."""
    results = {name: [] for name, _ in SETTINGS}
    for r in range(rounds):
        for name, cfg in SETTINGS:
            env = dict(os.environ, **cfg.get("env", {}))
            worker_cfg = dict({k: v for k, v in cfg.items() if k != "env"}, device=device,
                              data_dir=data_dir)
            proc = subprocess.run([sys.executable, __file__, json.dumps(worker_cfg)], env=env,
                                  capture_output=True, text=True, check=False)
            line = next((l for l in reversed(proc.stdout.splitlines())
                         if l.startswith("{")), None)
            if proc.returncode != 0 or line is None:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                log(f"knob '{name}' failed: {tail}")
                results[name].append(None)
                continue
            results[name].append(json.loads(line))
            log(f"knob round {r + 1}/{rounds}: {name}: {line}")
    rows = []
    for name, runs in results.items():
        runs = [run for run in runs if run is not None]
        if not runs:
            rows.append({"row": "knob", "setting": name, "failed": True})
            continue
        rows.append({"row": "knob", "setting": name, "runs": len(runs),
                     **{key: statistics.median(run[key] for run in runs) for key in runs[0]}})
    base = rows[0]
    for row in rows:
        if not row.get("failed") and not base.get("failed"):
            row["vs_defaults"] = {key: row[key] / base[key] for key in base
                                  if isinstance(base[key], float)}
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(worker(json.loads(sys.argv[1]))))
    else:
        for row in run_settings():
            print(row)
