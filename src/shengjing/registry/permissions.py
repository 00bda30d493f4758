"""Registry permissions and what the built-in roles get of them.

Departments register the public data resources they hold; operators the data products they make. The data
bureau, as registration authority, accepts, reviews, publicizes, issues or refuses, and resolves objections. Any
signed-in organization may object during publicity. Certificates and the transparency log are public.
"""

from __future__ import annotations

from shengjing.identity.permissions import Action, declare, grant

REGISTRATION_VIEW = declare("registry", "registration", Action.VIEW, "查看数据产权登记", "View registrations")
REGISTRATION_ADD = declare("registry", "registration", Action.ADD, "申请数据产权登记", "Apply for registrations")
REGISTRATION_REVIEW = declare(
    "registry",
    "registration",
    Action.REVIEW,
    "受理、审查、公示、发证、不予登记，处理异议",
    "Accept, review, publicize, issue or refuse registrations, and resolve objections",
)
OBJECTION_ADD = declare("registry", "objection", Action.ADD, "对公示中的登记提出异议", "Object during publicity")
REGISTRY_VERIFY = declare(
    "registry", "log", Action.VERIFY, "核验登记簿与透明日志", "Verify the register against the transparency log"
)

grant("platform_admin", REGISTRATION_VIEW, REGISTRATION_ADD, REGISTRATION_REVIEW, OBJECTION_ADD, REGISTRY_VERIFY)
grant("auditor", REGISTRATION_VIEW, REGISTRY_VERIFY)
grant("department_admin", REGISTRATION_VIEW, REGISTRATION_ADD, OBJECTION_ADD)
grant("operator_analyst", REGISTRATION_VIEW, REGISTRATION_ADD, OBJECTION_ADD)
grant("merchant_member", REGISTRATION_VIEW, OBJECTION_ADD)
grant("agency_assessor", REGISTRATION_VIEW, OBJECTION_ADD)
