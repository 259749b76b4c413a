"""Schedule and ScheduleV2 events fire on the manager's clock: advance() (``%lambda wait``) past their
time invokes the function (an Event invocation, in the history); everything else is listed."""

from __future__ import annotations

import datetime
import json

import pytest

import lambda_widget as lw
from lambda_widget.engine import schedules
from lambda_widget.project.sam import load

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: app.handler
      Events:
        Every5:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
        Hourly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 hour)
            Input: '{"job": "hourly"}'
        Paused:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Enabled: false
        Stream:
          Type: DynamoDB
          Properties:
            Stream: arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/1
            StartingPosition: LATEST
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    with lw.ContainerManager(virtual_clock=True, seed=5) as mgr:
        yield mgr, load(mgr, tmp_path / "template.yaml")


def test_schedules_fire_when_the_clock_passes_them(project):
    mgr, proj = project
    assert [(s.event_id, s.expression, s.enabled) for s in proj.schedules] == [
        ("Every5", "rate(5 minutes)", True), ("Hourly", "rate(1 hour)", True), ("Paused", "rate(1 minute)", False)]
    assert any("Stream (DynamoDB" in u for u in proj.unsupported)
    mgr.advance(299)
    assert mgr.history == []
    mgr.advance(1)
    (inv,) = mgr.history
    assert (inv.function_name, inv.invocation_type, inv.status) == ("Tick", "Event", "succeeded")
    event = inv.result
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/TickEvery5"]
    mgr.advance(3600 - 300)  # every 5 minutes up to the hour, and the hourly one with its Input
    events = [i.event for i in mgr.history]
    assert len(events) == 13 and events.count({"job": "hourly"}) == 1
    assert sum(1 for e in events if e.get("detail-type") == "Scheduled Event") == 12
    times = [e["time"] for e in events if "time" in e]
    gaps = {(datetime.datetime.fromisoformat(b[:-1]) - datetime.datetime.fromisoformat(a[:-1])).total_seconds()
            for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {300.0}


def test_a_long_wait_runs_every_occurrence_it_passed(project):
    mgr, _ = project
    mgr.advance(7200)
    names = [json.dumps(i.event, sort_keys=True) for i in mgr.history]
    assert len(names) == 24 + 2  # 24 five-minute ticks and two hourly jobs, each an invocation


def test_a_deleted_function_ends_its_schedule(project):
    mgr, _ = project
    mgr.delete_function("Tick")
    mgr.advance(600)
    assert mgr.history == []


@pytest.mark.parametrize("expression, after, expected", [
    ("cron(0 12 ? * MON-FRI *)", "2026-12-05T13:00:00", "2026-12-07T12:00:00"),  # Saturday -> Monday noon
    ("cron(0/15 * * * ? *)", "2026-12-05T13:07:00", "2026-12-05T13:15:00"),
    ("cron(30 2 1 * ? *)", "2026-12-05T13:07:00", "2027-01-01T02:30:00"),
    ("cron(0 9 ? JAN SUN 2027)", "2026-12-05T13:07:00", "2027-01-03T09:00:00"),
    ("at(2027-03-01T08:00:00)", "2026-12-05T13:07:00", "2027-03-01T08:00:00"),
])
def test_cron_and_at_expressions(expression, after, expected):
    t = datetime.datetime.fromisoformat(after).replace(tzinfo=datetime.timezone.utc)
    got = schedules.parse_expression(expression).next_after(t, t)
    assert got == datetime.datetime.fromisoformat(expected).replace(tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("expression, message", [
    ("rate(0 minutes)", "whole number >= 1"),
    ("rate(2 hour)", "rate(1 hour) and rate(N hours)"),
    ("cron(0 12 * * * *)", "one of day-of-month and day-of-week must be ?"),
    ("cron(0 12 L * ? *)", "is not served locally"),
    ("cron(61 12 * * ? *)", "'61' is not in 0-59"),
    ("every day", "not rate(...), cron(...) or at(...)"),
    (None, "a schedule expression is text"),
])
def test_bad_expressions_say_why(expression, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        schedules.parse_expression(expression)


def test_loading_the_template_again_replaces_its_schedules(project, tmp_path):
    mgr, proj = project
    load(mgr, proj.path)
    mgr.advance(300)
    assert len(mgr.history) == 1  # not once per load
