"""Keep a notebook's stored view outputs as their static renderings (the lessons' policy).

A lesson opened before it is run is untrusted: JupyterLab renders each stored output's
``text/html`` through its sanitiser, and GitHub and ``jupyter nbconvert`` show it too.
A stored widget reference is of no use there (its widget exists only in a kernel that
ran the cell; nbconvert would draw an empty box offline for it). So a committed lesson
keeps, for each view, its static HTML and text only, and no widget state::

    python -m lambda_widget.views.static_outputs notebooks/*.ipynb            # strip
    python -m lambda_widget.views.static_outputs --execute notebooks/*.ipynb  # run, then strip
    python -m lambda_widget.views.static_outputs --check notebooks/*.ipynb    # exit 1 if not so
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from lambda_widget.views.html import svg_img

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_SIZE = re.compile(r'(<svg\b[^>]*?)\swidth="[^"]*"(?:\sheight="[^"]*")?')


def svg_as_images(html: str) -> str:
    """Every inline <svg> in ``html`` as an <img> of itself (drawn at its viewBox size, on a white
    background): a sanitiser keeps an image, but drops an <svg> and runs its labels together."""

    def image(match: re.Match) -> str:
        svg = match.group(0)
        box = re.search(r'viewBox="[\d.\s-]*?([\d.]+)\s+([\d.]+)"', svg[:svg.index(">")])
        if box:
            svg = _SIZE.sub(rf'\1 width="{box.group(1)}" height="{box.group(2)}"', svg, count=1)
        label = re.search(r'aria-label="([^"]*)"', svg[:svg.index(">")])
        # Its var(--jp-…) colours fall back to the light theme's in an image; svg_img gives it the
        # light theme's background too, or its dark text would vanish in a dark theme.
        return svg_img(svg, label.group(1) if label else "chart", "lw-chart-img")

    return _SVG.sub(image, html)


def problems(nb: dict[str, Any]) -> list[str]:
    """What keeps ``nb`` from showing readable static views where widgets cannot render."""
    found = []
    if "widgets" in nb.get("metadata", {}):
        found.append("notebook metadata holds widget state (nbconvert would draw empty widgets offline)")
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                found.append(f"cell {index}: stored widget reference (keep only its text/html and text/plain)")
            html = data.get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            if "<svg" in html:
                found.append(f"cell {index}: inline <svg> in text/html (a sanitiser drops it and runs its "
                             "labels together)")
    return found


def strip(nb: dict[str, Any]) -> int:
    """Drop widget references that have a static rendering beside them, and the widget state;
    draw inline SVG (charts) as images. Returns how many widget references went."""
    removed = 0
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and ("text/html" in data or "text/plain" in data):
                del data[WIDGET_VIEW]
                removed += 1
            if "text/html" in data:
                html = data["text/html"]
                html = "".join(html) if isinstance(html, list) else html
                if "<svg" in html:
                    data["text/html"] = svg_as_images(html)
    return removed


def execute(path: Path, timeout: int = 600) -> Any:
    """Run the notebook in a fresh kernel of this Python, in its own folder, without widget state."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lambda_widget.views.static_outputs",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--execute", action="store_true", help="run each notebook first (needs nbclient)")
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook breaks the policy")
    args = parser.parse_args(argv)
    import nbformat

    failed = False
    for path in args.notebooks:
        nb = execute(path) if args.execute else nbformat.read(path, as_version=4)
        if args.check:
            for problem in problems(nb):
                failed = True
                print(f"{path}: {problem}")
            continue
        removed = strip(nb)
        nbformat.write(nb, path)
        print(f"{path}: {removed} widget reference(s) removed; static renderings kept")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
