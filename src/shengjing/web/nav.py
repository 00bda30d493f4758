"""The console's navigation: each domain's ``pages`` module lists its entries; each shows only with its permission."""

from __future__ import annotations

from dataclasses import dataclass

from shengjing.identity.permissions import Permission
from shengjing.identity.principal import Principal


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # a Chinese msgid, translated when rendered
    permission: Permission
    order: int = 100


NAV: list[NavItem] = []


def register(*items: NavItem) -> None:
    NAV.extend(items)
    NAV.sort(key=lambda item: item.order)


def visible_nav(principal: Principal | None, current_path: str) -> list[tuple[NavItem, bool]]:
    """The entries the principal may open, the current one marked: the entry whose path is the longest prefix of
    the current page's (on /sandbox/egress, 出域审核 rather than 授权运营)."""
    if principal is None:
        return []
    items = [item for item in NAV if principal.has(item.permission)]
    matching = [
        item
        for item in items
        if current_path == item.path or (item.path != "/" and current_path.startswith(item.path.rstrip("/") + "/"))
    ]
    current = max(matching, key=lambda item: len(item.path), default=None)
    return [(item, item is current) for item in items]
