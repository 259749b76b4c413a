"""A corpus of real SAM templates (tests/data/sam, sources and licences in SOURCES.json): each one
loads with the functions, routes, schedules and queue subscriptions it defines, or the message it
gets; those whose code needs no download are also registered and invoked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lambda_widget as lw
from lambda_widget.project.sam import TemplateError, load, read

DATA = Path(__file__).parent / "data" / "sam"

# template -> (functions, {route key: function}, schedules, SQS queues) as sam local would serve them
EXPECTED = {
    "sam-cli-start-api/template-inlinecode.yaml": (
        ["NoInlineCodeServerlessFunction", "InlineCodeServerlessFunction"],
        {"GET /no_inlinecode": "NoInlineCodeServerlessFunction", "GET /inlinecode": "InlineCodeServerlessFunction"},
        [], []),
    "sam-cli-start-api/template-rest-and-http-apis.yaml": (
        ["customname"], {"GET /rest-api": "customname", "GET /http-api": "customname"}, [], []),
    "app-template-python3.13-hello/template.yaml": (
        ["HelloWorldFunction"], {"GET /hello": "HelloWorldFunction"}, [], []),
    "app-template-python3.13-hello-durable/template.yaml": (
        ["HelloWorldFunction"], {"GET /hello": "HelloWorldFunction"}, [], []),
    "app-template-python3.13-efs/template.yaml": (
        ["HelloEfsFunction"], {"GET /hello": "HelloEfsFunction"}, [], []),
    "app-template-python3.13-event-bridge/template.yaml": (["HelloWorldFunction"], {}, [], []),
    "app-template-python3.13-step-func/template.yaml": (
        ["StockCheckerFunction", "StockSellerFunction", "StockBuyerFunction"], {}, [], []),
    "patterns-apigw-rest-api-lambda-python/template.yaml": (
        ["HelloWorldFunction"], {"GET /hello": "HelloWorldFunction"}, [], []),
    "patterns-apigw-http-api-lambda-python/template.yaml": (["ApiFunction"], {"$default": "ApiFunction"}, [], []),
    "patterns-api-sqs-lambda-python/template.yml": (["SQSLambdaFunction"], {}, [], ["MySqsQueue"]),
    "patterns-sqs-lambda-python-sam/template.yaml": (["ProcessorFunction"], {}, [], ["ProcessingQueue"]),
    "patterns-sns-lambda-python-sam/template.yaml": (["ProcessorFunction"], {}, [], []),
    "patterns-eventbridge-schedule-to-lambda-dlq-sam-python/template.yaml": (
        ["ScheduledFunction"], {}, [("ScheduledFunction", "rate(5 minutes)")], []),
    # FunctionName: !Join [-, [InboundWebhook-Lambda, !Select [2, !Split [/, !Ref AWS::StackId]]]],
    # with sam local's AWS::StackId
    "patterns-eventbridge-webhooks-1-stripe/template.yml": (
        ["InboundWebhook-Lambda-51af3dc0-da77-11e4-872e-1234567db123"], {}, [], []),
    "sam-example-api-endpointconfiguration/template.yaml": ([], {}, [], []),
    "sam-cli-start-api/swagger-template.yaml": (
        ["MyLambdaFunction", "NoApiEventFunction", "MyNonServerlessLambdaFunction", "Base64ResponseFunction",
         "Base64ResponseFunctionWithFalseIsBase64EncodedField", "Base64ResponseFunctionWithTrueBase64EncodedField",
         "Base64ResponseFunctionWithBase64EncodedFieldPriority", "EchoBase64EventBodyFunction",
         "EchoEventHandlerFunction"],
        {"GET /get": "MyLambdaFunction", "GET /{proxy+}": "EchoEventHandlerFunction",
         "GET /functionwithnoapievent": "NoApiEventFunction", "ANY /anyandall": "MyLambdaFunction",
         "ANY /nonsensitiveanyandall": "MyLambdaFunction", "GET /nonserverlessfunction": "MyNonServerlessLambdaFunction",
         "GET /nofunctionfound": "",  # an integration with no function: 502, as in sam local
         "GET /base64response": "Base64ResponseFunction",
         "GET /nondecodedbase64response": "Base64ResponseFunctionWithFalseIsBase64EncodedField",
         "GET /decodedbase64responsebas64encoded": "Base64ResponseFunctionWithTrueBase64EncodedField",
         "GET /decodedbase64responsebas64encodedpriority": "Base64ResponseFunctionWithBase64EncodedFieldPriority",
         "POST /echobase64eventbody": "EchoBase64EventBodyFunction", "POST /echoeventbody": "EchoEventHandlerFunction"},
        [], []),
    "sam-cli-start-api/swagger-template-http-api.yaml": (
        ["MyHttpApiLambdaFunction", "PayLoadFormatV1InPropertyHttpApiFunction", "EchoEventHandlerHttpApiFunction",
         "EchoBase64EventBodyFunction"],
        {"GET /get": "MyHttpApiLambdaFunction",
         "GET /httpapi-payload-format-v1-property": "PayLoadFormatV1InPropertyHttpApiFunction",
         "GET /{proxy+}": "EchoEventHandlerHttpApiFunction", "ANY /httpapi-anyandall": "MyHttpApiLambdaFunction",
         "GET /httpapi-payload-format-v1": "EchoEventHandlerHttpApiFunction",
         "GET /httpapi-payload-format-v2": "EchoEventHandlerHttpApiFunction",
         "POST /httpapi-echobase64eventbody": "EchoBase64EventBodyFunction",
         "GET /httpapi-operation-id-v1": "EchoEventHandlerHttpApiFunction",
         "GET /httpapi-operation-id-v2": "EchoEventHandlerHttpApiFunction",
         "POST /httpapi-echoeventbody": ""},  # an integration without a uri
        [], []),
}

# Two functions named "customname": sam local names functions by logical ID; by their FunctionName,
# one would replace the other. With logical_ids=True they load as sam local loads them.
DUPLICATES = {
    "sam-cli-start-api/template.yaml": (
        "line 55: HelloWorldCapacityProviderFunction: FunctionName 'customname' is also HelloWorldFunction's "
        "(line 14)", 20, 26),
    "sam-cli-start-api/template-http-api.yaml": (
        "line 55: HelloWorldCapacityProviderFunction: FunctionName 'customname' is also HelloWorldFunction's "
        "(line 14)", 24, 30),
}


def test_the_corpus_has_at_least_fifteen_real_templates_with_their_sources():
    sources = json.loads((DATA / "SOURCES.json").read_text())
    names = {s["name"] for s in sources}
    templates = sorted(p.relative_to(DATA).as_posix() for p in DATA.glob("*/*template*.y*ml"))
    assert len(templates) >= 15 and set(templates) == set(EXPECTED) | set(DUPLICATES)
    assert all(t.split("/")[0] in names for t in templates)
    assert {s["licence"] for s in sources} == {"Apache-2.0", "MIT-0"}
    assert all(len(s["commit"]) == 40 for s in sources)


@pytest.mark.parametrize("template", sorted(EXPECTED))
def test_a_real_template_reads_as_sam_local_reads_it(template):
    functions, routes, schedules, queues = EXPECTED[template]
    project = read(DATA / template)
    assert [s.name for s in project.specs] == functions
    assert {r.route_key: r.function for r in project.routes} == routes
    assert [(s.function, s.expression) for s in project.schedules] == schedules
    assert [m.queue for m in project.event_sources] == queues


@pytest.mark.parametrize("template", sorted(DUPLICATES))
def test_duplicate_function_names_need_logical_ids(template):
    message, functions, routes = DUPLICATES[template]
    with pytest.raises(TemplateError) as exc:
        read(DATA / template)
    assert message in str(exc.value)
    project = read(DATA / template, logical_ids=True)
    assert len(project.specs) == functions and len(project.routes) == routes


def test_registered_and_invoked(tmp_path):
    with lw.ContainerManager(virtual_clock=True) as mgr:
        project = load(mgr, DATA / "patterns-sqs-lambda-python-sam/template.yaml")
        assert set(mgr.functions) == {"ProcessorFunction"}
        inv = mgr.invoke("ProcessorFunction", lw.events.sqs(["one", "two"]))
        assert inv.status == "succeeded" and inv.result == {"batchItemFailures": []}
        mapping = project.event_sources[0].to_dict()
        assert mapping["queue"] == "ProcessingQueue" and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["queue_properties"]["RedrivePolicy"]["deadLetterTargetArn"] == \
            "arn:aws:sqs:us-east-1:123456789012:ProcessingDLQ"

        load(mgr, DATA / "patterns-apigw-http-api-lambda-python/template.yaml")
        inv = mgr.invoke("ApiFunction", lw.events.apigateway_http())
        assert inv.status == "succeeded", inv.error

        project = read(DATA / "patterns-eventbridge-webhooks-1-stripe/template.yml")  # (its requirements need PyPI)
        assert project.specs[0].config["env"]["STRIPE_WEBHOOK_SECRET_ARN"] == "WebhookSecretsManager"
        assert any("!Ref WebhookSecretsManager (AWS::SecretsManager::Secret) is 'WebhookSecretsManager'" in w
                   for w in project.warnings)

        project = load(mgr, DATA / "patterns-eventbridge-schedule-to-lambda-dlq-sam-python/template.yaml")
        before = len(mgr.history)
        mgr.advance(300)  # rate(5 minutes): the schedule invokes the function, as EventBridge Scheduler would
        fired = mgr.history[before:]
        assert [(i.function_name, i.invocation_type) for i in fired] == [("ScheduledFunction", "Event")]
        assert fired[0].status == "succeeded", fired[0].error
