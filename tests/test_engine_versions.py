"""Versions and aliases as Lambda has them: $LATEST updated in place, immutable numbered versions
side by side, aliases with weighted routing, qualifiers, provisioned concurrency per version."""

from __future__ import annotations

import psutil
import pytest
from conftest import env_of, frozen, status_of, wait_for

import lambda_widget as lw
from lambda_widget.engine import errors

V1_SOURCE = """import os
import time

VERSION = 1


def lambda_handler(event, context):
    time.sleep(event.get('sleep', 0))
    return {'code': VERSION, 'version': context.function_version, 'arn': context.invoked_function_arn,
            'env': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], 'stream': context.log_stream_name}
"""
V2_SOURCE = V1_SOURCE.replace("VERSION = 1", "VERSION = 2")
V3_SOURCE = V1_SOURCE.replace("VERSION = 1", "VERSION = 3")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


def code(inv) -> int:
    return inv.result["code"]


# ---------------------------------------------------------------------- $LATEST
def test_register_again_updates_latest(mgr):
    first = mgr.register("fn", V1_SOURCE, timeout=5)
    second = mgr.register("fn", V2_SOURCE, timeout=5, description="second")

    assert (first.version, first.revision, second.version, second.revision) == ("$LATEST", 1, "$LATEST", 2)
    assert first.revision_id != second.revision_id
    assert mgr.function("fn") is second and mgr.functions["fn"] is second
    assert mgr.versions("fn") == [second]  # nothing published: only $LATEST
    assert mgr.register("fn", V1_SOURCE).revision == 3


def test_idle_environments_of_the_old_latest_are_terminated(mgr):
    mgr.register("fn", V1_SOURCE, timeout=5)
    old = mgr.invoke("fn", {})
    env = env_of(mgr, old)
    process = psutil.Process(env.pid)
    assert (old.version, old.result["version"], old.result["env"]) == ("$LATEST", "$LATEST", "$LATEST")
    assert old.result["arn"] == ARN and "/[$LATEST]" in old.result["stream"]

    mgr.register("fn", V2_SOURCE, timeout=5)

    assert (env.state, env.end_reason) == ("terminated", "function-updated")
    assert env not in mgr.containers
    assert not process.is_running()
    assert (old.steps[-1].kind, old.steps[-1].action) == ("end", "Function updated")

    new = mgr.invoke("fn", {})
    assert (code(new), new.version) == (2, "$LATEST")
    assert (new.cold, new.cold_reason) == (True, "function-updated")
    assert new.container_id != old.container_id
    assert f"START RequestId: {new.request_id} Version: $LATEST" in new.logs


def test_busy_environment_of_the_old_latest_finishes_then_terminates(mgr):
    mgr.register("fn", V1_SOURCE, timeout=10)
    future = mgr.submit("fn", {"sleep": 1.5})
    running = future.invocation
    assert wait_for(lambda: running.container_id is not None
                    and env_of(mgr, running).state == "busy"
                    and status_of(env_of(mgr, running).pid) is not None
                    and not frozen(env_of(mgr, running).pid))
    env = env_of(mgr, running)

    mgr.register("fn", V2_SOURCE, timeout=10)
    assert env.state == "busy"  # not cut short

    done = future.result()
    assert (done.status, code(done), done.version) == ("succeeded", 1, "$LATEST")
    assert (env.state, env.end_reason) == ("terminated", "function-updated")
    assert env not in mgr.containers
    assert wait_for(lambda: status_of(env.pid) is None)

    new = mgr.invoke("fn", {})
    assert (code(new), new.cold, new.cold_reason) == (2, True, "function-updated")


def test_an_invocation_during_the_old_ones_run_goes_to_the_updated_latest(mgr):
    mgr.register("fn", V1_SOURCE, timeout=10)
    slow = mgr.submit("fn", {"sleep": 1.5})
    assert wait_for(lambda: slow.invocation.container_id is not None)
    mgr.register("fn", V2_SOURCE, timeout=10)

    meanwhile = mgr.invoke("fn", {})
    assert (code(meanwhile), meanwhile.cold_reason) == (2, "function-updated")
    assert code(slow.result()) == 1
    assert [e.function.revision for e in mgr.containers] == [2]


