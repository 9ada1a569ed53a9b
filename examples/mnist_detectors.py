"""MindArmour's adversarial-example detectors through mindsec's library API.

    python examples/mnist_detectors.py

LeNet5 from runs/lenet5.ckpt (trained there if missing, as examples/mnist_train.py does), a
MagNet auto-encoder trained on training digits, FGSM / PGD (eps 0.3) and CW examples of test
digits; per detector: ROC AUC and TPR at 5% FPR of its detect_diff score (RegionBased: its 0/1
verdict), and detect()'s rates at the threshold fit() set on 500 other clean test digits;
then PGD that knows MagNet (its loss minus the weighted reconstruction error) against the
error-based detector.
"""
import time

import numpy as np
from mindspore import nn
from sklearn.metrics import roc_auc_score, roc_curve

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import attacks, context, data, detectors as D, workflows
from mindsec.batching import predict_logits

start = time.perf_counter()
print(f"device {context.set_device('auto')}")
source = data.resolve_data_dir()
train_x, _ = data.load_mnist("train", num_samples=8000, source=source)
test_x, test_y = data.load_mnist("test", num_samples=1000, source=source)
net = workflows.lenet5("runs/lenet5.ckpt", source)
fit_x, fit_y, x, y = test_x[:500], test_y[:500], test_x[500:], test_y[500:]
ae = D.MagNetAutoEncoder()
D.train_auto_encoder(ae, train_x, epochs=4, batch_size=32)

ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
made = {"FGSM": attacks.FastGradientSignMethod(net, eps=0.3, bounds=(0, 1), loss_fn=ce),
        "PGD": attacks.ProjectedGradientDescent(net, eps=0.3, eps_iter=0.05, nb_iter=10,
                                                loss_fn=ce),
        "CW": attacks.CarliniWagnerL2Attack(net, 10, bin_search_steps=2, max_iterations=100,
                                            initial_const=1.0)}
dets = {"ErrorBased": D.ErrorBasedDetector(ae, false_positive_rate=0.05),
        "DivergenceBased": D.DivergenceBasedDetector(ae, net),
        "SpatialSmoothing": D.SpatialSmoothing(nn.SequentialCell([net, nn.Softmax()])),
        "RegionBased": D.RegionBasedDetector(net, max_radius=0.3, search_step=0.02,
                                             degrade_limit=0.01)}
for name, det in dets.items():
    det.fit(fit_x, np.eye(10)[fit_y]) if name == "RegionBased" else det.fit(fit_x)
score = {name: (lambda v, d=det: np.asarray(d.detect(v), float)) if name == "RegionBased"
         else det.detect_diff for name, det in dets.items()}
clean = {name: score[name](x) for name in dets}
dets["Ensemble(vote)"] = D.EnsembleDetector(list(dets.values()), policy="vote")

for attack_name, attack in made.items():
    n = 200 if attack_name == "CW" else len(x)
    adv = attack.batch_generate(x[:n], y[:n])
    adv = adv[predict_logits(net, adv).argmax(1) != y[:n]]      # the examples that fool it
    print(f"{attack_name}: {len(adv)} adversarial examples of {n} digits")
    truth = np.r_[np.zeros(len(x)), np.ones(len(adv))]
    for name, det in dets.items():
        line = f"  {name:16s} "
        if name in score:
            fpr, tpr, _ = roc_curve(truth, np.r_[clean[name], score[name](adv)])
            line += f"ROC AUC {roc_auc_score(truth, np.r_[clean[name], score[name](adv)]):.3f}" \
                    f"  TPR@5%FPR {tpr[fpr <= 0.05].max():.3f}"
        print(f"{line:54s} fitted: TPR {np.mean(det.detect(adv)):.3f} "
              f"FPR {np.mean(det.detect(x)):.3f}")

# an adaptive attack (Carlini and Wagner 2017, "not easily detected"): PGD that knows the
# detector, ascending the classifier's loss minus MagNet's reconstruction error
class KnowsMagNet(nn.Cell):
    def __init__(self, weight):
        super().__init__()
        self.net, self.ae, self.weight = net, ae, weight
        self.ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="sum")

    def construct(self, images, labels):
        error = ((images - self.ae(images)) ** 2).mean(axis=(1, 2, 3)).sum()
        return self.ce(self.net(images), labels) - self.weight * error


errors = dets["ErrorBased"]
for weight in (1e3, 1e4):
    adv = attacks.ProjectedGradientDescent(KnowsMagNet(weight), eps=0.3, eps_iter=0.02,
                                           nb_iter=40).batch_generate(x, y.astype(np.int32))
    fooled = predict_logits(net, adv).argmax(1) != y
    caught = np.asarray(errors.detect(adv), bool)
    truth = np.r_[np.zeros(len(x)), np.ones(fooled.sum())]
    auc = roc_auc_score(truth, np.r_[clean["ErrorBased"], errors.detect_diff(adv[fooled])]) \
        if fooled.any() else float("nan")
    print(f"adaptive PGD-40, reconstruction weight {weight:g}: fools LeNet5 on "
          f"{fooled.mean():.3f}, unseen by ErrorBased on {np.mean(fooled & ~caught):.3f} "
          f"(ROC AUC {auc:.3f})")

# a query stream: 200 benign digits, then 100 small steps around one digit (a black-box probe)
similar = D.SimilarityDetector(net, max_k_neighbor=20, chunk_size=256, fpr=0.01)
similar.fit(fit_x)
probes = np.clip(x[0] + np.random.default_rng(0).normal(0, 0.02, (100,) + x.shape[1:]), 0, 1)
similar.detect(np.concatenate([x[1:201], probes.astype(np.float32)]))
caught = np.array(similar.get_detected_queries())
print(f"SimilarityDetector: {np.sum(caught <= 200)} detections in 200 benign queries, "
      f"{np.sum(caught > 200)} in 100 probe queries")
print(f"finished in {time.perf_counter() - start:.0f} s")
