"""Attack evaluation: MindArmour's ``AttackEvaluate`` metrics, vectorized.

Every metric equals MindArmour's on the same inputs (tests compare against it); where
MindArmour loops over images in Python (Lp distances, SSIM), this computes all images at
once (SSIM by summed-area box means over the whole batch).
"""
import numpy as np

from ..errors import InputError
from .checks import as_array, labels_to_indices, probabilities, same_length


def lp_distances(inputs, adv_inputs):
    """Per-sample (L0, L2, Linf) of ``adv - x``, each relative to the same norm of ``x``
    (MindArmour's normalisation; 1e-14 guards a zero image). Returns three (N,) arrays."""
    x = inputs.reshape(len(inputs), -1)
    diff = (inputs - adv_inputs).reshape(len(inputs), -1)
    l0 = np.count_nonzero(diff, axis=1) / (np.count_nonzero(x, axis=1) + 1e-14)
    l2 = np.linalg.norm(diff, axis=1) / (np.linalg.norm(x, axis=1) + 1e-14)
    linf = np.abs(diff).max(axis=1) / (np.abs(x).max(axis=1) + 1e-14)
    return l0, l2, linf


def ssim(images, others, win_size=7, data_range=2.0, k1=0.01, k2=0.03):
    """Per-image SSIM (N,) of (N, C, H, W), (N, H, W, C) or (N, H, W) arrays, MindArmour's
    definition: a ``win_size`` uniform window, ``data_range`` 2, sample covariances,
    borders of ``win_size // 2`` cropped, averaged over pixels then channels. Vectorized
    over N. As in MindArmour, an image whose first axis is 1 or 3 is channels-first, any
    other channels-last (its own tutorials pass ``transpose(0, 2, 3, 1)``)."""
    a = np.asarray(images, np.float32)
    b = np.asarray(others, np.float32)
    if a.ndim == 3:
        a, b = a[:, None], b[:, None]
    if a.ndim != 4 or a.shape != b.shape:
        raise InputError(f"ssim needs two (N, C, H, W) or (N, H, W, C) arrays of one shape, "
                         f"got {a.shape} and {b.shape}")
    if a.shape[1] not in (1, 3):                  # channels last
        a, b = a.transpose(0, 3, 1, 2), b.transpose(0, 3, 1, 2)
    if min(a.shape[2:]) < win_size:
        raise InputError(f"ssim needs images of at least {win_size}x{win_size}, got "
                         f"{a.shape[2:]}")
    out = np.empty(a.shape[0])
    for start in range(0, a.shape[0], _SSIM_CHUNK):   # chunks stay in cache
        stop = start + _SSIM_CHUNK
        out[start:stop] = _ssim_chunk(a[start:stop], b[start:stop], win_size, data_range,
                                      k1, k2)
    return out


_SSIM_CHUNK = 16        # images per chunk: small arrays stay in cache and reuse heap memory


def _box_mean_valid(x, k):
    """Mean over every k x k window lying inside the image (last two axes): the values
    ``scipy.ndimage.uniform_filter`` gives there, as separable sums of shifted slices."""
    h, w = x.shape[-2:]
    rows = x[..., 0:h - k + 1, :].copy()
    for i in range(1, k):
        rows += x[..., i:h - k + 1 + i, :]
    out = rows[..., 0:w - k + 1].copy()
    for j in range(1, k):
        out += rows[..., j:w - k + 1 + j]
    return out * (1.0 / (k * k))


def _ssim_chunk(a, b, win_size, data_range, k1, k2):
    # only the windows inside the image: MindArmour crops the win_size // 2 border anyway
    ux, uy, uxx, uyy, uxy = _box_mean_valid(np.stack([a, b, a * a, b * b, a * b]), win_size)
    cov_norm = win_size ** 2 / (win_size ** 2 - 1)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), \
        cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return s.mean(axis=(2, 3)).mean(axis=1)


_CHUNK = 256      # images per pass of the distance metrics


