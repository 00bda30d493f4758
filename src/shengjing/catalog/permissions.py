"""The catalog's permissions and what the built-in roles get of them."""

from __future__ import annotations

from shengjing.identity.permissions import Action, declare, grant

RESOURCE_VIEW = declare("catalog", "resource", Action.VIEW, "查看数据资源目录", "View the resource catalog")
RESOURCE_ADD = declare("catalog", "resource", Action.ADD, "登记数据资源", "Add resources to the catalog")
RESOURCE_CHANGE = declare("catalog", "resource", Action.CHANGE, "修改数据资源", "Change catalog resources")
RESOURCE_INGEST = declare("catalog", "resource", Action.INGEST, "向数据资源导入数据", "Ingest data into resources")

grant("platform_admin", RESOURCE_VIEW, RESOURCE_ADD, RESOURCE_CHANGE, RESOURCE_INGEST)
grant("auditor", RESOURCE_VIEW)
grant("department_admin", RESOURCE_VIEW, RESOURCE_ADD, RESOURCE_CHANGE, RESOURCE_INGEST)
for role in ("operator_analyst", "merchant_member", "agency_assessor"):
    grant(role, RESOURCE_VIEW)

# The data bureau keeps the data-element standards; departments only reference them.
ELEMENT_ADD = declare("catalog", "element", Action.ADD, "登记数据元", "Add data elements")
ELEMENT_CHANGE = declare("catalog", "element", Action.CHANGE, "修改数据元", "Change data elements")
grant("platform_admin", ELEMENT_ADD, ELEMENT_CHANGE)
