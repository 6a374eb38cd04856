"""Route 53: read the records of the names being moved, submit batches, read change status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..errors import HealthCheckConflict, InvalidChangeBatch, Route53Busy
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

    def create_health_check(self, caller_reference: str, config: dict[str, Any]) -> str:
        """Create a health check, or get the one an earlier call with the same reference and
        settings created (Route 53's idempotency); return its id."""
        try:
            response = self.api.create_health_check(CallerReference=caller_reference, HealthCheckConfig=config)
        except ClientError as exc:
            if error_code(exc) == "HealthCheckAlreadyExists":
                raise HealthCheckConflict(
                    f"Route 53 refused the health check for {config.get('FullyQualifiedDomainName')}: its reference "
                    f"{caller_reference} belongs to a health check with other settings or one already deleted; "
                    "start the cutover under a new execution name"
                ) from exc
            self._raise(exc)
        return str(response["HealthCheck"]["Id"])

    def health_check_observations(self, health_check_id: str) -> list[dict[str, Any]]:
        """Each health checker's last report (GetHealthCheckStatus)."""
        try:
            return list(self.api.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"])
        except ClientError as exc:
            self._raise(exc)

    def delete_health_check(self, health_check_id: str) -> bool:
        """Delete a health check; False when it was already gone."""
        try:
            self.api.delete_health_check(HealthCheckId=health_check_id)
        except ClientError as exc:
            if error_code(exc) == "NoSuchHealthCheck":
                return False
            self._raise(exc)
        return True

    @staticmethod
    def _raise(exc: ClientError) -> Any:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code in _BUSY:
            raise Route53Busy(f"Route 53 is busy ({code}): {message}") from exc
        if code == "InvalidChangeBatch":
            raise InvalidChangeBatch(message) from exc
        raise exc
