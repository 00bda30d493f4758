"""The demo city's catalog: one resource per generated table, described as its department would file it.

Field names are the generator's column names (the files the departments deliver carry them as headers);
labels, data elements (catalog/elements.yaml), units, standardization and quality rules are what a data
bureau would ask each department to declare. Resources that point at persons or enterprises check those
references against the person and enterprise resources, so those two are ingested first (``INGEST_ORDER``);
the licence pushes and the housing survey check theirs against the food licences and the property units, which
come before them.
"""

from __future__ import annotations

from typing import Final

from shengjing.catalog.schemas import FieldIn, ResourceIn, ShareType, UpdateFrequency
from shengjing.demo import shenyang as sy

F = FieldIn
DATE_FORMATS: Final = '["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日"]'
# Every resident ID column is cleaned the same way: spaces and full-width digits out, a check letter x upper-case.
ID_CLEANING: Final = "[trim, fullwidth_to_halfwidth, upper]"


def _id_rules(field: str, *, required: bool = True, references_person: bool = True, blocking: bool = True) -> str:
    """Quality rules for a resident ID column: present, valid per GB 11643, and a known resident. Non-blocking
    rules only count their failures (in the quality score): the rows are ingested all the same."""
    flag = "" if blocking else ", blocking: false"
    rules = [f"  - {{kind: required, field: {field}{flag}}}"] if required else []
    rules.append(f"  - {{kind: id_number, field: {field}{flag}}}")
    if references_person:
        rules.append(
            f"  - {{kind: reference, field: {field}, resource: {PERSON}, key: id_number, id: known_resident:{field}"
            f"{flag}}}"
        )
    return "\n".join(rules)


def _enterprise_rules(field: str, *, blocking: bool = True, known: str = "known_employer") -> str:
    flag = "" if blocking else ", blocking: false"
    return (
        f"  - {{kind: required, field: {field}{flag}}}\n"
        f"  - {{kind: credit_code, field: {field}{flag}}}\n"
        f"  - {{kind: reference, field: {field}, resource: {ENTERPRISE}, key: credit_code, id: {known}:{field}{flag}}}"
    )


def _record_rules(prefix: str) -> str:
    """A register's own record number: present, of its form, once."""
    return (
        "  - {kind: required, field: record_id}\n"
        f'  - {{kind: pattern, field: record_id, regex: "^{prefix}[0-9]{{10}}$"}}\n'
        "  - {kind: unique, key: [record_id]}"
    )


PERSON: Final = "SY-GA-PERSON"
ENTERPRISE: Final = "SY-SCJG-ENTERPRISE"
SOCIAL_INSURANCE: Final = "SY-RS-SOCIAL-INSURANCE"
HOUSING_FUND: Final = "SY-GJJ-HOUSING-FUND"
CLINIC_VISIT: Final = "SY-WJ-CLINIC-VISIT"
SCHOOL_ENROLMENT: Final = "SY-JY-SCHOOL-ENROLMENT"
BUS_CARD_TRIP: Final = "SY-JT-BUS-CARD-TRIP"
INSURED_PERSON: Final = "SY-RS-INSURED-PERSON"
PATIENT: Final = "SY-WJ-PATIENT"
STUDENT: Final = "SY-JY-STUDENT"
TAXPAYER: Final = "SY-SW-TAXPAYER"
EMPLOYER: Final = "SY-RS-EMPLOYER"
FOOD_LICENCE: Final = "SY-SCJG-FOOD-LICENCE"
LICENCE_PUSH: Final = "SY-SJJ-LICENCE-PUSH"
REAL_ESTATE_UNIT: Final = "SY-ZRZY-REAL-ESTATE-UNIT"
HOUSE: Final = "SY-ZJ-HOUSE"

# The largest table (≈45 trips per 100 residents a day, a week of them); the ingest benchmark uses it too.
BUS_CARD_TRIP_RESOURCE: Final = ResourceIn(
    code=BUS_CARD_TRIP,
    name="公交卡刷卡记录",
    summary="沈阳市公共交通 IC 卡一周的刷卡乘车记录：卡号、持卡人（记名卡）、线路、上车站点、刷卡时间和扣费金额。"
    "可用于客流分析和线网优化；持卡人身份号码为敏感个人信息，仅在授权场景下提供。",
    department="transport",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.CONDITIONAL,
    update_frequency=UpdateFrequency.DAILY,
    themes=["交通出行"],
    tags=["公交", "公交卡", "客流", "刷卡"],
    formats=["CSV"],
    contact="市交通运输局信息中心 024-22768000",
    fields=[
        F(name="card_no", label="公交卡号", data_element="GJKH"),
        F(name="id_number", label="持卡人公民身份号码", data_element="GMSFHM", description="不记名卡为空"),
        F(name="line", label="线路"),
        F(name="boarded_at", label="刷卡时间", data_type="timestamp", data_element="JYSJ", description="北京时间"),
        F(name="station", label="上车站点"),
        F(name="fare", label="扣费金额", data_type="decimal", data_element="JE", unit="元"),
    ],
    standardization=f"""version: 1
fields:
  card_no: [trim, fullwidth_to_halfwidth]
  id_number: {ID_CLEANING}
  line: [trim, fullwidth_to_halfwidth]
  station: [trim]
""",
    quality_rules=f"""rules:
  - {{kind: pattern, field: card_no, regex: "^2101[0-9]{{12}}$"}}
{_id_rules("id_number", required=False, references_person=False)}
  - {{kind: required, field: line}}
  - {{kind: required, field: boarded_at}}
  - {{kind: range, field: fare, min: 0, max: 10}}
""",
)

