"""The attacks and evaluations on an ImageNet-shaped classifier (MobileNetV2, 224x224x3),
with weights loaded from a user-supplied checkpoint, as pretrained weights would be."""
import numpy as np
import mindspore as ms
from mindspore import nn

from mindsec import checkpoint
from mindsec.attacks import FastGradientSignMethod, ProjectedGradientDescent, auto_batch_size
from mindsec.batching import predict_logits
from mindsec.models import MobileNetV2


def test_mobilenet_v2_from_a_checkpoint_is_attacked_like_lenet(tmp_path):
    ms.set_seed(0)
    source = MobileNetV2(num_classes=10, width=0.35)
    source.set_train(False)
    ckpt = checkpoint.save(source, tmp_path / "mobilenet_v2.ckpt")
    ms.set_seed(1)                       # other random weights, then the user's file
    net = MobileNetV2(num_classes=10, width=0.35)
    checkpoint.load_into(net, ckpt)
    net.set_train(False)
    x = np.random.default_rng(0).random((6, 3, 224, 224), dtype=np.float32)
    np.testing.assert_allclose(predict_logits(net, x), predict_logits(source, x), atol=1e-5)
    y = predict_logits(net, x).argmax(1)            # attack the model's own decisions
    assert auto_batch_size(x.shape[1:]) == 64       # no 2048-image batches of 224x224x3
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    fgsm = FastGradientSignMethod(net, eps=8 / 255, loss_fn=loss)
    adv = fgsm.batch_generate(x, y)
    assert adv.shape == x.shape and adv.dtype == np.float32
    assert np.abs(adv - x).max() <= 8 / 255 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    sweep = fgsm.sweep(x, y, [0.0, 2 / 255, 8 / 255])
    assert sweep.accuracy[0] == 1.0 and sweep.accuracy[-1] <= sweep.accuracy[0]
    pgd = ProjectedGradientDescent(net, eps=8 / 255, eps_iter=2 / 255, nb_iter=5, loss_fn=loss)
    adv = pgd.batch_generate(x, y)
    assert np.abs(adv - x).max() <= 8 / 255 + 1e-6
    assert np.mean(predict_logits(net, adv).argmax(1) == y) <= sweep.accuracy[-1] + 1e-9
