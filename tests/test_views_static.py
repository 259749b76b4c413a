"""Static renderings that survive: what a sanitiser, GitHub and nbconvert get, and the lessons' policy."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
from conftest import SEED_SOURCE as SEED

import lambda_widget as lw
from lambda_widget.views import html
from lambda_widget.views.snapshot import pool_snapshot
from lambda_widget.views.static_outputs import WIDGET_VIEW, main, problems, strip

LESSONS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IMG = re.compile(r'<img class="(lw-[a-z-]+)" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]*)"')


@pytest.fixture
def mgr():
    with lw.ContainerManager(seed=7, virtual_clock=True) as manager:
        yield manager


def without_style(page: str) -> str:
    return re.sub(r"<style>.*?</style>", "", page, flags=re.S)


def test_static_pages_draw_svg_as_images_with_the_path_in_words(mgr):
    mgr.register("double", SEED, idle_timeout=600)
    inv = mgr.invoke("double", {"value": 5})
    mgr.advance(600)
    page = html.invocation_page(inv.to_dict())
    pool = html.pool_page(pool_snapshot(mgr))
    for static in (page, pool):
        assert "<svg" not in static  # a sanitiser would drop it and run its labels together
    (flow_cls, flow_svg, flow_alt), = IMG.findall(page)
    assert flow_cls == "lw-flow-img" and base64.b64decode(flow_svg).decode().startswith("<svg")
    assert flow_alt.startswith("Path taken: Event triggers Lambda → Lambda service receives event")
    assert "Current step: Terminated or reset." in flow_alt
    assert '<div class="lw-flow-path">Path taken: Event triggers Lambda' in page  # shown, not only alt text
    (tl_cls, _, tl_alt), = IMG.findall(pool)
    assert tl_cls == "lw-timeline-img" and "env-1 terminated" in tl_alt
    # The widget keeps inline SVG: the page's theme colours reach it there.
    assert "<svg" in html.stage_html(inv.to_dict(), 8)


def test_without_the_stylesheet_words_stay_apart(mgr):
    fn = mgr.register("double", SEED)
    inv = mgr.invoke("double", {"value": 5}).to_dict()
    bare = without_style(html.invocation_page(inv)) + without_style(html.function_page(fn.to_dict()))
    bare += without_style(html.pool_page(pool_snapshot(mgr)))
    text = re.sub(r"<[^>]+>", "", bare)
    for glued in ("double$LATEST", "$LATESTfunction", "cold startsucceeded", "Request id", "env-1idle", "1def",
                  "initinvocation"):
        if glued == "Request id":
            assert re.search(r"Request id [0-9a-f-]{36} · Environment env-1", text)
        else:
            assert glued not in text, glued
    assert "double $LATEST · function" in text and "cold start · succeeded" in text
    assert "1 def lambda_handler(event, context):" in text


def _stored(nb, cell: int = 0):
    return nb.cells[cell].outputs[0]


def test_the_lessons_policy_strips_widget_references_and_state(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/html": "<div>static</div>", "text/plain": "text"})]
    nb.cells = [cell]
    assert len(problems(nb)) == 2
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    assert main(["--check", str(path)]) == 1
    assert main([str(path)]) == 0
    back = nbformat.read(path, as_version=4)
    assert problems(back) == [] and "widgets" not in back.metadata
    assert set(_stored(back).data) == {"text/html", "text/plain"}
    assert strip(back) == 0  # idempotent


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_committed_lessons_keep_static_views_only(lesson: Path):
    """Apply with: python -m lambda_widget.views.static_outputs --execute notebooks/*.ipynb"""
    assert problems(nbformat.read(lesson, as_version=4)) == []


def test_inline_charts_are_stored_as_images():
    """A chart printed as inline SVG (a simulation's result) is kept as an image of itself."""
    from lambda_widget.views.static_outputs import svg_as_images

    chart = ('<div><svg width="100%" role="img" aria-label="Environments over time" viewBox="0 0 460.8 187.2" '
             'xmlns="http://www.w3.org/2000/svg"><text style="fill: var(--jp-ui-font-color1, #1f2328)">10</text>'
             '<text>20</text></svg><p>after</p></div>')
    out = svg_as_images(chart)
    (cls, data, alt), = IMG.findall(out)
    svg = base64.b64decode(data).decode()
    assert "<svg" not in out and out.endswith("<p>after</p></div>") and alt == "Environments over time"
    assert 'width="460.8" height="187.2"' in svg and "<text>20</text>" in svg