PERSON_RESOURCE: Final = ResourceIn(
    code=PERSON,
    name="户籍人口基本信息",
    summary="沈阳市户籍人口的基本登记信息：公民身份号码、姓名、性别、出生日期、民族、联系电话和户籍地址。"
    "人口基础库的权威来源，其他部门的身份号码以此核验。",
    department="public_security",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.DAILY,
    themes=["人口"],
    tags=["户籍", "人口", "身份核验"],
    formats=["CSV"],
    contact="市公安局人口管理支队 024-22868110",
    fields=[
        F(name="id_number", label="公民身份号码", data_element="GMSFHM"),
        F(name="name", label="姓名", data_element="XM"),
        F(name="sex", label="性别代码", data_element="XBDM"),
        F(name="birth_date", label="出生日期", data_type="date", data_element="CSRQ"),
        F(name="ethnicity", label="民族代码", data_element="MZDM"),
        F(name="mobile", label="手机号码", data_element="SJHM"),
        F(name="district_code", label="户籍地行政区划代码", data_element="XZQHDM"),
        F(name="address", label="户籍地址", data_element="DZ"),
        F(name="registered_at", label="户籍登记时间", data_type="timestamp", data_element="DJSJ"),
    ],
    standardization=f"""version: 1
fields:
  id_number: {ID_CLEANING}
  name: [trim, fullwidth_to_halfwidth]
  sex: [trim, {{codelist: {{list: GB/T 2261.1}}}}]
  birth_date: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
  ethnicity: [trim, {{codelist: {{list: GB 3304}}}}]
  mobile: [{{phone: {{region: CN, area_code: "024"}}}}]
  district_code: [trim, {{district: {{city: "210100"}}}}]
  address: [trim, fullwidth_to_halfwidth]
""",
    quality_rules=f"""rules:
{_id_rules("id_number", references_person=False)}
  - {{kind: unique, key: [id_number]}}
  - {{kind: required, field: name}}
  - {{kind: codelist, field: sex, values: ["0", "1", "2", "9"]}}
  - {{kind: date, field: birth_date, min: 1900-01-01}}
  - {{kind: required, field: district_code}}
  - {{kind: pattern, field: mobile, regex: "^1[3-9][0-9]{{9}}$", blocking: false}}
""",
)

ENTERPRISE_RESOURCE: Final = ResourceIn(
    code=ENTERPRISE,
    name="企业营业执照登记信息",
    summary="在沈阳市登记的企业法人营业执照信息：统一社会信用代码、企业名称、法定代表人、行业、注册资本、"
    "成立日期、住所和登记状态。市场主体的权威来源。",
    department="market_regulation",
    share_type=ShareType.UNCONDITIONAL,
    open_type=ShareType.UNCONDITIONAL,
    update_frequency=UpdateFrequency.DAILY,
    themes=["市场主体", "信用"],
    tags=["工商", "营业执照", "企业", "市场监管"],
    formats=["XLSX"],
    contact="市市场监管局登记注册处 024-22721234",
    fields=[
        F(name="credit_code", label="统一社会信用代码", data_element="TYSHXYDM"),
        F(name="name", label="企业名称", data_element="JGMC"),
        F(name="legal_representative_id", label="法定代表人公民身份号码", data_element="FDDBR"),
        F(name="industry_code", label="国民经济行业代码", data_element="HYDM"),
        F(name="registered_capital", label="注册资本", data_type="decimal", data_element="ZCZB", unit="万元"),
        F(name="established_on", label="成立日期", data_type="date", data_element="CLRQ"),
        F(name="district_code", label="住所行政区划代码", data_element="XZQHDM"),
        F(name="address", label="住所", data_element="DZ"),
        F(name="status", label="登记状态"),
    ],
    standardization=f"""version: 1
fields:
  credit_code: [trim, fullwidth_to_halfwidth, upper]
  name: [trim, fullwidth_to_halfwidth]
  legal_representative_id: {ID_CLEANING}
  established_on: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
  district_code: [trim, {{district: {{city: "210100"}}}}]
""",
    quality_rules=f"""rules:
  - {{kind: required, field: credit_code}}
  - {{kind: credit_code, field: credit_code}}
  - {{kind: unique, key: [credit_code]}}
  - {{kind: required, field: name}}
{_id_rules("legal_representative_id")}
  - {{kind: range, field: registered_capital, min: 0}}
  - {{kind: date, field: established_on, min: 1949-10-01}}
  - {{kind: codelist, field: status, values: [存续, 在业, 注销, 吊销, 迁出]}}
""",
)

