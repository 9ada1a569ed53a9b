"""Throughput against batch size from a bench/run.py JSON: the floor (compiled forward +
input gradient), and FGSM by mindsec and MindArmour in GRAPH and PYNATIVE mode.

    python bench/plot.py bench/results/2026-11-22-CPU.json docs/figures/throughput_vs_batch.png
"""
import json
import sys
from pathlib import Path

from mindsec.plots import _pyplot, _save


def batch_of(row):
    """The batch of a row: an int, or the number in 'default (2048)'."""
    batch = row["batch"]
    return batch if isinstance(batch, int) else int(str(batch).split("(")[1].rstrip(")"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python bench/plot.py RESULT.json OUT.png", file=sys.stderr)
        return 2
    result = json.loads(Path(argv[0]).read_text())
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    floor = sorted((r["batch"], r["samples_per_s"]) for r in result["rows"]
                   if r["row"] == "floor" and r["what"].startswith("forward+"))
    ax.plot(*zip(*floor), color="black", lw=1.5, ls=":", label="floor: forward+backward")
    styles = {("mindsec", "graph"): ("tab:blue", "-"), ("mindsec", "pynative"): ("tab:blue", "--"),
              ("mindarmour", "graph"): ("tab:orange", "-"),
              ("mindarmour", "pynative"): ("tab:orange", "--")}
    for (impl, mode), (color, ls) in styles.items():
        rows = [r for r in result["rows"] if r["row"] == "fgsm" and r["impl"] == impl
                and r["mode"] == mode]
        if not rows:
            continue
        fixed = sorted((r["batch"], r["samples_per_s"]) for r in rows
                       if isinstance(r["batch"], int))
        ax.plot(*zip(*fixed), color=color, ls=ls, marker="o", ms=3,
                label=f"FGSM {impl}, {mode}")
        for r in rows:
            if not isinstance(r["batch"], int):      # the library's default batch
                ax.plot(batch_of(r), r["samples_per_s"], color=color, marker="*", ms=11,
                        ls="none")
    ax.plot([], [], color="gray", marker="*", ms=11, ls="none", label="default batch")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("images / s")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right")
    ax.set_title(f"LeNet5 FGSM, {result['images']:,} MNIST images, "
                 f"{result['machine']['cores']}-core {result['device']}", fontsize=10)
    print(_save(plt, fig, argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
