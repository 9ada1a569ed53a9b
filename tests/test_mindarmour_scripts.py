"""MindArmour's own example scripts (examples/model_security/ of mindspore-ai/mindarmour),
performed with mindsec after changing only their imports, at small sizes.

Each test makes the calls its script makes, in its order and with its arguments: the test
images come from a ``mindspore.dataset`` pipeline in batches of 32, ``Model(net).predict``
gives the accuracy before, the attack is built and ``batch_generate`` run exactly as the
script does, the softmax of ``Model.predict`` gives the accuracy after, and
``AttackEvaluate`` gets the images transposed to NHWC with one-hot labels and reports
misclassification rate, ACAC, ACTC, the (L0, L2, Linf) distances and SSIM. The network is
the trained LeNet5 of the fixtures (the scripts load MindArmour's checkpoint), and only the
number of batches is smaller. The figures asserted are what the attacks must achieve on a
94% LeNet5, not only that the calls return.
"""
import numpy as np
import pytest
import mindspore.dataset as mds
from mindspore import Model, Tensor
from mindspore.nn import SoftmaxCrossEntropyWithLogits
from scipy.special import softmax

# the scripts' imports, with mindarmour.adv_robustness.* -> mindsec.*
from mindsec.attacks import (CarliniWagnerL2Attack, DeepFool, JSMAAttack, LBFGS,
                             MomentumDiverseInputIterativeMethod, ProjectedGradientDescent,
                             VarianceTuningMomentumIterativeMethod)
from mindsec.evaluations import AttackEvaluate


def _dataset(test_slice, batch_num, batch_size=32):
    """What the scripts' ``generate_mnist_dataset(..., batch_size=32)`` yields: 32x32
    images in [0, 1], NCHW, int32 labels, in batches."""
    x, y = test_slice
    n = batch_num * batch_size
    return mds.NumpySlicesDataset({"image": x[:n], "label": y[:n].astype(np.int32)},
                                  shuffle=False).batch(batch_size)


def _targets(true_labels, seed=0):
    """The scripts' random targets: uniform classes, moved on by one where equal to the
    true label (seeded here; the scripts use the global ``np.random``)."""
    targets = np.random.default_rng(seed).integers(0, 10, size=len(true_labels))
    return np.where(targets == true_labels, (targets + 1) % 10, targets).astype(np.int32)


def _script(net, test_slice, make_attack, batch_num, targeted=False, **generate_kw):
    """The body every white-box script shares; returns its logged figures."""
    ds = _dataset(test_slice, batch_num)
    model = Model(net)
    test_images, test_labels, predict_labels = [], [], []
    for data in ds.create_tuple_iterator(output_numpy=True):
        images = data[0].astype(np.float32)
        labels = data[1]
        test_images.append(images)
        test_labels.append(labels)
        predict_labels.append(np.argmax(model.predict(Tensor(images)).asnumpy(), axis=1))
    predict_labels = np.concatenate(predict_labels)
    true_labels = np.concatenate(test_labels)
    accuracy = np.mean(np.equal(predict_labels, true_labels))

    targeted_labels = _targets(true_labels) if targeted else None
    attack = make_attack(net)
    adv_data = attack.batch_generate(np.concatenate(test_images),
                                     targeted_labels if targeted else true_labels,
                                     batch_size=32, **generate_kw)
    pred_logits_adv = softmax(model.predict(Tensor(adv_data)).asnumpy(), axis=1)
    accuracy_adv = np.mean(np.equal(np.argmax(pred_logits_adv, axis=1), true_labels))
    attack_evaluate = AttackEvaluate(np.concatenate(test_images).transpose(0, 2, 3, 1),
                                     np.eye(10)[true_labels], adv_data.transpose(0, 2, 3, 1),
                                     pred_logits_adv, targeted=targeted,
                                     target_label=targeted_labels)
    return {"accuracy": accuracy, "accuracy_adv": accuracy_adv,
            "rate": attack_evaluate.mis_classification_rate(),
            "acac": attack_evaluate.avg_conf_adv_class(),
            "actc": attack_evaluate.avg_conf_true_class(),
            "lp": attack_evaluate.avg_lp_distance(), "ssim": attack_evaluate.avg_ssim(),
            "adv": adv_data, "x": np.concatenate(test_images)}


def _sane(f):
    assert f["accuracy"] > 0.85                               # the trained LeNet5
    assert f["adv"].shape == f["x"].shape and f["adv"].dtype == np.float32
    assert 0.0 <= f["adv"].min() and f["adv"].max() <= 1.0
    assert 0.0 < f["acac"] <= 1.0 and 0.0 <= f["actc"] < f["acac"]
    l0, l2, linf = f["lp"]
    assert l0 > 0.0 and l2 > 0.0 and linf > 0.0       # relative to the image's own norms
    assert 0.0 < f["ssim"] <= 1.0


# (script, its attack as the script builds it, batches of 32 here (the scripts: 3 or 32),
# targeted)
WHITE_BOX = [
    ("mnist_attack_cw", lambda net: CarliniWagnerL2Attack(net, 10, targeted=False), 1, False),
    ("mnist_attack_deepfool", lambda net: DeepFool(net, 10, norm_level=2, bounds=(0.0, 1.0)),
     2, False),
    ("mnist_attack_jsma", lambda net: JSMAAttack(net, 10), 1, True),
    ("mnist_attack_lbfgs", lambda net: LBFGS(
        net, is_targeted=True, loss_fn=SoftmaxCrossEntropyWithLogits(sparse=True)), 1, True),
    ("mnist_attack_mdi2fgsm", lambda net: MomentumDiverseInputIterativeMethod(
        net, loss_fn=SoftmaxCrossEntropyWithLogits(sparse=True)), 2, False),
    ("mnist_attack_pgd", lambda net: ProjectedGradientDescent(
        net, eps=0.3, loss_fn=SoftmaxCrossEntropyWithLogits(sparse=True)), 2, False),
    ("mnist_attack_vmifgsm", lambda net: VarianceTuningMomentumIterativeMethod(
        net, eps=0.3, loss_fn=SoftmaxCrossEntropyWithLogits(sparse=True)), 2, False),
]


@pytest.mark.parametrize("script, make, batch_num, targeted", WHITE_BOX,
                         ids=[w[0] for w in WHITE_BOX])
def test_white_box_script(trained_lenet, test_slice, script, make, batch_num, targeted):
    f = _script(trained_lenet, test_slice, make, batch_num, targeted)
    _sane(f)
    if targeted:                       # the rate is the share that reached its target
        assert f["rate"] >= 0.8, (script, f["rate"])
    else:
        assert f["accuracy_adv"] <= 0.1 and f["rate"] >= 0.9, (script, f["accuracy_adv"])
    if script in ("mnist_attack_pgd", "mnist_attack_vmifgsm"):
        linf = np.abs(f["adv"] - f["x"]).reshape(len(f["x"]), -1).max(axis=1)
        assert linf.max() <= 0.3 + 1e-6 and np.median(linf) > 0.29   # eps 0.3, all used
    if script in ("mnist_attack_cw", "mnist_attack_deepfool"):
        assert f["lp"][1] < 0.5                              # minimal: far below PGD's
