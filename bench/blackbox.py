"""The ``blackbox`` row of bench/run.py: MindArmour's query attacks, mindsec against
mindarmour 2.0.0, at the same query budget, on the same digits and the same network.

mindsec is served through a counting :class:`mindsec.privacy.PredictionAPI` and compiled
beforehand; MindArmour through the ``BlackModel`` subclass its users write (one network
call per ``predict``). Each attack runs ``repeats`` interleaved rounds (``timed``: one
warm-up call each first); the row keeps the median seconds, the success rate, the mean L2
of the successes and the queries per point of the last round.
"""
import numpy as np
import mindspore as ms

from mindsec.attacks import (NES, GeneticAttack, HopSkipJumpAttack, PointWiseAttack,
                             PSOAttack, SaltAndPepperNoiseAttack)
from mindsec.privacy import PredictionAPI


def cases():
    """name -> (mindsec class, mindarmour class, shared keyword arguments, label kind:
    "true" untargeted labels, "target" target classes, None no labels)."""
    from mindarmour.adv_robustness import attacks as ma  # pylint: disable=import-outside-toplevel
    return {
        "SaltAndPepperNoiseAttack": (SaltAndPepperNoiseAttack, ma.SaltAndPepperNoiseAttack,
                                     dict(max_iter=5), "true"),
        "GeneticAttack": (GeneticAttack, ma.GeneticAttack,
                          dict(targeted=False, max_steps=50, per_bounds=0.2), "true"),
        "HopSkipJumpAttack": (HopSkipJumpAttack, ma.HopSkipJumpAttack,
                              dict(num_iterations=10, max_num_evals=300), None),
        "NES (Query_Limit)": (NES, ma.NES, dict(scene="Query_Limit", max_queries=1500,
                                                samples_per_draw=40, batch_size=40,
                                                epsilon=0.3, starting_eps=0.3), "target"),
        "PointWiseAttack": (PointWiseAttack, ma.PointWiseAttack, dict(max_iter=100), "true"),
        "PSOAttack": (PSOAttack, ma.PSOAttack, dict(t_max=40, bounds=(0.0, 1.0)), "true"),
    }


def _black_model(net):
    from mindarmour import BlackModel  # pylint: disable=import-outside-toplevel

    class Model(BlackModel):                      # what a MindArmour user writes
        def predict(self, inputs):
            inputs = inputs[None] if inputs.ndim == 3 else inputs
            return net(ms.Tensor(inputs.astype(np.float32))).asnumpy()
    return Model()


def blackbox_rows(net, x, y, repeats, timed, names=None):
    """One row per attack (``names``: a subset of :func:`cases`) and implementation (see
    the module docstring)."""
    if not hasattr(np, "int"):          # mindarmour 2.0.0's PSOAttack uses np.int
        np.int = int                    # pylint: disable=attribute-defined-outside-init
    target = ((y + 1) % 10).astype(np.int64)
    rows = []
    for name, (ours, theirs, kw, labels) in cases().items():
        if names is not None and name not in names:
            continue
        label = {"true": y, "target": target, None: None}[labels]
        scene = kw.get("scene")
        rest = {k: v for k, v in kw.items() if k != "scene"}
        out = {}

        def run_ours(out=out, ours=ours, rest=rest, label=label, scene=scene):
            args = (scene,) if scene else ()
            api = PredictionAPI(net)
            out["mindsec"] = ours(api, *args, seed=0, **rest).generate(x, label)

        def run_theirs(out=out, theirs=theirs, rest=rest, label=label, scene=scene):
            args = (scene,) if scene else ()
            attack = theirs(_black_model(net), *args, **rest)
            if scene:
                attack.set_target_images(x)
            out["mindarmour"] = attack.generate(x, label)
        seconds = timed({"mindsec": run_ours, "mindarmour": run_theirs}, max(1, repeats))
        for who in ("mindsec", "mindarmour"):
            ok, adv, queries = (np.asarray(a) for a in out[who])
            ok = ok.astype(bool)
            adv = adv.reshape(x.shape)
            l2 = np.linalg.norm((adv - x).reshape(len(x), -1), axis=1)
            rows.append({"row": "blackbox", "attack": name, "impl": who,
                         "seconds": seconds[who], "images": len(x),
                         "success": float(ok.mean()),
                         "mean_l2": float(l2[ok].mean()) if ok.any() else None,
                         "queries_per_point": float(np.mean(queries))})
    return rows


def blackbox_table(rows):
    """The Markdown table of the rows (empty without them)."""
    pairs = {}
    for r in rows:
        if r["row"] == "blackbox":
            pairs.setdefault(r["attack"], {})[r["impl"]] = r
    if not pairs:
        return []
    n = next(iter(pairs.values()))["mindsec"]["images"]
    lines = ["", f"MindArmour's black-box attacks, same budget, {n} test digits:", "",
             "| attack | mindsec s | mindarmour s | speed-up (target 3x) | success mindsec / "
             "mindarmour | mean L2 | queries per point |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, pair in pairs.items():
        ours, ref = pair["mindsec"], pair["mindarmour"]
        speed = ref["seconds"] / ours["seconds"]

        def l2(r):
            return "-" if r["mean_l2"] is None else f"{r['mean_l2']:.2f}"
        lines.append(f"| {name} | {ours['seconds']:.2f} | {ref['seconds']:.2f} | "
                     f"{speed:.1f}x ({'met' if speed >= 3 else 'NOT met'}) | "
                     f"{ours['success']:.0%} / {ref['success']:.0%} | {l2(ours)} / {l2(ref)} | "
                     f"{ours['queries_per_point']:.0f} / {ref['queries_per_point']:.0f} |")
    return lines
