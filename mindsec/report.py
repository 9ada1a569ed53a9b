"""Markdown reports: headings, paragraphs, tables and PNG figures, written atomically.

    >>> md = Markdown("FGSM on LeNet5")
    >>> md.table(["metric", "value"], [["accuracy", 0.052]])
    >>> md.figure("fgsm_examples.png", "originals, perturbations, adversarial images")
    >>> md.write("runs/attack/report.md")

Figures are referred to by paths relative to the report, so a report directory can be
moved or zipped whole.
"""
from pathlib import Path

from .atomic import write_text


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


class Markdown:
    """A Markdown document built in order."""

    def __init__(self, title):
        self.lines = [f"# {title}", ""]

    def section(self, title):
        self.lines += [f"## {title}", ""]
        return self

    def paragraph(self, text):
        self.lines += [text, ""]
        return self

    def bullets(self, items):
        self.lines += [f"- {item}" for item in items] + [""]
        return self

    def table(self, headers, rows):
        """A table; floats are written with 4 decimals."""
        self.lines.append("| " + " | ".join(_cell(h) for h in headers) + " |")
        self.lines.append("|" + "---|" * len(headers))
        self.lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
        self.lines.append("")
        return self

    def figure(self, path, caption):
        """An image, by its file name (figures live next to the report)."""
        self.lines += [f"![{caption}]({Path(path).name})", "", f"*{caption}*", ""]
        return self

    def code(self, text):
        self.lines += ["```", text.rstrip("\n"), "```", ""]
        return self

    def text(self):
        return "\n".join(self.lines).rstrip("\n") + "\n"

    def write(self, path):
        """Write the report to ``path`` atomically (parents created). Returns the path."""
        write_text(path, self.text())
        return path