# ---------------------------------------------------------------------- publishing
def test_publish_makes_immutable_numbered_versions(mgr):
    mgr.register("fn", V1_SOURCE, description="the first")
    v1 = mgr.publish("fn")
    assert (v1.version, v1.description, v1.revision, v1.published) == ("1", "the first", 1, True)
    assert mgr.publish("fn", "again") is v1  # $LATEST unchanged since: the same version, as on Lambda

    latest_before = mgr.function("fn").revision_id
    mgr.register("fn", V2_SOURCE)
    v2 = mgr.publish("fn", "canary")
    assert (v2.version, v2.description, v2.source) == ("2", "canary", V2_SOURCE)
    assert mgr.function("fn").revision_id != latest_before  # publishing changed $LATEST's RevisionId
    assert [f.version for f in mgr.versions("fn")] == ["$LATEST", "1", "2"]
    assert mgr.function("fn", "1") is v1 and mgr.function("fn:2") is v2
    assert v1.source == V1_SOURCE  # immutable: the update did not touch it

    with pytest.raises(errors.PreconditionFailedException, match="does not match the latest Revision Id"):
        mgr.publish("fn", revision_id="wrong")
    mgr.register("fn", V3_SOURCE)
    assert mgr.publish("fn", revision_id=mgr.function("fn").revision_id).version == "3"
    with pytest.raises(errors.ResourceNotFoundException):
        mgr.publish("nope")


def test_versions_run_side_by_side_each_with_environments_of_its_own(mgr):
    mgr.register("fn", V1_SOURCE)
    mgr.publish("fn")
    mgr.register("fn", V2_SOURCE)
    mgr.publish("fn")
    mgr.register("fn", V3_SOURCE)

    runs = {q: mgr.invoke("fn", {}, qualifier=q) for q in (None, "1", "2")}
    assert {q: (code(i), i.version, i.result["version"], i.result["env"]) for q, i in runs.items()} == {
        None: (3, "$LATEST", "$LATEST", "$LATEST"), "1": (1, "1", "1", "1"), "2": (2, "2", "2", "2")}
    assert [i.result["arn"] for i in runs.values()] == [ARN, f"{ARN}:1", f"{ARN}:2"]
    assert "/[1]" in runs["1"].result["stream"] and "/[2]" in runs["2"].result["stream"]
    assert f"START RequestId: {runs['1'].request_id} Version: 1" in runs["1"].logs
    assert [i.cold_reason for i in runs.values()] == ["first-invocation", "new-version", "new-version"]
    assert len({i.container_id for i in runs.values()}) == 3
    assert sorted(e.version for e in mgr.containers) == ["$LATEST", "1", "2"]

    again = [mgr.invoke("fn", {}, qualifier=q) for q in ("2", "1", None)]  # each version's own, warm
    assert [(i.cold, i.container_id) for i in again] == [
        (False, runs["2"].container_id), (False, runs["1"].container_id), (False, runs[None].container_id)]

    mgr.register("fn", V1_SOURCE)  # an update of $LATEST leaves the published versions' environments alone
    assert sorted(e.version for e in mgr.containers) == ["1", "2"]


def test_a_qualifier_given_twice_must_agree_and_unknown_ones_are_not_found(mgr):
    mgr.register("fn", V1_SOURCE)
    mgr.publish("fn")
    assert mgr.invoke("fn:1", {}, qualifier="1").version == "1"
    with pytest.raises(errors.InvalidParameterValueException, match="derived qualifier from the function name"):
        mgr.invoke("fn:1", {}, qualifier="2")
    with pytest.raises(errors.ResourceNotFoundException) as info:
        mgr.invoke("fn", {}, qualifier="7")
    assert info.value.args[0] == f"Function not found: {ARN}:7"
    with pytest.raises(errors.ResourceNotFoundException, match=f"Function not found: {ARN}:nope"):
        mgr.submit("fn:nope", {})
    assert mgr.invoke("fn", {}, qualifier="$LATEST").version == "$LATEST"


def test_an_event_invocation_of_a_version_retries_on_that_version(tmp_path):
    failing = "def lambda_handler(event, context):\n    raise ValueError(context.function_version)\n"
    records: list[dict] = []
    with lw.ContainerManager(seed=4, virtual_clock=True) as mgr:
        mgr.register("fn", failing, max_retry_attempts=1, on_failure=records)
        mgr.publish("fn")
        mgr.register("fn", V1_SOURCE)  # $LATEST moves on; the event below is for version 1
        first = mgr.invoke("fn", {}, qualifier="1", invocation_type="Event")
        assert wait_for(lambda: first.done)
        mgr.advance(61)
        attempts = [i for i in mgr.history if i.request_id == first.request_id]
        assert [(i.attempt, i.version, i.error["errorMessage"]) for i in attempts] == [(1, "1", "1"), (2, "1", "1")]
        (record,) = records
        assert record["requestContext"]["functionArn"] == f"{ARN}:1"
        assert record["responseContext"]["executedVersion"] == "1"