class AttackEvaluate:
    """Evaluate adversarial examples (MindArmour's ``AttackEvaluate``).

    Args:
        inputs (np.ndarray): clean inputs (N, ...).
        labels (np.ndarray): true labels, one-hot (N, K) or class indices (N,).
        adv_inputs (np.ndarray): adversarial examples, same shape as ``inputs``.
        adv_preds (np.ndarray): the model's probabilities on ``adv_inputs`` (N, K).
        targeted (bool): the attack was targeted.
        target_label (np.ndarray): targets (class indices or one-hot), for targeted attacks.

    A sample counts as a success when its adversarial prediction differs from the true
    label (untargeted) or equals the target (targeted); the averages below are over the
    successes, as in MindArmour.
    """

    def __init__(self, inputs, labels, adv_inputs, adv_preds, targeted=False,
                 target_label=None):
        self._inputs = as_array("inputs", inputs).astype(np.float32, copy=False)
        self._adv_inputs = as_array("adv_inputs", adv_inputs).astype(np.float32, copy=False)
        if self._inputs.shape != self._adv_inputs.shape:
            raise InputError(f"adv_inputs shape {self._adv_inputs.shape} differs from inputs "
                             f"shape {self._inputs.shape}")
        self._adv_preds = probabilities("adv_preds", adv_preds)
        n, num_classes = self._adv_preds.shape
        same_length(inputs=self._inputs, adv_preds=self._adv_preds,
                    labels=np.asarray(labels))
        self._true_label = labels_to_indices("labels", labels, n, num_classes)
        if not isinstance(targeted, bool):
            raise InputError(f"targeted must be True or False, got {targeted!r}")
        self._targeted = targeted
        self._adv_label = self._adv_preds.argmax(axis=1)
        if targeted:
            if target_label is None:
                raise InputError("target_label is required when targeted=True")
            self._target_label = labels_to_indices("target_label", target_label, n,
                                                   num_classes)
            success = self._adv_label == self._target_label
        else:
            self._target_label = None
            success = self._adv_label != self._true_label
        self._success = np.flatnonzero(success)
        self._cache = None

    @property
    def success_indices(self):
        """Indices of the successful adversarial examples."""
        return self._success

    def mis_classification_rate(self):
        """Fraction of all samples on which the attack succeeded."""
        return self._success.size / self._inputs.shape[0]

    def avg_conf_adv_class(self):
        """ACAC: mean probability of the adversarial (or target) class over successes;
        0 if none."""
        idx = self._success
        if idx.size == 0:
            return 0
        cls = self._target_label[idx] if self._targeted else self._adv_label[idx]
        return float(np.mean(self._adv_preds[idx, cls]))

    def avg_conf_true_class(self):
        """ACTC: mean probability of the true class over successes; 0 if none."""
        idx = self._success
        if idx.size == 0:
            return 0
        return float(np.mean(self._adv_preds[idx, self._true_label[idx]]))

    def _distances(self):
        """(L0, L2, Linf, SSIM) of every success, (4, S), computed once, in chunks so no
        full-size copy of the images is made."""
        if self._cache is None:
            out = np.empty((4, self._success.size))
            for start in range(0, self._success.size, _CHUNK):
                idx = self._success[start:start + _CHUNK]
                x, adv = self._inputs[idx], self._adv_inputs[idx]
                out[:3, start:start + len(idx)] = lp_distances(x, adv)
                out[3, start:start + len(idx)] = ssim(adv, x)
            self._cache = out
        return self._cache

    def avg_lp_distance(self):
        """Mean relative (L0, L2, Linf) distance over successes; (-1, -1, -1) if none."""
        if self._success.size == 0:
            return -1, -1, -1
        l0, l2, linf = self._distances()[:3].mean(axis=1)
        return float(l0), float(l2), float(linf)

    def avg_ssim(self):
        """Mean SSIM between adversarial and clean images over successes; -1 if none."""
        if self._success.size == 0:
            return -1
        return float(self._distances()[3].mean())

    def nte(self):
        """Noise tolerance estimation: mean gap between the top two probabilities over
        successes (Luo et al., 2018); -1 if none."""
        idx = self._success
        if idx.size == 0:
            return -1
        top2 = np.sort(self._adv_preds[idx], axis=1)[:, -2:]
        return float(np.mean(top2[:, 1] - top2[:, 0]))

    def to_dict(self):
        """Every metric, by MindArmour's method names (``avg_lp_distance`` as its
        (L0, L2, Linf) triple), for JSON reports."""
        return {"mis_classification_rate": self.mis_classification_rate(),
                "avg_conf_adv_class": self.avg_conf_adv_class(),
                "avg_conf_true_class": self.avg_conf_true_class(),
                "avg_lp_distance": list(self.avg_lp_distance()),
                "avg_ssim": self.avg_ssim(), "nte": self.nte()}
