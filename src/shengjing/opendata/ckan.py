"""CKAN's shapes for the read API (https://docs.ckan.org/en/2.11/api/): package, organization, group and tag
dicts, CKAN's errors, and the subset of Solr ``fq`` syntax harvesters send. Pure conversion: no database.

CKAN names (packages, organizations, groups) are lower-case ASCII (``[a-z0-9_-]``, 2–100 characters), so a
package's name is its resource code lower-cased, an organization's its department code lower-cased, and a
group's (a theme, in Chinese) a stable slug; titles keep the Chinese. Ids are UUIDs derived from the codes, so
they stay the same across exports and harvests.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shengjing.catalog.schemas import ResourceOut, ShareType
from shengjing.opendata.dcat import KNOWN_FORMATS

_NAMESPACE = uuid.UUID("5e6a1f3c-0b7d-4c36-9a51-7a0f2d5c8e11")  # fixed: ids must not change between runs
DEFAULT_ROWS, MAX_ROWS = 10, 1000
FACET_FIELDS = ("organization", "groups", "tags", "res_format")


class CkanError(Exception):
    """An error CKAN's action API answers with ``success: false``: its ``__type`` and HTTP status."""

    type_name = "Internal Server Error"
    status = 500

    def __init__(self, message: str = "", **error: Any) -> None:
        super().__init__(message)
        self.message = message
        self.error = error

    def body(self) -> dict[str, Any]:
        return {"__type": self.type_name, "message": self.message, **self.error}


class CkanNotFound(CkanError):
    type_name, status = "Not Found Error", 404

    def __init__(self, what: str) -> None:
        super().__init__(f"Not found: {what}")


class CkanValidationError(CkanError):
    """CKAN's validation errors carry a list of messages per field and no ``message``."""

    type_name, status = "Validation Error", 409

    def __init__(self, **problems: list[str]) -> None:
        super().__init__("", **problems)

    def body(self) -> dict[str, Any]:
        return {"__type": self.type_name, **self.error}


class CkanSearchQueryError(CkanError):
    type_name, status = "Search Query Error", 400

    def __init__(self, problem: str) -> None:
        super().__init__(f"Search Query is invalid: {problem!r}")


def ckan_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


def package_name(code: str) -> str:
    return code.lower()


def group_name(theme: str) -> str:
    """A theme's CKAN group name: ASCII, lower-case, stable (the Chinese label is the group's title)."""
    return "theme-" + hashlib.sha256(theme.encode()).hexdigest()[:12]


