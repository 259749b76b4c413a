"""Versions, aliases, qualifiers and provisioned concurrency through the Lambda API, driven by boto3
and the AWS CLI. Shapes, codes and texts are those AWS answered in LocalStack's recordings
(localstack/localstack 8b9a79f, tests/aws/services/lambda_/test_lambda_api.snapshot.json: TestLambdaVersions,
TestLambdaAlias, TestLambdaProvisionedConcurrency, recorded 2025-11; test_lambda.snapshot.json:
test_invocation_with_qualifier, test_lambda_versions_with_code_changes, test_lambda_alias_moving)."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

import lambda_widget as lw

REPORTER = """import os

VERSION_ID = 'version{n}'


def lambda_handler(event, context):
    print('Lambda log message - print function')
    return {{'version_id': VERSION_ID, 'invoked_arn': context.invoked_function_arn,
            'version_from_ctx': context.function_version, 'env': os.environ['AWS_LAMBDA_FUNCTION_VERSION'],
            'log_stream_name': context.log_stream_name}}
"""
TRIVIAL = "def lambda_handler(event, context):\n    return 1\n"
ACCOUNT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
AWS = Path(sys.executable).parent / "aws"


def lambda_client(endpoint, validate: bool = True):
    config = Config(retries={"max_attempts": 0}, read_timeout=60, parameter_validation=validate)
    return boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local", config=config)


def failure(exc_info) -> tuple[str, int, str]:
    response = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture
def served():
    with lw.ContainerManager(seed=7) as mgr, mgr.serve() as endpoint:
        yield mgr, lambda_client(endpoint)


def payload(response) -> dict:
    return json.loads(response["Payload"].read())


# ---------------------------------------------------------------------- versions
def test_version_lifecycle(served):
    mgr, c = served
    name = "lifecycle"
    mgr.register(name, REPORTER.format(n=1), description="No version :(")
    listed = c.list_versions_by_function(FunctionName=name)["Versions"]
    assert [(v["Version"], v["FunctionArn"]) for v in listed] == [("$LATEST", f"{ARN}{name}:$LATEST")]
    assert "State" not in listed[0] and "LastUpdateStatus" not in listed[0]  # a listing carries no state

    updated = c.update_function_configuration(FunctionName=name, Description="First version :)")
    assert (updated["Version"], updated["FunctionArn"], updated["Description"]) == (
        "$LATEST", f"{ARN}{name}", "First version :)")
    first = c.publish_version(FunctionName=name, Description="First version description :)")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (first["Version"], first["FunctionArn"], first["Description"]) == (
        "1", f"{ARN}{name}:1", "First version description :)")
    got = c.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert (got["Version"], got["FunctionArn"], got["RevisionId"]) == ("1", f"{ARN}{name}:1", first["RevisionId"])
    assert c.get_function_configuration(FunctionName=name, Qualifier="1")["Description"] == \
        "First version description :)"

    c.update_function_configuration(FunctionName=name, Description="Second version :))")
    assert c.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Description"] == \
        "First version description :)"  # a published version is immutable
    second = c.publish_version(FunctionName=name)
    third = c.publish_version(FunctionName=name, Description="Third version description :)))")
    assert (second["Version"], second["Description"]) == ("2", "Second version :))")
    assert (third["Version"], third["Description"], third["RevisionId"]) == ("2", "Second version :))",
                                                                             second["RevisionId"])
    listed = c.list_versions_by_function(FunctionName=name)["Versions"]
    assert [(v["Version"], v["FunctionArn"].rsplit(":", 1)[1]) for v in listed] == [
        ("$LATEST", "$LATEST"), ("1", "1"), ("2", "2")]

    assert c.delete_function(FunctionName=f"{name}:1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]
    page = c.list_versions_by_function(FunctionName=name, MaxItems=1)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST"] and page["NextMarker"] == "2"


def test_publish_on_create_and_the_checks_publish_makes(served, tmp_path):
    mgr, c = served
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("index.py", REPORTER.format(n=1))
    created = c.create_function(FunctionName="oncreate", Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/r",
                                Handler="index.lambda_handler", Code={"ZipFile": code.getvalue()}, Publish=True)
    assert (created["Version"], created["FunctionArn"]) == ("1", f"{ARN}oncreate")  # as recorded
    latest = c.get_function(FunctionName="oncreate", Qualifier="$LATEST")["Configuration"]
    assert (latest["Version"], latest["FunctionArn"]) == ("$LATEST", f"{ARN}oncreate:$LATEST")
    assert c.get_function(FunctionName="oncreate")["Configuration"]["FunctionArn"] == f"{ARN}oncreate"
    assert c.publish_version(FunctionName="oncreate")["Version"] == "1"  # nothing changed since

    with pytest.raises(c.exceptions.InvalidParameterValueException) as info:
        c.publish_version(FunctionName="oncreate", CodeSha256="somenonexistentsha256")
    assert failure(info) == (
        "InvalidParameterValueException", 400,
        f"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
        f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.")
    with pytest.raises(c.exceptions.PreconditionFailedException) as info:
        c.publish_version(FunctionName="oncreate", RevisionId="wrong")
    assert failure(info) == ("PreconditionFailedException", 412,
                             "The Revision Id provided does not match the latest Revision Id. Call the "
                             "GetFunction/GetAlias API to retrieve the latest Revision Id")

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("index.py", REPORTER.format(n=2))
    updated = c.update_function_code(FunctionName="oncreate", ZipFile=code.getvalue(), Publish=True)
    assert (updated["Version"], updated["FunctionArn"]) == ("2", f"{ARN}oncreate:2")
    current = c.get_function(FunctionName="oncreate")["Configuration"]
    again = c.publish_version(FunctionName="oncreate", CodeSha256=current["CodeSha256"],
                              RevisionId=current["RevisionId"])
    assert again["Version"] == "2"


def test_invoke_a_version_by_qualifier_name_and_arn(served):
    mgr, c = served
    mgr.register("versioned", REPORTER.format(n=1))
    mgr.publish("versioned")
    mgr.register("versioned", REPORTER.format(n=2))

    latest = c.invoke(FunctionName="versioned")
    assert latest["ExecutedVersion"] == "$LATEST"
    assert {k: v for k, v in payload(latest).items() if k != "log_stream_name"} == {
        "version_id": "version2", "invoked_arn": f"{ARN}versioned", "version_from_ctx": "$LATEST", "env": "$LATEST"}
    for how in ({"FunctionName": "versioned", "Qualifier": "1"}, {"FunctionName": "versioned:1"},
                {"FunctionName": f"{ARN}versioned:1"}, {"FunctionName": f"{ARN}versioned:1", "Qualifier": "1"}):
        response = c.invoke(**how, LogType="Tail")
        body = payload(response)
        assert response["ExecutedVersion"] == "1", how
        assert (body["version_id"], body["invoked_arn"], body["version_from_ctx"], body["env"]) == (
            "version1", f"{ARN}versioned:1", "1", "1")
        assert "/[1]" in body["log_stream_name"]
        tail = base64.b64decode(response["LogResult"]).decode().splitlines()
        start = next(i for i, line in enumerate(tail) if line.startswith("START "))
        assert tail[start:start + 2] == [f"START RequestId: {response['ResponseMetadata']['RequestId']} Version: 1",
                                         "Lambda log message - print function"]

    with pytest.raises(c.exceptions.ResourceNotFoundException) as info:
        c.invoke(FunctionName="versioned", Qualifier="7")
    assert failure(info) == ("ResourceNotFoundException", 404, f"Function not found: {ARN}versioned:7")
    with pytest.raises(c.exceptions.InvalidParameterValueException) as info:
        c.invoke(FunctionName="versioned:1", Qualifier="2")
    assert failure(info)[2] == "The derived qualifier from the function name does not match the specified qualifier."
    with pytest.raises(c.exceptions.InvalidParameterValueException) as info:
        c.delete_function(FunctionName="versioned", Qualifier="$LATEST")
    assert failure(info)[2] == "$LATEST version cannot be deleted without deleting the function."


# ---------------------------------------------------------------------- aliases
def test_alias_lifecycle(served):
    mgr, c = served
    name = "aliased"
    mgr.register(name, REPORTER.format(n=1), env={"testenv": "staging"})
    c.publish_version(FunctionName=name)
    c.update_function_configuration(FunctionName=name, Environment={"Variables": {"testenv": "prod"}})
    assert c.publish_version(FunctionName=name)["Environment"] == {"Variables": {"testenv": "prod"}}

    made = c.create_alias(FunctionName=name, Name="aliasname1_1", FunctionVersion="1", Description="custom-alias",
                          RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    made.pop("ResponseMetadata")
    assert made == {"AliasArn": f"{ARN}{name}:aliasname1_1", "Name": "aliasname1_1", "FunctionVersion": "1",
                    "Description": "custom-alias", "RevisionId": made["RevisionId"],
                    "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.2}}}
    got = c.get_alias(FunctionName=name, Name="aliasname1_1")
    got.pop("ResponseMetadata")
    assert got == made
    config = c.get_function(FunctionName=name, Qualifier="aliasname1_1")["Configuration"]
    assert (config["FunctionArn"], config["Version"]) == (f"{ARN}{name}:aliasname1_1", "1")
    assert c.get_function(FunctionName=made["AliasArn"])["Configuration"]["Version"] == "1"
    for how in ({"FunctionName": name, "Qualifier": "aliasdoesnotexist"},
                {"FunctionName": f"{ARN}{name}:aliasdoesnotexist"}):
        with pytest.raises(c.exceptions.ResourceNotFoundException) as info:
            c.get_function(**how)
        assert failure(info) == ("ResourceNotFoundException", 404, f"Function not found: {ARN}{name}:aliasdoesnotexist")

    c.create_alias(FunctionName=name, Name="aliasname1_2", FunctionVersion="1", Description="custom-alias")
    c.create_alias(FunctionName=name, Name="aliasname1_3", FunctionVersion="1")
    plain = c.create_alias(FunctionName=name, Name="aliasname2", FunctionVersion="2", Description="custom-alias")
    assert "RoutingConfig" not in plain
    pages = c.get_paginator("list_aliases").paginate(FunctionName=name, PaginationConfig={"PageSize": 1})
    everything = pages.build_full_result()["Aliases"]
    assert [a["Name"] for a in everything] == ["aliasname1_1", "aliasname1_2", "aliasname1_3", "aliasname2"]
    assert [a["Name"] for a in c.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]] == [
        "aliasname1_1", "aliasname1_2", "aliasname1_3"]

    cleared = c.update_alias(FunctionName=name, Name="aliasname1_1", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared and cleared["RevisionId"] != made["RevisionId"]
    unchanged = c.update_alias(FunctionName=name, Name="aliasname1_2")
    assert unchanged["Description"] == "custom-alias" and unchanged["FunctionVersion"] == "1"
    with pytest.raises(c.exceptions.PreconditionFailedException):
        c.update_alias(FunctionName=name, Name="aliasname1_2", RevisionId="wrong")

    assert c.delete_alias(FunctionName=name, Name="aliasname1_1")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert c.delete_alias(FunctionName=name, Name="non-existent")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [a["Name"] for a in c.list_aliases(FunctionName=name)["Aliases"]] == [
        "aliasname1_2", "aliasname1_3", "aliasname2"]
    with pytest.raises(c.exceptions.ResourceNotFoundException) as info:
        c.update_alias(FunctionName=name, Name="non-existent")
    assert failure(info)[2] == f"Alias not found: {ARN}{name}:non-existent"
    with pytest.raises(c.exceptions.ResourceConflictException) as info:
        c.delete_function(FunctionName=name, Qualifier="2")
    assert failure(info) == ("ResourceConflictException", 409,
                             "Unable to delete version because the following aliases reference it: [aliasname2]")


def test_alias_errors(served):
    mgr, c = served
    name = "routing"
    mgr.register(name, TRIVIAL)
    mgr.publish(name)
    mgr.register(name, TRIVIAL + "\n")
    mgr.publish(name)
    raw = lambda_client(type("Endpoint", (), {"url": c.meta.endpoint_url}), validate=False)  # as AWS sees it

    def attempt(version: str, weights: dict | None = None, alias: str = "custom", function: str = name):
        routing = {} if weights is None else {"RoutingConfig": {"AdditionalVersionWeights": weights}}
        with pytest.raises(raw.exceptions.ClientError) as info:
            raw.create_alias(FunctionName=function, Name=alias, FunctionVersion=version, **routing)
        return failure(info)

    assert attempt("1", {"1": 0.8, "2": 0.2}) == (
        "InvalidParameterValueException", 400, "Number of items in AdditionalVersionWeights cannot be greater than 1")
    assert attempt("1", {"2": 2}) == (
        "ValidationException", 400,
        "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must "
        "have value greater than or equal to 0.0, Member must not be null]")
    assert attempt("1", {"2": -1})[:2] == ("ValidationException", 400)
    assert attempt("1", {"1": 0.5})[2] == ("Invalid function version 1. Function version 1 is already included in "
                                           "routing configuration.")
    assert attempt("10", {"2": 0.5}) == ("ResourceNotFoundException", 404, f"Function not found: {ARN}{name}:10")
    assert attempt("1", {"10": 0.5}) == ("ResourceNotFoundException", 404, f"Function not found: {ARN}{name}:10")
    assert attempt("$LATEST", {"1": 0.5})[2] == "$LATEST is not supported for an alias pointing to more than 1 version"
    assert attempt("1", {"$LATEST": 0.5})[:2] == ("ValidationException", 400)
    assert attempt("1", {"2": 0.5}, function=f"{name}-unknown") == (
        "ResourceNotFoundException", 404, f"Function not found: {ARN}{name}-unknown:1")
    assert attempt("1", alias="2024") == (
        "ValidationException", 400, "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    assert raw.create_alias(FunctionName=name, Name="custom-latest", FunctionVersion="$LATEST")["FunctionVersion"] == \
        "$LATEST"
    raw.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert attempt("1", {"2": 0.5}) == ("ResourceConflictException", 409, f"Alias already exists: {ARN}{name}:custom")
    with pytest.raises(raw.exceptions.ResourceNotFoundException) as info:
        raw.get_alias(FunctionName=name, Name="non-existent")
    assert failure(info)[2] == f"Cannot find alias arn: {ARN}{name}:non-existent"


def test_invoking_an_alias_and_moving_it(served):
    mgr, c = served
    name = "moving"
    mgr.register(name, REPORTER.format(n=1))
    mgr.publish(name)
    alias_arn = c.create_alias(FunctionName=name, Name="alias1", FunctionVersion="1")["AliasArn"]
    for how in ({"FunctionName": name, "Qualifier": "alias1"}, {"FunctionName": alias_arn}):
        response = c.invoke(**how)
        body = payload(response)
        assert (response["ExecutedVersion"], body["version_id"], body["invoked_arn"], body["version_from_ctx"]) == (
            "1", "version1", f"{ARN}{name}:alias1", "1")
    mgr.register(name, REPORTER.format(n=2))  # $LATEST changes; the alias still names version 1
    assert payload(c.invoke(FunctionName=alias_arn))["version_id"] == "version1"
    c.publish_version(FunctionName=name)
    assert c.update_alias(FunctionName=name, Name="alias1", FunctionVersion="2")["FunctionVersion"] == "2"
    response = c.invoke(FunctionName=alias_arn)
    assert (response["ExecutedVersion"], payload(response)["version_from_ctx"]) == ("2", "2")
    with pytest.raises(c.exceptions.ResourceNotFoundException) as info:
        c.invoke(FunctionName=name, Qualifier="non-existent-alias")
    assert failure(info)[2] == f"Function not found: {ARN}{name}:non-existent-alias"


def test_a_weighted_alias_splits_a_thousand_invokes_by_its_weight():
    """1,000 invokes of an alias with a 30 % canary: the share of version 2 lies within 3 standard
    deviations of 0.3, and the same seed gives the same split (its first 100 invokes again)."""
    def split(seed: int, invokes: int) -> list[str]:
        with lw.ContainerManager(seed=seed) as mgr, mgr.serve() as endpoint:
            c = lambda_client(endpoint)
            mgr.register("canary", TRIVIAL, trace=False)
            mgr.publish("canary")
            mgr.register("canary", TRIVIAL.replace("1", "2"), trace=False)
            mgr.publish("canary")
            c.create_alias(FunctionName="canary", Name="live", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
            executed = []
            for _ in range(invokes):
                response = c.invoke(FunctionName="canary:live")
                assert payload(response) == int(response["ExecutedVersion"])  # the version that ran answered
                executed.append(response["ExecutedVersion"])
            assert sorted({e.version for e in mgr.containers}) == ["1", "2"]  # one environment each, reused
            assert len(mgr.all_containers) == 2
            return executed

    executed = split(21, 1000)
    n, p = len(executed), 0.3
    assert abs(executed.count("2") / n - p) <= 3 * math.sqrt(p * (1 - p) / n)
    assert split(21, 100) == executed[:100]


# ---------------------------------------------------------------------- provisioned concurrency
def test_provisioned_concurrency_through_the_api(served):
    mgr, c = served
    name = "provisioned"
    mgr.register(name, TRIVIAL, provisioned_concurrency=1)  # the notebook's convenience: on $LATEST
    version = c.publish_version(FunctionName=name)["Version"]

    # The front answers as AWS does: provisioned concurrency belongs to versions and aliases only.
    assert c.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    for call, message in ((c.get_provisioned_concurrency_config,
                           "The function resource provided must be an alias or a published version."),
                          (c.delete_provisioned_concurrency_config,
                           "The function resource provided must be an alias or a published version.")):
        with pytest.raises(c.exceptions.InvalidParameterValueException) as info:
            call(FunctionName=name, Qualifier="$LATEST")
        assert failure(info) == ("InvalidParameterValueException", 400, message)
    with pytest.raises(c.exceptions.InvalidParameterValueException) as info:
        c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert failure(info)[2] == "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    with pytest.raises(c.exceptions.ProvisionedConcurrencyConfigNotFoundException) as info:
        c.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert failure(info) == ("ProvisionedConcurrencyConfigNotFoundException", 404,
                             "No Provisioned Concurrency Config found for this function")
    for qualifier, message in (("noalias", f"Cannot find alias arn: {ARN}{name}:noalias"),
                               ("10", f"Function not found: {ARN}{name}:10")):
        with pytest.raises(c.exceptions.ResourceNotFoundException) as info:
            c.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        assert failure(info)[2] == message

    put = c.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["RequestedProvisionedConcurrentExecutions"], put["AllocatedProvisionedConcurrentExecutions"],
            put["Status"]) == (2, 0, "IN_PROGRESS")  # as recorded: AWS answers before they are ready
    got = c.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert (got["AllocatedProvisionedConcurrentExecutions"], got["AvailableProvisionedConcurrentExecutions"],
            got["Status"]) == (2, 2, "READY")
    assert sorted((e.version, e.provisioned) for e in mgr.containers) == [("$LATEST", True), ("1", True), ("1", True)]
    listed = c.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [(p["FunctionArn"], p["RequestedProvisionedConcurrentExecutions"]) for p in listed] == [
        (f"{ARN}{name}:1", 2)]
    assert c.invoke(FunctionName=name, Qualifier=version)["ExecutedVersion"] == "1"
    assert mgr.history[-1].cold is False  # a provisioned environment served it

    c.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    with pytest.raises(c.exceptions.ResourceConflictException) as info:
        c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert failure(info)[2] == "Alias can't be used for Provisioned Concurrency configuration on an already " \
                               "Provisioned version"
    assert c.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [e.version for e in mgr.containers if e.provisioned] == ["$LATEST"]


# ---------------------------------------------------------------------- the AWS CLI
def run_aws(url: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1",
               AWS_MAX_ATTEMPTS="1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    done = subprocess.run([str(AWS), "--endpoint-url", url.rstrip("/"), "lambda", *args], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_publishes_aliases_and_invokes_versions(tmp_path):
    with lw.ContainerManager(seed=5) as mgr, mgr.serve() as endpoint:
        url = endpoint.url
        mgr.register("cli", REPORTER.format(n=1))
        assert run_aws(url, "publish-version", "--function-name", "cli", "--description", "one")["Version"] == "1"
        mgr.register("cli", REPORTER.format(n=2))
        assert run_aws(url, "publish-version", "--function-name", "cli")["Version"] == "2"
        assert [v["Version"] for v in run_aws(url, "list-versions-by-function", "--function-name", "cli")["Versions"]] \
            == ["$LATEST", "1", "2"]
        alias = run_aws(url, "create-alias", "--function-name", "cli", "--name", "live", "--function-version", "1",
                        "--routing-config", "AdditionalVersionWeights={2=0.25}")
        assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
        out = tmp_path / "out.json"
        done = run_aws(url, "invoke", "--function-name", "cli", "--qualifier", "1", str(out))
        assert done["ExecutedVersion"] == "1" and json.loads(out.read_text())["version_from_ctx"] == "1"
        assert run_aws(url, "update-alias", "--function-name", "cli", "--name", "live", "--function-version", "2",
                       "--routing-config", "AdditionalVersionWeights={}")["FunctionVersion"] == "2"
        done = run_aws(url, "invoke", "--function-name", "cli:live", str(out))
        assert done["ExecutedVersion"] == "2" and json.loads(out.read_text())["invoked_arn"] == f"{ARN}cli:live"
        run_aws(url, "delete-alias", "--function-name", "cli", "--name", "live")
        run_aws(url, "delete-function", "--function-name", "cli", "--qualifier", "1")
        assert [f.version for f in mgr.versions("cli")] == ["$LATEST", "2"]
        run_aws(url, "delete-function", "--function-name", "cli")
        assert "cli" not in mgr.functions