# ---------------------------------------------------------------------- deleting
def test_deleting_a_version(mgr):
    mgr.register("fn", V1_SOURCE)
    mgr.publish("fn")
    mgr.register("fn", V2_SOURCE)
    mgr.publish("fn")
    busy_env = env_of(mgr, mgr.invoke("fn", {}, qualifier="1"))
    mgr.create_alias("fn", "live", "2")

    with pytest.raises(errors.InvalidParameterValueException, match=r": \$LATEST version cannot be deleted without deleting the function\.$"):
        mgr.delete_function("fn", "$LATEST")
    with pytest.raises(errors.InvalidParameterValueException, match="Deletion of aliases is not currently supported."):
        mgr.delete_function("fn:live")
    with pytest.raises(errors.ResourceConflictException) as info:
        mgr.delete_function("fn", "2")
    assert info.value.args[0] == "Unable to delete version because the following aliases reference it: [live]"
    mgr.delete_function("fn", "9")  # no such version: nothing to do, no error (as on Lambda)

    mgr.delete_function("fn", "1")
    assert [f.version for f in mgr.versions("fn")] == ["$LATEST", "2"]
    assert (busy_env.state, busy_env.end_reason) == ("terminated", "version-deleted")
    with pytest.raises(errors.ResourceNotFoundException, match=f"Function not found: {ARN}:1"):
        mgr.invoke("fn", {}, qualifier="1")
    mgr.register("fn", V3_SOURCE)
    assert mgr.publish("fn").version == "3"  # numbers are never reused

    mgr.delete_function("fn")
    with pytest.raises(errors.ResourceNotFoundException):
        mgr.versions("fn")
    mgr.register("fn", V1_SOURCE)
    assert mgr.publish("fn").version == "1" and mgr.aliases("fn") == []  # a new function starts again