SOCIAL_INSURANCE_RESOURCE: Final = ResourceIn(
    code=SOCIAL_INSURANCE,
    name="社会保险缴费记录",
    summary="参保职工按月缴纳养老、医疗、失业、工伤、生育保险的记录：参保人、参保单位、险种、费款所属期、"
    "缴费基数和缴费金额。",
    department="human_resources",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.CONDITIONAL,
    update_frequency=UpdateFrequency.MONTHLY,
    themes=["社会保障", "就业"],
    tags=["社保", "缴费", "参保", "养老保险", "医疗保险"],
    formats=["CSV"],
    contact="市社会保险事业服务中心 024-12333",
    fields=[
        F(name="id_number", label="参保人公民身份号码", data_element="GMSFHM"),
        F(name="employer_credit_code", label="参保单位统一社会信用代码", data_element="TYSHXYDM"),
        F(name="insurance_type", label="险种"),
        F(name="month", label="费款所属期", data_type="date", description="所属月份的第一天"),
        F(name="contribution_base", label="缴费基数", data_type="decimal", data_element="JFJS", unit="元"),
        F(name="amount", label="缴费金额", data_type="decimal", data_element="JFJE", unit="元"),
    ],
    standardization=f"""version: 1
fields:
  id_number: {ID_CLEANING}
  employer_credit_code: [trim, fullwidth_to_halfwidth, upper]
  insurance_type: [trim]
  month: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
""",
    quality_rules=f"""rules:
{_id_rules("id_number")}
{_enterprise_rules("employer_credit_code")}
  - {{kind: codelist, field: insurance_type, values: [养老保险, 医疗保险, 失业保险, 工伤保险, 生育保险]}}
  - {{kind: unique, key: [id_number, insurance_type, month]}}
  - {{kind: range, field: contribution_base, min: 0}}
  - {{kind: range, field: amount, min: 0}}
""",
)

HOUSING_FUND_RESOURCE: Final = ResourceIn(
    code=HOUSING_FUND,
    name="住房公积金缴存记录",
    summary="职工住房公积金按月缴存记录：缴存职工、缴存单位、缴存月份、月缴存额和账户余额。",
    department="housing_fund",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.MONTHLY,
    themes=["住房保障", "社会保障"],
    tags=["公积金", "缴存", "住房公积金"],
    formats=["CSV"],
    contact="沈阳住房公积金管理中心 024-12329",
    fields=[
        F(name="id_number", label="缴存职工公民身份号码", data_element="GMSFHM"),
        F(name="employer_credit_code", label="缴存单位统一社会信用代码", data_element="TYSHXYDM"),
        F(name="month", label="缴存月份", data_type="date", description="所属月份的第一天"),
        F(name="deposit", label="月缴存额", data_type="decimal", data_element="ZFGJJJCE", unit="元"),
        F(name="balance", label="账户余额", data_type="decimal", data_element="JE", unit="元"),
    ],
    standardization=f"""version: 1
fields:
  id_number: {ID_CLEANING}
  employer_credit_code: [trim, fullwidth_to_halfwidth, upper]
  month: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
""",
    quality_rules=f"""rules:
{_id_rules("id_number")}
{_enterprise_rules("employer_credit_code")}
  - {{kind: unique, key: [id_number, month]}}
  - {{kind: range, field: deposit, min: 0}}
  - {{kind: range, field: balance, min: 0}}
""",
)

CLINIC_VISIT_RESOURCE: Final = ResourceIn(
    code=CLINIC_VISIT,
    name="门诊就诊记录",
    summary="全市公立医院门诊就诊记录：患者、就诊医院、科室、就诊日期、诊断（ICD-10）和费用。"
    "含健康信息，属敏感个人信息，不予共享，仅可在授权运营场景中以统计结果使用。",
    department="health",
    share_type=ShareType.NONE,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.DAILY,
    themes=["医疗卫生"],
    tags=["就诊", "门诊", "医院", "诊断"],
    formats=["Parquet"],
    contact="市卫生健康委信息中心 024-22851000",
    fields=[
        F(name="id_number", label="患者公民身份号码", data_element="GMSFHM"),
        F(name="hospital", label="就诊医院", data_element="JGMC"),
        F(name="visit_date", label="就诊日期", data_type="date", data_element="JZRQ"),
        F(name="department", label="就诊科室"),
        F(name="diagnosis_code", label="诊断编码", data_element="JBZDDM"),
        F(name="diagnosis_name", label="诊断名称"),
        F(name="fee", label="费用", data_type="decimal", data_element="JE", unit="元"),
    ],
    standardization=f"""version: 1
fields:
  id_number: {ID_CLEANING}
  diagnosis_code: [trim, upper]
""",
    quality_rules=f"""rules:
{_id_rules("id_number")}
  - {{kind: required, field: hospital}}
  - {{kind: date, field: visit_date, min: 2025-01-01}}
  - {{kind: pattern, field: diagnosis_code, regex: "^[A-Z][0-9]{{2}}(\\\\.[0-9]{{1,2}})?$"}}
  - {{kind: range, field: fee, min: 0}}
""",
)

