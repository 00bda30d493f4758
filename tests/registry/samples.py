"""A certificate as the Shenyang data bureau would issue one, for the bundle and PDF tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

from shengjing.registry.bundle import Certificate, Holder, ObjectKind, RegisteredObject, Right
from shengjing.registry.numbers import Authority, CertificateNumber, RegistrationNumber

SHENYANG_BUREAU = Authority("210100", "01")


def certificate(**changes: Any) -> Certificate:
    sample = Certificate(
        number=CertificateNumber(2026, 12, SHENYANG_BUREAU, 123),
        registration_number=RegistrationNumber(SHENYANG_BUREAU, 2026, 123),
        holder=Holder("沈阳市公安局", "11210100001148839G"),
        object=RegisteredObject(ObjectKind.RESOURCE, "gongan.hukou", "户籍人口基本信息"),
        rights=(Right.HOLDING, Right.PROCESSING),
        term_start=dt.date(2026, 12, 1),
        term_end=dt.date(2029, 11, 30),
        issued_on=dt.date(2026, 12, 3),
        authority_name="沈阳市数据局",
        fingerprint=hashlib.sha256(b'[{"name":"part-00000.parquet"}]').hexdigest(),
        scope="沈阳市范围内的公共服务与统计分析",
    )
    return dataclasses.replace(sample, **changes)
