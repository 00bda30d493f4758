"""Chinese labels (msgids) for the catalog's vocabularies, shown by the console and by the public open-data pages."""

from __future__ import annotations

from shengjing.catalog.schemas import FieldType, UpdateFrequency
from shengjing.web.i18n import N_

FREQUENCY_LABELS = {
    UpdateFrequency.REALTIME: N_("实时"),
    UpdateFrequency.DAILY: N_("每日"),
    UpdateFrequency.WEEKLY: N_("每周"),
    UpdateFrequency.MONTHLY: N_("每月"),
    UpdateFrequency.QUARTERLY: N_("每季度"),
    UpdateFrequency.YEARLY: N_("每年"),
    UpdateFrequency.IRREGULAR: N_("不定期"),
}
FIELD_TYPE_LABELS = {
    FieldType.STRING: N_("字符串"),
    FieldType.INTEGER: N_("整数"),
    FieldType.DECIMAL: N_("小数"),
    FieldType.DATE: N_("日期"),
    FieldType.TIMESTAMP: N_("时间"),
    FieldType.BOOLEAN: N_("布尔"),
}
