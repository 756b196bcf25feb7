"""The trial table, filtered, sorted and paginated on the server (``/api/trials/table``).

The filter language is the one the table's search box has always had (``page_trials.js`` keeps a
copy for its problem messages and for experiments small enough to filter in the browser): tokens
separated by spaces, every one must hold.

* ``relu``: the text appears in the trial (its id, status, metric or sample);
* ``act=relu``, ``width>=16``, ``metric>0.9``, ``status=failed``, ``duration<=10``: a label of
  the sample or one of the fields ``id``, ``status``, ``metric``, ``duration`` compared with a
  value (``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``); numbers compare as numbers, anything else
  as text, case-insensitively. A token naming neither a label nor a field is matched as text.

Tokens that cannot mean what they say come back as ``problems`` (the messages the page shows).
"""

from __future__ import annotations

import json
import math
import operator
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MAX_PAGE_ROWS", "SORT_KEYS", "parse_filter", "table_view"]

#: The most rows one page of the table holds.
MAX_PAGE_ROWS = 1000

#: Sort keys besides ``label:<label>``.
SORT_KEYS = ("id", "status", "sample", "metric", "duration", "started")

FIELDS = ("id", "status", "metric", "duration")
_NUMERIC_FIELDS = frozenset({"id", "metric", "duration"})
_TOKEN = re.compile(r"^([^<>=!]+?)(>=|<=|!=|=|>|<)(.*)$", re.DOTALL)
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?Infinity\s*$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}

Row = dict[str, Any]
Test = Callable[[Row], bool]


def _js_number(text: str) -> float | None:
    """JavaScript's ``Number(text)`` for decimal text, ``None`` where it gives NaN."""
    if not _NUMBER.match(text):
        return None
    return float(text.strip().replace("Infinity", "inf"))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fmt_value(value: Any) -> str:
    """The page's ``fmtValue``: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def fmt_num(x: Any) -> str:
    """The page's ``fmtNum`` (5 significant digits, exponent outside 1e-3..1e6)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "\u2013"  # the page's dash for "no value"
    if not _is_number(x):
        return str(x)
    if float(x).is_integer():
        return str(int(x))
    a = abs(x)
    if a != 0 and (a >= 1e6 or a < 1e-3):
        mantissa, exponent = f"{x:.3e}".split("e")
        return f"{mantissa}e{int(exponent):+d}"
    return fmt_value(float(f"{x:.5g}"))


def _field(row: Row, key: str) -> tuple[bool, Any]:
    """(whether the key names something, its value) — ``fieldOf`` in the page."""
    lowered = key.lower()
    if lowered == "id":
        return True, row["id"]
    if lowered == "status":
        return True, row["status"]
    if lowered == "metric":
        return True, row["final_value"]
    if lowered == "duration":
        return True, row["duration"]
    sample = row.get("sample") or {}
    if key in sample:
        return True, sample[key]
    return False, None


def _haystack(row: Row) -> str:
    sample = row.get("sample") or {}
    parts = [str(row["id"]), row["status"], fmt_num(row["final_value"])]
    parts.append(json.dumps(sample, separators=(",", ":"), ensure_ascii=False))
    parts += [fmt_value(v) for v in sample.values()]
    return " ".join(parts).lower()


def parse_filter(text: str, labels: Sequence[str]) -> tuple[list[Test], list[str]]:
    """The tests of a filter text and the problems to show (the page's ``parseFilter``)."""
    problems: list[str] = []
    known = {k.lower() for k in (*FIELDS, *labels)}
    tests: list[Test] = []
    for token in text.split():
        m = _TOKEN.match(token)
        if m is None:
            needle = token.lower()
            tests.append(_text_test(needle))
            continue
        key, op, raw = m.groups()
        numeric_field = key.lower() in _NUMERIC_FIELDS
        if raw == "":
            example = "0.9" if numeric_field else "value"
            problems.append(f'"{token}": nothing after "{op}"; write e.g. {key}{op}{example}')
        elif key.lower() not in known:
            problems.append(
                f'"{key}" is not a label or a field (labels: {", ".join(labels) or "none"}; '
                f'fields: {", ".join(FIELDS)}); "{token}" is matched as text'
            )
        elif numeric_field and _js_number(raw) is None:
            problems.append(f'"{raw}" is not a number (in "{token}")')
        elif op in ("<", ">", "<=", ">=") and _js_number(raw) is None and not numeric_field:
            problems.append(
                f'"{token}": {op} compares numbers, but "{raw}" is not one '
                "(values are then compared as text)"
            )
        tests.append(_comparison(token, key, _OPS[op], raw))
    return tests, problems


def _text_test(needle: str) -> Test:
    return lambda row: needle in _haystack(row)


def _comparison(token: str, key: str, op: Callable[[Any, Any], bool], raw: str) -> Test:
    number = _js_number(raw) if raw != "" else None
    needle = token.lower()

    def test(row: Row) -> bool:
        found, value = _field(row, key)
        if not found:
            return needle in _haystack(row)
        if value is None:
            return False
        if _is_number(value) and number is not None:
            return bool(op(value, number))
        return bool(op(fmt_value(value).lower(), raw.lower()))

    return test


def _natural(text: str) -> list[Any]:
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in re.split(r"(\d+)", text)
    ]


def _sort_value(row: Row, key: str, now: float) -> Any:
    if key == "id":
        return row["id"]
    if key == "status":
        return row["status"]
    if key == "metric":
        return row["final_value"]
    if key == "duration":
        if row["duration"] is None and row["status"] == "RUNNING" and row["started_at"] is not None:
            return now - row["started_at"]
        return row["duration"]
    if key == "started":
        return row["started_at"]
    if key == "sample":
        return json.dumps(row.get("sample"), separators=(",", ":"))
    if key.startswith("label:"):
        return (row.get("sample") or {}).get(key[len("label:") :])
    raise ValueError(
        f"unknown sort key {key!r}: use one of {', '.join(SORT_KEYS)} or label:<label>"
    )


def table_view(
    rows: list[Row],
    labels: Sequence[str],
    *,
    q: str = "",
    status: str = "",
    sort: str = "id",
    desc: bool = False,
    offset: int = 0,
    limit: int = 100,
    now: float | None = None,
) -> dict[str, Any]:
    """One page of the trial table: the slim rows that pass the filter, sorted.

    Returns ``{"rows", "total", "matched", "offset", "limit", "problems", "statuses"}``: ``total``
    trials, ``matched`` of them pass ``q`` and ``status``, ``rows`` are ``matched[offset:][:limit]``.
    Empty values sort last in either direction; ties go by id.
    """
    now = time.time() if now is None else now
    tests, problems = parse_filter(q, labels)
    chosen = [r for r in rows if (not status or r["status"] == status) and all(t(r) for t in tests)]
    known = [(r, _sort_value(r, sort, now)) for r in chosen]
    present = [(r, v) for r, v in known if v is not None]
    empty = [r for r, v in known if v is None]

    def key(item: tuple[Row, Any]) -> Any:
        value = item[1]
        if _is_number(value):
            return (0, value, [])
        return (1, 0, _natural(fmt_value(value)))

    present.sort(key=lambda item: item[0]["id"])
    present.sort(key=key, reverse=desc)
    ordered = [r for r, _ in present] + sorted(empty, key=lambda r: r["id"])
    return {
        "rows": ordered[offset : offset + limit],
        "total": len(rows),
        "matched": len(ordered),
        "offset": offset,
        "limit": limit,
        "problems": problems,
        "statuses": sorted({r["status"] for r in rows}),
    }
