"""The pool view and the function card show versions and aliases: widget, static HTML and text."""

from __future__ import annotations

import re

import pytest

import lambda_widget as lw
from lambda_widget.views import FunctionCard, PoolView, html, text
from lambda_widget.views.snapshot import pool_snapshot

ONE = "def lambda_handler(event, context):\n    return 1\n"


@pytest.fixture
def versioned():
    """$LATEST, v1 (provisioned for the alias live) and v2 (its 25 % canary), one environment each."""
    with lw.ContainerManager(seed=3, virtual_clock=True) as mgr:
        mgr.register("double", ONE, trace=False, description="doubles")
        mgr.publish("double", "first")
        mgr.register("double", ONE.replace("1", "2"), trace=False)
        mgr.publish("double")
        mgr.register("double", ONE.replace("1", "3"), trace=False)
        mgr.create_alias("double", "live", "1", routing={"2": 0.25})
        mgr.provision("double", 1, "live")
        for qualifier in (None, "2"):
            mgr.invoke("double", {}, qualifier=qualifier)
        mgr.register("other", ONE, trace=False)  # no versions: not in the table
        yield mgr


def test_the_pool_shows_which_version_each_environment_runs_and_the_aliases(versioned):
    snap = pool_snapshot(versioned)
    assert [(r["version"], r["environments"], r["provisioned"], r["aliases"]) for r in snap["versions"]] == [
        ("$LATEST", 1, 0, []), ("1", 1, 1, [{"name": "live", "weight": 0.75}]),
        ("2", 1, 0, [{"name": "live", "weight": 0.25}])]
    page = html.pool_page(snap)
    cards = re.findall(r'data-env="(env-\d+)".*?<span class="lw-ver">([^<]+)</span> · ([a-z -]+)', page)
    assert sorted(cards) == [("env-1", "v1", "provisioned for live"), ("env-2", "$LATEST", "on-demand"),
                             ("env-3", "v2", "on-demand")]
    table = re.search(r'<table class="lw-versions">.*?</table>', page).group(0)
    rows = [re.sub(r"<[^>]+>", "|", row) for row in re.findall(r"<tr class=\"lw-version-row\".*?</tr>", table)]
    assert [re.sub(r"\s*\|+\s*", "|", r).strip("|") for r in rows] == [
        "$LATEST|-|1|0|0", "v1|live|75 %|1|0|1|first", "v2|live|25 %|1|0|0"]
    root = re.match(r'<div class="([^"]+)">', page).group(1).split()  # two "$LATEST" are not TeX
    assert {"lw-root", "lw-pool", "mathjax_ignore", "tex2jax_ignore"} <= set(root), root
    lines = text.pool_text(snap, times=False).splitlines()
    assert "  env-1    double v1  idle (frozen)  0 invocations, 1 init" in lines[1:]
    assert lines[-4:] == ["Versions and aliases:", "  double $LATEST: 1 environment",
                          "  double v1: 1 environment (1 provisioned); aliases: live 75 %",
                          "  double v2: 1 environment; aliases: live 25 %"]


def test_without_versions_the_pool_has_no_versions_table():
    with lw.ContainerManager(seed=3, virtual_clock=True) as mgr:
        mgr.register("plain", ONE, trace=False)
        mgr.invoke("plain", {})
        snap = pool_snapshot(mgr)
        assert snap["versions"] == [] and "lw-versions" not in html.pool_page(snap)
        assert "Versions and aliases" not in text.pool_text(snap)


def test_the_function_card_shows_versions_and_aliases(versioned):
    card = FunctionCard(versioned.function("double"), versioned)
    page = card.static_html()
    assert '<span class="lw-ver">$LATEST</span>' in page and "lw-versions" in page
    assert "live <span class=\"lw-muted\">75 %</span>" in page
    assert card.plain_text().splitlines()[0] == "Function double $LATEST"
    assert "  double v2: 1 environment; aliases: live 25 %" in card.plain_text()
    first = FunctionCard(versioned.function("double", "1"), versioned)
    assert first.plain_text().splitlines()[0] == "Function double v1: first"
    alias = FunctionCard(versioned.function("double", "live"), versioned, alias=versioned.get_alias("double", "live"))
    assert alias.plain_text().splitlines()[:2] == ["Function double v1: first", "  alias live -> v1 75 %, v2 25 %"]
    assert '<div class="lw-alias">Alias <b>live</b>: v1 75 %, v2 25 %</div>' in alias.static_html()
    old = FunctionCard(versioned.versions("double")[1], versioned)  # version 1's card: no "updated" note
    assert "has been updated since" not in old.static_html()
    versioned.register("double", ONE)
    stale = FunctionCard(versioned.function("double", "live"), versioned)
    assert "has been updated since" not in stale.static_html()


def test_a_latest_card_notes_a_later_update():
    with lw.ContainerManager(seed=3, virtual_clock=True) as mgr:
        fn = mgr.register("double", ONE, trace=False)
        card = FunctionCard(fn, mgr)
        assert "has been updated since" not in card.static_html()
        mgr.register("double", ONE, trace=False)
        assert "$LATEST has been updated since" in FunctionCard(fn, mgr).static_html()


def test_an_invocation_through_an_alias_says_so(versioned):
    inv = versioned.invoke("double:live", {})
    data = inv.to_dict()
    assert data["qualifier"] == "live" and data["version"] in ("1", "2")
    assert f'<span class="lw-ver">v{data["version"]}</span> <span class="lw-muted">via alias live</span>' in \
        html.header_html(data)
    assert text.plain_invocation(inv).startswith(f"double v{data['version']} via alias live #")


def test_the_live_pool_widget_follows_a_publish(versioned):
    view = PoolView(versioned, live=True, interval=0.0)
    versioned.publish("double")
    view.refresh()
    assert [r["version"] for r in view.snapshot["versions"]] == ["$LATEST", "1", "2", "3"]
    assert "lw-versions" in view.body.value
