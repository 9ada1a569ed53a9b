"""Hardware validation: the results that must agree when one job runs on another device.

:func:`fingerprint` measures, for fixed weights and fixed inputs, the clean accuracy, the
FGSM adversarial accuracy and the FGSM perturbation signs of the first images (compressed
into the JSON); :func:`compare` checks a run against a reference run (e.g. the CPU one)
and returns one PASS/FAIL line per check with the tolerance used.
"""
import base64
import hashlib
import zlib

import numpy as np
from mindspore import nn

from .attacks import FastGradientSignMethod
from .batching import predict_logits
from .errors import InputError

# check -> tolerance: accuracies in absolute fraction, sign agreement as a minimum fraction
TOLERANCES = {"clean_accuracy": 0.001, "fgsm_accuracy": 0.005, "fgsm_sign_agreement": 0.999}
SIGN_IMAGES = 64


def weights_digest(network):
    """SHA-256 of the network's parameters in their order (shapes and float32 values).
    Names are left out: MindSpore renames a network's parameters when another Cell wraps
    it, and the weights are still the same."""
    digest = hashlib.sha256()
    for param in network.get_parameters():
        value = np.ascontiguousarray(param.asnumpy(), np.float32)
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _pack_signs(signs):
    return base64.b64encode(zlib.compress(signs.astype(np.int8).tobytes(), 9)).decode()


def _unpack_signs(text):
    try:
        return np.frombuffer(zlib.decompress(base64.b64decode(text)), np.int8)
    except (ValueError, zlib.error) as exc:
        raise InputError(f"reference fgsm_signs are corrupt ({exc})") from None


def fingerprint(network, inputs, labels, eps=0.3):
    """The values :func:`compare` checks, for ``network`` on ``inputs`` (numpy, [0, 1])."""
    fgsm = FastGradientSignMethod(network, eps=eps,
                                  loss_fn=nn.SoftmaxCrossEntropyWithLogits(sparse=True))
    adv = fgsm.batch_generate(inputs, labels)
    clean = predict_logits(network, inputs).argmax(1)
    attacked = predict_logits(network, adv).argmax(1)
    signs = np.sign(adv[:SIGN_IMAGES] - inputs[:SIGN_IMAGES]).reshape(-1)
    return {"weights_sha256": weights_digest(network), "images": int(len(inputs)),
            "eps": float(eps), "clean_accuracy": float(np.mean(clean == labels)),
            "fgsm_accuracy": float(np.mean(attacked == labels)),
            "fgsm_signs": _pack_signs(signs), "sign_images": int(min(SIGN_IMAGES, len(inputs)))}


def compare(current, reference, tolerances=None):
    """``[(check, passed, line)]`` comparing two fingerprints. Different weights, image
    counts or eps make the comparison meaningless: they raise ``InputError``."""
    tol = dict(TOLERANCES, **(tolerances or {}))
    for key in ("weights_sha256", "images", "eps"):
        if current.get(key) != reference.get(key):
            raise InputError(f"reference was measured with {key}={reference.get(key)!r}, this "
                             f"run has {current.get(key)!r}; validate with the same --ckpt and "
                             f"data")
    results = []
    for key in ("clean_accuracy", "fgsm_accuracy"):
        diff = abs(current[key] - reference[key])
        ok = diff <= tol[key]
        results.append((key, ok, f"{'PASS' if ok else 'FAIL'} {key}: {current[key]:.4f} vs "
                                 f"reference {reference[key]:.4f} (|diff| {diff:.4f}, "
                                 f"tolerance {tol[key]})"))
    mine, theirs = _unpack_signs(current["fgsm_signs"]), _unpack_signs(reference["fgsm_signs"])
    if mine.shape != theirs.shape:
        raise InputError(f"reference holds {theirs.size} FGSM signs, this run {mine.size}")
    agree = float(np.mean(mine == theirs))
    ok = agree >= tol["fgsm_sign_agreement"]
    results.append(("fgsm_sign_agreement", ok,
                    f"{'PASS' if ok else 'FAIL'} fgsm_sign_agreement: {agree:.5f} of "
                    f"{mine.size} perturbation signs equal (tolerance >= "
                    f"{tol['fgsm_sign_agreement']})"))
    return results


__all__ = ["TOLERANCES", "fingerprint", "compare", "weights_digest"]
