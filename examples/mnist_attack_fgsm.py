"""MindArmour's FGSM tutorial through mindsec's library API.

    python examples/mnist_attack_fgsm.py

LeNet5 from runs/lenet5.ckpt (trained there with the default recipe if missing, as
examples/mnist_train.py does), FastGradientSignMethod at eps 0.3 on the test split, and
the tutorial's evaluation lines (AttackEvaluate). Another checkpoint, PGD instead of FGSM,
figures and a Markdown report are options of `mindsec attack` (`mindsec attack --help`).
"""
import time

from mindspore import nn

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, workflows
from mindsec.attacks import FastGradientSignMethod
from mindsec.batching import accuracy, predict_proba
from mindsec.evaluations import AttackEvaluate

print(f"device {context.set_device('auto')}")
source = data.resolve_data_dir()
test_x, test_y = data.load_mnist("test", source=source)
net = workflows.lenet5("runs/lenet5.ckpt", source)

print(f"prediction accuracy before attacking is : {accuracy(net, test_x, test_y):.4f}")
attack = FastGradientSignMethod(net, eps=0.3, loss_fn=nn.SoftmaxCrossEntropyWithLogits(
    sparse=True))
start = time.perf_counter()
adv = attack.batch_generate(test_x, test_y, batch_size=32)
seconds = time.perf_counter() - start
adv_probs = predict_proba(net, adv)
print(f"prediction accuracy after attacking is : {accuracy(net, adv, test_y):.4f}")

metrics = AttackEvaluate(test_x, test_y, adv, adv_probs)
print(f"mis-classification rate of adversaries is : {metrics.mis_classification_rate():.4f}")
print(f"The average confidence of adversarial class is : {metrics.avg_conf_adv_class():.4f}")
print(f"The average confidence of true class is : {metrics.avg_conf_true_class():.4f}")
print("The average distance (l0, l2, linf) between original samples and adversarial "
      f"samples are: {tuple(round(float(d), 4) for d in metrics.avg_lp_distance())}")
print(f"The average structural similarity between original samples and adversarial "
      f"samples are: {metrics.avg_ssim():.4f}")
print(f"The average costing time is {seconds / len(test_x):.6f} s per image")
