"""DynamoDB: the lock per DNS name, the state of each cutover, and its append-only ledger.

One table, keys ``pk``/``sk``:

- ``NAME#<dns name>`` / ``LOCK``: the live cutover holding that name (conditional write).
- ``CUTOVER#<id>`` / ``STATE``: plan, snapshot of the original records, what was last written.
- ``CUTOVER#<id>`` / ``EVENT#<seq>``: one ledger entry per decision, never overwritten,
  numbered by the atomic counter ``CUTOVER#<id>`` / ``SEQ``.
- ``CUTOVER#<id>`` / ``GATE``: the task token of a stage waiting for an operator's promotion.
- ``CUTOVER#<id>`` / ``WATCH#<alarm>``: this live cutover watches that alarm. The sparse index
  ``ALARM_INDEX`` (key ``watched_alarm``) finds the live cutovers watching an alarm without a scan.
- ``LIVE`` / ``CUTOVER#<id>``: a cutover from its lock until its recorded end (success, or a
  rollback that got through): what the reconciler checks against Step Functions.
- ``OUTBOX`` / ``<id>#<seq>``: a notification SNS did not take; the reconciler sends it again.
- ``CAMPAIGN#<id>`` / ``STATE``, ``GATE``, ``EVENT#<seq>``, ``SEQ``: a campaign's state, the task
  token of its gate between waves, and its own ledger, as for a cutover.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..clock import iso, now
from ..errors import LockHeld, StoreBusy
from .clients import Adapter, error_code

_ser = TypeSerializer()
_de = TypeDeserializer()
ALARM_INDEX = "watched-alarm"
_BUSY = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"}


def _to_ddb(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_ddb(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb(v) for v in value]
    return value


def _item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_to_ddb(v)) for k, v in data.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_ddb(_de.deserialize(v)) for k, v in item.items()}


class Store(Adapter):
    service = "dynamodb"

    def __init__(self, table_name: str, api: Any = None):
        super().__init__(api)
        self.table_name = table_name

    # locks -------------------------------------------------------------------------------
    def acquire(self, names: Sequence[str], cutover_id: str) -> None:
        """Take the lock on every name at once, or none. Retrying with the same id is harmless."""
        at = iso(now())
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _item({"pk": f"NAME#{name}", "sk": "LOCK", "cutover_id": cutover_id, "acquired_at": at}),
                    "ConditionExpression": "attribute_not_exists(pk) OR cutover_id = :me",
                    "ExpressionAttributeValues": {":me": {"S": cutover_id}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for name in names
        ]
        try:
            self.api.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                self._raise(exc)
            reasons = exc.response.get("CancellationReasons", [])
            held = []
            for name, reason in zip(names, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    holder = _plain(reason.get("Item", {})).get("cutover_id", "another cutover")
                    held.append(f"{name} (held by {holder})")
            if not held:
                self._raise(exc)
            raise LockHeld(
                "another live cutover holds " + ", ".join(held)
                + ": wait for it to end, or abort it, before starting a new one"
            ) from exc

    def release(self, names: Sequence[str], cutover_id: str) -> list[str]:
        """Release the locks this cutover holds; names held by someone else are left alone."""
        released = []
        for name in names:
            try:
                self.api.delete_item(
                    TableName=self.table_name,
                    Key=_item({"pk": f"NAME#{name}", "sk": "LOCK"}),
                    ConditionExpression="cutover_id = :me",
                    ExpressionAttributeValues={":me": {"S": cutover_id}},
                )
                released.append(name)
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    self._raise(exc)
        return released

    def lock_holder(self, name: str) -> str | None:
        item = self._get(f"NAME#{name}", "LOCK")
        return item["cutover_id"] if item else None

    def mark_committed(self, names: Sequence[str], cutover_id: str) -> None:
        """The cutover whose commit the names carry now (only that one may revert them)."""
        for name in names:
            self._put({"pk": f"NAME#{name}", "sk": "COMMITTED", "cutover_id": cutover_id, "at": iso(now())})

    def committed_by(self, name: str) -> str | None:
        item = self._get(f"NAME#{name}", "COMMITTED")
        return item["cutover_id"] if item else None

    # cutover state -----------------------------------------------------------------------
    def save_state(self, cutover_id: str, state: dict[str, Any]) -> None:
        self._put({"pk": f"CUTOVER#{cutover_id}", "sk": "STATE", **state, "updated_at": iso(now())})

    def state(self, cutover_id: str) -> dict[str, Any] | None:
        item = self._get(f"CUTOVER#{cutover_id}", "STATE")
        if item:
            item.pop("pk"), item.pop("sk")
        return item

    def set_status(self, cutover_id: str, status: str, only_if_not: Sequence[str] = ()) -> bool:
        """Set the status; False (and nothing written) when it already is one of ``only_if_not``."""
        return self._set_status(f"CUTOVER#{cutover_id}", status, only_if_not)

    def _set_status(self, pk: str, status: str, only_if_not: Sequence[str] = ()) -> bool:
        condition = "attribute_exists(pk)"
        values: dict[str, Any] = {":s": {"S": status}, ":t": {"S": iso(now())}}
        for i, old in enumerate(only_if_not):
            condition += f" AND #status <> :o{i}"
            values[f":o{i}"] = {"S": old}
        try:
            self.api.update_item(
                TableName=self.table_name,
                Key=_item({"pk": pk, "sk": "STATE"}),
                UpdateExpression="SET #status = :s, updated_at = :t",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            self._raise(exc)
        return True

    # promotion gate ----------------------------------------------------------------------
    def hold(self, cutover_id: str, token: str, stage: int, kind: str) -> None:
        self._put({"pk": f"CUTOVER#{cutover_id}", "sk": "GATE", "token": token, "stage": stage, "kind": kind,
                   "since": iso(now())})

    def gate(self, cutover_id: str) -> dict[str, Any] | None:
        return self._get(f"CUTOVER#{cutover_id}", "GATE")

    def release_gate(self, cutover_id: str) -> None:
        try:
            self.api.delete_item(TableName=self.table_name, Key=_item({"pk": f"CUTOVER#{cutover_id}", "sk": "GATE"}))
        except ClientError as exc:
            self._raise(exc)

    # steps that may run twice ---------------------------------------------------------------
    def claim(self, cutover_id: str, key: str) -> bool:
        """True for the first caller only (a conditional write): what a step records once even when
        Step Functions runs it again."""
        try:
            self.api.put_item(TableName=self.table_name,
                              Item=_item({"pk": f"CUTOVER#{cutover_id}", "sk": f"ONCE#{key}", "at": iso(now())}),
                              ConditionExpression="attribute_not_exists(sk)")
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            self._raise(exc)
        return True

    # notifications sent once ----------------------------------------------------------------
    def notified(self, cutover_id: str, key: str) -> bool:
        return self._get(f"CUTOVER#{cutover_id}", f"NOTIFIED#{key}") is not None

    def mark_notified(self, cutover_id: str, key: str) -> None:
        self._put({"pk": f"CUTOVER#{cutover_id}", "sk": f"NOTIFIED#{key}", "at": iso(now())})

    # live cutovers and the notification outbox -------------------------------------------
    def mark_live(self, cutover_id: str, execution_arn: str | None, alarms: Sequence[str] = (),
                  probe: dict[str, Any] | None = None) -> None:
        """List the cutover as live, with what the reconciler checks every few minutes (its
        execution and its alarms) and what the probe requests (``probes.live_entry``), so that
        neither need read the cutover's whole state for it."""
        item = {"pk": "LIVE", "sk": f"CUTOVER#{cutover_id}", "cutover_id": cutover_id,
                "execution_arn": execution_arn, "alarms": list(alarms), "since": iso(now())}
        if probe:
            item["probe"] = probe
        self._put(item)

    def end_live(self, cutover_id: str) -> None:
        try:
            self.api.delete_item(TableName=self.table_name, Key=_item({"pk": "LIVE", "sk": f"CUTOVER#{cutover_id}"}))
        except ClientError as exc:
            self._raise(exc)

    def live(self) -> list[dict[str, Any]]:
        """Every cutover between its lock and its recorded end (a consistent query of the table)."""
        return self._query_all("LIVE", "CUTOVER#")

    def live_count(self) -> int:
        """How many cutovers are live in the account (a count, not their items)."""
        kwargs: dict[str, Any] = {"TableName": self.table_name, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": {"S": "LIVE"}}, "Select": "COUNT"}
        total = 0
        while True:
            try:
                page = self.api.query(**kwargs)
            except ClientError as exc:
                self._raise(exc)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def outbox_add(self, cutover_id: str, seq: int, topic: str, subject: str, message: dict[str, Any]) -> None:
        self._put({"pk": "OUTBOX", "sk": f"{cutover_id}#{seq:08d}", "cutover_id": cutover_id, "topic": topic,
                   "subject": subject, "message": message, "since": iso(now())})

    def outbox(self) -> list[dict[str, Any]]:
        return self._query_all("OUTBOX", "")

    def outbox_done(self, sk: str) -> None:
        try:
            self.api.delete_item(TableName=self.table_name, Key=_item({"pk": "OUTBOX", "sk": sk}))
        except ClientError as exc:
            self._raise(exc)

    def _query_all(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        return self._pages({
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :p)" if prefix else ""),
            "ExpressionAttributeValues": {":pk": {"S": pk}, **({":p": {"S": prefix}} if prefix else {})},
            "ConsistentRead": True,
        })

    def _pages(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a query, page after page."""
        found: list[dict[str, Any]] = []
        while True:
            try:
                page = self.api.query(**kwargs)
            except ClientError as exc:
                self._raise(exc)
            found.extend(_plain(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # campaigns ---------------------------------------------------------------------------
    def save_campaign(self, campaign_id: str, state: dict[str, Any]) -> None:
        self._put({"pk": f"CAMPAIGN#{campaign_id}", "sk": "STATE", **state, "updated_at": iso(now())})

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        item = self._get(f"CAMPAIGN#{campaign_id}", "STATE")
        if item:
            item.pop("pk"), item.pop("sk")
        return item

    def set_campaign_status(self, campaign_id: str, status: str, only_if_not: Sequence[str] = ()) -> bool:
        """Set a campaign's status; False (nothing written) when it already is one of ``only_if_not``."""
        return self._set_status(f"CAMPAIGN#{campaign_id}", status, only_if_not)

    def hold_campaign(self, campaign_id: str, token: str, wave: int) -> None:
        self._put({"pk": f"CAMPAIGN#{campaign_id}", "sk": "GATE", "token": token, "wave": wave, "since": iso(now())})

    def campaign_gate(self, campaign_id: str) -> dict[str, Any] | None:
        return self._get(f"CAMPAIGN#{campaign_id}", "GATE")

    def release_campaign_gate(self, campaign_id: str) -> None:
        try:
            self.api.delete_item(TableName=self.table_name, Key=_item({"pk": f"CAMPAIGN#{campaign_id}", "sk": "GATE"}))
        except ClientError as exc:
            self._raise(exc)

    def record_campaign(self, campaign_id: str, event: str, actor: str, **evidence: Any) -> dict[str, Any]:
        """Append one of the campaign's decisions to its own ledger (as ``record`` for a cutover)."""
        return self._append(f"CAMPAIGN#{campaign_id}", event, actor, evidence)

    def campaign_ledger(self, campaign_id: str) -> list[dict[str, Any]]:
        return self._entries(f"CAMPAIGN#{campaign_id}", None)

    # alarm watches -----------------------------------------------------------------------
    def watch(self, cutover_id: str, alarms: Sequence[str], execution_arn: str | None) -> None:
        at = iso(now())
        for alarm in alarms:
            self._put({"pk": f"CUTOVER#{cutover_id}", "sk": f"WATCH#{alarm}", "watched_alarm": alarm,
                       "cutover_id": cutover_id, "execution_arn": execution_arn, "since": at})

    def unwatch(self, cutover_id: str, alarms: Sequence[str]) -> None:
        for alarm in alarms:
            try:
                self.api.delete_item(TableName=self.table_name, Key=_item({"pk": f"CUTOVER#{cutover_id}", "sk": f"WATCH#{alarm}"}))
            except ClientError as exc:
                self._raise(exc)

    def watching(self, cutover_id: str, alarm: str) -> bool:
        """Whether the cutover still watches ``alarm``, read consistently from the table itself."""
        return self._get(f"CUTOVER#{cutover_id}", f"WATCH#{alarm}") is not None

    def watchers(self, alarm: str) -> list[dict[str, Any]]:
        """The live cutovers watching ``alarm``: one query on the index, no scan (eventually
        consistent: a reaction confirms with ``watching`` or the state before it acts)."""
        return self._pages({
            "TableName": self.table_name,
            "IndexName": ALARM_INDEX,
            "KeyConditionExpression": "watched_alarm = :a",
            "ExpressionAttributeValues": {":a": {"S": alarm}},
        })

    # ledger ------------------------------------------------------------------------------
    def record(self, cutover_id: str, event: str, actor: str, **evidence: Any) -> dict[str, Any]:
        """Append one decision to the ledger with its evidence; never overwrites an entry.

        Entries are numbered by an atomic counter, so the ledger reads back in the order the
        decisions were made, whichever function made them.
        """
        return self._append(f"CUTOVER#{cutover_id}", event, actor, evidence)

    def _append(self, pk: str, event: str, actor: str, evidence: dict[str, Any]) -> dict[str, Any]:
        try:
            counter = self.api.update_item(
                TableName=self.table_name,
                Key=_item({"pk": pk, "sk": "SEQ"}),
                UpdateExpression="ADD seq :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
            seq = int(counter["Attributes"]["seq"]["N"])
            entry = {"seq": seq, "at": iso(now()), "event": event, "actor": actor, **evidence}
            self.api.put_item(
                TableName=self.table_name,
                Item=_item({"pk": pk, "sk": f"EVENT#{seq:08d}", **entry}),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            self._raise(exc)
        return entry

    def ledger(self, cutover_id: str, event: str | None = None) -> list[dict[str, Any]]:
        """The cutover's ledger in order (``event``: only the entries of that kind)."""
        return self._entries(f"CUTOVER#{cutover_id}", event)

    def _entries(self, pk: str, event: str | None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ev)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":ev": {"S": "EVENT#"}},
            "ConsistentRead": True,
        }
        if event:
            kwargs.update(FilterExpression="#event = :event", ExpressionAttributeNames={"#event": "event"})
            kwargs["ExpressionAttributeValues"][":event"] = {"S": event}
        while True:
            page = self.api.query(**kwargs)
            for item in page.get("Items", []):
                plain = _plain(item)
                plain.pop("pk"), plain.pop("sk")
                entries.append(plain)
            if "LastEvaluatedKey" not in page:
                return entries
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # plumbing ----------------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            response = self.api.get_item(TableName=self.table_name, Key=_item({"pk": pk, "sk": sk}), ConsistentRead=True)
        except ClientError as exc:
            self._raise(exc)
        return _plain(response["Item"]) if "Item" in response else None

    def _put(self, item: dict[str, Any]) -> None:
        try:
            self.api.put_item(TableName=self.table_name, Item=_item(item))
        except ClientError as exc:
            self._raise(exc)

    @staticmethod
    def _raise(exc: ClientError) -> Any:
        if error_code(exc) in _BUSY:
            raise StoreBusy(f"DynamoDB is busy ({error_code(exc)})") from exc
        raise exc
