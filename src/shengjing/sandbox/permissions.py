"""Authorized operation permissions and what the built-in roles get of them.

Operators apply for authorizations and query in the sandbox; each providing department consents for its own
resources; the data bureau approves, suspends and revokes, and its reviewers decide what results may leave.
"""

from __future__ import annotations

from shengjing.identity.permissions import Action, declare, grant

AUTHORIZATION_VIEW = declare("sandbox", "authorization", Action.VIEW, "查看授权运营授权", "View authorizations")
AUTHORIZATION_ADD = declare(
    "sandbox", "authorization", Action.ADD, "起草、申请授权", "Draft and apply for authorizations"
)
AUTHORIZATION_REVIEW = declare(
    "sandbox", "authorization", Action.REVIEW, "同意或拒绝授权使用本单位数据", "Consent to authorizations of own data"
)
AUTHORIZATION_AUDIT = declare(
    "sandbox",
    "authorization",
    Action.AUDIT,
    "批准、退回、暂停、恢复、撤销授权",
    "Approve, reject, suspend, resume and revoke authorizations",
)
QUERY_RUN = declare("sandbox", "query", Action.RUN, "在沙箱中查询", "Query in the sandbox")
QUERY_VIEW = declare("sandbox", "query", Action.VIEW, "查看沙箱查询记录", "View sandbox query runs")
ANALYSIS_ADD = declare("sandbox", "analysis", Action.ADD, "保存分析", "Save analyses")
EGRESS_REVIEW = declare("sandbox", "egress", Action.REVIEW, "出域审核", "Review results before they leave")

# The platform administrator holds what it may give department and operator users (identity's anti-escalation
# rule); the service still lets only an authorization's operator query and only a resource's department consent.
grant(
    "platform_admin",
    AUTHORIZATION_VIEW,
    AUTHORIZATION_ADD,
    AUTHORIZATION_REVIEW,
    AUTHORIZATION_AUDIT,
    QUERY_RUN,
    QUERY_VIEW,
    ANALYSIS_ADD,
    EGRESS_REVIEW,
)
grant("auditor", AUTHORIZATION_VIEW, QUERY_VIEW)
grant("egress_reviewer", AUTHORIZATION_VIEW, QUERY_VIEW, EGRESS_REVIEW)
grant("department_admin", AUTHORIZATION_VIEW, AUTHORIZATION_REVIEW)
grant("operator_analyst", AUTHORIZATION_VIEW, AUTHORIZATION_ADD, QUERY_RUN, QUERY_VIEW, ANALYSIS_ADD)