SCHOOL_ENROLMENT_RESOURCE: Final = ResourceIn(
    code=SCHOOL_ENROLMENT,
    name="中小学学籍信息",
    summary="全市中小学在校生学籍：学生、学校、年级、本学段入学日期和学校所在区县。",
    department="education",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.QUARTERLY,
    themes=["教育"],
    tags=["学籍", "在校生", "学校", "学段"],
    formats=["CSV"],
    contact="市教育局信息中心 024-86895000",
    fields=[
        F(name="id_number", label="学生公民身份号码", data_element="GMSFHM"),
        F(name="school", label="学校名称", data_element="XXMC"),
        F(name="grade", label="学段年级", data_element="XD"),
        F(name="enrolled_on", label="入学日期", data_type="date", data_element="RXRQ"),
        F(name="district_code", label="学校所在行政区划代码", data_element="XZQHDM"),
    ],
    standardization=f"""version: 1
fields:
  id_number: {ID_CLEANING}
  school: [trim]
  enrolled_on: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
  district_code: [trim, {{district: {{city: "210100"}}}}]
""",
    quality_rules=f"""rules:
{_id_rules("id_number")}
  - {{kind: unique, key: [id_number]}}
  - {{kind: required, field: school}}
  - {{kind: pattern, field: grade, regex: "^(小学[一二三四五六]|初中[一二三]|高中[一二三])年级$"}}
  - {{kind: date, field: enrolled_on, min: 2010-09-01}}
""",
)

# --- departmental registers of the same persons and enterprises ------------------------------------------------
# Each department keeps its own register of the persons or enterprises it serves, filled in at its own counters:
# IDs are sometimes missing or mistyped, names and addresses drift from the household register's. Their ID and
# credit-code rules are therefore non-blocking: such records are ingested and counted in the quality score, not
# quarantined, because linking them to the right person or enterprise (the libraries domain) is the point.


def _person_standardization(mobile: str) -> str:
    return f"""version: 1
fields:
  record_id: [trim, upper]
  id_number: {ID_CLEANING}
  name: [trim, fullwidth_to_halfwidth]
  sex: [trim, {{codelist: {{list: GB/T 2261.1}}}}]
  birth_date: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
  {mobile}: [{{phone: {{region: CN, area_code: "024"}}}}]
  address: [trim, fullwidth_to_halfwidth]
"""


def _person_register_rules(prefix: str, mobile: str, *, born_after: str = "1900-01-01") -> str:
    return f"""rules:
{_record_rules(prefix)}
{_id_rules("id_number", blocking=False)}
  - {{kind: required, field: name}}
  - {{kind: codelist, field: sex, values: ["0", "1", "2", "9"]}}
  - {{kind: date, field: birth_date, min: {born_after}}}
  - {{kind: pattern, field: {mobile}, regex: "^1[3-9][0-9]{{9}}$", blocking: false}}
  - {{kind: required, field: address, blocking: false}}
  - {{kind: required, field: updated_at}}
"""


def _person_fields(mobile: FieldIn, address: str) -> list[FieldIn]:
    return [
        F(name="id_number", label="公民身份号码", data_element="GMSFHM", description="可能缺失或录入有误"),
        F(name="name", label="姓名", data_element="XM"),
        F(name="sex", label="性别代码", data_element="XBDM"),
        F(name="birth_date", label="出生日期", data_type="date", data_element="CSRQ"),
        mobile,
        F(name="address", label=address, data_element="DZ"),
        F(name="updated_at", label="最后变更时间", data_type="timestamp", description="北京时间"),
    ]


INSURED_PERSON_RESOURCE: Final = ResourceIn(
    code=INSURED_PERSON,
    name="社会保险参保人员信息",
    summary="在沈阳市参加社会保险的人员登记信息：个人编号、公民身份号码、姓名、性别、出生日期、手机号码和联系地址。"
    "由社保经办窗口采集，个别记录的身份号码缺失或录入有误，联系方式和地址可能未及时更新。",
    department="human_resources",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.DAILY,
    themes=["社会保障", "人口"],
    tags=["社保", "参保人员", "参保登记", "人员信息"],
    formats=["CSV"],
    contact="市社会保险事业服务中心 024-12333",
    fields=[
        F(name="record_id", label="个人编号", description="社保经办系统内的人员编号"),
        *_person_fields(F(name="mobile", label="手机号码", data_element="SJHM"), "联系地址"),
    ],
    standardization=_person_standardization("mobile"),
    quality_rules=_person_register_rules("RS", "mobile"),
)

