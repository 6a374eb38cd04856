"""Route 53 as strict as the real one, on top of moto.

moto accepts a CNAME at the apex, weight 256, a duplicate CREATE, simple and weighted
records on one name and a DELETE that does not match; it applies batches record by record
and answers INSYNC at once with one constant change id. Here every batch goes through
``cutover.records.apply_changes`` (all or nothing, Route 53's rules), each change gets its
own id and stays PENDING for ``insync_after`` seconds of the engine's clock (longer for a change
submitted while ``stuck`` says so), and throttling can be injected. With a ``budget`` (the
engine's: five requests a second for the whole account) a call beyond it is answered Throttling,
whoever makes it. Like Route 53, and unlike the control plane, it accepts every weight at 0,
keeps a record's health check id and matches a DELETE against it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.route53 import models as r53_models
from moto.route53 import responses as r53_responses

from cutover import clock
from cutover.errors import InvalidChangeBatch
from cutover.records import apply_changes, bare


class Route53Error(ServiceException):
    pass


def _record_of(rs: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"Name": bare(rs.name), "Type": rs.type}
    if rs.ttl is not None:
        record["TTL"] = int(rs.ttl)
    if rs.set_identifier is not None:
        record["SetIdentifier"] = rs.set_identifier
    if rs.weight is not None:
        record["Weight"] = int(rs.weight)
    if rs.alias_target:
        record["AliasTarget"] = rs.alias_target
    if getattr(rs, "health_check_id", None):
        record["HealthCheckId"] = rs.health_check_id
    if rs.records:
        record["ResourceRecords"] = [{"Value": v if isinstance(v, str) else v["Value"]} for v in rs.records]
    return record


def _moto_kwargs(record: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(record)
    kwargs["Name"] = bare(record["Name"]) + "."
    if "ResourceRecords" in kwargs:
        kwargs["ResourceRecords"] = [v["Value"] for v in record["ResourceRecords"]]
    return kwargs


def _typed(change: dict[str, Any]) -> dict[str, Any]:
    record = dict(change["ResourceRecordSet"])
    for key in ("TTL", "Weight"):
        if key in record:
            try:
                record[key] = int(record[key])
            except (TypeError, ValueError):
                pass
    return {"Action": change["Action"], "ResourceRecordSet": record}


@dataclass
class StrictRoute53:
    """Install with ``install()``; ``uninstall()`` puts moto back as it was."""

    insync_after: float = 0.0  # seconds of the engine's clock a change stays PENDING
    throttle: Callable[[str], bool] = lambda operation: False  # True: answer Throttling
    budget: Any = None  # a TokenBucket shared by every caller, or None
    # seconds a change submitted now stays PENDING beyond insync_after (a change stuck PENDING)
    stuck: Callable[[], float] = lambda: 0.0
    author: Callable[[], str | None] = lambda: None  # who submits (the engine: the running function)
    # change id -> (author, comment): None for the harness (a hand edit, the seed)
    origins: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    on_call: list[Callable[[str], None]] = field(default_factory=list)  # hears every call, throttled or not
    changes: dict[str, tuple[datetime, list[dict[str, Any]]]] = field(default_factory=dict)
    _insync_at: dict[str, datetime] = field(default_factory=dict)
    # what each change left in its zone, for ``served``: (INSYNC at, zone id, records)
    snapshots: list[tuple[datetime, str, list[dict[str, Any]]]] = field(default_factory=list)
    _applied: list[dict[str, Any]] | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _saved: list[tuple[Any, str, Any]] = field(default_factory=list)

    def count(self, operation: str) -> None:
        """One call against the account's Route 53 budget (raises Throttling beyond it)."""
        self.calls[operation] = self.calls.get(operation, 0) + 1
        for listener in list(self.on_call):
            listener(operation)
        if self.throttle(operation):
            raise Route53Error("Throttling", "Rate exceeded")
        if self.budget is not None and not self.budget.take():
            self.calls["Throttled"] = self.calls.get("Throttled", 0) + 1
            raise Route53Error("Throttling", "Rate exceeded")

    def apply(self, backend: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        zone = backend.get_hosted_zone(zoneid)
        typed = [_typed(c) for c in change_list]
        try:
            result = apply_changes([_record_of(rs) for rs in zone.rrsets], typed, zone.name, as_route53=True)
        except InvalidChangeBatch as exc:
            raise Route53Error("InvalidChangeBatch", str(exc)) from None
        touched = {bare(c["ResourceRecordSet"]["Name"]) for c in typed}
        kept = [rs for rs in zone.rrsets if bare(rs.name) not in touched]
        zone.rrsets = kept + [
            r53_models.RecordSet(_moto_kwargs(r)) for r in result if bare(r["Name"]) in touched
        ]
        self._applied = result

    def install(self) -> StrictRoute53:
        engine = self

        def change_resource_record_sets(backend: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
            engine.apply(backend, zoneid, change_list)

        def respond_change(response: Any) -> ActionResult:
            engine.count("ChangeResourceRecordSets")
            zoneid = response._get_param("HostedZoneId")
            change_list = response._get_param("ChangeBatch.Changes")
            response.backend.change_resource_record_sets(zoneid, change_list)
            change_id = f"C{next(engine._ids):012d}"
            submitted = clock.now()
            engine.changes[change_id] = (submitted, [_typed(c) for c in change_list])
            engine.origins[change_id] = (engine.author(), response._get_param("ChangeBatch.Comment") or "")
            engine._insync_at[change_id] = submitted + timedelta(seconds=engine.insync_after + max(0.0, engine.stuck()))
            engine.snapshots.append((engine.insync_at(change_id), zoneid.split("/")[-1], engine._applied or []))
            return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": engine.status(change_id), "SubmittedAt": submitted}})

        def respond_get_change(response: Any) -> ActionResult:
            engine.count("GetChange")
            change_id = response._get_param("Id").removeprefix("/change/")
            if change_id not in engine.changes:
                raise Route53Error("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")
            submitted, _ = engine.changes[change_id]
            return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": engine.status(change_id), "SubmittedAt": submitted}})

        def counted(name: str, original: Any) -> Any:
            def wrapper(response: Any) -> Any:
                engine.count(name)
                return original(response)

            return wrapper

        patches = [
            (r53_models.Route53Backend, "change_resource_record_sets", change_resource_record_sets),
            (r53_responses.Route53, "change_resource_record_sets", respond_change),
            (r53_responses.Route53, "get_change", respond_get_change),
            (r53_responses.Route53, "list_resource_record_sets",
             counted("ListResourceRecordSets", r53_responses.Route53.list_resource_record_sets)),
            (r53_responses.Route53, "get_hosted_zone", counted("GetHostedZone", r53_responses.Route53.get_hosted_zone)),
        ]
        for owner, name, replacement in patches:
            self._saved.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, replacement)
        return self

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)

    def served(self, zone_id: str, name: str) -> list[dict[str, Any]]:
        """The records of ``name`` that DNS answers with now: as of the last change that is INSYNC."""
        now = clock.now()
        latest: tuple[datetime, list[dict[str, Any]]] | None = None
        for insync, zone, records in self.snapshots:
            if zone == zone_id and now >= insync and (latest is None or insync >= latest[0]):
                latest = (insync, records)
        return [r for r in latest[1] if bare(r["Name"]) == bare(name)] if latest else []

    def insync_at(self, change_id: str) -> datetime:
        submitted, _ = self.changes[change_id]
        return self._insync_at.get(change_id, submitted + timedelta(seconds=self.insync_after))

    def status(self, change_id: str) -> str:
        return "INSYNC" if clock.now() >= self.insync_at(change_id) else "PENDING"