# ---------------------------------------------------------------------- aliases
def test_alias_lifecycle(mgr):
    mgr.register("fn", V1_SOURCE)
    mgr.publish("fn")
    mgr.register("fn", V2_SOURCE)
    mgr.publish("fn")

    live = mgr.create_alias("fn", "live", "1", description="custom-alias", routing={"2": 0.2})
    assert (live.function_version, live.routing, live.description) == ("1", {"2": 0.2}, "custom-alias")
    assert live.arn("us-east-1", "123456789012") == f"{ARN}:live"
    assert mgr.get_alias("fn", "live") is live
    assert mgr.function("fn", "live").version == "1"  # an alias's configuration is its version's
    mgr.create_alias("fn", "2024-01-02", "1")  # digits may start a name, as long as it is not all digits
    mgr.create_alias("fn", "beta", "2")
    assert [a.name for a in mgr.aliases("fn")] == ["2024-01-02", "beta", "live"]
    assert [a.name for a in mgr.aliases("fn", "1")] == ["2024-01-02", "live"]

    moved = mgr.update_alias("fn", "live", routing={})
    assert (moved.routing, moved.description, moved.function_version) == ({}, "custom-alias", "1")
    assert moved.revision_id != live.revision_id
    with pytest.raises(errors.PreconditionFailedException):
        mgr.update_alias("fn", "live", "2", revision_id="wrong")
    assert mgr.update_alias("fn", "live", "2", revision_id=moved.revision_id).function_version == "2"
    assert code(mgr.invoke("fn:live", {})) == 2

    mgr.delete_alias("fn", "beta")
    mgr.delete_alias("fn", "beta")  # already gone: no error, as on Lambda
    assert [a.name for a in mgr.aliases("fn")] == ["2024-01-02", "live"]


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.create_alias("fn", "x", "1", routing={"1": 0.8, "2": 0.2}), errors.InvalidParameterValueException,
     "Number of items in AdditionalVersionWeights cannot be greater than 1"),
    (lambda m: m.create_alias("fn", "x", "1", routing={"2": 2}), errors.ValidationException,
     "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
     "constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member "
     "must have value greater than or equal to 0.0, Member must not be null]"),
    (lambda m: m.create_alias("fn", "x", "1", routing={"2": -1}), errors.ValidationException,
     "Value '{2=-1.0}' at 'routingConfig.additionalVersionWeights'"),
    (lambda m: m.create_alias("fn", "x", "1", routing={"1": 0.5}), errors.InvalidParameterValueException,
     "Invalid function version 1. Function version 1 is already included in routing configuration."),
    (lambda m: m.create_alias("fn", "x", "10", routing={"2": 0.5}), errors.ResourceNotFoundException,
     f"Function not found: {ARN}:10"),
    (lambda m: m.create_alias("fn", "x", "1", routing={"10": 0.5}), errors.ResourceNotFoundException,
     f"Function not found: {ARN}:10"),
    (lambda m: m.create_alias("fn", "x", "$LATEST", routing={"1": 0.5}), errors.InvalidParameterValueException,
     "$LATEST is not supported for an alias pointing to more than 1 version"),
    (lambda m: m.create_alias("fn", "x", "1", routing={"$LATEST": 0.5}), errors.ValidationException,
     "Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must "
     "satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater "
     "than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"),
    (lambda m: m.create_alias("fn-unknown", "x", "1"), errors.ResourceNotFoundException,
     f"Function not found: {ARN}-unknown:1"),
    (lambda m: m.create_alias("fn", "live", "1"), errors.ResourceConflictException, f"Alias already exists: {ARN}:live"),
    (lambda m: m.get_alias("fn", "non-existent"), errors.ResourceNotFoundException,
     f"Cannot find alias arn: {ARN}:non-existent"),
    (lambda m: m.update_alias("fn", "non-existent"), errors.ResourceNotFoundException,
     f"Alias not found: {ARN}:non-existent"),
    (lambda m: m.create_alias("fn", "x", "x1"), errors.ValidationException,
     "Value 'x1' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression "
     "pattern: (\\$LATEST|[0-9]+)"),
    (lambda m: m.create_alias("fn", "2024", "1"), errors.ValidationException,
     "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular "
     "expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"),
])
def test_alias_errors_are_lambdas(module_mgr, call, error, message):
    """The codes and texts AWS answers (LocalStack's snapshots of TestLambdaAlias, recorded 2025-11)."""
    mgr = module_mgr
    if "fn" not in mgr.functions:
        mgr.register("fn", V1_SOURCE)
        mgr.publish("fn")
        mgr.register("fn", V2_SOURCE)
        mgr.publish("fn")
        mgr.create_alias("fn", "live", "1")
    with pytest.raises(error) as info:
        call(mgr)
    assert message in info.value.args[0]
    assert [a.name for a in mgr.aliases("fn")] == ["live"]  # nothing changed


def test_a_weighted_alias_splits_by_the_seeded_random_numbers():
    def picks(seed: int) -> list[str]:
        with lw.ContainerManager(seed=seed, virtual_clock=True) as mgr:
            mgr.register("fn", "def lambda_handler(event, context):\n    return 1\n", trace=False)
            mgr.publish("fn")
            mgr.register("fn", "def lambda_handler(event, context):\n    return 2\n", trace=False)
            mgr.publish("fn")
            mgr.create_alias("fn", "live", "1", routing={"2": 0.3})
            runs = [mgr.submit("fn:live", {}, invocation_type="DryRun").result() for _ in range(400)]
            assert all(r.qualifier == "live" for r in runs)
            return [r.version for r in runs]

    first = picks(11)
    assert first == picks(11)  # reproducible: the pick draws from the manager's seeded numbers
    assert first != picks(12)
    share = first.count("2") / len(first)
    assert abs(share - 0.3) <= 3 * (0.3 * 0.7 / len(first)) ** 0.5