def timestamp(value: datetime) -> str:
    """CKAN's timestamps: UTC without an offset, microseconds."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def organization(code: str, title: str) -> dict[str, Any]:
    return {
        "id": ckan_id("organization", code),
        "name": package_name(code),
        "title": title,
        "display_name": title,
        "description": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "image_display_url": "",
    }


def group(theme: str) -> dict[str, Any]:
    return {
        "id": ckan_id("group", theme),
        "name": group_name(theme),
        "title": theme,
        "display_name": theme,
        "description": "",
        "image_display_url": "",
    }


def package(resource: ResourceOut, base_url: str, version_date: datetime | None) -> dict[str, Any]:
    """A resource as CKAN's package dict. Only open resources come here; nothing of the data itself."""
    r, base = resource, base_url.rstrip("/")
    page = f"{base}/opendata/{r.code}"
    package_id = ckan_id("package", r.code)
    tags = [
        {"id": ckan_id("tag", t), "name": t, "display_name": t, "state": "active", "vocabulary_id": None}
        for t in r.tags
    ]
    resources = [
        {
            "id": ckan_id("resource", f"{r.code}/{fmt}"),
            "package_id": package_id,
            "name": f"{r.name}（{fmt}）",
            "description": r.summary,
            "format": fmt,
            "mimetype": KNOWN_FORMATS.get(fmt.upper()),
            "url": page,
            "url_type": None,
            "position": position,
            "state": "active",
            "created": timestamp(r.created_at),
            "last_modified": timestamp(version_date) if version_date else None,
            "datastore_active": False,
        }
        for position, fmt in enumerate(r.formats)
    ]
    extras = {
        "resource_code": r.code,
        "share_type": r.share_type.value,
        "open_type": r.open_type.value,
        "update_frequency": r.update_frequency.value,
    }
    if r.current_version is not None:
        extras["current_version"] = str(r.current_version)
    return {
        "id": package_id,
        "name": package_name(r.code),
        "title": r.name,
        "notes": r.summary,
        "url": page,
        "type": "dataset",
        "state": "active",
        "private": False,
        "isopen": r.open_type == ShareType.UNCONDITIONAL,
        "license_id": "notspecified",
        "license_title": "License not specified",
        "author": r.department_name,
        "author_email": None,
        "maintainer": r.contact,
        "maintainer_email": None,
        "version": str(r.current_version) if r.current_version is not None else None,
        "metadata_created": timestamp(r.created_at),
        "metadata_modified": timestamp(r.updated_at),
        "owner_org": ckan_id("organization", r.department),
        "organization": organization(r.department, r.department_name),
        "groups": [group(t) for t in r.themes],
        "tags": tags,
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


# --- package_search ------------------------------------------------------------------------------------------

# field:value, field:"quoted value" or field:[from TO to], each optionally negated with - (or required with +)
_CLAUSE = re.compile(r'([+-]?)([A-Za-z_]+):("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^\s"]+)')
_JOINERS = re.compile(r"^(?:\s|AND\b|&&)*$")


@dataclass(frozen=True)
class Clause:
    field: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class FilterQuery:
    clauses: list[Clause] = field(default_factory=list)

    def matches(self, package: dict[str, Any]) -> bool:
        return all(_clause_matches(c, package) != c.negated for c in self.clauses)


def parse_fq(fq: str) -> FilterQuery:
    """Solr ``fq`` clauses joined by spaces or AND, on organization, owner_org, groups, tags, res_format, name,
    id, dataset_type, metadata_modified and metadata_created; anything else is a Search Query Error."""
    clauses, position = [], 0
    for match in _CLAUSE.finditer(fq):
        if not _JOINERS.match(fq[position : match.start()]):
            raise CkanSearchQueryError(fq[position : match.start()].strip())
        sign, name, value = match.groups()
        if name not in _FIELDS:
            raise CkanSearchQueryError(f"unsupported fq field {name}")
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        clauses.append(Clause(name, value, negated=sign == "-"))
        position = match.end()
    if not _JOINERS.match(fq[position:]):
        raise CkanSearchQueryError(fq[position:].strip())
    return FilterQuery(clauses)


def _range(value: str, actual: str) -> bool:
    """A Solr range ``[from TO to]`` on timestamps; ``*`` is open, ``NOW`` is now."""
    low, _, high = value.strip("[]").partition(" TO ")
    now = timestamp(datetime.now(UTC))

    def bound(text: str) -> str | None:
        text = text.strip()
        return None if text in {"*", ""} else now if text.upper().startswith("NOW") else text.rstrip("Z")

    lo, hi = bound(low), bound(high)
    return (lo is None or actual >= lo) and (hi is None or actual <= hi)


def _clause_matches(clause: Clause, p: dict[str, Any]) -> bool:
    value = clause.value
    if clause.field in {"metadata_modified", "metadata_created"}:
        return _range(value, p[clause.field]) if value.startswith("[") else p[clause.field].startswith(value)
    return value in _FIELDS[clause.field](p)


_FIELDS: dict[str, Any] = {
    "organization": lambda p: {p["organization"]["name"], p["organization"]["title"]},
    "owner_org": lambda p: {p["owner_org"]},
    "groups": lambda p: {g["name"] for g in p["groups"]} | {g["title"] for g in p["groups"]},
    "tags": lambda p: {t["name"] for t in p["tags"]},
    "res_format": lambda p: {r["format"] for r in p["resources"]},
    "name": lambda p: {p["name"]},
    "id": lambda p: {p["id"]},
    "dataset_type": lambda p: {p["type"]},
    "metadata_modified": None,
    "metadata_created": None,
}


def facets(packages: Iterable[dict[str, Any]], wanted: list[str], limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """CKAN's ``facets`` (name → count) and ``search_facets`` (with display names) for the wanted fields."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in wanted}
    titles: dict[str, str] = {}
    for p in packages:
        values = {
            "organization": [(p["organization"]["name"], p["organization"]["title"])],
            "groups": [(g["name"], g["title"]) for g in p["groups"]],
            "tags": [(t["name"], t["name"]) for t in p["tags"]],
            "res_format": [(r["format"], r["format"]) for r in p["resources"]],
        }
        for name in wanted:
            for value, title in values[name]:
                counts[name][value] += 1
                titles[value] = title
    flat = {name: dict(counter.most_common(limit)) for name, counter in counts.items()}
    detailed = {
        name: {
            "title": name,
            "items": [{"name": v, "display_name": titles[v], "count": n} for v, n in counter.most_common(limit)],
        }
        for name, counter in counts.items()
    }
    return flat, detailed
