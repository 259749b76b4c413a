"""Published versions, aliases and provisioned concurrency, as Lambda has them.

``$LATEST`` is the function as last registered (re-registering updates it). ``publish`` freezes it as
a numbered version ("1", "2", ...), which runs side by side with ``$LATEST`` and every other
version, each with environments of its own. An alias names a version and may send a share of
its events to a second one (a weighted canary). Provisioned concurrency belongs to a version or
an alias (the notebook API also allows it on ``$LATEST``, a convenience Lambda does not have).
The error codes and texts are Lambda's, as recorded in LocalStack's snapshots of real AWS.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from lambda_widget.engine.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lambda_widget.engine.interpreters import LAMBDA_PYTHONS, choose
from lambda_widget.engine.records import LATEST, Alias, Function
from lambda_widget.engine.validation import validate_config

ALIAS_RE = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
MAX_ALIAS = 128
MAX_DESCRIPTION = 256
REVISION_MISMATCH = ("The Revision Id provided does not match the latest Revision Id. "
                     "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."
#: What ``update_configuration`` changes (the rest of a configuration comes with ``register``).
UPDATABLE = ("handler", "timeout", "memory_mb", "idle_timeout", "env", "description")


def new_revision_id() -> str:
    """A new RevisionId (not the manager's seeded numbers: API calls must not shift a lesson's ids)."""
    return str(uuid.uuid4())


def _weights_text(routing: dict) -> str:
    """Java's rendering of the map, as Lambda's validation messages quote it: ``{2=0.5}``."""
    def num(v: Any) -> str:
        return str(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
    return "{" + ", ".join(f"{k}={num(v)}" for k, v in routing.items()) + "}"


def check_alias_name(alias: Any) -> str:
    if not isinstance(alias, str) or not 1 <= len(alias) <= MAX_ALIAS or not ALIAS_RE.fullmatch(alias):
        raise ValidationException(
            f"1 validation error detected: Value '{alias}' at 'name' failed to satisfy constraint: Member "
            f"must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    return alias


def check_routing(routing: Any) -> dict[str, float]:
    """``AdditionalVersionWeights``: at most one version number, with a weight from 0 to 1."""
    if routing is None:
        return {}
    if not isinstance(routing, dict):
        raise InvalidParameterValueException(
            f"routing must be a dict of version -> weight (AdditionalVersionWeights), not {routing!r}")
    prefix = "1 validation error detected: Value '" + _weights_text(routing) + \
        "' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
    for key, weight in routing.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 1024 or not key.isdigit() or not key.isascii():
            raise ValidationException(prefix + "Map keys must satisfy constraint: [Member must have length less "
                                      "than or equal to 1024, Member must have length greater than or equal "
                                      "to 1, Member must satisfy regular expression pattern: [0-9]+]")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or not 0.0 <= weight <= 1.0:
            raise ValidationException(prefix + "Map value must satisfy constraint: [Member must have value less "
                                      "than or equal to 1.0, Member must have value greater than or equal to "
                                      "0.0, Member must not be null]")
    if len(routing) > 1:
        raise InvalidParameterValueException("Number of items in AdditionalVersionWeights cannot be greater than 1")
    return {k: float(v) for k, v in routing.items()}


def check_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidParameterValueException(f"description must be a string of at most {MAX_DESCRIPTION} "
                                             f"characters, not {description!r}")
    return description


class VersionsMixin:
    """Part of ContainerManager: publish, versions, aliases and their provisioned concurrency."""

    def _init_versions(self) -> None:
        self._published: dict[str, dict[str, Function]] = {}  # function -> version number -> record
        self._aliases: dict[str, dict[str, Alias]] = {}
        self._next_version: dict[str, int] = {}                # numbers are never reused
        self._provisioned: dict[tuple[str, str], dict[str, Any]] = {}  # (function, qualifier) -> config
        self._publishing = threading.Lock()                   # one publish at a time

    # ------------------------------------------------------------------ versions
    def versions(self, name: str) -> list[Function]:
        """``$LATEST`` and every published version of ``name``, oldest first (ListVersionsByFunction)."""
        with self._lock:
            latest = self.function(name)
            published = self._published.get(name, {})
            return [latest] + [published[v] for v in sorted(published, key=int)]

    def version_rows(self, function_name: str | None = None) -> list[dict[str, Any]]:
        """Plain rows for views: each version of every function that has published versions or
        aliases (the others have only $LATEST), with its aliases (and their weights) and how many
        live environments run it."""
        with self._lock:
            names = sorted(n for n in set(self._published) | set(self._aliases)
                           if (self._published.get(n) or self._aliases.get(n)) and n in self._functions
                           and function_name in (None, n))
            rows = []
            for name in names:
                live = [e for e in self._envs if e.function_name == name and e.state != "terminated"]
                aliases = sorted(self._aliases.get(name, {}).values(), key=lambda a: a.name)
                published = self._published.get(name, {})
                for version in [LATEST] + sorted(published, key=int):
                    fn = self._functions[name] if version == LATEST else published[version]
                    mine = [e for e in live if e.version == version]
                    rows.append({
                        "function_name": name, "version": version, "description": fn.description,
                        "environments": len(mine), "busy": sum(e.state in ("busy", "initializing") for e in mine),
                        "provisioned": sum(bool(e.provisioned) for e in mine),
                        "aliases": [{"name": a.name, "weight": weight}
                                    for a in aliases for v, weight in a.versions() if v == version],
                    })
        return rows

    def update_configuration(self, name: str, *, revision_id: str | None = None, **changes: Any) -> Function:
        """UpdateFunctionConfiguration: ``$LATEST`` with some of its settings changed (``UPDATABLE``),
        the same code. Like re-registering, it is a new update of ``$LATEST``: its warm environments
        retire. ``revision_id``, if given, must be ``$LATEST``'s current one. ``runtime``: another of
        Lambda's Pythons (``"python3.12"``), as UpdateFunctionConfiguration's ``Runtime``."""
        self._check_open()
        runtime = changes.pop("runtime", None)
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise InvalidParameterValueException(f"cannot update {', '.join(unknown)}: updatable are "
                                                 f"{', '.join((*UPDATABLE, 'runtime'))}")
        with self._lock:
            latest = self.function(name)
            if revision_id is not None and revision_id != latest.revision_id:
                raise PreconditionFailedException(REVISION_MISMATCH)
        python = self._python_update(latest, runtime) if runtime is not None else {}
        merged = {key: getattr(latest, key) for key in UPDATABLE} | changes
        merged["env"] = dict(merged["env"] or {})
        validate_config(name, latest.source, merged["handler"], merged["timeout"], merged["memory_mb"],
                        merged["idle_timeout"], merged["env"], latest.reserved_concurrency,
                        latest.provisioned_concurrency, latest.runtime, latest.max_steps, latest.max_retry_attempts,
                        latest.max_event_age, latest.on_success, latest.on_failure, cpu_scaling=latest.cpu_scaling,
                        architecture=latest.architecture)
        check_description(merged["description"])
        merged.update(timeout=float(merged["timeout"]), memory_mb=int(merged["memory_mb"]),
                      idle_timeout=float(merged["idle_timeout"]))
        with self._lock:
            if self._functions.get(name) is not latest:  # another update came first
                raise ResourceConflictException(f"The operation cannot be performed at this time. An update is in "
                                                f"progress for resource: {latest.arn(self.region, self.account_id)}")
            fn = dataclasses.replace(latest, **merged, **python, revision=latest.revision + 1,
                                     revision_id=new_revision_id(), registered_at=self.clock.now())
        return self._install_latest(fn)

    @staticmethod
    def _python_update(latest: Function, runtime: Any) -> dict[str, Any]:
        """The Python fields of ``latest`` with its runtime changed to ``runtime`` (``python3.12``)."""
        if not isinstance(runtime, str) or runtime not in LAMBDA_PYTHONS:
            raise InvalidParameterValueException(f"cannot update runtime to {runtime!r}: only to one of Lambda's "
                                                 f"Python runtimes ({', '.join(LAMBDA_PYTHONS)}); register "
                                                 "the function again to change its runtime otherwise")
        if latest.runtime != "bundled":
            raise InvalidParameterValueException(f"{latest.name} runs {latest.runtime}, which stays on the "
                                                 "kernel's Python: register it again to change its runtime")
        interpreter, note = choose(runtime)
        python = interpreter.to_dict()
        if latest.path and (Path(latest.path) / "requirements.txt").is_file() \
                and python["version"].split(".")[:2] != latest.python_version.split(".")[:2]:
            raise InvalidParameterValueException(
                f"{latest.name}'s requirements.txt was installed for Python {latest.python_version}: register "
                f"it again with runtime={runtime!r} to install them for Python {python['version']}")
        return {"python_runtime": runtime, "python": python, "python_note": note}

    def publish(self, name: str, description: str | None = None, *, revision_id: str | None = None) -> Function:
        """Publish ``$LATEST`` as an immutable numbered version ("1", "2", ...) and return it.

        As on Lambda, publishing a ``$LATEST`` that has not changed since the last publish returns that
        version instead of a new one. ``description`` defaults to the function's; ``revision_id``, if
        given, must be ``$LATEST``'s current one (PreconditionFailedException otherwise).
        """
        self._check_open()
        if description is not None:
            check_description(description)
        with self._publishing:
            with self._lock:
                latest = self.function(name)
                if revision_id is not None and revision_id != latest.revision_id:
                    raise PreconditionFailedException(REVISION_MISMATCH)
                published = self._published.setdefault(name, {})
                number = self._next_version.get(name, 1)
                last = published.get(str(number - 1))
                if last is not None and last.revision == latest.revision:
                    return last
                self._next_version[name] = number + 1
                fn = dataclasses.replace(
                    latest, version=str(number), env=dict(latest.env), provisioned_concurrency=0,
                    description=description or latest.description, revision_id=new_revision_id(),
                    published_at=self.clock.now())
                latest.revision_id = new_revision_id()  # publishing changes $LATEST's RevisionId too
            self._publish_version(fn)
        self._changed()
        return fn

    def _publish_version(self, fn: Function) -> None:
        """The step where a numbered version becomes published: from here on Invoke, aliases and
        ListVersionsByFunction see it. Whatever must happen once per version before its first event
        (SnapStart's Init and snapshot) goes before this step."""
        with self._lock:
            self._published.setdefault(fn.name, {})[fn.version] = fn

    def _delete_version(self, name: str, version: str) -> None:
        """DeleteFunction with a qualifier: one published version goes (not one an alias names)."""
        if version == LATEST:
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        if not version.isdigit():
            raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
        with self._lock:
            if name not in self._functions:
                raise ResourceNotFoundException(
                    f"Function not found: {Function(name, LATEST, '').arn(self.region, self.account_id)}")
            fn = self._published.get(name, {}).get(version)
            if fn is None:
                return  # as on Lambda: nothing to delete is no error
            users = sorted(a.name for a in self._aliases.get(name, {}).values()
                           if a.function_version == version or version in a.routing)
            if users:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]")
            del self._published[name][version]
            self._provisioned.pop((name, version), None)
            doomed = self._mark_ended(lambda e: e.function is fn, "version-deleted")
        self._terminate_many(doomed, "version-deleted")
        self._changed()

    def _mark_ended(self, which, reason: str) -> list:
        """Mark the live environments ``which(env)`` selects: idle ones end now (returned, marked
        terminated, for ``_terminate_many``), busy ones after their invocation. Lock held."""
        doomed = []
        for env in self._envs:
            if which(env):
                if env.state == "idle":
                    env.state = "terminated"
                    self._pool.remove(env)
                    doomed.append(env)
                else:
                    env.retiring = True
                    env.retire_reason = reason
        return doomed

    # ------------------------------------------------------------------ aliases
    def create_alias(self, name: str, alias: str, version: str, *, description: str = "",
                     routing: dict[str, float] | None = None) -> Alias:
        """An alias of ``name`` pointing at ``version`` ("1", ... or "$LATEST"), optionally sending the
        share ``routing`` gives (``{"2": 0.1}``) to a second version (CreateAlias)."""
        self._check_open()
        check_alias_name(alias)
        check_description(description)
        routing = check_routing(routing)
        with self._lock:
            if name not in self._functions:
                raise ResourceNotFoundException(
                    f"Function not found: {Function(name, LATEST, '').arn(self.region, self.account_id, version)}")
            self._check_alias_target(name, version, routing)
            aliases = self._aliases.setdefault(name, {})
            if alias in aliases:
                raise ResourceConflictException(f"Alias already exists: {self._alias_arn(name, alias)}")
            made = aliases[alias] = Alias(alias, name, version, description, routing, new_revision_id())
        self._changed()
        return made

    def update_alias(self, name: str, alias: str, version: str | None = None, *, description: str | None = None,
                     routing: dict[str, float] | None = None, revision_id: str | None = None) -> Alias:
        """Point ``alias`` at another version, change its description or routing (UpdateAlias);
        what is not given stays. Provisioned concurrency on the alias moves with it."""
        self._check_open()
        if description is not None:
            check_description(description)
        if routing is not None:
            routing = check_routing(routing)
        with self._lock:
            self.function(name)
            current = self._aliases.get(name, {}).get(alias)
            if current is None:
                raise ResourceNotFoundException(f"Alias not found: {self._alias_arn(name, alias)}")
            if revision_id is not None and revision_id != current.revision_id:
                raise PreconditionFailedException(REVISION_MISMATCH)
            new_version = current.function_version if version is None else version
            new_routing = current.routing if routing is None else routing
            self._check_alias_target(name, new_version, new_routing)
            updated = dataclasses.replace(current, function_version=new_version, routing=dict(new_routing),
                                          description=current.description if description is None else description,
                                          revision_id=new_revision_id())
            self._aliases[name][alias] = updated
            moved = (name, alias) in self._provisioned and new_version != current.function_version
        if moved:
            self._apply_provisioned(name, alias)
        self._changed()
        return updated

    def alias(self, name: str, alias: str, version: str | None = None, *, description: str | None = None,
              routing: dict[str, float] | None = None) -> Alias:
        """Create ``alias`` (``version`` required) or update it: the notebook's one call for both."""
        with self._lock:
            exists = alias in self._aliases.get(name, {})
        if exists:
            return self.update_alias(name, alias, version, description=description, routing=routing)
        if version is None:
            raise InvalidParameterValueException(f"alias {alias!r} of {name} does not exist yet: give the version "
                                                 f"it points to")
        return self.create_alias(name, alias, str(version), description=description or "", routing=routing)

    def get_alias(self, name: str, alias: str) -> Alias:
        with self._lock:
            self.function(name)
            found = self._aliases.get(name, {}).get(alias)
            if found is None:
                raise ResourceNotFoundException(f"Cannot find alias arn: {self._alias_arn(name, alias)}")
            return found

    def aliases(self, name: str, version: str | None = None) -> list[Alias]:
        """The aliases of ``name`` (of one ``version`` only, if given), by name (ListAliases)."""
        with self._lock:
            self.function(name)
            found = sorted(self._aliases.get(name, {}).values(), key=lambda a: a.name)
        return [a for a in found if version is None or a.function_version == version]

    def delete_alias(self, name: str, alias: str) -> None:
        """DeleteAlias: an alias that does not exist is no error, as on Lambda."""
        self._check_open()
        with self._lock:
            self.function(name)
            if self._aliases.get(name, {}).pop(alias, None) is None:
                return
            had = self._provisioned.pop((name, alias), None) is not None
            doomed = self._mark_ended(lambda e: getattr(e, "provisioned_for", None) == alias
                                      and e.function_name == name, "deprovisioned") if had else []
        self._terminate_many(doomed, "deprovisioned")
        self._changed()

    def _alias_arn(self, name: str, alias: str) -> str:
        return Function(name, LATEST, "").arn(self.region, self.account_id, alias)

    def _check_alias_target(self, name: str, version: Any, routing: dict[str, float]) -> None:
        if not isinstance(version, str) or not (version == LATEST or (version.isdigit() and version.isascii())):
            raise ValidationException(f"1 validation error detected: Value '{version}' at 'functionVersion' failed to "
                                      f"satisfy constraint: Member must satisfy regular expression pattern: "
                                      f"(\\$LATEST|[0-9]+)")
        if version in routing:
            raise InvalidParameterValueException(f"Invalid function version {version}. Function version {version} "
                                                 f"is already included in routing configuration.")
        if version == LATEST and routing:
            raise InvalidParameterValueException("$LATEST is not supported for an alias pointing to more than 1 "
                                                 "version")
        for wanted in [version, *routing]:
            if wanted != LATEST and wanted not in self._published.get(name, {}):
                raise ResourceNotFoundException(
                    f"Function not found: {Function(name, LATEST, '').arn(self.region, self.account_id, wanted)}")

    # ------------------------------------------------------------------ provisioned concurrency
    def provision(self, name: str, count: int, qualifier: str) -> dict[str, Any]:
        """Provisioned concurrency for a published version or an alias (PutProvisionedConcurrencyConfig):
        ``count`` environments of that version, initialised ahead of any event and never reaped."""
        self._check_open()
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationException(f"1 validation error detected: Value '{count}' at 'provisionedConcurrentExecutions' "
                                      f"failed to satisfy constraint: Member must have value greater than or equal to 1")
        limits = self.placement.limits
        if count > limits.account_concurrency:
            raise InvalidParameterValueException(f"Specified ConcurrentExecutions for function is greater than "
                                                 f"account's unreserved concurrency [{limits.account_concurrency}].")
        if count > limits.account_concurrency - limits.unreserved_minimum:
            raise InvalidParameterValueException(
                f"Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below "
                f"its minimum value of [{limits.unreserved_minimum}].")
        with self._lock:
            target = self._provisioned_target(name, qualifier, UNPUBLISHED)
            if isinstance(target, Alias) and (name, target.function_version) in self._provisioned:
                raise ResourceConflictException("Alias can't be used for Provisioned Concurrency configuration on an "
                                                "already Provisioned version")
            if isinstance(target, Function) and any(
                    a.function_version == qualifier for a in self._aliases.get(name, {}).values()
                    if (name, a.name) in self._provisioned):
                raise ResourceConflictException("Version is pointed by a Provisioned Concurrency alias")
            self._provisioned[(name, qualifier)] = {"requested": count, "modified_at": time.time()}
        self._apply_provisioned(name, qualifier)
        return self.provisioned_config(name, qualifier)

    def provisioned_config(self, name: str, qualifier: str) -> dict[str, Any]:
        """GetProvisionedConcurrencyConfig: requested, allocated and available, and the status."""
        with self._lock:
            self._provisioned_target(name, qualifier, NOT_ALIAS_OR_VERSION)
            config = self._provisioned.get((name, qualifier))
            if config is None:
                raise ProvisionedConcurrencyConfigNotFoundException(
                    "No Provisioned Concurrency Config found for this function")
            mine = [e for e in self._envs if e.function_name == name
                    and getattr(e, "provisioned_for", None) == qualifier and not e.retiring]
            ready = sum(1 for e in mine if e.state in ("idle", "busy"))
        return {"qualifier": qualifier, "requested": config["requested"], "allocated": ready,
                "available": ready, "status": "READY" if ready >= config["requested"] else "IN_PROGRESS",
                "modified_at": config["modified_at"]}

    def provisioned_configs(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            self.function(name)
            qualifiers = sorted(q for n, q in self._provisioned if n == name)
        return [self.provisioned_config(name, q) for q in qualifiers]

    def deprovision(self, name: str, qualifier: str) -> None:
        """DeleteProvisionedConcurrencyConfig: its environments end (busy ones after their invocation)."""
        self._check_open()
        with self._lock:
            self._provisioned_target(name, qualifier, NOT_ALIAS_OR_VERSION)
            self._provisioned.pop((name, qualifier), None)
            doomed = self._mark_ended(lambda e: e.function_name == name
                                      and getattr(e, "provisioned_for", None) == qualifier, "deprovisioned")
        self._terminate_many(doomed, "deprovisioned")
        self._changed()

    def _provisioned_target(self, name: str, qualifier: Any, latest_error: str) -> Function | Alias:
        if qualifier in (None, "", LATEST):
            if name not in self._functions:
                raise ResourceNotFoundException(self._not_found(name))
            raise InvalidParameterValueException(latest_error)
        arn = Function(name, LATEST, "").arn(self.region, self.account_id, qualifier)
        if str(qualifier).isdigit():
            found = self._published.get(name, {}).get(qualifier)
            if found is None:
                raise ResourceNotFoundException(f"Function not found: {arn}")
            return found
        found = self._aliases.get(name, {}).get(qualifier)
        if found is None:
            raise ResourceNotFoundException(f"Cannot find alias arn: {arn}")
        return found

    def _apply_provisioned(self, name: str, qualifier: str) -> None:
        """Make the environments of a provisioned concurrency config match it: the version it names
        (an alias's current one), as many as requested."""
        with self._lock:
            config = self._provisioned.get((name, qualifier))
            target = self._aliases.get(name, {}).get(qualifier) or self._published.get(name, {}).get(qualifier)
            if config is None or target is None:
                return
            fn = target if isinstance(target, Function) else self._version_record(name, target.function_version)
            mine = [e for e in self._envs if e.function_name == name
                    and getattr(e, "provisioned_for", None) == qualifier and not e.retiring]
            stale = {id(e) for e in mine if e.function is not fn}  # an alias that moved
            keep = [e for e in mine if id(e) not in stale]
            extra = {id(e) for e in keep[config["requested"]:]}
            doomed = self._mark_ended(lambda e: id(e) in stale or id(e) in extra, "deprovisioned")
            missing = max(0, config["requested"] - len(keep))
        self._terminate_many(doomed, "deprovisioned")
        if missing:
            self._provision(fn, missing, qualifier)