PATIENT_RESOURCE: Final = ResourceIn(
    code=PATIENT,
    name="居民就诊登记信息（患者主索引）",
    summary="全市公立医院建档患者的主索引：患者主索引号、公民身份号码、姓名、性别、出生日期、手机号码、现住址和"
    "建档医院。同一居民可能在两家医院各建一档；部分患者建档时未登记身份号码。含个人敏感信息，不予共享。",
    department="health",
    share_type=ShareType.NONE,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.DAILY,
    themes=["医疗卫生", "人口"],
    tags=["患者", "主索引", "建档", "就诊登记"],
    formats=["CSV"],
    contact="市卫生健康委信息中心 024-22851000",
    fields=[
        F(name="record_id", label="患者主索引号", description="医院信息系统的患者编号"),
        *_person_fields(F(name="mobile", label="手机号码", data_element="SJHM"), "现住址"),
        F(name="hospital", label="建档医院", data_element="JGMC"),
    ],
    standardization=_person_standardization("mobile") + "  hospital: [trim]\n",
    quality_rules=_person_register_rules("WJ", "mobile") + "  - {kind: required, field: hospital}\n",
)

STUDENT_RESOURCE: Final = ResourceIn(
    code=STUDENT,
    name="中小学学生学籍信息",
    summary="全市中小学在校学生的学籍基本信息：学生编号、公民身份号码、姓名、性别、出生日期、监护人手机号码和"
    "家庭住址。学校办理入学时采集，少数学生的身份号码待补录或有误。",
    department="education",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.QUARTERLY,
    themes=["教育", "人口"],
    tags=["学籍", "学生", "监护人", "在校生"],
    formats=["XLSX"],
    contact="市教育局信息中心 024-86895000",
    fields=[
        F(name="record_id", label="学生编号", description="学籍系统内的学生编号"),
        *_person_fields(F(name="guardian_mobile", label="监护人手机号码", data_element="SJHM"), "家庭住址"),
    ],
    standardization=_person_standardization("guardian_mobile"),
    quality_rules=_person_register_rules("JY", "guardian_mobile", born_after="2000-01-01"),
)

_ENTERPRISE_STANDARDIZATION: Final = """version: 1
fields:
  record_id: [trim, upper]
  credit_code: [trim, fullwidth_to_halfwidth, upper]
  name: [trim, fullwidth_to_halfwidth]
  address: [trim, fullwidth_to_halfwidth]
"""

TAXPAYER_RESOURCE: Final = ResourceIn(
    code=TAXPAYER,
    name="纳税人登记信息",
    summary="在沈阳市办理税务登记的企业纳税人：纳税人档案号、纳税人识别号（统一社会信用代码）、纳税人名称、"
    "法定代表人、生产经营地址和税务登记日期。个别户的识别号缺失或有误，名称写法与营业执照不尽一致。",
    department="taxation",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.DAILY,
    themes=["市场主体", "财政税务"],
    tags=["税务登记", "纳税人", "企业", "税务"],
    formats=["CSV"],
    contact="国家税务总局沈阳市税务局纳税服务中心 12366",
    fields=[
        F(name="record_id", label="纳税人档案号", description="税收征管系统内的档案号"),
        F(name="credit_code", label="纳税人识别号", data_element="TYSHXYDM", description="企业为统一社会信用代码"),
        F(name="name", label="纳税人名称", data_element="JGMC"),
        F(name="legal_representative", label="法定代表人姓名", data_element="XM"),
        F(name="address", label="生产经营地址", data_element="DZ"),
        F(name="registered_on", label="税务登记日期", data_type="date"),
        F(name="credit_grade", label="纳税信用等级", description="A、B、M、C、D 级；未参与评价的为空"),
        F(name="updated_at", label="最后变更时间", data_type="timestamp", description="北京时间"),
    ],
    standardization=_ENTERPRISE_STANDARDIZATION
    + f"""  legal_representative: [trim, fullwidth_to_halfwidth]
  registered_on: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
  credit_grade: [trim, fullwidth_to_halfwidth, upper]
""",
    quality_rules=f"""rules:
{_record_rules("SW")}
{_enterprise_rules("credit_code", blocking=False, known="known_enterprise")}
  - {{kind: required, field: name}}
  - {{kind: required, field: legal_representative, blocking: false}}
  - {{kind: date, field: registered_on, min: 1949-10-01}}
  - {{kind: codelist, field: credit_grade, values: [A, B, M, C, D], blocking: false}}
  - {{kind: required, field: updated_at}}
""",
)

