"""Route 53: read the records of the names being moved, submit batches, read change status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..errors import InvalidChangeBatch, Route53Busy
from ..records import Change, Record, as_held, bare, to_route53
from .clients import Adapter, error_code

_BUSY = {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "ServiceUnavailable"}


class Route53(Adapter):
    service = "route53"

    def zone_name(self, zone_id: str) -> str:
        try:
            zone = self.api.get_hosted_zone(Id=zone_id)["HostedZone"]
        except ClientError as exc:
            self._raise(exc)
        return bare(zone["Name"])

    def records_of(self, zone_id: str, names: Iterable[str]) -> dict[str, list[Record]]:
        """Every record set of each name as Route 53 holds it (``records.as_held``: names normalized,
        every field a DELETE must repeat kept, a health check id included)."""
        out: dict[str, list[Record]] = {}
        for name in names:
            found: list[Record] = []
            kwargs = {"HostedZoneId": zone_id, "StartRecordName": bare(name) + "."}
            try:
                while True:
                    page = self.api.list_resource_record_sets(**kwargs)
                    batch = [r for r in page["ResourceRecordSets"] if bare(r["Name"]) == bare(name)]
                    found.extend(as_held(r) for r in batch)
                    more = page.get("IsTruncated") and bare(page.get("NextRecordName", "")) == bare(name)
                    if not more:
                        break
                    kwargs = {
                        "HostedZoneId": zone_id,
                        "StartRecordName": page["NextRecordName"],
                        "StartRecordType": page["NextRecordType"],
                        **({"StartRecordIdentifier": page["NextRecordIdentifier"]} if "NextRecordIdentifier" in page else {}),
                    }
            except ClientError as exc:
                self._raise(exc)
            out[bare(name)] = found
        return out

    def change(self, zone_id: str, changes: Sequence[Change], comment: str) -> str:
        """Submit one atomic batch; return the change id."""
        try:
            response = self.api.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": comment[:256], "Changes": to_route53(changes)},
            )
        except ClientError as exc:
            self._raise(exc)
        return response["ChangeInfo"]["Id"].removeprefix("/change/")

    def change_status(self, change_id: str) -> str:
        try:
            return self.api.get_change(Id=change_id)["ChangeInfo"]["Status"]
        except ClientError as exc:
            self._raise(exc)

    @staticmethod
    def _raise(exc: ClientError) -> Any:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code in _BUSY:
            raise Route53Busy(f"Route 53 is busy ({code}): {message}") from exc
        if code == "InvalidChangeBatch":
            raise InvalidChangeBatch(message) from exc
        raise exc
