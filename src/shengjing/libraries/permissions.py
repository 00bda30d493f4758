"""Libraries permissions. The data bureau declares models and libraries and builds them; departments see the
models and the conflicts in their own sources, which they are the ones to correct. A library's golden records
are personal information: only who may build it reads them here (everyone else uses it through the sandbox)."""

from __future__ import annotations

from shengjing.identity.permissions import Action, declare, grant

MODEL_VIEW = declare("libraries", "model", Action.VIEW, "查看数据模型", "View data models")
MODEL_CHANGE = declare("libraries", "model", Action.CHANGE, "登记、修订数据模型", "File and revise data models")
LIBRARY_VIEW = declare("libraries", "library", Action.VIEW, "查看基础库、主题库", "View base and theme libraries")
LIBRARY_CHANGE = declare("libraries", "library", Action.CHANGE, "声明基础库、主题库", "Declare libraries")
LIBRARY_RUN = declare("libraries", "library", Action.RUN, "构建、刷新基础库和主题库", "Build and refresh libraries")
CONFLICT_VIEW = declare("libraries", "conflict", Action.VIEW, "查看来源数据冲突", "View conflicts between sources")
RECORD_VIEW = declare(
    "libraries", "record", Action.VIEW, "查看可信记录及其血缘", "View golden records and their lineage"
)

grant("platform_admin", MODEL_VIEW, MODEL_CHANGE, LIBRARY_VIEW, LIBRARY_CHANGE, LIBRARY_RUN, CONFLICT_VIEW, RECORD_VIEW)
grant("auditor", MODEL_VIEW, LIBRARY_VIEW, CONFLICT_VIEW)
grant("department_admin", MODEL_VIEW, LIBRARY_VIEW, CONFLICT_VIEW)
grant("operator_analyst", MODEL_VIEW, LIBRARY_VIEW)
