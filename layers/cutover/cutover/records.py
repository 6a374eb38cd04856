"""Route 53 change batches as pure functions, and the Route 53 rules every batch must pass.

Records are the dicts boto3 uses (``ResourceRecordSet``). Names here are normalized (lower
case, no trailing dot); ``to_route53`` adds the dot when a record is sent.

The weighted pair of one DNS name is two CNAME records with the SetIdentifiers ``HEROKU_ID``
and ``AWS_ID``. ``Pair`` is what the state machine last wrote for one name: the expected
side of every compare-and-swap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .errors import InvalidChangeBatch

HEROKU_ID = "cutover-heroku"
AWS_ID = "cutover-aws"
ROLLBACK_WEIGHTS = (255, 0)  # all on Heroku, and a pair no stage ever expects
MAX_WEIGHT = 255
MAX_TTL = 2_147_483_647

Record = dict[str, Any]
Change = dict[str, Any]


def bare(name: str) -> str:
    return name.lower().rstrip(".")


def weights_for(aws_percent: int) -> tuple[int, int]:
    """Heroku and AWS weights for an AWS share in percent (never 0/0)."""
    if not 0 <= aws_percent <= 100:
        raise ValueError(f"AWS share must be 0-100 percent, got {aws_percent}")
    return 100 - aws_percent, aws_percent


@dataclass(frozen=True)
class Pair:
    """The weighted pair of one DNS name as this cutover last wrote it."""

    name: str
    heroku_target: str
    aws_target: str
    ttl: int
    heroku_weight: int
    aws_weight: int
    # the Route 53 health check on the AWS record (None: none attached)
    health_check_id: str | None = None

    def records(self) -> list[Record]:
        aws = weighted_record(self.name, AWS_ID, self.aws_target, self.aws_weight, self.ttl)
        if self.health_check_id:
            aws["HealthCheckId"] = self.health_check_id
        return [weighted_record(self.name, HEROKU_ID, self.heroku_target, self.heroku_weight, self.ttl), aws]

    def with_weights(self, heroku: int, aws: int) -> Pair:
        return replace(self, heroku_weight=heroku, aws_weight=aws)

    def with_ttl(self, ttl: int) -> Pair:
        return replace(self, ttl=ttl)

    def with_health_check(self, health_check_id: str | None) -> Pair:
        return replace(self, health_check_id=health_check_id)

    @property
    def aws_percent(self) -> int:
        total = self.heroku_weight + self.aws_weight
        return round(100 * self.aws_weight / total) if total else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "heroku_target": self.heroku_target,
            "aws_target": self.aws_target,
            "ttl": self.ttl,
            "heroku_weight": self.heroku_weight,
            "aws_weight": self.aws_weight,
            "health_check_id": self.health_check_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pair:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def weighted_record(name: str, set_id: str, target: str, weight: int, ttl: int) -> Record:
    return {
        "Name": bare(name),
        "Type": "CNAME",
        "SetIdentifier": set_id,
        "Weight": weight,
        "TTL": ttl,
        "ResourceRecords": [{"Value": bare(target)}],
    }


def _change(action: str, record: Record) -> Change:
    return {"Action": action, "ResourceRecordSet": dict(record)}


def convert_changes(original: Record, pair: Pair) -> list[Change]:
    """Replace a simple CNAME by the weighted pair, in one atomic batch."""
    return [_change("DELETE", original)] + [_change("CREATE", r) for r in pair.records()]


def swap_changes(expected: Sequence[Pair], new: Sequence[Pair]) -> list[Change]:
    """Compare-and-swap: DELETE the pairs exactly as last written, CREATE the new ones.

    Route 53 refuses the whole batch if any DELETE does not match the live record, so a
    change based on a stale view (a rollback happened, an operator edited the record) fails.
    """
    if [p.name for p in expected] != [p.name for p in new]:
        raise ValueError("expected and new pairs must name the same records in the same order")
    changes = [_change("DELETE", r) for p in expected for r in p.records()]
    return changes + [_change("CREATE", r) for p in new for r in p.records()]


def shift_changes(expected: Sequence[Pair], aws_percent: int) -> tuple[list[Change], list[Pair]]:
    heroku, aws = weights_for(aws_percent)
    new = [p.with_weights(heroku, aws) for p in expected]
    return swap_changes(expected, new), new


def ttl_changes(expected: Sequence[Pair], ttl_by_name: dict[str, int]) -> tuple[list[Change], list[Pair]]:
    new = [p.with_ttl(ttl_by_name[p.name]) for p in expected]
    return swap_changes(expected, new), new


def simple_record(name: str, target: str, ttl: int) -> Record:
    return {"Name": bare(name), "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": bare(target)}]}


def commit_changes(pair: Pair, ttl: int) -> list[Change]:
    """Make AWS the name's only answer, in one atomic batch: DELETE the weighted pair exactly as
    last written (its health check id too) and CREATE a simple CNAME to the AWS target at ``ttl``
    (a simple record cannot sit beside weighted ones: both go in the same batch)."""
    return [_change("DELETE", r) for r in pair.records()] + [_change("CREATE", simple_record(pair.name, pair.aws_target, ttl))]


def revert_changes(pair: Pair, live: Sequence[Record], ttl: int) -> tuple[list[Change] | None, str]:
    """What moves one committed name back to Heroku (``cutover revert``), and what was found.

    - a simple CNAME to the name's AWS target (as the commit wrote it, at any TTL): DELETE it
      exactly as listed and CREATE a simple CNAME to the Heroku target at ``ttl``, the record the
      name had before its cutover;
    - a simple CNAME to the Heroku target: nothing to do (an earlier revert, or a hand edit);
    - anything else (weighted records again, another target, nothing at all): None, with what was
      found; a revert never guesses about a name someone else changed.
    """
    mine = [r for r in live if bare(r["Name"]) == pair.name and r.get("Type") == "CNAME"]
    others = [r for r in live if bare(r["Name"]) == pair.name and r.get("Type") != "CNAME"]
    if len(mine) != 1 or "SetIdentifier" in mine[0] or others:
        found = ", ".join(_described(r) for r in live if bare(r["Name"]) == pair.name) or "no record"
        return None, f"{pair.name}: {found}, not the simple CNAME to {pair.aws_target} its commit wrote"
    values = mine[0].get("ResourceRecords") or []
    target = bare(values[0]["Value"]) if len(values) == 1 else ""
    if target == bare(pair.heroku_target):
        return [], f"{pair.name}: already a simple CNAME to {pair.heroku_target}"
    if target != bare(pair.aws_target):
        return None, f"{pair.name}: a simple CNAME to {target or 'nothing'}, not to {pair.aws_target} (its commit's target)"
    return ([_change("DELETE", mine[0]), _change("CREATE", simple_record(pair.name, pair.heroku_target, ttl))],
            f"{pair.name}: {pair.aws_target} -> {pair.heroku_target} at TTL {ttl}")


def _described(record: Record) -> str:
    values = ", ".join(str(v.get("Value")) for v in record.get("ResourceRecords") or [])
    if "SetIdentifier" in record:
        return f"weighted {record.get('Type')} {record['SetIdentifier']} (weight {record.get('Weight')}) to {values}"
    return f"simple {record.get('Type')} to {values or 'an alias'}"


def rolled_back(pair: Pair, ttl: int) -> Pair:
    """The pair a rollback writes: Heroku 255 / AWS 0 at ``ttl``, the health check detached (it
    is deleted after; at AWS 0 beside a Heroku record without one it would not matter anyway)."""
    return pair.with_weights(*ROLLBACK_WEIGHTS).with_ttl(ttl).with_health_check(None)


def rollback_changes(pairs: Sequence[Pair], ttl_by_name: dict[str, int]) -> tuple[list[Change], list[Pair]]:
    """Unconditional UPSERT of every pair to Heroku 255 / AWS 0 at the original TTL."""
    new = [rolled_back(p, ttl_by_name[p.name]) for p in pairs]
    return [_change("UPSERT", r) for p in new for r in p.records()], new


def rollback_name_changes(pair: Pair, live: Sequence[Record], ttl: int) -> tuple[list[Change], str]:
    """What puts one name back on Heroku, whatever its records are now; and what was found.

    - the weighted pair (both records, or what is left of them): an unconditional UPSERT of both
      to Heroku 255 / AWS 0 at ``ttl`` (UPSERT creates a record that was deleted);
    - a simple CNAME to a Heroku DNS target (someone restored it by hand): nothing to do;
    - a simple CNAME anywhere else: DELETE it exactly as listed, CREATE the pair at 255 / 0;
    - nothing at all: CREATE the pair at 255 / 0.

    Each name is its own batch, so one name in an unexpected state never keeps another on AWS.
    """
    new = rolled_back(pair, ttl)
    mine = [r for r in live if bare(r["Name"]) == pair.name and r.get("Type") == "CNAME"]
    simple = [r for r in mine if "SetIdentifier" not in r]
    weighted = {r["SetIdentifier"]: r for r in mine if "SetIdentifier" in r}
    if simple and not weighted:
        target = bare(simple[0]["ResourceRecords"][0]["Value"]) if simple[0].get("ResourceRecords") else ""
        if target.endswith(".herokudns.com"):
            return [], f"simple CNAME to {target} (restored by hand): already on Heroku"
        return ([_change("DELETE", simple[0])] + [_change("CREATE", r) for r in new.records()],
                f"simple CNAME to {target or 'an alias'}: replaced by the pair at Heroku 255 / AWS 0")
    if weighted:
        found = ", ".join(f"{sid} {r.get('Weight')}" for sid, r in sorted(weighted.items()))
        return [_change("UPSERT", r) for r in new.records()], f"weighted {found}"
    return [_change("CREATE", r) for r in new.records()], "no record: created the pair at Heroku 255 / AWS 0"


def to_route53(changes: Iterable[Change]) -> list[Change]:
    """The batch as Route 53 takes it: fully qualified names with the trailing dot."""
    out = []
    for change in changes:
        record = dict(change["ResourceRecordSet"])
        record["Name"] = bare(record["Name"]) + "."
        out.append({"Action": change["Action"], "ResourceRecordSet": record})
    return out


def from_route53(record: Record) -> Record:
    """A record as listed by Route 53, normalized to the form used here."""
    out = {k: v for k, v in record.items() if k in _KEYS}
    out["Name"] = bare(record["Name"])
    if "ResourceRecords" in out:
        out["ResourceRecords"] = [{"Value": bare(v["Value"])} for v in out["ResourceRecords"]]
    return out


_KEYS = ("Name", "Type", "SetIdentifier", "Weight", "TTL", "ResourceRecords", "AliasTarget")
# What else Route 53 holds on a record and matches a DELETE against (a record with a health
# check is deleted only by a DELETE that names the same health check).
_ROUTING_KEYS = ("Weight", "Region", "Failover", "MultiValueAnswer", "GeoLocation")
_HELD_KEYS = (*_KEYS, *_ROUTING_KEYS, "HealthCheckId")


def _key(record: Record) -> tuple[str, str, str | None]:
    return bare(record["Name"]), record["Type"], record.get("SetIdentifier")


def _same(a: Record, b: Record, held: bool = False) -> bool:
    if held:
        return as_held(a) == as_held(b)
    return from_route53(a) == from_route53(b)


def routed(record: Record) -> bool:
    """Whether the record has a routing policy (weighted, failover, ...): not a simple record."""
    return "SetIdentifier" in record or any(k in record for k in _ROUTING_KEYS)


def as_held(record: Record) -> Record:
    """A record as Route 53 holds it (every field a DELETE must repeat), names normalized."""
    out = {k: v for k, v in record.items() if k in _HELD_KEYS}
    return {**out, **from_route53(record)}


def _record_problems(record: Record, zone: str) -> list[str]:
    name, rtype, set_id = _key(record)
    problems = []
    if name != zone and not name.endswith("." + zone):
        problems.append(f"{name} is not in zone {zone}")
    ttl = record.get("TTL")
    if "AliasTarget" not in record and (not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL):
        problems.append(f"{name}: TTL must be 0-{MAX_TTL}, got {ttl!r}")
    routing = [k for k in _ROUTING_KEYS if k in record]  # a weighted, failover, ... record
    if routing and set_id is None or set_id is not None and not routing:
        problems.append(f"{name}: a weighted record needs both SetIdentifier and Weight" if routing in ([], ["Weight"])
                        else f"{name}: a {routing[0]} record needs a SetIdentifier")
    weight = record.get("Weight")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT):
        problems.append(f"{name} ({set_id}): Weight must be 0-{MAX_WEIGHT}, got {weight!r}")
    if rtype == "CNAME":
        if name == zone:
            problems.append(f"{name}: a CNAME is not permitted at the zone apex")
        if len(record.get("ResourceRecords", [])) != 1:
            problems.append(f"{name}: a CNAME has exactly one value")
    return problems


def _name_problems(records: list[Record], name: str, zero_weights_allowed: bool = False) -> list[str]:
    """Rules over all records of one name after a batch (``zero_weights_allowed``: as Route 53
    itself, which accepts every weight at 0; the control plane never writes that)."""
    problems = []
    types = {r["Type"] for r in records}
    if "CNAME" in types and len(types) > 1:
        problems.append(f"{name}: a CNAME cannot coexist with other record types ({', '.join(sorted(types))})")
    for rtype in sorted(types):
        group = [r for r in records if r["Type"] == rtype]
        weighted = [r for r in group if "Weight" in r or "SetIdentifier" in r]
        if weighted and len(weighted) != len(group):
            problems.append(f"{name} {rtype}: a simple record cannot coexist with weighted records")
        if len(group) > 1 and not weighted:
            problems.append(f"{name} {rtype}: more than one simple record set")
        if weighted:
            ids = [r.get("SetIdentifier") for r in weighted]
            if len(set(ids)) != len(ids):
                problems.append(f"{name} {rtype}: SetIdentifiers must be distinct")
            ttls = {r.get("TTL") for r in weighted}
            if len(ttls) > 1:
                problems.append(f"{name} {rtype}: weighted records must share one TTL, got {sorted(ttls)}")
            if not zero_weights_allowed and all(r.get("Weight") == 0 for r in weighted):
                problems.append(f"{name} {rtype}: every weight is 0 (Route 53 would answer all records equally)")
    return problems


def check_changes(changes: Sequence[Change], zone_name: str) -> None:
    """Rules a batch must pass on its own, before it is sent. Raises ``InvalidChangeBatch``."""
    zone = bare(zone_name)
    problems: list[str] = []
    if not changes:
        problems.append("the batch is empty")
    written: dict[str, list[Record]] = defaultdict(list)
    keys_written: set[tuple[str, str, str | None]] = set()
    for change in changes:
        action, record = change.get("Action"), change.get("ResourceRecordSet", {})
        if action not in ("CREATE", "DELETE", "UPSERT"):
            problems.append(f"unknown action {action!r}")
            continue
        problems.extend(_record_problems(record, zone))
        if action != "DELETE":
            key = _key(record)
            if key in keys_written:
                problems.append(f"{key[0]} ({key[2] or 'simple'}) is written twice in one batch")
            keys_written.add(key)
            written[key[0]].append(record)
    for name, records in written.items():
        problems.extend(_name_problems(records, name))
    if problems:
        raise InvalidChangeBatch("; ".join(problems))


def apply_changes(existing: Sequence[Record], changes: Sequence[Change], zone_name: str,
                  as_route53: bool = False) -> list[Record]:
    """What Route 53 does with a batch: all of it or none of it.

    Returns the records of the zone after the batch, or raises ``InvalidChangeBatch`` with
    Route 53's reasons (DELETE must match exactly, CREATE must not exist, and the rules of
    ``_name_problems`` on every name the batch touches). ``as_route53``: the service itself
    (the local engine): records keep every field Route 53 holds (a health check id) and a DELETE
    must repeat them, and every weight at 0 is accepted.
    """
    zone = bare(zone_name)
    normal = as_held if as_route53 else from_route53
    current = {_key(r): normal(r) for r in existing}
    problems: list[str] = []
    touched: set[str] = set()
    for change in changes:
        action, record = change["Action"], normal(change["ResourceRecordSet"])
        problems.extend(_record_problems(record, zone))
        key = _key(record)
        touched.add(key[0])
        live = current.get(key)
        if action == "DELETE":
            if live is None or not _same(live, record, as_route53):
                problems.append(
                    f"Tried to delete resource record set [name='{key[0]}.', type='{key[1]}'"
                    + (f", set-identifier='{key[2]}'" if key[2] else "")
                    + "] but the values provided do not match the current values"
                    if live is not None
                    else f"Tried to delete resource record set [name='{key[0]}.', type='{key[1]}'] but it was not found"
                )
                continue
            del current[key]
        elif action == "CREATE":
            if live is not None:
                problems.append(
                    f"Tried to create resource record set [name='{key[0]}.', type='{key[1]}'] but it already exists"
                )
                continue
            current[key] = record
        else:
            current[key] = record
    for name in sorted(touched):
        problems.extend(_name_problems([r for k, r in current.items() if k[0] == name], name, as_route53))
    if problems:
        raise InvalidChangeBatch("; ".join(problems))
    return list(current.values())
