"""Classification and grading permissions and what the built-in roles get of them.

Departments classify and review their own resources; the data bureau sees every resource's grading, audits
and reopens it, and keeps the rule set.
"""

from __future__ import annotations

from shengjing.identity.permissions import Action, declare, grant

GRADING_VIEW = declare("classify", "grading", Action.VIEW, "查看分类分级结果", "View classification and grading")
GRADING_RUN = declare("classify", "grading", Action.RUN, "运行分类分级识别", "Run classification")
GRADING_REVIEW = declare(
    "classify", "grading", Action.REVIEW, "确认或修正分类分级结果", "Confirm or override classification"
)
GRADING_AUDIT = declare("classify", "grading", Action.AUDIT, "审核、退回分类分级结果", "Audit and reopen gradings")
RULESET_CHANGE = declare("classify", "ruleset", Action.CHANGE, "维护分类分级规则集", "Maintain the grading rule set")

# The platform administrator holds REVIEW too, because identity lets an administrator manage only users whose
# permissions it holds; the service still lets only the owning department confirm or override its resources.
grant("platform_admin", GRADING_VIEW, GRADING_RUN, GRADING_REVIEW, GRADING_AUDIT, RULESET_CHANGE)
grant("auditor", GRADING_VIEW, GRADING_AUDIT)
grant("department_admin", GRADING_VIEW, GRADING_RUN, GRADING_REVIEW)