EMPLOYER_RESOURCE: Final = ResourceIn(
    code=EMPLOYER,
    name="社会保险参保单位信息",
    summary="在沈阳市参加社会保险的用人单位登记信息：单位编号、统一社会信用代码、单位名称、单位地址和联系电话。"
    "由社保经办窗口采集，部分单位的信用代码缺失或有误，地址可能未及时变更。",
    department="human_resources",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.CONDITIONAL,
    update_frequency=UpdateFrequency.DAILY,
    themes=["社会保障", "市场主体"],
    tags=["社保", "参保单位", "用人单位", "单位登记"],
    formats=["CSV"],
    contact="市社会保险事业服务中心 024-12333",
    fields=[
        F(name="record_id", label="单位编号", description="社保经办系统内的单位编号"),
        F(name="credit_code", label="统一社会信用代码", data_element="TYSHXYDM"),
        F(name="name", label="单位名称", data_element="JGMC"),
        F(name="address", label="单位地址", data_element="DZ"),
        F(name="contact_phone", label="联系电话", data_element="LXDH"),
        F(
            name="wage_arrears",
            label="是否列入拖欠工资失信名单",
            data_type="boolean",
            description="人社部门认定的拖欠农民工工资失信联合惩戒对象",
        ),
        F(name="updated_at", label="最后变更时间", data_type="timestamp", description="北京时间"),
    ],
    standardization=_ENTERPRISE_STANDARDIZATION + '  contact_phone: [{phone: {region: CN, area_code: "024"}}]\n',
    quality_rules=f"""rules:
{_record_rules("DW")}
{_enterprise_rules("credit_code", blocking=False, known="known_enterprise")}
  - {{kind: required, field: name}}
  - {{kind: pattern, field: contact_phone, regex: "^(1[3-9][0-9]{{9}}|0[0-9]{{2,3}}-[0-9]{{7,8}})$", blocking: false}}
  - {{kind: codelist, field: wage_arrears, values: ["true", "false"], blocking: false}}
  - {{kind: required, field: updated_at}}
""",
)

# --- electronic licences (电子证照): food business licences and what the sharing platform received ---------------
# The market regulator's licences are the authoritative source; the data bureau's e-licence sharing platform holds
# the records the issuing system pushed to it, some twice, some with a missing or mistyped number. The identifier
# rules are non-blocking for the same reason as the registers' above.

_LICENCE_DATES: Final = f"""  issued_on: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
  valid_until: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
"""


def _licence_no_rules(*, unique: bool = False, reference: bool = False) -> str:
    rules = [
        "  - {kind: required, field: licence_no, blocking: false}",
        f'  - {{kind: pattern, field: licence_no, regex: "{sy.LICENCE_NO_PATTERN}", blocking: false}}',
    ]
    if unique:
        rules.append("  - {kind: unique, key: [licence_no], blocking: false}")
    if reference:
        rules.append(
            f"  - {{kind: reference, field: licence_no, resource: {FOOD_LICENCE}, key: licence_no, "
            "id: known_licence:licence_no, blocking: false}"
        )
    return "\n".join(rules)


FOOD_LICENCE_RESOURCE: Final = ResourceIn(
    code=FOOD_LICENCE,
    name="食品经营许可证信息",
    summary="市市场监管局核发的食品经营许可证：许可证编号、经营者名称及其统一社会信用代码、经营场所、发证日期、"
    "有效期和许可状态（有效、注销、过期）。电子证照基础库中食品经营许可证的权威来源，许可信息依法公示。",
    department="market_regulation",
    share_type=ShareType.UNCONDITIONAL,
    open_type=ShareType.UNCONDITIONAL,
    update_frequency=UpdateFrequency.DAILY,
    themes=["电子证照", "市场主体"],
    tags=["食品经营许可", "许可证", "电子证照", "食品安全"],
    formats=["XLSX"],
    contact="市市场监管局食品经营安全监督管理处 024-22721234",
    fields=[
        F(name="record_id", label="许可档案编号", description="许可审批系统内的档案编号"),
        F(
            name="licence_no",
            label="许可证编号",
            description="JY加14位数字：主体业态、省、市、县（区）代码，6位顺序码和1位校验码",
        ),
        F(name="holder_credit_code", label="经营者统一社会信用代码", data_element="TYSHXYDM"),
        F(name="holder_name", label="经营者名称", data_element="JGMC"),
        F(name="address", label="经营场所", data_element="DZ"),
        F(name="issued_on", label="发证日期", data_type="date"),
        F(name="valid_until", label="有效期至", data_type="date", description="发证之日起五年"),
        F(name="status", label="许可状态"),
        F(name="updated_at", label="最后变更时间", data_type="timestamp", description="北京时间"),
    ],
    standardization="""version: 1
fields:
  record_id: [trim, upper]
  licence_no: [trim, fullwidth_to_halfwidth]
  holder_credit_code: [trim, fullwidth_to_halfwidth, upper]
  holder_name: [trim, fullwidth_to_halfwidth]
  address: [trim, fullwidth_to_halfwidth]
  status: [trim]
"""
    + _LICENCE_DATES,
    quality_rules=f"""rules:
{_record_rules("SP")}
{_licence_no_rules(unique=True)}
{_enterprise_rules("holder_credit_code", blocking=False, known="known_enterprise")}
  - {{kind: required, field: holder_name}}
  - {{kind: date, field: issued_on, min: 1992-01-01}}
  - {{kind: date, field: valid_until, min: 1997-01-01}}
  - {{kind: codelist, field: status, values: [有效, 注销, 过期]}}
  - {{kind: required, field: updated_at}}
""",
)

