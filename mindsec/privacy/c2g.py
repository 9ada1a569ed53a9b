"""C2G: Classifier-to-Generator attack (Kusano & Sakuma, 2018) as a conditional DCGAN.

The attacker holds a classifier (its API answers, and its gradients: white-box, as in the
source article) and auxiliary images from a related distribution, but not the training
data. A conditional generator ``G(z, y)`` learns to produce images that (a) a conditional
discriminator cannot tell from the auxiliary images carrying the same label and (b) the
target classifier assigns to class ``y``. What made it converge here (see docs/results.md):

* the auxiliary images are labelled by the API, and its **confidences are the soft
  condition** of the real images (a projection discriminator takes a probability vector),
  so ambiguous auxiliary images do not teach the discriminator wrong pairs;
* the generator's loss adds the target classifier's **cross-entropy for the requested
  class** (weight ``class_weight``), which is what ties the condition to the class — the
  adversarial loss alone barely controls it (the source article's finding);
* Adam(2e-4, beta1 0.5) for both nets, non-saturating GAN loss, batch 64 (DCGAN's
  settings), the generator's output a sigmoid in [0, 1] like the data.
"""
import time

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_count, check_number
from ..errors import InputError
from .api import check_api, check_records


class ConditionalGenerator(nn.Cell):
    """z (N, latent) and a class vector (N, K) -> images (N, 1, 32, 32) in [0, 1]."""

    def __init__(self, latent=64, num_classes=10, width=64):
        super().__init__()
        self.width = width
        self.fc = nn.Dense(latent + num_classes, 2 * width * 4 * 4)
        self.bn0 = nn.BatchNorm1d(2 * width * 4 * 4)
        self.up1 = nn.Conv2dTranspose(2 * width, width, 4, 2, pad_mode="pad", padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.up2 = nn.Conv2dTranspose(width, width // 2, 4, 2, pad_mode="pad", padding=1)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.up3 = nn.Conv2dTranspose(width // 2, 1, 4, 2, pad_mode="pad", padding=1)
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()

    def construct(self, z, y):
        h = self.relu(self.bn0(self.fc(ops.concat((z, y), axis=1))))
        h = h.reshape((-1, 2 * self.width, 4, 4))
        h = self.relu(self.bn1(self.up1(h)))
        h = self.relu(self.bn2(self.up2(h)))
        return self.sigmoid(self.up3(h))


class ProjectionDiscriminator(nn.Cell):
    """Images (N, 1, 32, 32) and a class vector (N, K) (one-hot or probabilities) -> one
    realism logit per image (Miyato & Koyama's projection discriminator)."""

    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width // 2, 4, 2, pad_mode="pad", padding=1)
        self.conv2 = nn.Conv2d(width // 2, width, 4, 2, pad_mode="pad", padding=1)
        self.conv3 = nn.Conv2d(width, 2 * width, 4, 2, pad_mode="pad", padding=1)
        self.act = nn.LeakyReLU(0.2)
        self.flatten = nn.Flatten()
        self.out = nn.Dense(2 * width * 4 * 4, 1)
        self.embed = nn.Dense(num_classes, 2 * width * 4 * 4, has_bias=False)

    def construct(self, x, y):
        h = self.act(self.conv1(x))
        h = self.act(self.conv2(h))
        h = self.flatten(self.act(self.conv3(h)))
        return self.out(h).squeeze(-1) + (self.embed(y) * h).sum(axis=1)


class _DiscriminatorStep(nn.Cell):
    def __init__(self, gen, disc, optimizer):
        super().__init__(auto_prefix=False)
        self.gen, self.disc, self.optimizer = gen, disc, optimizer
        self.softplus = ops.Softplus()
        self.grad = ops.value_and_grad(self._loss, None, optimizer.parameters)

    def _loss(self, real, y_real, z, y_fake):
        fake = ops.stop_gradient(self.gen(z, y_fake))
        return (self.softplus(-self.disc(real, y_real)).mean() +
                self.softplus(self.disc(fake, y_fake)).mean())

    def construct(self, real, y_real, z, y_fake):
        loss, grads = self.grad(real, y_real, z, y_fake)
        self.optimizer(grads)
        return loss


class _GeneratorStep(nn.Cell):
    def __init__(self, gen, disc, target, optimizer, class_weight):
        super().__init__(auto_prefix=False)
        self.gen, self.disc, self.target, self.optimizer = gen, disc, target, optimizer
        self.class_weight = class_weight
        self.softplus = ops.Softplus()
        self.ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        self.grad = ops.value_and_grad(self._loss, None, optimizer.parameters, has_aux=True)

    def _loss(self, z, y_onehot, y_idx):
        fake = self.gen(z, y_onehot)
        adversarial = self.softplus(-self.disc(fake, y_onehot)).mean()
        logits = self.target(fake)
        hits = (logits.argmax(axis=1) == y_idx).astype(ms.float32).mean()
        return adversarial + self.class_weight * self.ce(logits, y_idx), hits

    def construct(self, z, y_onehot, y_idx):
        (loss, hits), grads = self.grad(z, y_onehot, y_idx)
        self.optimizer(grads)
        return loss, hits


class C2GAttack:
    """Train a conditional generator of the target's classes from auxiliary images.

    Args:
        api (PredictionAPI): the target's API with ``white_box=True`` (the generator is
            trained through the target's gradients); its answers label the auxiliary data.
        latent (int): noise dimensions. Default 64.
        width (int): base channel width of both nets. Default 64.
        class_weight (float): weight of the target's cross-entropy in the generator's
            loss; 0 gives a plain conditional DCGAN on the API's labels. Default 1.0.
        soft_labels (bool): condition real images on the API's probabilities (True) or on
            its top label (False). Default True.
        lr (float): Adam learning rate of both nets (beta1 0.5). Default 2e-4.
        batch_size (int): Default 64.
        seed (int): Default 0.
    """

    def __init__(self, api, latent=64, width=64, class_weight=1.0, soft_labels=True,
                 lr=2e-4, batch_size=64, seed=0):
        self.api = check_api(api)
        if not api.white_box:
            raise InputError("C2G trains its generator through the target's gradients: "
                             "create the API with white_box=True")
        if api.output != "probabilities":
            raise InputError(f"C2G needs an API answering probabilities, this one answers "
                             f"{api.output!r}")
        for name, value in (("latent", latent), ("width", width), ("batch_size", batch_size)):
            check_count(name, value)
        self.latent, self.width, self.batch_size = latent, width, batch_size
        self.class_weight = check_number("class_weight", class_weight, low=0.0,
                                         low_open=False)
        self.lr = check_number("lr", lr, low=0.0)
        self.soft_labels = bool(soft_labels)
        self.seed = seed
        self.generator = None
        self.num_classes = None
        self.history = []

    def fit(self, aux_images, steps=2000, log=print):
        """Label ``aux_images`` (float32 (N, 1, 32, 32) in [0, 1]) through the API (N
        queries) and train for ``steps`` generator/discriminator updates. Returns the
        history (every 100 steps: losses and the target's accuracy on the batch)."""
        if not isinstance(aux_images, np.ndarray) or aux_images.ndim != 4 or \
                aux_images.shape[1:] != (1, 32, 32):
            raise InputError(f"aux_images must be a float32 array (N, 1, 32, 32), got "
                             f"{getattr(aux_images, 'shape', type(aux_images).__name__)}")
        check_records("aux_images", aux_images, what="images")
        check_count("steps", steps)
        probs = self.api.query(aux_images.astype(np.float32))
        k = probs.shape[1]
        self.num_classes = k
        cond = probs if self.soft_labels else np.eye(k, dtype=np.float32)[probs.argmax(1)]
        cond = cond.astype(np.float32)
        ms.set_seed(self.seed)
        gen = ConditionalGenerator(self.latent, k, self.width)
        disc = ProjectionDiscriminator(k, self.width)
        target = self.api.network      # differentiated through, never updated
        d_step = _DiscriminatorStep(gen, disc, nn.Adam(disc.trainable_params(), self.lr,
                                                       beta1=0.5))
        g_step = _GeneratorStep(gen, disc, target, nn.Adam(gen.trainable_params(), self.lr,
                                                           beta1=0.5), self.class_weight)
        d_step.set_train(True)
        g_step.set_train(True)
        target.set_train(False)
        rng = np.random.default_rng(self.seed)
        eye = np.eye(k, dtype=np.float32)
        b = self.batch_size
        start = time.perf_counter()
        window = []
        for i in range(steps):
            idx = rng.integers(0, len(aux_images), b)
            z1 = rng.standard_normal((b, self.latent)).astype(np.float32)
            z2 = rng.standard_normal((b, self.latent)).astype(np.float32)
            y1 = rng.integers(0, k, b).astype(np.int32)
            y2 = rng.integers(0, k, b).astype(np.int32)
            d_loss = d_step(ms.Tensor(aux_images[idx]), ms.Tensor(cond[idx]), ms.Tensor(z1),
                            ms.Tensor(eye[y1]))
            g_loss, hits = g_step(ms.Tensor(z2), ms.Tensor(eye[y2]), ms.Tensor(y2))
            window.append((d_loss, g_loss, hits))
            if (i + 1) % 100 == 0 or i + 1 == steps:
                values = np.array([[float(v.asnumpy()) for v in row] for row in window])
                window = []
                record = {"step": i + 1, "d_loss": float(values[:, 0].mean()),
                          "g_loss": float(values[:, 1].mean()),
                          "target_acc": float(values[:, 2].mean()),
                          "seconds": time.perf_counter() - start}
                self.history.append(record)
                if log:
                    log(f"C2G step {i + 1}/{steps}: D {record['d_loss']:.3f}  G "
                        f"{record['g_loss']:.3f}  target accuracy on generated "
                        f"{record['target_acc']:.3f}  {record['seconds']:.0f} s")
        gen.set_train(False)
        self.generator = gen
        return self.history

    def generate(self, classes, seed=0):
        """One image per entry of ``classes`` (float32 (N, 1, 32, 32))."""
        if self.generator is None:
            raise InputError("call fit() before generate()")
        classes = np.asarray(classes, np.int64).ravel()
        if classes.size == 0 or classes.min() < 0 or classes.max() >= self.num_classes:
            raise InputError(f"classes must be indices in [0, {self.num_classes}), got "
                             f"{classes[:5]}...")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((len(classes), self.latent)).astype(np.float32)
        y = np.eye(self.num_classes, dtype=np.float32)[classes]
        return self.generator(ms.Tensor(z), ms.Tensor(y)).asnumpy()
