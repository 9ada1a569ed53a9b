"""Radar chart of several (normalized) robustness metrics: MindArmour's ``RadarMetric``.

Same arguments, checks and drawing as MindArmour 2.0 (one spoke per metric, clockwise from
the top, one closed curve per row of ``metrics_data`` with a light fill, a grey unit
border, y ticks by ``scale``, legend at the lower left corner). Deliberate differences:
mindsec is headless (matplotlib's Agg backend), so :meth:`show` *writes* the picture, as a
PNG, atomically (:mod:`mindsec.atomic`), to ``path`` (default ``radar.png``) and returns
the path instead of opening a window; :meth:`figure` returns the drawn
``matplotlib.figure.Figure`` for a notebook; ``metrics_data`` must be a finite numeric 2-D
array (lists are accepted), and bad arguments raise a one-line
:class:`~mindsec.errors.InputError` (a ``ValueError``; MindArmour: ``TypeError`` for wrong
types).
"""
from math import pi

import numpy as np

from .. import plots
from ..errors import InputError
from .checks import as_array

SCALES = {   # y ticks (positions, labels) per scale; "hide": one unlabelled tick at 0
    "hide": ([0.0], None),
    "norm": ([0.2, 0.4, 0.6, 0.8], ["0.2", "0.4", "0.6", "0.8"]),
    "sparse": ([0.5], ["0.5"]),
    "dense": ([k / 10 for k in range(1, 10)], [f"0.{k}" for k in range(1, 10)]),
}


def _names(name, value):
    if not isinstance(value, (tuple, list)):
        raise InputError(f"{name} must be a tuple or list, got {type(value).__name__}")
    return list(value)


class RadarMetric:
    """Radar chart showing a model's robustness by several metrics.

    Args:
        metrics_name (Union[tuple, list]): the metrics' names (one spoke each).
        metrics_data (numpy.ndarray): (curves, metrics) values, normalized to [0, 1], one
            row per curve.
        labels (Union[tuple, list]): the legend of each curve.
        title (str): the chart's title.
        scale (str): y ticks: 'hide', 'norm', 'sparse' or 'dense'. Default 'hide'.

    Raises:
        InputError: if ``scale`` is not one of those, or the lengths do not match.
    """

    def __init__(self, metrics_name, metrics_data, labels, title, scale="hide"):
        self._metrics_name = _names("metrics_name", metrics_name)
        data = as_array("metrics_data", metrics_data, ndim=2)
        self._labels = _names("labels", labels)
        if len(self._metrics_name) != data.shape[1]:
            raise InputError(f"metrics_name has {len(self._metrics_name)} names for the "
                             f"{data.shape[1]} metrics (columns) of metrics_data")
        if len(self._labels) != data.shape[0]:
            raise InputError(f"labels has {len(self._labels)} entries for the "
                             f"{data.shape[0]} curves (rows) of metrics_data")
        if not isinstance(title, str):
            raise InputError(f"title must be a str, got {type(title).__name__}")
        self._title = title
        if scale not in SCALES:
            raise InputError(f"scale must be in {list(SCALES)}, but got {scale!r}")
        self._scale = scale
        self._nb_var = len(self._metrics_name)
        angles = 2.0 * pi * np.arange(self._nb_var) / self._nb_var
        self._angles = np.append(angles, angles[0])               # closed: first repeated
        self._metrics_data = np.concatenate([data, data[:, :1]], axis=1)

    @property
    def angles(self):
        """Spoke angles in radians, the first repeated at the end (``nb_metrics + 1``)."""
        return self._angles.copy()

    @property
    def curves(self):
        """The plotted (closed) curves: ``metrics_data`` with its first column appended."""
        return self._metrics_data.copy()

    def figure(self):
        """Draw the chart; returns the ``matplotlib`` Figure (close it when done)."""
        plt = plots.pyplot()
        fig = plt.figure(figsize=(5.6, 5.0))
        ax = fig.add_subplot(111, polar=True)
        ax.spines["polar"].set_visible(False)
        ax.set_theta_offset(pi / 2)          # first metric on top, then clockwise
        ax.set_theta_direction(-1)
        ax.set_xticks(self._angles[:-1], self._metrics_name)
        ax.set_rlabel_position(0)
        ticks, tick_labels = SCALES[self._scale]
        ax.set_yticks(ticks, tick_labels if tick_labels is not None else [""] * len(ticks),
                      color="grey", size=7)
        ax.set_ylim(0, 1)
        ax.plot(self._angles, np.ones(self._nb_var + 1), color="grey", linewidth=1,
                linestyle="solid")
        for curve, label in zip(self._metrics_data, self._labels):
            ax.plot(self._angles, curve, linewidth=1, linestyle="solid", label=label)
            ax.fill(self._angles, curve, alpha=0.1)
        ax.legend(loc="upper right", bbox_to_anchor=(0.0, 0.0))
        ax.set_title(self._title, y=1.1, color="g")
        return fig

    def show(self, path="radar.png"):
        """Write the chart as a PNG at ``path``, atomically; returns the path."""
        return plots.save_figure(self.figure(), path)


__all__ = ["RadarMetric"]
