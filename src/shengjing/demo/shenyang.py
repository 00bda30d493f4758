"""Static reference data for the synthetic Shenyang (沈阳市): districts, organizations, industries, ….

Everything here is a constant. The only code computes check characters at import time, so that no credit
code in this file is a hand-copied string that could silently be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from stdnum.cn import uscc

PROVINCE_NAME: Final = "辽宁省"
CITY_NAME: Final = "沈阳市"
CITY_CODE: Final = "210100"  # GB/T 2260 code of the city as a whole; organs registered by the city use it


# --- Districts and counties (GB/T 2260) ------------------------------------------------------------------

DistrictKind = Literal["区", "县", "县级市"]


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str
    kind: DistrictKind
    population_weight: float  # rough share of registered population, in units of 10,000 people


# Weights are rounded, census-era magnitudes: enough for the urban core to dominate, not official figures.
DISTRICTS: Final[tuple[District, ...]] = (
    District("210102", "和平区", "区", 64.0),
    District("210103", "沈河区", "区", 77.0),
    District("210104", "大东区", "区", 95.0),
    District("210105", "皇姑区", "区", 87.0),
    District("210106", "铁西区", "区", 130.0),
    District("210111", "苏家屯区", "区", 47.0),
    District("210112", "浑南区", "区", 85.0),
    District("210113", "沈北新区", "区", 60.0),
    District("210114", "于洪区", "区", 95.0),
    District("210115", "辽中区", "区", 50.0),
    District("210123", "康平县", "县", 30.0),
    District("210124", "法库县", "县", 40.0),
    District("210181", "新民市", "县级市", 58.0),
)
DISTRICT_CODES: Final[frozenset[str]] = frozenset(d.code for d in DISTRICTS)


# --- Unified social credit codes (GB 32100) ----------------------------------------------------------------

_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


def organization_code_check_char(body: str) -> str:
    """Check character of an 8-character GB 11714 organization code body (python-stdnum has no cn.gb11714).

    Digits count as themselves and letters as A=10 … Z=35; a remainder of 10 is written "X", 11 as "0".
    """
    if len(body) != 8 or not body.isascii() or not body.isalnum() or body != body.upper():
        raise ValueError(f"organization code body must be 8 upper-case ASCII letters/digits: {body!r}")
    values = (int(c) if c.isdigit() else ord(c) - 55 for c in body)
    total = sum(v * w for v, w in zip(values, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def credit_code(registration: str, region: str, org_body: str) -> str:
    """An 18-character unified social credit code: 2-char registration authority/type, 6-digit region,
    9-char organization code (body + GB 11714 check) and the GB 32100 check character from python-stdnum."""
    body = f"{registration}{region}{org_body}{organization_code_check_char(org_body)}"
    return body + uscc.calc_check_digit(body)


# Registration authority + entity type, the first two characters of a credit code.
GOVERNMENT_ORGAN: Final = "11"  # 机构编制部门登记的机关
PUBLIC_INSTITUTION: Final = "12"  # 机构编制部门登记的事业单位
ENTERPRISE: Final = "91"  # 市场监管部门登记的企业


# --- Identifier layouts of the base libraries' registers ------------------------------------------------------

# 食品经营许可证编号: JY + 1-digit 主体业态 + 2-digit province + 2-digit city + 2-digit county + 6-digit serial +
# 1 check digit (the demo's own: the real numbering's check digit is not public).
LICENCE_NO_PATTERN: Final = r"^JY[0-9]{14}$"
# 不动产单元号 (GB/T 37346) of a house: 6-digit district + 6-digit 地籍区/地籍子区 + G/J + 宗地特征码 + 5-digit 宗地
# number + F + 8-digit 定着物 number.
UNIT_NO_PATTERN: Final = r"^[0-9]{12}[GJ][ABSXCDEFWY][0-9]{5}F[0-9]{8}$"


# --- Organizations -----------------------------------------------------------------------------------------

OrganizationRole = Literal["data_bureau", "department", "operator", "data_merchant", "service_agency"]


@dataclass(frozen=True, slots=True)
class Organization:
    code: str  # stable short code used as a key across the platform
    role: OrganizationRole
    short_name: str
    name: str
    name_en: str
    credit_code: str


def _org(
    code: str,
    role: OrganizationRole,
    short_name: str,
    name: str,
    name_en: str,
    registration: str,
    org_body: str,
) -> Organization:
    return Organization(code, role, short_name, name, name_en, credit_code(registration, CITY_CODE, org_body))


DATA_BUREAU: Final = _org(
    "data_bureau", "data_bureau", "市数据局", "沈阳市数据局", "Shenyang Municipal Data Bureau",
    GOVERNMENT_ORGAN, "00210100",
)  # fmt: skip

# 数据提供单位. The housing provident fund centre is a public institution (事业单位), hence "12", not "11".
DEPARTMENTS: Final[tuple[Organization, ...]] = (
    _org("public_security", "department", "市公安局", "沈阳市公安局",
         "Shenyang Municipal Public Security Bureau", GOVERNMENT_ORGAN, "00210101"),
    _org("market_regulation", "department", "市市场监管局", "沈阳市市场监督管理局",
         "Shenyang Administration for Market Regulation", GOVERNMENT_ORGAN, "00210102"),
    _org("human_resources", "department", "市人社局", "沈阳市人力资源和社会保障局",
         "Shenyang Municipal Human Resources and Social Security Bureau", GOVERNMENT_ORGAN, "00210103"),
    _org("health", "department", "市卫健委", "沈阳市卫生健康委员会",
         "Shenyang Municipal Health Commission", GOVERNMENT_ORGAN, "00210104"),
    _org("housing", "department", "市住建局", "沈阳市住房和城乡建设局",
         "Shenyang Municipal Housing and Urban-Rural Development Bureau", GOVERNMENT_ORGAN, "00210105"),
    _org("housing_fund", "department", "市住房公积金管理中心", "沈阳住房公积金管理中心",
         "Shenyang Housing Provident Fund Management Center", PUBLIC_INSTITUTION, "00210106"),
    _org("education", "department", "市教育局", "沈阳市教育局",
         "Shenyang Municipal Education Bureau", GOVERNMENT_ORGAN, "00210107"),
    _org("transport", "department", "市交通运输局", "沈阳市交通运输局",
         "Shenyang Municipal Transportation Bureau", GOVERNMENT_ORGAN, "00210108"),
    _org("culture_tourism", "department", "市文旅局", "沈阳市文化旅游和广播电视局",
         "Shenyang Municipal Bureau of Culture, Tourism, Radio and Television", GOVERNMENT_ORGAN, "00210109"),
    _org("civil_affairs", "department", "市民政局", "沈阳市民政局",
         "Shenyang Municipal Civil Affairs Bureau", GOVERNMENT_ORGAN, "00210110"),
    _org("taxation", "department", "市税务局", "国家税务总局沈阳市税务局",
         "Shenyang Municipal Tax Service, State Taxation Administration", GOVERNMENT_ORGAN, "00210111"),
    _org("natural_resources", "department", "市自然资源局", "沈阳市自然资源局",
         "Shenyang Municipal Bureau of Natural Resources", GOVERNMENT_ORGAN, "00210112"),
)  # fmt: skip

# Post-2015 enterprises carry an "MA…" organization code body; the parties below are fictitious except the
# operator, whose name the design notes give.
OPERATOR: Final = _org(
    "sy_digital_industry", "operator", "沈阳数产", "沈阳数字产业发展有限公司",
    "Shenyang Digital Industry Development Co., Ltd.", ENTERPRISE, "MA0Y8K3R",
)  # fmt: skip
DATA_MERCHANT: Final = _org(
    "hunhe_data", "data_merchant", "浑河数据", "沈阳浑河数据科技有限公司",
    "Shenyang Hunhe Data Technology Co., Ltd.", ENTERPRISE, "MA10C7QX",
)  # fmt: skip
SERVICE_AGENCY: Final = _org(
    "beichen_compliance", "service_agency", "北辰合规", "辽宁北辰数据合规评估有限公司",
    "Liaoning Beichen Data Compliance Assessment Co., Ltd.", ENTERPRISE, "MA11D2WT",
)  # fmt: skip

ORGANIZATIONS: Final[tuple[Organization, ...]] = (
    DATA_BUREAU,
    *DEPARTMENTS,
    OPERATOR,
    DATA_MERCHANT,
    SERVICE_AGENCY,
)


# --- Industries (GB/T 4754-2017, four-digit classes) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndustryClass:
    code: str
    name: str
    section: str  # A–T
    trade: str  # how the trade reads inside an enterprise name (企业名称中的行业表述); "" where not a company


# A sample across sections A–S, checked against the 2017 table. Note 6510 软件开发 is a 2011 class: 2017
# splits it into 6511–6519.
INDUSTRIES: Final[tuple[IndustryClass, ...]] = (
    IndustryClass("0111", "稻谷种植", "A", "农业"),
    IndustryClass("0113", "玉米种植", "A", "农业"),
    IndustryClass("0141", "蔬菜种植", "A", "蔬菜种植"),
    IndustryClass("0313", "猪的饲养", "A", "畜牧"),
    IndustryClass("0610", "烟煤和无烟煤开采洗选", "B", "煤业"),
    IndustryClass("1011", "石灰石、石膏开采", "B", "矿业"),
    IndustryClass("1311", "稻谷加工", "C", "米业"),
    IndustryClass("1441", "液体乳制造", "C", "乳业"),
    IndustryClass("1512", "白酒制造", "C", "酒业"),
    IndustryClass("1513", "啤酒制造", "C", "啤酒"),
    IndustryClass("3421", "金属切削机床制造", "C", "机床"),
    IndustryClass("3435", "电梯、自动扶梯及升降机制造", "C", "电梯"),
    IndustryClass("3491", "工业机器人制造", "C", "机器人"),
    IndustryClass("3611", "汽柴油车整车制造", "C", "汽车"),
    IndustryClass("3612", "新能源车整车制造", "C", "新能源汽车"),
    IndustryClass("3670", "汽车零部件及配件制造", "C", "汽车零部件"),
    IndustryClass("3741", "飞机制造", "C", "航空工业"),
    IndustryClass("3823", "配电开关控制设备制造", "C", "电气"),
    IndustryClass("3911", "计算机整机制造", "C", "计算机"),
    IndustryClass("3973", "集成电路制造", "C", "半导体"),
    IndustryClass("4011", "工业自动控制系统装置制造", "C", "自动化"),
    IndustryClass("4411", "火力发电", "D", "电力"),
    IndustryClass("4430", "热力生产和供应", "D", "热力"),
    IndustryClass("4610", "自来水生产和供应", "D", "水务"),
    IndustryClass("4710", "住宅房屋建筑", "E", "建筑工程"),
    IndustryClass("4813", "市政道路工程建筑", "E", "市政工程"),
    IndustryClass("4814", "城市轨道交通工程建筑", "E", "轨道交通工程"),
    IndustryClass("5012", "住宅装饰和装修", "E", "装饰工程"),
    IndustryClass("5172", "汽车及零配件批发", "F", "汽车贸易"),
    IndustryClass("5176", "计算机、软件及辅助设备批发", "F", "电子科技"),
    IndustryClass("5211", "百货零售", "F", "百货"),
    IndustryClass("5212", "超级市场零售", "F", "超市"),
    IndustryClass("5213", "便利店零售", "F", "便利店"),
    IndustryClass("5261", "汽车新车零售", "F", "汽车销售服务"),
    IndustryClass("5292", "互联网零售", "F", "电子商务"),
    IndustryClass("5411", "公共电汽车客运", "G", "公交"),
    IndustryClass("5431", "普通货物道路运输", "G", "物流"),
    IndustryClass("5437", "城市配送", "G", "配送"),
    IndustryClass("6020", "快递服务", "G", "快递"),
    IndustryClass("6110", "旅游饭店", "H", "酒店"),
    IndustryClass("6210", "正餐服务", "H", "餐饮"),
    IndustryClass("6220", "快餐服务", "H", "快餐"),
    IndustryClass("6312", "移动电信服务", "I", "通信"),
    IndustryClass("6450", "互联网数据服务", "I", "数据服务"),
    IndustryClass("6511", "基础软件开发", "I", "软件"),
    IndustryClass("6513", "应用软件开发", "I", "软件"),
    IndustryClass("6531", "信息系统集成服务", "I", "信息技术"),
    IndustryClass("6550", "信息处理和存储支持服务", "I", "数据科技"),
    IndustryClass("6560", "信息技术咨询服务", "I", "信息咨询"),
    IndustryClass("6635", "小额贷款公司服务", "J", "小额贷款"),
    IndustryClass("6851", "保险经纪服务", "J", "保险经纪"),
    IndustryClass("7010", "房地产开发经营", "K", "房地产开发"),
    IndustryClass("7020", "物业管理", "K", "物业管理"),
    IndustryClass("7030", "房地产中介服务", "K", "房产经纪"),
    IndustryClass("7212", "投资与资产管理", "L", "投资管理"),
    IndustryClass("7224", "供应链管理服务", "L", "供应链管理"),
    IndustryClass("7241", "会计、审计及税务服务", "L", "财税咨询"),
    IndustryClass("7251", "互联网广告服务", "L", "广告"),
    IndustryClass("7263", "劳务派遣服务", "L", "人力资源"),
    IndustryClass("7295", "信用服务", "L", "信用服务"),
    IndustryClass("7320", "工程和技术研究和试验发展", "M", "技术研究"),
    IndustryClass("7484", "工程设计活动", "M", "工程设计"),
    IndustryClass("7520", "知识产权服务", "M", "知识产权"),
    IndustryClass("7530", "科技中介服务", "M", "科技服务"),
    IndustryClass("7820", "环境卫生管理", "N", "环境卫生"),
    IndustryClass("7850", "城市公园管理", "N", "园林"),
    IndustryClass("8010", "家庭服务", "O", "家政服务"),
    IndustryClass("8040", "理发及美容服务", "O", "美容美发"),
    IndustryClass("8111", "汽车修理与维护", "O", "汽车维修"),
    IndustryClass("8391", "职业技能培训", "P", "职业培训"),
    IndustryClass("8393", "文化艺术培训", "P", "文化艺术培训"),
    IndustryClass("8394", "教育辅助服务", "P", "教育科技"),
    IndustryClass("8415", "专科医院", "Q", "医院"),
    IndustryClass("8425", "门诊部（所）", "Q", "门诊部"),
    IndustryClass("8491", "健康体检服务", "Q", "健康管理"),
    IndustryClass("8514", "老年人、残疾人养护服务", "Q", "养老服务"),
    IndustryClass("8760", "电影放映", "R", "影城"),
    IndustryClass("8930", "健身休闲活动", "R", "健身"),
    IndustryClass("9030", "休闲观光活动", "R", "旅游开发"),
    IndustryClass("9221", "综合事务管理机构", "S", ""),
    IndustryClass("9223", "公共安全管理机构", "S", ""),
    IndustryClass("9224", "社会事务管理机构", "S", ""),
    IndustryClass("9225", "经济事务管理机构", "S", ""),
    IndustryClass("9411", "基本养老保险", "S", ""),
)
# Section S is public administration: organs, not enterprises holding a business licence.
ENTERPRISE_INDUSTRIES: Final[tuple[IndustryClass, ...]] = tuple(i for i in INDUSTRIES if i.section != "S")


# --- Population -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    value: str
    weight: float


# Rough ethnic make-up of Shenyang's registered population (Han ~91%, then the Manchu, Hui, Korean, Mongol
# and Xibe minorities the city is home to).
ETHNICITIES: Final[tuple[Share, ...]] = (
    Share("汉族", 91.0),
    Share("满族", 5.8),
    Share("回族", 1.3),
    Share("朝鲜族", 0.9),
    Share("蒙古族", 0.6),
    Share("锡伯族", 0.4),
)


@dataclass(frozen=True, slots=True)
class BirthCohort:
    first_year: int
    last_year: int
    weight: float  # relative weight of each year in the cohort


# An old city with low fertility: the 1960s–70s cohorts are the largest, births after 2000 are few.
BIRTH_COHORTS: Final[tuple[BirthCohort, ...]] = (
    BirthCohort(1940, 1949, 0.35),
    BirthCohort(1950, 1959, 1.00),
    BirthCohort(1960, 1969, 1.55),
    BirthCohort(1970, 1979, 1.45),
    BirthCohort(1980, 1989, 1.30),
    BirthCohort(1990, 1999, 1.05),
    BirthCohort(2000, 2009, 0.70),
    BirthCohort(2010, 2017, 0.75),
    BirthCohort(2018, 2024, 0.45),
)


# --- Health ---------------------------------------------------------------------------------------------

# Hospitals whose outpatients come from the whole city; every district also has a hospital of its own.
CITY_HOSPITALS: Final[tuple[str, ...]] = (
    "中国医科大学附属第一医院",
    "中国医科大学附属盛京医院",
    "辽宁省人民医院",
    "辽宁中医药大学附属医院",
    "沈阳市第一人民医院",
    "沈阳市第四人民医院",
    "沈阳市儿童医院",
    "沈阳医学院附属中心医院",
)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    icd10: str
    name: str
    department: str  # 就诊科室 for an adult; children's visits go to 儿科 instead of 内科
    weight_child: float  # relative frequency among patients under 14
    weight_adult: float


DIAGNOSES: Final[tuple[Diagnosis, ...]] = (
    Diagnosis("J06.9", "急性上呼吸道感染", "内科", 30.0, 14.0),
    Diagnosis("J02.9", "急性咽炎", "耳鼻喉科", 8.0, 6.0),
    Diagnosis("J20.9", "急性支气管炎", "内科", 12.0, 6.0),
    Diagnosis("J18.9", "肺炎", "内科", 6.0, 3.0),
    Diagnosis("J30.4", "变应性鼻炎", "耳鼻喉科", 5.0, 4.0),
    Diagnosis("B01.9", "水痘", "皮肤科", 3.0, 0.1),
    Diagnosis("H10.9", "结膜炎", "眼科", 4.0, 2.0),
    Diagnosis("H52.1", "近视", "眼科", 8.0, 2.0),
    Diagnosis("K02.9", "龋病", "口腔科", 8.0, 4.0),
    Diagnosis("L30.9", "皮炎", "皮肤科", 4.0, 4.0),
    Diagnosis("K29.7", "胃炎", "内科", 1.0, 8.0),
    Diagnosis("I10", "原发性高血压", "内科", 0.0, 14.0),
    Diagnosis("E11.9", "2型糖尿病", "内科", 0.0, 9.0),
    Diagnosis("I25.1", "动脉硬化性心脏病", "内科", 0.0, 5.0),
    Diagnosis("I63.9", "脑梗死", "神经内科", 0.0, 3.0),
    Diagnosis("M54.5", "下背痛", "骨科", 0.0, 5.0),
    Diagnosis("M17.9", "膝关节病", "骨科", 0.0, 4.0),
    Diagnosis("S93.4", "踝扭伤", "骨科", 3.0, 2.0),
    Diagnosis("N39.0", "泌尿道感染", "泌尿外科", 1.0, 3.0),
    Diagnosis("F32.9", "抑郁发作", "精神科", 0.2, 1.5),
    Diagnosis("Z00.0", "一般医学检查", "体检中心", 4.0, 6.0),
)


# --- Transport ------------------------------------------------------------------------------------------

# Labels in the style of the city's bus network; which numbers run today is not claimed.
BUS_LINES: Final[tuple[str, ...]] = (
    "101路", "105路", "113路", "118路", "123路", "132路", "136路", "140路", "147路", "155路",
    "168路", "201路", "203路", "210路", "213路", "222路", "228路", "229路", "237路", "241路",
    "253路", "262路", "265路", "277路", "283路", "293路", "300路", "326路", "333路", "388路",
)  # fmt: skip

# Well-known places that stops are named after; the generator adds stops named after Faker streets.
LANDMARK_STOPS: Final[tuple[str, ...]] = (
    "沈阳站", "沈阳北站", "中街", "太原街", "北陵公园", "市府广场", "青年大街", "五里河",
    "奥体中心", "沈阳故宫", "张氏帅府", "西塔", "南湖公园", "皇姑屯", "北行", "三好街",
    "铁西广场", "浑河桥", "长白岛", "沈阳桃仙机场",
)  # fmt: skip
