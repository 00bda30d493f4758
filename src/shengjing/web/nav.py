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
    if principal is None:
        return []
    return [
        (item, current_path == item.path or (item.path != "/" and current_path.startswith(item.path)))
        for item in NAV
        if principal.has(item.permission)
    ]