# ---------------------------------------------------------------------- provisioned concurrency
def test_provisioned_concurrency_on_a_version_and_an_alias(mgr):
    mgr.register("fn", V1_SOURCE)
    mgr.publish("fn")
    mgr.register("fn", V2_SOURCE)
    mgr.publish("fn")
    mgr.create_alias("fn", "live", "1")

    config = mgr.provision("fn", 2, "1")
    assert (config["requested"], config["allocated"], config["status"]) == (2, 2, "READY")
    envs = [e for e in mgr.containers if e.provisioned]
    assert [(e.version, e.provisioned_for, e.state) for e in envs] == [("1", "1", "idle")] * 2
    inv = mgr.invoke("fn", {}, qualifier="live")  # the alias names version 1: a provisioned one serves
    assert (inv.cold, inv.container_id in {e.id for e in envs}) == (False, True)

    with pytest.raises(errors.ResourceConflictException, match="already Provisioned version"):
        mgr.provision("fn", 1, "live")
    mgr.deprovision("fn", "1")
    assert not any(e.provisioned for e in mgr.containers)
    with pytest.raises(errors.ProvisionedConcurrencyConfigNotFoundException):
        mgr.provisioned_config("fn", "1")

    mgr.provision("fn", 1, "live")
    with pytest.raises(errors.ResourceConflictException, match="Version is pointed by a Provisioned Concurrency alias"):
        mgr.provision("fn", 1, "1")
    mgr.update_alias("fn", "live", "2")  # provisioned concurrency moves with the alias
    assert [(e.version, e.provisioned_for) for e in mgr.containers if e.provisioned] == [("2", "live")]
    assert [c["qualifier"] for c in mgr.provisioned_configs("fn")] == ["live"]

    for qualifier, error, message in [
            ("$LATEST", errors.InvalidParameterValueException, "cannot be applied to unpublished function versions"),
            (None, errors.InvalidParameterValueException, "cannot be applied to unpublished function versions"),
            ("10", errors.ResourceNotFoundException, f"Function not found: {ARN}:10"),
            ("noalias", errors.ResourceNotFoundException, f"Cannot find alias arn: {ARN}:noalias")]:
        with pytest.raises(error, match=message):
            mgr.provision("fn", 1, qualifier)
    with pytest.raises(errors.ValidationException, match="Value '0' at 'provisionedConcurrentExecutions'"):
        mgr.provision("fn", 0, "1")
    with pytest.raises(errors.InvalidParameterValueException, match="must be an alias or a published version"):
        mgr.provisioned_config("fn", "$LATEST")
    mgr.delete_alias("fn", "live")
    assert not any(e.provisioned for e in mgr.containers) and mgr.provisioned_configs("fn") == []


# ---------------------------------------------------------------------- placement index
def test_the_placement_index_matches_the_pool(mgr):
    """Placement reads counts the manager keeps as environments change, never a scan: they must
    agree with the pool after bursts, updates, reaping and deletes."""
    mgr.register("fn", V1_SOURCE, timeout=10, reserved_concurrency=5)
    mgr.publish("fn")
    mgr.register("other", V1_SOURCE, timeout=10)

    def check() -> None:
        with mgr._lock:
            pool = mgr._pool
            running = [e for e in mgr._envs if e.state in ("initializing", "busy")]
            assert pool.running_total == len(running)
            for name in ("fn", "other"):
                assert pool.running(name) == sum(e.function_name == name for e in running)
            for env in mgr._envs:
                assert pool.alive(env.function.key)
            assert len(pool) == len(mgr._envs)

    futures = [mgr.submit("fn", {"sleep": 0.3}) for _ in range(4)] + \
        [mgr.submit("fn", {"sleep": 0.3}, qualifier="1") for _ in range(2)] + \
        [mgr.submit("other", {"sleep": 0.3}) for _ in range(3)]
    check()  # whatever has started by now
    assert all(f.result().status in ("succeeded", "throttled") for f in futures)
    check()
    mgr.register("fn", V2_SOURCE, timeout=10, reserved_concurrency=5)
    check()
    mgr.delete_function("other")
    check()
    assert mgr.invoke("fn", {}, qualifier="1").cold is False
    check()


def test_update_configuration_is_an_update_of_latest_with_the_same_code(mgr):
    mgr.register("fn", V1_SOURCE, env={"MODE": "a"})
    first = mgr.invoke("fn", {})
    before = mgr.function("fn")
    fn = mgr.update_configuration("fn", env={"MODE": "b"}, timeout=9, description="tuned")
    assert (fn.version, fn.revision, fn.code_revision, fn.env, fn.timeout, fn.description) == (
        "$LATEST", 2, 1, {"MODE": "b"}, 9.0, "tuned")
    assert fn.source == before.source and fn.revision_id != before.revision_id
    assert env_of(mgr, first).end_reason == "function-updated"
    again = mgr.invoke("fn", {})
    assert (code(again), again.cold_reason) == (1, "function-updated")
    with pytest.raises(errors.PreconditionFailedException):
        mgr.update_configuration("fn", timeout=5, revision_id=before.revision_id)
    with pytest.raises(errors.InvalidParameterValueException, match="cannot update runtime"):
        mgr.update_configuration("fn", runtime="awslambdaric")
    with pytest.raises(errors.InvalidParameterValueException, match="Invalid timeout"):
        mgr.update_configuration("fn", timeout=901)
    assert mgr.function("fn") is fn  # nothing changed by the refused updates
