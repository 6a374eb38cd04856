"""Promotion gates: what a stage waits for before its shift.

- ``manual``: an operator promotes (``cutover promote``); the state machine holds a task token.
- ``{at: TIME}``: not before that moment (ISO 8601 with a zone offset).
- ``{window: {days, start, end, timezone}}``: only inside a weekly window, in that time zone.

Pure functions: parsing (problems named by field) and the next moment a gate opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    days: tuple[str, ...]
    start: time
    end: time
    timezone: str

    def next_opening(self, now: datetime) -> datetime:
        """``now`` if inside the window, else the next moment it opens (UTC)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if DAYS[day.weekday()] not in self.days:
                continue
            opens = datetime.combine(day, self.start, tzinfo=zone)
            closes = datetime.combine(day, self.end, tzinfo=zone)
            if local < opens:
                return opens.astimezone(UTC)
            if local < closes:
                return now.astimezone(UTC)
        raise ValueError("a window with no day cannot open")  # parse_gate refuses that

    def to_dict(self) -> dict[str, Any]:
        return {"days": list(self.days), "start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M"),
                "timezone": self.timezone}


@dataclass(frozen=True)
class Gate:
    kind: str  # "manual", "at" or "window"
    at: datetime | None = None
    window: Window | None = None

    def opens_at(self, now: datetime) -> datetime | None:
        """When a scheduled gate lets the stage through (None for a manual gate)."""
        if self.kind == "at":
            assert self.at is not None
            return max(self.at, now)
        if self.kind == "window":
            assert self.window is not None
            return self.window.next_opening(now)
        return None

    def to_dict(self) -> Any:
        if self.kind == "manual":
            return "manual"
        if self.kind == "at":
            assert self.at is not None
            return {"at": self.at.isoformat().replace("+00:00", "Z")}
        assert self.window is not None
        return {"window": self.window.to_dict()}


def _clock_time(value: Any) -> time:
    if not isinstance(value, str):
        raise ValueError(f"expected a time like '09:30', got {value!r}")
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"expected a time like '09:30', got {value!r}") from exc


def parse_gate(value: Any, where: str) -> tuple[Gate | None, list[tuple[str, str]]]:
    """The gate of a stage's ``promote`` field, or the problems with it (each naming its field)."""
    if value is None or value == "auto":
        return None, []
    if value == "manual":
        return Gate("manual"), []
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("at", "window"):
        return None, [(where, "must be 'manual', {at: TIME} or {window: {days, start, end, timezone}}")]
    if "at" in value:
        raw = value["at"]
        try:
            at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            return None, [(f"{where}.at", f"must be an ISO 8601 time like 2026-12-01T14:00:00Z, got {raw!r}")]
        if at.tzinfo is None:
            return None, [(f"{where}.at", "must carry a zone offset (Z or +01:00): a bare time is ambiguous")]
        return Gate("at", at=at.astimezone(UTC)), []
    spec = value["window"]
    problems: list[tuple[str, str]] = []
    if not isinstance(spec, dict):
        return None, [(f"{where}.window", "must be a mapping with days, start, end and timezone")]
    unknown = set(spec) - {"days", "start", "end", "timezone"}
    problems += [(f"{where}.window.{k}", "unknown field; allowed: days, end, start, timezone") for k in sorted(unknown)]
    days = spec.get("days")
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        problems.append((f"{where}.window.days", f"must be a non-empty list of {', '.join(DAYS)}"))
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = _clock_time(spec.get(key))
        except ValueError as exc:
            problems.append((f"{where}.window.{key}", str(exc)))
    if len(times) == 2 and times["end"] <= times["start"]:
        problems.append((f"{where}.window.end", "must be later than start on the same day"))
    zone = spec.get("timezone")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append((f"{where}.window.timezone", f"must be an IANA time zone like Europe/Berlin, got {zone!r}"))
    if problems:
        return None, problems
    return Gate("window", window=Window(tuple(days), times["start"], times["end"], str(zone))), []
