"""Figures (matplotlib, PNG): adversarial examples and accuracy against eps."""
from pathlib import Path

import numpy as np

from .atomic import atomic_path


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed)."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    return plt


def save_figure(fig, path):
    """Write ``fig`` at ``path`` atomically (a killed run leaves the old file or none, never
    half a picture; the format from the suffix, PNG without one) and close it. Returns the
    path."""
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".").lower() or "png")
    pyplot().close(fig)
    return path


def _finish(ax, xlabel, ylabel, title, legend_at, ylabel_size=None):
    """Labels, a 0-100 y range, grid, legend and title: the accuracy plots' common frame."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel, fontsize=ylabel_size)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_at, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)


def _integer_ticks(ax):
    """Whole numbers only on the x axis (epochs)."""
    from matplotlib.ticker import MaxNLocator  # pylint: disable=import-outside-toplevel
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def adversarial_grid(inputs, adv_inputs, labels, clean_probs, adv_probs, path, count=8,
                     title=None):
    """Rows: originals, perturbations (adv - x, centred grey), adversarial images; each
    with its label, predicted class and confidence. Picks the first ``count`` inputs the
    model classified correctly. Returns the path."""
    plt = pyplot()
    labels = np.asarray(labels)
    right = np.flatnonzero(clean_probs.argmax(1) == labels)
    picks = (right if right.size >= count else np.arange(len(labels)))[:count]
    fig, axes = plt.subplots(3, len(picks), figsize=(1.45 * len(picks), 5.2), squeeze=False)
    rows = ("original", "perturbation", "adversarial")
    for col, i in enumerate(picks):
        delta = adv_inputs[i, 0] - inputs[i, 0]
        scale = max(float(np.abs(delta).max()), 1e-12)
        images = (inputs[i, 0], 0.5 + 0.5 * delta / scale, adv_inputs[i, 0])
        cp, ap = clean_probs[i], adv_probs[i]
        captions = (f"true {labels[i]}\npred {cp.argmax()} ({cp.max():.2f})",
                    f"|d|max {scale:.2f}",
                    f"pred {ap.argmax()} ({ap.max():.2f})")
        for row in range(3):
            ax = axes[row, col]
            ax.imshow(images[row], cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            wrong = row == 2 and ap.argmax() != labels[i]
            ax.set_title(captions[row], fontsize=8, color="crimson" if wrong else "black")
            if col == 0:
                ax.set_ylabel(rows[row], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def eps_curve(sweep, path, title=None):
    """Accuracy and mean true-class probability against eps from a
    :class:`mindsec.attacks.SweepResult`. Returns the path."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    ax.plot(sweep.eps, 100 * sweep.accuracy, marker="o", ms=3, label="accuracy")
    ax.plot(sweep.eps, 100 * sweep.mean_label_prob, marker="s", ms=3,
            label="mean true-class probability")
    _finish(ax, "eps (fraction of the [0, 1] pixel range)", "%", title, "upper right")
    return save_figure(fig, path)


def robustness_curves(reports, path, title=None):
    """Worst-case robust accuracy (with its confidence band) against eps for each model,
    from ``{name: RobustnessReport}``. Returns the path."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, report in reports.items():
        eps = np.asarray(report.eps)
        acc = 100 * np.asarray(report.robust_accuracy)
        low, high = (100 * np.asarray(v) for v in zip(*report.robust_ci))
        line, = ax.plot(eps, acc, marker="o", ms=3, label=name)
        ax.fill_between(eps, low, high, color=line.get_color(), alpha=0.2, lw=0)
    names = " -> ".join(a["name"] for a in next(iter(reports.values())).attacks)
    _finish(ax, "eps (Linf, fraction of the [0, 1] pixel range)",
            "worst-case robust accuracy (%)", None, "upper right")
    ax.set_title((title + "\n" if title else "") + f"cascade: {names}", fontsize=8.5)
    return save_figure(fig, path)


def image_rows(images, labels, path, title=None, per_row=None):
    """A grid with one row per class: ``images`` (N, 1, H, W) in [0, 1] grouped by
    ``labels`` (the class each image stands for), up to ``per_row`` per row (default: the
    most any class has). Returns the path."""
    plt = pyplot()
    labels = np.asarray(labels).ravel()
    classes = np.unique(labels)
    groups = [np.flatnonzero(labels == c) for c in classes]
    width = per_row or max(len(g) for g in groups)
    fig, axes = plt.subplots(len(classes), width, squeeze=False,   # wide enough for a title
                             figsize=(max(0.75 * width + 0.6, 4.0), 0.75 * len(classes) + 0.6))
    for row, (cls, idx) in enumerate(zip(classes, groups)):
        for col in range(width):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(idx):
                ax.imshow(images[idx[col], 0], cmap="gray", vmin=0.0, vmax=1.0)
            if col == 0:
                ax.set_ylabel(str(cls), rotation=0, fontsize=9, labelpad=10, va="center")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def line_chart(series, path, xlabel, ylabel, title, *, log_x=False, ylim=None, hline=None,
               legend_at="lower right", integer_x=False):
    """Curves ``series`` = ``[(label, xs, ys, style)]`` (``style``: matplotlib line options)
    with labelled axes, a grid, an optional dashed reference line at ``hline``, whole
    numbers on the x axis with ``integer_x`` (epochs). Returns the path."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for label, xs, ys, style in series:
        ax.plot(xs, ys, label=label, **style)
    if log_x:        # ticks at the measured points, plain numbers, no minor labels
        from matplotlib.ticker import NullFormatter  # pylint: disable=import-outside-toplevel
        ax.set_xscale("log")
        ticks = sorted({float(x) for _, xs, _, _ in series for x in xs})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    if ylim is not None:
        ax.set_ylim(*ylim)
    if hline is not None:
        ax.axhline(hline, color="grey", lw=0.8, ls="--")
    if integer_x:
        _integer_ticks(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend_at)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def robustness_history(records, path, title=None):
    """Clean and adversarial accuracy (and the loss, right axis) against the epoch, from a
    :class:`mindsec.callbacks.RobustnessMonitor` history. Returns the path."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    epochs = [r["epoch"] for r in records]
    for key, label in (("clean_acc", "clean"), ("fgsm_acc", "FGSM"), ("pgd_acc", "PGD")):
        if records and key in records[0]:
            ax.plot(epochs, [100 * r[key] for r in records], marker="o", ms=3, label=label)
    _finish(ax, "epoch", "validation accuracy (%)", title, "lower left")
    _integer_ticks(ax)
    losses = [r.get("loss") for r in records]
    if any(v is not None for v in losses):
        right = ax.twinx()
        right.plot(epochs, losses, color="grey", ls=":", label="training loss")
        right.set_ylabel("training loss", color="grey")
    return save_figure(fig, path)