LICENCE_PUSH_RESOURCE: Final = ResourceIn(
    code=LICENCE_PUSH,
    name="电子证照归集记录（食品经营许可证）",
    summary="市数据局电子证照共享平台归集的食品经营许可证：发证系统推送的证照编号、持证主体名称及其统一社会信用代码、"
    "发证日期、有效期和推送时间。接口推送的数据未经校核：个别记录的证照编号或信用代码缺失、有误，"
    "同一证照可能推送两次。",
    department="data_bureau",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.REALTIME,
    themes=["电子证照", "政务服务"],
    tags=["电子证照", "证照归集", "共享平台", "食品经营许可"],
    formats=["CSV"],
    contact="市数据局数据资源管理处 024-12345",
    fields=[
        F(name="record_id", label="归集记录编号", description="共享平台内的归集记录编号"),
        F(name="licence_type", label="证照类型"),
        F(name="licence_no", label="证照编号", description="可能缺失或录入有误"),
        F(name="holder_credit_code", label="持证主体统一社会信用代码", data_element="TYSHXYDM"),
        F(name="holder_name", label="持证主体名称", data_element="JGMC"),
        F(name="issued_on", label="发证日期", data_type="date"),
        F(name="valid_until", label="有效期截止日期", data_type="date"),
        F(name="pushed_at", label="推送时间", data_type="timestamp", description="北京时间"),
    ],
    standardization="""version: 1
fields:
  record_id: [trim, upper]
  licence_type: [trim]
  licence_no: [trim, fullwidth_to_halfwidth]
  holder_credit_code: [trim, fullwidth_to_halfwidth, upper]
  holder_name: [trim, fullwidth_to_halfwidth]
"""
    + _LICENCE_DATES,
    quality_rules=f"""rules:
{_record_rules("DZ")}
  - {{kind: codelist, field: licence_type, values: [食品经营许可证]}}
{_licence_no_rules(reference=True)}
{_enterprise_rules("holder_credit_code", blocking=False, known="known_enterprise")}
  - {{kind: required, field: holder_name}}
  - {{kind: date, field: issued_on, min: 1992-01-01}}
  - {{kind: date, field: valid_until, min: 1997-01-01}}
  - {{kind: required, field: pushed_at}}
""",
)

# --- natural resources and spatial geography (自然资源和空间地理): property units ---------------------------------
# The real-estate register (不动产登记簿) is the authoritative source of the units; the housing bureau's building
# survey knows most of the same houses, some without their unit number or with a mistyped one.


def _unit_no_rules(*, unique: bool = False, reference: bool = False) -> str:
    rules = [
        "  - {kind: required, field: unit_no, blocking: false}",
        f'  - {{kind: pattern, field: unit_no, regex: "{sy.UNIT_NO_PATTERN}", blocking: false}}',
    ]
    if unique:
        rules.append("  - {kind: unique, key: [unit_no], blocking: false}")
    if reference:
        rules.append(
            f"  - {{kind: reference, field: unit_no, resource: {REAL_ESTATE_UNIT}, key: unit_no, "
            "id: known_unit:unit_no, blocking: false}"
        )
    return "\n".join(rules)


_UNIT_DESCRIPTION: Final = (
    "GB/T 37346，28位：行政区划代码、地籍区和地籍子区、宗地特征码、宗地顺序号、定着物特征码F和定着物单元编号"
)

