"""SnapStart and Shutdown beyond the engine: views, SAM, the traffic lab and pricing."""

from __future__ import annotations

import math

import pytest
from test_lifecycle_extensions import EXTENSIONS

import lambda_widget as lw
from lambda_widget import pricing, traffic
from lambda_widget.views.html import tracker_html
from lambda_widget.views.text import tracker_text
from lambda_widget.views.timeline import render_timeline, segments

GLOBALS_SOURCE = """import uuid
CONNECTION_ID = str(uuid.uuid4())


def lambda_handler(event, context):
    return CONNECTION_ID
"""


def test_the_tracker_says_the_globals_came_from_the_snapshot():
    with lw.ContainerManager(seed=1, isolation="process") as mgr:
        mgr.register("snap", GLOBALS_SOURCE, snap_start=True)
        mgr.publish("snap")
        restored = mgr.invoke("snap", {}, qualifier="1").to_dict()
        warm = mgr.invoke("snap", {}, qualifier="1").to_dict()
    html = tracker_html(restored, 1)
    assert "restored from the snapshot" in html and "⧉" in html
    assert "made at publish" in tracker_text(restored)
    assert "⧉" not in tracker_html(warm, 1) and "↻" in tracker_html(warm, 1)


def test_the_timeline_marks_a_shutdown_phase():
    with lw.ContainerManager(seed=1, virtual_clock=True, isolation="process") as mgr:
        mgr.register("f", "def lambda_handler(e, c):\n    return 1\n", extensions=str(EXTENSIONS),
                     idle_timeout=60)
        mgr.invoke("f", {})
        mgr.advance(60)
        data = mgr.to_dict()
    env = data["containers"][0]
    events = [e for e in data["events"] if e["container_id"] == env["id"]]
    _, marks = segments(env, events, {}, data["clock"])
    assert ("shutdown:SPINDOWN" in [kind for _t, kind in marks])
    svg = render_timeline({"function_name": None, "now": data["clock"], "containers": data["containers"],
                           "events": data["events"], "outcomes": {}})
    assert "Shutdown phase (SPINDOWN)" in svg


def test_sam_snap_start_applies_to_published_versions(tmp_path):
    from lambda_widget.project.sam import TemplateError, load

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 'hi'\n")
    template = tmp_path / "template.yaml"
    body = ("AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
            "Globals:\n  Function:\n    Runtime: python3.12\n    SnapStart:\n      ApplyOn: {apply}\n"
            "Resources:\n  Hello:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      CodeUri: src/\n      Handler: app.handler\n")
    template.write_text(body.format(apply="PublishedVersions"))
    with lw.ContainerManager(seed=1, isolation="process") as mgr:
        load(mgr, str(template))
        assert mgr.function("Hello").snap_start
        assert mgr.publish("Hello").snapshot["state"] == "ready"
        assert mgr.invoke("Hello", {}, qualifier="1").restored
    template.write_text(body.format(apply="Always"))
    with lw.ContainerManager(seed=1, isolation="process") as mgr, pytest.raises(TemplateError, match="ApplyOn"):
        load(mgr, str(template))


def test_snapstart_prices():
    one_day = pricing.snapstart_cost(1024, 100, 86_400)
    assert one_day["cache_usd"] == pytest.approx(86_400 * pricing.SNAPSTART_CACHE_GB_SECOND)
    assert one_day["restore_usd"] == pytest.approx(100 * pricing.SNAPSTART_RESTORE_GB)
    # The cache is billed for at least 3 hours.
    assert pricing.snapstart_cost(512, 0, 60)["cache_usd"] == pytest.approx(
        0.5 * 3 * 3600 * pricing.SNAPSTART_CACHE_GB_SECOND)


def test_the_traffic_lab_models_snapstart_against_provisioned_concurrency():
    day = traffic.diurnal(0.05)
    common = {"duration": "1d", "warm_ms": 20, "memory_mb": 512, "seed": 1}
    plain = lw.simulate(day, cold_ms=2200, **common)
    snap = lw.simulate(day, snap_start=True, restore_ms=250, **common)
    provisioned = lw.simulate(day, cold_ms=2200, provisioned_concurrency=2, **common)
    # The same arrivals and the same cold starts; a restore is shorter than an init...
    assert snap.cold_starts == plain.cold_starts > 0
    assert snap.latency_ms["max"] == pytest.approx(270, abs=1)
    assert plain.latency_ms["max"] == pytest.approx(2200, abs=1)  # cold_ms includes the handler
    # ...and costs the cache for the day plus a restore per cold start.
    extra = snap.config["snapstart_cost"]
    assert extra["restore_usd"] == pytest.approx(snap.cold_starts * 0.5 * pricing.SNAPSTART_RESTORE_GB)
    assert extra["cache_usd"] == pytest.approx(0.5 * 86_400 * pricing.SNAPSTART_CACHE_GB_SECOND)
    assert snap.to_dict()["cost_usd"] > plain.cost_usd
    # Provisioned concurrency removes the cold starts, at a higher price still.
    assert provisioned.cold_starts == 0 and provisioned.cost_usd > snap.cost_usd
    with pytest.raises(ValueError, match="restore_ms"):
        lw.simulate(day, snap_start=True, **common)
    with pytest.raises(ValueError, match="provisioned"):
        lw.simulate(day, snap_start=True, restore_ms=250, provisioned_concurrency=1, **common)
    assert math.isfinite(snap.cost_usd)


def test_get_function_configuration_reports_snapstart():
    boto3 = pytest.importorskip("boto3")
    with lw.ContainerManager(seed=1, isolation="process") as mgr:
        mgr.register("snap", GLOBALS_SOURCE, snap_start=True)
        mgr.publish("snap")
        with mgr.serve() as endpoint:
            client = boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                                  aws_access_key_id="local", aws_secret_access_key="local")
            latest = client.get_function_configuration(FunctionName="snap")["SnapStart"]
            one = client.get_function_configuration(FunctionName="snap", Qualifier="1")["SnapStart"]
    assert latest == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert one == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
