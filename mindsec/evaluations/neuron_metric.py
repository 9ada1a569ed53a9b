"""Neuron sensitivity (MindArmour 2.1's ``NeuronMetric``; not in MindArmour 2.0).

Zhang et al., 2021, "Interpreting and Improving Adversarial Robustness of Deep Neural
Networks With Neuron Sensitivity" (IEEE TIP): the sensitivity of a neuron (a channel of a
layer's output, averaged over its spatial positions; a unit of a dense layer) is the L1
distance, summed over the samples, between its value on the clean inputs and on their
adversarial versions.

The layers' outputs are read with forward hooks, which MindSpore runs only in PYNATIVE
mode: the forward passes run in PYNATIVE (the previous mode is restored after), in batches
of ``batch_size`` (MindArmour: one pass over all inputs, which needs all activations in
memory at once). Deliberate differences from MindArmour: ``hook_names`` may name nested
cells by their dotted names (``"layer1.0.conv"``, as ``Cell.cells_and_names`` lists them);
numpy inputs are accepted as well as Tensors; the network is run as it is (put it in
inference mode, ``set_train(False)``, yourself, as in MindArmour); bad arguments — unknown
layer, a layer whose output is 1-D, a layer called more than once per forward pass (a
shared ``ReLU``: MindArmour silently mixes up the layers then), inputs and adversarial
inputs of different shapes, NaN — raise a one-line :class:`~mindsec.errors.InputError`
(a ``ValueError``).
"""
import numpy as np
import mindspore as ms
from mindspore import nn

from .. import context
from ..batching import padded_batches
from ..checks import check_batch_size, check_inputs
from ..errors import InputError


def _as_numpy(name, value):
    if isinstance(value, ms.Tensor):
        value = value.asnumpy()
    return check_inputs(value, None, name=name)


class NeuronMetric:
    """Neuron sensitivity of a model towards adversarial examples.

    Args:
        model (mindspore.nn.Cell): the victim model.
        inputs (Union[mindspore.Tensor, numpy.ndarray]): original samples (N, ...).
        adv_inputs (Union[mindspore.Tensor, numpy.ndarray]): their adversarial versions,
            same shape.
        hook_names (list[str]): names of the layers (sub-cells) to evaluate.
        batch_size (int): samples per forward pass (keyword-only). Default 256.

    Raises:
        InputError: see the module docstring.
    """

    def __init__(self, model, inputs, adv_inputs, hook_names, *, batch_size=256):
        if not isinstance(model, nn.Cell):
            raise InputError(f"model must be a mindspore.nn.Cell, got {type(model).__name__}")
        x = _as_numpy("inputs", inputs)
        x_adv = _as_numpy("adv_inputs", adv_inputs)
        if x.shape != x_adv.shape:
            raise InputError(f"adv_inputs has shape {x_adv.shape}, inputs {x.shape}: they "
                             f"must match")
        if not isinstance(hook_names, (list, tuple)) or not hook_names or \
                not all(isinstance(name, str) for name in hook_names):
            raise InputError("hook_names must be a non-empty list of layer names (str)")
        cells = dict(model.cells_and_names())
        missing = [name for name in hook_names if not name or name not in cells]
        if missing:
            raise InputError(f"hook_names: {missing} are not layers of the model (its "
                             f"layers: {[n for n in cells if n][:12]}...)")
        self._model = model
        self._hook_names = list(dict.fromkeys(hook_names))
        self._batch_size = check_batch_size(batch_size)
        self._cells = {name: cells[name] for name in self._hook_names}
        clean = self._features(x)
        adv = self._features(x_adv)
        self._nsense = {name: np.abs(clean[name] - adv[name]).sum(axis=0, dtype=np.float32)
                        for name in self._hook_names}

    def _features(self, x):
        """{layer: (N, C) channel means of its output}, in batches, with forward hooks."""
        found = {name: [] for name in self._hook_names}
        calls = {}

        def hook_for(name):
            def hook(cell, inputs, output):  # pylint: disable=unused-argument
                calls[name] = calls.get(name, 0) + 1
                if len(output.shape) <= 1:
                    raise InputError(f"layer {name!r} outputs shape {tuple(output.shape)}: "
                                     f"the output must have more than 1 dimension")
                found[name].append(output.reshape(output.shape[0], output.shape[1], -1)
                                   .mean(axis=-1).asnumpy())
            return hook

        handles = [self._cells[name].register_forward_hook(hook_for(name))
                   for name in self._hook_names]
        try:
            with context.in_mode("pynative"):
                for start, stop in padded_batches(len(x), self._batch_size):
                    calls.clear()
                    self._model(ms.Tensor(x[start:stop]))
                    twice = [name for name, count in calls.items() if count > 1]
                    if twice:
                        raise InputError(f"layers {twice} run more than once per forward "
                                         f"pass (a shared cell): hook layers used once")
        finally:
            for handle in handles:
                handle.remove()
        return {name: np.concatenate(parts) for name, parts in found.items()}

    def neuron_sensitivity(self):
        """Neuron sensitivity (NS).

        Returns:
            dict, ``{layer name: numpy.ndarray (C,)}``: each neuron's summed L1 change.
        """
        return {name: value.copy() for name, value in self._nsense.items()}


__all__ = ["NeuronMetric"]