REAL_ESTATE_UNIT_RESOURCE: Final = ResourceIn(
    code=REAL_ESTATE_UNIT,
    name="不动产登记单元信息",
    summary="市自然资源局不动产登记簿中的房屋不动产单元：不动产单元号、坐落、所在区县、用途、建筑面积和登记日期。"
    "自然资源和空间地理基础库中不动产的权威来源；权利人信息不在本资源中。",
    department="natural_resources",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.NONE,
    update_frequency=UpdateFrequency.DAILY,
    themes=["自然资源", "住房"],
    tags=["不动产", "不动产登记", "不动产单元号", "房屋"],
    formats=["CSV"],
    contact="沈阳市不动产登记中心 024-12336",
    fields=[
        F(name="record_id", label="不动产登记记录编号", description="登记系统内的记录编号"),
        F(name="unit_no", label="不动产单元号", description=_UNIT_DESCRIPTION),
        F(name="address", label="坐落", data_element="DZ"),
        F(name="district_code", label="所在行政区划代码", data_element="XZQHDM"),
        F(name="land_use", label="用途"),
        F(name="building_area", label="建筑面积", data_type="decimal", unit="平方米"),
        F(name="registered_on", label="登记日期", data_type="date"),
        F(name="updated_at", label="最后变更时间", data_type="timestamp", description="北京时间"),
    ],
    standardization=f"""version: 1
fields:
  record_id: [trim, upper]
  unit_no: [trim, fullwidth_to_halfwidth]
  address: [trim, fullwidth_to_halfwidth]
  district_code: [trim, {{district: {{city: "210100"}}}}]
  land_use: [trim]
  registered_on: [trim, {{date: {{formats: {DATE_FORMATS}, output: "%Y-%m-%d"}}}}]
""",
    quality_rules=f"""rules:
{_record_rules("BDC")}
{_unit_no_rules(unique=True)}
  - {{kind: required, field: address}}
  - {{kind: required, field: district_code}}
  - {{kind: codelist, field: land_use, values: [住宅, 商业, 办公, 工业]}}
  - {{kind: range, field: building_area, min: 0}}
  - {{kind: date, field: registered_on, min: 1949-10-01}}
  - {{kind: required, field: updated_at}}
""",
)

HOUSE_RESOURCE: Final = ResourceIn(
    code=HOUSE,
    name="房屋基础信息",
    summary="市住建局房屋建筑调查掌握的房屋基础信息：房屋编号、不动产单元号、坐落、所在区县、实测建筑面积、"
    "建成年份和建筑结构。调查时采集，部分房屋的不动产单元号缺失或有误，坐落写法和面积与不动产登记不尽一致。",
    department="housing",
    share_type=ShareType.CONDITIONAL,
    open_type=ShareType.CONDITIONAL,
    update_frequency=UpdateFrequency.QUARTERLY,
    themes=["住房", "自然资源"],
    tags=["房屋", "房屋调查", "建筑结构", "不动产单元号"],
    formats=["CSV"],
    contact="市住建局房屋管理处 024-12319",
    fields=[
        F(name="record_id", label="房屋编号", description="房屋调查系统内的编号"),
        F(name="unit_no", label="不动产单元号", description="可能缺失或录入有误"),
        F(name="address", label="房屋坐落", data_element="DZ"),
        F(name="district_code", label="所在行政区划代码", data_element="XZQHDM"),
        F(name="building_area", label="建筑面积", data_type="decimal", unit="平方米", description="调查实测"),
        F(name="built_year", label="建成年份", data_type="integer"),
        F(name="structure", label="建筑结构"),
        F(name="updated_at", label="最后变更时间", data_type="timestamp", description="北京时间"),
    ],
    standardization="""version: 1
fields:
  record_id: [trim, upper]
  unit_no: [trim, fullwidth_to_halfwidth]
  address: [trim, fullwidth_to_halfwidth]
  district_code: [trim, {district: {city: "210100"}}]
  structure: [trim]
""",
    quality_rules=f"""rules:
{_record_rules("FW")}
{_unit_no_rules(reference=True)}
  - {{kind: required, field: address}}
  - {{kind: required, field: district_code}}
  - {{kind: range, field: building_area, min: 0}}
  - {{kind: range, field: built_year, min: 1900, max: 2030}}
  - {{kind: codelist, field: structure, values: [钢混, 砖混, 框架]}}
  - {{kind: required, field: updated_at}}
""",
)

# By generated table name. Dict order is the ingest order: persons and enterprises before what refers to them.
RESOURCE_BY_TABLE: Final[dict[str, ResourceIn]] = {
    "person": PERSON_RESOURCE,
    "enterprise": ENTERPRISE_RESOURCE,
    "social_insurance": SOCIAL_INSURANCE_RESOURCE,
    "housing_fund": HOUSING_FUND_RESOURCE,
    "clinic_visit": CLINIC_VISIT_RESOURCE,
    "school_enrolment": SCHOOL_ENROLMENT_RESOURCE,
    "bus_card_trip": BUS_CARD_TRIP_RESOURCE,
    "insured_person": INSURED_PERSON_RESOURCE,
    "patient": PATIENT_RESOURCE,
    "student": STUDENT_RESOURCE,
    "taxpayer": TAXPAYER_RESOURCE,
    "employer": EMPLOYER_RESOURCE,
    "food_licence": FOOD_LICENCE_RESOURCE,
    "licence_push": LICENCE_PUSH_RESOURCE,
    "real_estate_unit": REAL_ESTATE_UNIT_RESOURCE,
    "house": HOUSE_RESOURCE,
}
INGEST_ORDER: Final[tuple[str, ...]] = tuple(RESOURCE_BY_TABLE)
DEMO_RESOURCES: Final[tuple[ResourceIn, ...]] = tuple(RESOURCE_BY_TABLE.values())
