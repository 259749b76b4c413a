"""A template's ``Events: Type: SQS`` is wired when the template loads: its queue is created and mapped."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

import lambda_widget as lw
from lambda_widget.project.sam import load
from lambda_widget.project.template import TemplateError

DATA = Path(__file__).parent / "data" / "sam"


def _sqs(mgr):
    return boto3.client("sqs", endpoint_url=mgr.sqs_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def test_a_templates_sqs_event_creates_its_queue_and_mapping():
    with lw.ContainerManager(virtual_clock=True, seed=1) as mgr:
        project = load(mgr, DATA / "patterns-sqs-lambda-python-sam/template.yaml")
        assert len(project.mappings) == 1
        mapping = project.mappings[0]
        assert mapping.function_name == "ProcessorFunction" and mapping.queue_name == "ProcessingQueue"
        assert "(BatchSize 10, mapped)" in str(project)
        sqs = _sqs(mgr)
        url = sqs.get_queue_url(QueueName="ProcessingQueue")["QueueUrl"]
        for body in ("one", "two", "three"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        mgr.advance(1)
        invoked = [inv for inv in mgr.history if inv.function_name == "ProcessorFunction"]
        bodies = sorted(r["body"] for inv in invoked for r in inv.event["Records"])
        assert bodies == ["one", "three", "two"]
        assert all(inv.status == "succeeded" and inv.result == {"batchItemFailures": []} for inv in invoked)
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_mapping_that_cannot_be_made_leaves_nothing_registered(tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "template.yaml").write_text("""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Runtime: python3.11
      Events:
        FromJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 50
""")
    with lw.ContainerManager(virtual_clock=True) as mgr:
        with pytest.raises(TemplateError) as exc:
            load(mgr, tmp_path / "template.yaml")
        message = str(exc.value)
        assert "line " in message and "FromJobs" in message and "nothing was registered" in message
        assert mgr.functions == {}
