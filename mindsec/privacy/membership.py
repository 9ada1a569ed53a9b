"""Membership inference: was this record in the model's training set?

* :class:`ThresholdMembershipAttack` — Yeom et al. (CSF 2018), Salem et al. (NDSS 2019):
  a model is more confident on the records it was trained on; score each record by the
  API's confidence in its true label (or in its top class) and threshold it.
* :class:`ShadowModelMembershipAttack` — Shokri et al. (S&P 2017): train shadow models on
  the attacker's own data with known membership, learn what members' answers look like
  (a logistic regression on the sorted probability vector and the true-label confidence),
  then apply it to the victim's answers.

Both report ROC AUC (0.5: no leak) and the membership advantage max(TPR - FPR).
"""
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .. import train
from ..checks import check_count, to_class_indices
from ..errors import InputError
from .api import PredictionAPI, check_api, check_records

SCORES = ("true_confidence", "max_confidence")


def membership_metrics(member_scores, nonmember_scores):
    """ROC AUC and advantage max(TPR - FPR) of scores where higher means "member"."""
    scores = np.concatenate([member_scores, nonmember_scores])
    truth = np.concatenate([np.ones(len(member_scores)), np.zeros(len(nonmember_scores))])
    fpr, tpr, _ = roc_curve(truth, scores)
    return {"auc": float(roc_auc_score(truth, scores)), "advantage": float(np.max(tpr - fpr)),
            "members": int(len(member_scores)), "nonmembers": int(len(nonmember_scores))}


def _labels(labels, n):
    """Class indices (int64) from indices or one-hot rows, checked against ``n`` inputs."""
    return to_class_indices(labels, n).astype(np.int64)


def _answer_features(api, inputs, labels):
    """(true-label confidence, sorted probability vector) from the API's answers; a
    label-only API gives 1/0 for right/wrong and a one-hot "vector"."""
    answers = api.query(inputs)
    labels = _labels(labels, len(inputs))
    if api.output == "label":
        hit = (answers == labels).astype(np.float64)
        return hit, np.stack([hit, 1.0 - hit], axis=1)
    probs = answers.astype(np.float64)
    return probs[np.arange(len(probs)), labels], -np.sort(-probs, axis=1)


class ThresholdMembershipAttack:
    """Score = the API's confidence in the record's true label (``"true_confidence"``) or
    in its top class (``"max_confidence"``, needs no label)."""

    def __init__(self, api, score="true_confidence"):
        self.api = check_api(api)
        if score not in SCORES:
            raise InputError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
        self.score = score

    def scores(self, inputs, labels):
        true_conf, sorted_probs = _answer_features(self.api, inputs, labels)
        return true_conf if self.score == "true_confidence" else sorted_probs[:, 0]

    def evaluate(self, members, nonmembers):
        """``members``/``nonmembers``: ``(inputs, labels)`` pairs. Returns AUC, advantage."""
        return _evaluate(self, members, nonmembers)


class ShadowModelMembershipAttack:
    """Shokri et al.'s attack with ``num_shadows`` shadow models.

    Args:
        api (PredictionAPI): the victim's API (queried only in :meth:`evaluate`).
        make_shadow (callable): returns a fresh, untrained ``nn.Cell`` (the attacker's
            guess at the victim's architecture).
        recipe (mindsec.train.Recipe): how each shadow model is trained (ideally like the
            victim: the attack learns the victim's degree of overfitting from it).
        num_shadows (int): Default 1.
    """

    def __init__(self, api, make_shadow, recipe, num_shadows=1):
        self.api = check_api(api)
        if not callable(make_shadow):
            raise InputError("make_shadow must be a callable returning a fresh nn.Cell")
        check_count("num_shadows", num_shadows)
        self.make_shadow = make_shadow
        self.recipe = recipe
        self.num_shadows = num_shadows
        self.classifier = None

    @staticmethod
    def _features(true_conf, sorted_probs):
        """Log-odds of the true-label confidence, log of the top-3 probabilities, and the
        confidence itself (standardised before the logistic regression)."""
        eps = 1e-7
        p = np.clip(true_conf, eps, 1.0 - eps)
        top = np.clip(sorted_probs[:, :3], eps, 1.0)
        return np.column_stack([np.log(p) - np.log1p(-p), np.log(top), true_conf])

    def fit(self, inputs, labels, seed=0, log=print):
        """Train the shadow models on the attacker's ``inputs``/``labels``: each on a random
        half (its members), scored on both halves. Returns the shadows' own AUC."""
        check_records("inputs (the shadow models' data)", inputs,
                      minimum=2 * self.recipe.batch_size,
                      what=f"records (each shadow trains on half, at least one batch of "
                           f"{self.recipe.batch_size})")
        labels = _labels(labels, len(inputs))
        rng = np.random.default_rng(seed)
        feats, truth = [], []
        for k in range(self.num_shadows):
            order = rng.permutation(len(inputs))
            half = len(inputs) // 2
            inside, outside = order[:half], order[half:2 * half]
            shadow = self.make_shadow()
            train.fit(shadow, inputs[inside], labels[inside], self.recipe, seed=seed + k,
                      log=lambda line: None)
            log(f"shadow model {k + 1}/{self.num_shadows} trained on {half} records")
            view = PredictionAPI(shadow, output=self.api.output, top_k=self.api.top_k,
                                 decimals=self.api.decimals)
            for idx, member in ((inside, 1.0), (outside, 0.0)):
                feats.append(self._features(*_answer_features(view, inputs[idx],
                                                              labels[idx])))
                truth.append(np.full(len(idx), member))
        feats, truth = np.concatenate(feats), np.concatenate(truth)
        self.classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        self.classifier.fit(feats, truth)
        return float(roc_auc_score(truth, self.classifier.predict_proba(feats)[:, 1]))

    def scores(self, inputs, labels):
        if self.classifier is None:
            raise InputError("call fit() on the attacker's data before scoring")
        feats = self._features(*_answer_features(self.api, inputs, labels))
        return self.classifier.predict_proba(feats)[:, 1]

    def evaluate(self, members, nonmembers):
        """``members``/``nonmembers``: ``(inputs, labels)`` pairs. Returns AUC, advantage."""
        return _evaluate(self, members, nonmembers)


def _evaluate(attack, members, nonmembers):
    """Both sets checked before the API answers either (a one-sided AUC is undefined)."""
    for name, records in (("members", members), ("nonmembers", nonmembers)):
        check_records(name, records)
    return membership_metrics(attack.scores(*members), attack.scores(*nonmembers))
