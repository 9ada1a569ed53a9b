"""Progress on long work: a tqdm bar (rate, ETA) on a terminal, one line per stage when the
output is not a terminal (CI logs), nothing extra when quiet.

    >>> with progress.Stages(6, "AutoAttack eps 0.3") as stages:
    ...     for attack in attacks:
    ...         ...
    ...         stages.step(f"{attack.label}: broke 183 of 190 (5.1 s)")

``mindsec --quiet`` (or ``MINDSEC_QUIET=1``) turns bars and stage lines off; results are
still printed. The bar writes to stderr, so stdout stays the report.
"""
import os
import sys

from . import runrecord

ENV_QUIET = "MINDSEC_QUIET"
_STATE = {"quiet": os.environ.get(ENV_QUIET, "") not in ("", "0")}


def set_quiet(flag=True):
    """Bars and stage lines off (``True``) or on."""
    _STATE["quiet"] = bool(flag)


def is_quiet():
    return _STATE["quiet"]


def _on_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Stages:
    """``total`` stages of one job called ``desc``. On a terminal a tqdm bar that moves one
    stage at a time and shows the last stage's line; elsewhere ``log(line)`` per stage;
    with quiet on, nothing. ``leave=False`` removes the bar when it closes (for bars
    inside a job that logs its own summary lines)."""

    def __init__(self, total, desc, unit="stage", log=print, stream=None, leave=True):
        stream = sys.stderr if stream is None else stream
        self.log, self.bar, self.total, self.done = log, None, total, 0
        self.quiet = is_quiet()
        if not self.quiet and _on_terminal(stream):
            from tqdm.auto import tqdm    # pylint: disable=import-outside-toplevel
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=stream, leave=leave,
                            dynamic_ncols=True)

    def step(self, line=None, n=1):
        """``n`` stages done; ``line`` says what the last one found (also passed to the run
        record, which ``mindsec status`` shows)."""
        self.done += n
        runrecord.note_progress(line, self.done, self.total)
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(n)
            if line:
                self.bar.set_postfix_str(line, refresh=False)
        elif line:
            self.log(line)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
