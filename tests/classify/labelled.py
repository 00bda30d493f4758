"""A labelled test set for the classify domain: realistic tables whose every column a careful reader has labelled.

Each *theme* is one kind of table a Shenyang department really holds (人口基础信息, 企业登记, 门诊就诊, 机动车登记 …),
with the columns such a table has, and is rendered in up to four naming styles:

- ``zh``: a clear Chinese label beside the code a department would use (label 公民身份号码, code ``GMSFHM``);
- ``pinyin``: pinyin initials and no label (``sfzh``, ``xm``, ``lxdh``);
- ``en``: English, snake_case or camelCase, no label (``id_number``, ``IdCard``, ``mobilePhone``);
- ``opaque``: a code that says nothing and no label (``c7``, ``f12``, ``fld_03``).

The values come from Faker (zh_CN, seeded) and are built with python-stdnum (resident ID and credit code check
characters, Luhn), never with the detectors' code, and they carry realistic dirt: nulls, blanks, a few bad values,
formatting variants (+86 mobiles, spaces and hyphens, a lower-case x in IDs, 15-digit IDs of the 1980s in some ID
columns). Many columns are look-alikes labelled ``none``: order numbers of 18 or 19 digits, card-like numbers that
fail Luhn, 11-digit serial numbers, a 联系电话/phone column holding order numbers, dates that are not birth dates
(成立日期, 登记日期, 就诊日期), company, station and line names, amounts, codes, statuses, version strings.

The ground truth is what a careful reader would say about the column from its name and its values, not what the
detector says. Three rules make it explicit:

- **Birth dates under an opaque code.** A column of dates called ``c5`` says nothing by itself: it may hold
  birth dates, registration dates or visit dates. It is labelled ``birth_date`` only when the same table holds an
  ID column whose embedded birth dates match it row by row, which a careful reader (and the classifier) can check;
  an opaque date column in a table without an ID column is genuinely ambiguous and is labelled ``none``.
- **Codes and lone numbers under an opaque code.** Two-digit ethnicity codes (``01`` 汉族) are ``ethnicity`` when
  the name says so and ``none`` under an opaque code, where they are indistinguishable from any other two-digit
  code; likewise a lone column of decimals (123.456789) is a longitude only when its name says so. A longitude and
  latitude written together (``123.456789,41.801234``) say what they are, and are ``coordinates`` under any name.
- **Mixed columns.** A 联系电话 column holding mobiles and landlines is labelled by what most of its values are, as a
  reader would sum it up; a column whose values contradict its name (a 联系电话 full of order numbers) is ``none``.

``python -m tests.classify.labelled`` builds the set, classifies it in sample mode and prints the per-type
precision, recall and F1 and every misclassified column with its evidence.
"""

from __future__ import annotations

import random
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from faker import Faker
from stdnum import luhn
from stdnum.cn import ric, uscc

from shengjing.classify.classifier import FieldSpec, Mode, SnapshotDetection, classify_files
from shengjing.classify.detectors import InfoType
from shengjing.ingest.codelists import SHENYANG

SEED = 20260501
T = InfoType


class Style(StrEnum):
    ZH = "zh"
    PINYIN = "pinyin"
    EN = "en"
    OPAQUE = "opaque"


# --- reference data (Shenyang first) -------------------------------------------------------------------------------

SHENYANG_COUNTIES = dict(SHENYANG.districts)  # GB/T 2260 codes of the 13 districts and counties
OTHER_COUNTIES = ["110101", "310104", "440106", "620102", "230103", "370102", "510107", "220102", "150102", "210202"]
STREETS = [
    "青年大街", "南京北街", "北京街", "中山路", "市府大路", "十一纬路", "三好街", "北陵大街", "黄河南大街", "崇山中路",
    "沈辽路", "建设大路", "长江北街", "太原街", "中街路", "小北关街", "文艺路", "北二路", "浑河南路", "全运路",
    "创新路", "智慧三街", "沈州路", "望花中街", "珠江街", "兴华北街", "卫工北街", "昆山西路", "泰山路", "白山路",
]  # fmt: skip
COMMUNITIES = ["万科春河里", "华润幸福里", "保利花园", "金地檀府", "恒大绿洲", "碧桂园银河城", "首开国风润城",
               "华府丹郡"]  # fmt: skip
TOWNS = ["虎石台镇", "新城子街道", "马刚乡", "老边乡", "满都户镇", "大民屯镇", "孤家子镇", "秀水河子镇"]
VILLAGES = ["前进村", "红旗村", "三台子村", "东马村", "西营城子村", "北甸子村", "腰堡村", "高力屯村"]
STATIONS = [
    "青年大街站", "太原街站", "市府广场站", "沈阳站", "沈阳北站", "中街站", "北陵公园站", "五里河站", "奥体中心站",
    "医学院站", "工业展览馆站", "怀远门站", "东中街站", "滑翔站", "铁西广场站", "启工街站", "保工街站", "重工街站",
    "张士站", "开发大道站", "浑河站", "白塔河路站", "全运路站", "三台子站", "航空航天大学站", "陵西站", "新乐遗址站",
    "岐山路站", "黎明广场站", "长青南街站", "金融中心站", "营盘街站", "沈阳南站", "刘家台站", "王家湾站", "黄河大街站",
]  # fmt: skip
LINES = ["地铁1号线", "地铁2号线", "地铁3号线", "地铁4号线", "地铁9号线", "地铁10号线", "有轨电车2号线",
         "公交168路", "公交227路", "公交133路", "公交262路", "公交夜2路"]  # fmt: skip
HOSPITALS = [
    "中国医科大学附属第一医院", "中国医科大学附属盛京医院", "沈阳市第一人民医院", "沈阳市第四人民医院",
    "辽宁省人民医院", "沈阳市儿童医院", "沈阳市中医院", "和平区北市社区卫生服务中心", "浑南区五三街道社区卫生服务中心",
]  # fmt: skip
DIAGNOSES = [
    "高血压", "原发性高血压", "2型糖尿病", "急性上呼吸道感染", "冠状动脉粥样硬化性心脏病", "慢性胃炎", "支气管哮喘",
    "腰椎间盘突出症", "脑梗死", "社区获得性肺炎", "骨质疏松", "甲状腺结节", "抑郁症", "慢性阻塞性肺疾病", "胆囊结石",
    "脂肪肝", "痛风", "过敏性鼻炎", "老年性白内障", "急性阑尾炎", "带状疱疹", "高脂血症", "缺铁性贫血", "颈椎病",
    "前列腺增生", "乳腺增生", "荨麻疹", "偏头痛", "心房颤动", "慢性肾脏病", "类风湿关节炎", "桡骨远端骨折", "失眠",
    "急性支气管炎", "病毒性感冒", "手足口病", "龋齿", "混合痔", "轻度认知障碍", "焦虑状态",
]  # fmt: skip
ICD_CODES = [
    "I10", "I10.x00", "E11.900", "J06.900", "I25.103", "K29.500", "J45.900", "M51.202", "I63.900", "J18.900",
    "M81.000", "E04.101", "F32.900", "J44.900", "K80.200", "K76.000", "M10.900", "J30.400", "H25.900", "K35.800",
    "B02.900", "E78.500", "D50.900", "M47.800", "N40.x00", "I48.x00", "N18.900", "M06.900", "S52.500", "G47.000",
    "E11.900x001", "I10.x00x002", "J18.900x001",
]  # fmt: skip
DISABILITIES = ["视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾", "多重残疾"]
RELIGIONS = ["佛教", "道教", "伊斯兰教", "天主教", "基督教", "藏传佛教"]
NO_RELIGION = ["无", "无", "无", "无宗教信仰", "不信教"]
ETHNICITIES = [("汉族", "01", 80), ("满族", "11", 9), ("回族", "03", 3), ("朝鲜族", "10", 2), ("蒙古族", "02", 2),
               ("锡伯族", "38", 1), ("壮族", "08", 1), ("土家族", "15", 1), ("苗族", "06", 1)]  # fmt: skip
MINORITY_NAMES = ["阿依古丽·买买提", "努尔兰·吐尔逊", "古丽娜尔·艾力", "热依拉·阿不都", "巴特尔·额尔敦"]
LATIN_NAMES = ["CHAN TAI MAN", "WONG KA YAN", "LEE SIU MING", "Tanaka Hiroshi", "Kim Min-jun", "John Smith"]
BANK_BINS = [("622202", 19), ("621226", 19), ("621700", 19), ("622700", 19), ("622848", 19), ("621483", 16),
             ("622588", 16), ("625911", 16), ("436742", 16), ("621799", 19), ("623058", 19),
             ("622908", 16)]  # fmt: skip
BANKS = ["中国工商银行沈阳和平支行", "中国建设银行沈阳分行", "中国农业银行沈阳沈河支行", "盛京银行", "招商银行沈阳分行",
         "沈阳农村商业银行", "中国银行辽宁省分行", "交通银行沈阳分行"]  # fmt: skip
VEHICLE_BRANDS = ["大众", "丰田", "本田", "比亚迪", "吉利", "长城", "宝马", "奔驰", "奥迪", "别克", "现代", "红旗",
                  "哈弗", "五菱", "荣威", "宋", "日产", "福特", "起亚", "长安"]  # fmt: skip
COLOURS = ["白色", "黑色", "红色", "银色", "蓝色", "灰色", "棕色", "绿色"]
PRODUCTS = [
    "金龙鱼大豆油5L", "蒙牛纯牛奶250ml*12", "华为Mate60手机", "小米空气净化器", "白菜", "黄瓜", "苹果", "大米10kg",
    "洗衣液2kg", "五常大米", "卫生纸12卷", "鸡蛋30枚", "富士苹果", "东北黑木耳", "沈阳老雪啤酒", "方便面整箱",
    "儿童书包", "电饭煲", "矿泉水550ml", "马铃薯", "高粱米", "金针菇", "韩式辣白菜", "格力空调",
]  # fmt: skip
INDUSTRIES = ["信息传输、软件和信息技术服务业", "批发和零售业", "制造业", "建筑业", "住宿和餐饮业",
              "科学研究和技术服务业", "租赁和商务服务业"]  # fmt: skip
SCOPES = ["软件开发；信息技术咨询服务", "日用百货销售；食品销售", "工程机械设备制造；技术进出口",
          "餐饮服务；食品经营", "房屋建筑工程施工；市政公用工程", "企业管理咨询；会议及展览服务"]  # fmt: skip


def _weighted(rng: random.Random, items: Sequence[tuple[str, str, int]]) -> tuple[str, str]:
    name, code, _ = rng.choices(items, weights=[w for *_, w in items])[0]
    return name, code


# --- values ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    male: bool
    birth: date
    county: str
    id_number: str  # 18 characters, the check character computed by python-stdnum
    ethnicity: str
    ethnicity_code: str


class Gen:
    """Seeded value makers: Faker zh_CN for names and words, python-stdnum for every check character."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def day(self, first: int, last: int) -> date:
        start = date(first, 1, 1)
        return start + timedelta(days=self.rng.randrange((date(last, 12, 31) - start).days))

    def moment(self, first: int, last: int) -> datetime:
        d = self.day(first, last)
        return datetime(d.year, d.month, d.day, self.rng.randrange(24), self.rng.randrange(60), self.rng.randrange(60))

    def county(self) -> str:
        if self.rng.random() < 0.8:
            return self.rng.choice(list(SHENYANG_COUNTIES))
        return self.rng.choice(OTHER_COUNTIES)

    # people
    def id18(self, birth: date, county: str, male: bool) -> str:
        seq = self.rng.randrange(0, 500) * 2 + (1 if male else 0)
        body = f"{county}{birth:%Y%m%d}{seq:03d}"
        return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character

    def id15(self, person: Person) -> str:
        """The 15-digit number of the first generation of cards (1984–2004): two-digit year, no check digit."""
        return f"{person.id_number[:6]}{person.birth:%y%m%d}{person.id_number[14:17]}"

    def person_name(self) -> str:
        if self.rng.random() < 0.015:
            return self.rng.choice(MINORITY_NAMES)
        return self.fake.name()

    def person(self, born: tuple[int, int] = (1940, 2005)) -> Person:
        male = self.rng.random() < 0.5
        birth = self.day(*born)
        county = self.county()
        eth, code = _weighted(self.rng, ETHNICITIES)
        return Person(self.person_name(), male, birth, county, self.id18(birth, county, male), eth, code)

    def people(self, n: int, born: tuple[int, int] = (1940, 2005)) -> list[Person]:
        return [self.person(born) for _ in range(n)]

    def id_column(self, people: Sequence[Person], old: float = 0.0, lower_x: float = 0.3) -> list[Any]:
        out: list[Any] = []
        for p in people:
            if old and p.birth.year < 1985 and self.rng.random() < old:
                out.append(self.id15(p))
            elif p.id_number.endswith("X") and self.rng.random() < lower_x:
                out.append(p.id_number[:-1] + "x")
            else:
                out.append(p.id_number)
        return out

    def birth_column(self, people: Sequence[Person], fmt: str, wrong: float = 0.02) -> list[Any]:
        """Birth dates as a department writes them (``date`` keeps the Parquet date type), a few typed in wrong."""
        out: list[Any] = []
        for p in people:
            d = p.birth if self.rng.random() >= wrong else p.birth + timedelta(days=self.rng.randrange(1, 400))
            out.append(self.date_text(d, fmt))
        return out

    def date_text(self, d: date, fmt: str) -> Any:
        match fmt:
            case "date":
                return d
            case "timestamp":
                return datetime(d.year, d.month, d.day)
            case "dash":
                return d.isoformat()
            case "compact":
                return f"{d:%Y%m%d}"
            case "slash":
                return f"{d.year}/{d.month}/{d.day}"
            case "zh":
                return f"{d.year}年{d.month}月{d.day}日"
        raise ValueError(fmt)

    def gender(self, people: Sequence[Person], code: bool = False) -> list[str]:
        if code:
            return ["1" if p.male else "2" for p in people]
        return ["男" if p.male else "女" for p in people]

    # contact
    def mobile(self, variants: float = 0.1) -> str:
        number = self.fake.phone_number()
        if self.rng.random() >= variants:
            return number
        grouped = f"{number[:3]} {number[3:7]} {number[7:]}"
        return self.rng.choice([f"+86 {number}", f"+86{number}", f"86-{number}", grouped, grouped.replace(" ", "-")])

    def landline(self, local_only: float = 0.0) -> str:
        local = self.rng.choice("2345678") + self.digits(7)
        if self.rng.random() < local_only:
            return local
        area = self.rng.choices(["024", "0411", "010", "0755"], weights=[85, 5, 5, 5])[0]
        if area == "0411":
            local = local[:7]
        return self.rng.choices(
            [f"{area}-{local}", f"({area}){local}", f"{area}{local}", f"{area}-{local}-{self.digits(4)}"],
            weights=[60, 15, 15, 10],
        )[0]

    def email(self) -> str:
        if self.rng.random() < 0.2:
            return f"{self.fake.user_name()}@{self.rng.choice(['shenyang.gov.cn', 'ln.gov.cn', 'syjt.com.cn'])}"
        return self.fake.free_email() if self.rng.random() < 0.7 else self.fake.email()

    def ip_port(self) -> str:
        return f"{self.fake.ipv4_public()}:{self.rng.randrange(1024, 65536)}"

    def address(self, kind: str = "mixed") -> str:
        county = self.rng.choice(list(SHENYANG_COUNTIES.values()))
        street = self.rng.choice(STREETS) if self.rng.random() < 0.8 else self.fake.street_name()
        number = self.rng.randrange(1, 300)
        city = self.rng.choice(["辽宁省沈阳市", "沈阳市", "沈阳市", ""])
        if not city and self.rng.random() < 0.5:  # as locals write it: 青年大街123号3栋2单元501室
            county = ""
        if kind == "rural" or (kind == "mixed" and self.rng.random() < 0.12):
            group = f"{self.rng.randrange(1, 12)}组" if self.rng.random() < 0.6 else ""
            return f"{city}{county}{self.rng.choice(TOWNS)}{self.rng.choice(VILLAGES)}{group}"
        if kind == "home" or (kind == "mixed" and self.rng.random() < 0.6):
            building, unit, room = self.rng.randrange(1, 40), self.rng.randrange(1, 7), self.rng.randrange(101, 2802)
            place = f"{self.rng.choice(COMMUNITIES)}" if self.rng.random() < 0.4 else ""
            sep = self.rng.choice(["", "-"])
            if sep:
                return f"{city}{county}{street}{number}号{place}{building}-{unit}-{room}"
            return f"{city}{county}{street}{number}号{place}{building}栋{unit}单元{room}室"
        return f"{city}{county}{street}{number}号"

    # cards and codes
    def bank_card(self, spaced: float = 0.0) -> str:
        prefix, length = self.rng.choice(BANK_BINS)
        body = prefix + self.digits(length - len(prefix) - 1)
        number = body + luhn.calc_check_digit(body)
        if self.rng.random() < spaced:
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        return number

    def luhn_failing(self, length: int) -> str:
        body = self.rng.choice("123456789") + self.digits(length - 2)
        good = int(luhn.calc_check_digit(body))
        return body + str((good + self.rng.randrange(1, 10)) % 10)

    def old_registration_no(self) -> str:
        """The 15-digit business registration number (注册号) that credit codes replaced in 2015."""
        return self.rng.choice(list(SHENYANG_COUNTIES)) + self.digits(9)

    def passport(self, old: bool = False) -> str:
        if old:
            return "G" + self.digits(8)
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        return "E" + (self.digits(8) if self.rng.random() < 0.6 else self.rng.choice(letters) + self.digits(7))

    def hk_macau_pass(self, booklet: bool = False) -> str:
        """The card (C + 8, or C + letter + 7) or, before 2014, the booklet (W + 8)."""
        if booklet:
            return "W" + self.digits(8)
        r = self.rng.random()
        if r < 0.45:
            return "C" + self.digits(8)
        if r < 0.85:
            return "C" + self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + self.digits(7)
        return "W" + self.digits(8)

    def home_return_permit(self) -> str:
        number = self.rng.choice("HM") + self.digits(8)
        return number + (f"{self.rng.randrange(0, 3):02d}" if self.rng.random() < 0.3 else "")

    def trailer_plate(self) -> str:
        return f"辽{self.rng.choice('ABH')}{self.digits(4)}挂"

    def plate(self) -> str:
        province = "辽" if self.rng.random() < 0.85 else self.rng.choice("京吉黑蒙冀鲁")
        city = "A" if self.rng.random() < 0.7 else self.rng.choice("BCDEFHKLMNP")
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        if self.rng.random() < 0.15:  # new-energy plates: D or F, then five
            body = self.rng.choice("DF") + self.rng.choice(letters + string.digits) + self.digits(4)
        else:
            chars = [self.rng.choice(string.digits) for _ in range(5)]
            for i in self.rng.sample(range(5), self.rng.choice([0, 0, 1, 2])):
                chars[i] = self.rng.choice(letters)
            body = "".join(chars)
        sep = self.rng.choices(["", "·", "-"], weights=[85, 10, 5])[0]
        return f"{province}{city}{sep}{body}"

    def credit_code(self, kind: str = "enterprise") -> str:
        head = {"enterprise": "91", "individual": "92", "government": "11", "institution": "12", "social": "52"}[kind]
        county = self.rng.choice([*SHENYANG_COUNTIES, "210100"])
        if self.rng.random() < 0.5:
            org = "MA" + "".join(self.rng.choice(uscc._alphabet) for _ in range(7))
        else:
            org = self.digits(8) + self.rng.choice(string.digits + "X")
        body = head + county + org
        return body + uscc.calc_check_digit(body)

    def coordinates(self) -> tuple[float, float]:
        return round(self.rng.uniform(123.20, 123.65), 6), round(self.rng.uniform(41.65, 41.95), 6)

    def pair(self) -> str:
        lng, lat = self.coordinates()
        return f"{lng:.6f},{lat:.6f}"

    # words
    def religion(self, believers: float) -> str:
        return self.rng.choice(RELIGIONS) if self.rng.random() < believers else self.rng.choice(NO_RELIGION)

    def company(self) -> str:
        if self.rng.random() < 0.5:
            return "沈阳" + self.fake.company()
        return self.fake.company()

    def amount(self, low: float, high: float) -> float:
        return round(self.rng.uniform(low, high), 2)

    def order18(self) -> str:
        """An order number made of its time and a counter, as most platforms write them."""
        return f"{self.moment(2023, 2025):%Y%m%d%H%M%S}{self.digits(4)}"

    def serial11(self) -> str:
        return self.rng.choice("123456789") + self.digits(10)

    def version(self) -> str:
        """An app version; three parts in ten have four, and those are shaped like an IPv4 address."""
        parts = [self.rng.randrange(1, 12), self.rng.randrange(0, 10), self.rng.randrange(0, 30)]
        if self.rng.random() < 0.3:
            return ".".join(map(str, [*parts, self.rng.randrange(0, 200)]))
        return self.rng.choice(["", "v", "V"]) + ".".join(map(str, parts))

    def pick(self, items: Sequence[Any], n: int) -> list[Any]:
        return [self.rng.choice(items) for _ in range(n)]

    # dirt
    def dirty(self, values: list[Any], rate: float = 0.03, junk: Sequence[str] = ("不详", "-", "0", "无")) -> list[Any]:
        """Nulls, blanks and a few bad values, at ``rate`` in all; typed columns (dates, numbers) get nulls only."""
        typed = any(v is not None and not isinstance(v, str) for v in values)
        out = list(values)
        for i in range(len(out)):
            r = self.rng.random()
            if r < rate / 2:
                out[i] = None
            elif r < rate and not typed:
                out[i] = self.rng.choice(["", " ", *junk])
        return out


# --- tables -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One column of a theme: its truth, its name in each style and its values."""

    truth: InfoType
    label: str  # the Chinese label (zh style)
    zh: str  # the code beside the label (zh style)
    py: str  # pinyin initials (pinyin style)
    en: str  # English (en style)
    values: list[Any]
    opaque_truth: InfoType | None = None  # the truth under an opaque code, when the values alone leave doubt


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    truth: InfoType
    style: Style
    values: list[Any] = field(repr=False)

    @property
    def spec(self) -> FieldSpec:
        return FieldSpec(self.name, self.label)


@dataclass(frozen=True)
class Table:
    name: str  # theme_style, also its file's name
    theme: str
    style: Style
    columns: list[Column]

    @property
    def rows(self) -> int:
        return len(self.columns[0].values)


Theme = Callable[[Gen, int], list[Spec]]


def population(g: Gen, n: int) -> list[Spec]:
    """人口基础信息: the public-security base library."""
    people = g.people(n)
    return [
        Spec(T.ID_NUMBER, "公民身份号码", "GMSFHM", "sfzh", "id_number", g.dirty(g.id_column(people, old=0.05))),
        Spec(T.PERSON_NAME, "姓名", "XM", "xm", "name", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ETHNICITY, "民族", "MZ", "mz", "ethnicity", g.dirty([p.ethnicity for p in people])),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "birth_date", g.dirty(g.birth_column(people, "date"))),
        Spec(T.RELIGION, "宗教信仰", "ZJXY", "zjxy", "religion", g.dirty([g.religion(0.12) for _ in people])),
        Spec(T.ADDRESS, "户籍地址", "HJDZ", "hjdz", "household_address",
             g.dirty([g.address("street") for _ in people])),
        Spec(T.ADDRESS, "现住址", "XZZ", "xzz", "current_address", g.dirty([g.address() for _ in people])),
        Spec(T.MOBILE, "手机号码", "SJHM", "sjhm", "mobile", g.dirty([g.mobile() for _ in people])),
        Spec(T.LANDLINE, "家庭电话", "JTDH", "jtdh", "home_phone", g.dirty([g.landline(0.3) for _ in people], 0.2)),
        Spec(T.NONE, "登记日期", "DJRQ", "djrq", "registered_on", [g.day(2000, 2025) for _ in people]),
        Spec(T.NONE, "行政区划代码", "XZQHDM", "xzqhdm", "division_code", [p.county for p in people]),
    ]  # fmt: skip


def enterprise(g: Gen, n: int) -> list[Spec]:
    """企业登记信息: the market-regulation base library."""
    return [
        # the entity's name under an English code: a company's, not a person's
        Spec(T.NONE, "企业名称", "QYMC", "qymc", "name", [g.company() for _ in range(n)]),
        Spec(T.CREDIT_CODE, "统一社会信用代码", "TYSHXYDM", "tyshxydm", "credit_code",
             g.dirty([g.credit_code(g.rng.choice(["enterprise"] * 4 + ["individual"])) if g.rng.random() > 0.04
                      else g.old_registration_no() for _ in range(n)], 0.02)),
        Spec(T.PERSON_NAME, "法定代表人", "FDDBR", "fddbr", "legal_representative",
             g.dirty([g.person_name() for _ in range(n)], 0.01)),
        Spec(T.NONE, "成立日期", "CLRQ", "clrq", "established_on", [g.day(1990, 2025) for _ in range(n)]),
        Spec(T.ADDRESS, "企业住所", "ZS", "zs", "registered_address", g.dirty([g.address("street") for _ in range(n)])),
        Spec(T.LANDLINE, "联系电话", "LXDH", "lxdh", "telephone", g.dirty([g.landline() for _ in range(n)])),
        Spec(T.EMAIL, "电子邮箱", "DZYX", "dzyx", "email", g.dirty([g.email() for _ in range(n)], 0.1)),
    ]  # fmt: skip


def outpatient(g: Gen, n: int) -> list[Spec]:
    """门诊就诊记录: the health commission's visits."""
    people = g.people(n)
    return [
        Spec(T.PERSON_NAME, "患者姓名", "HZXM", "hzxm", "patientName", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "身份证号", "SFZH", "hzsfzh", "patientIdCard", g.dirty(g.id_column(people))),
        Spec(T.NONE, "就诊日期", "JZRQ", "jzrq", "visitDate", [g.day(2024, 2025) for _ in people]),
        Spec(T.NONE, "医疗机构名称", "YLJGMC", "yljgmc", "hospitalName", g.pick(HOSPITALS, n)),
        Spec(T.HEALTH, "诊断名称", "ZDMC", "zdmc", "diagnosis", g.dirty(g.pick(DIAGNOSES, n), 0.02)),
        Spec(T.HEALTH, "疾病编码", "JBBM", "jbbm", "icd10Code", g.dirty(g.pick(ICD_CODES, n), 0.02)),
        Spec(T.HEALTH, "既往史", "JWS", "jws", "medicalHistory",
             [g.rng.choice(["无", "否认肝炎结核病史"]) if g.rng.random() < 0.3 else g.rng.choice(DIAGNOSES) + "病史"
              for _ in people]),
        Spec(T.MOBILE, "联系电话", "LXDH", "lxdh", "contactPhone", g.dirty([g.mobile() for _ in people])),
    ]  # fmt: skip


def vehicles(g: Gen, n: int) -> list[Spec]:
    """机动车登记信息: the traffic police's register."""
    people = g.people(n, (1950, 2003))
    vin_chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return [
        Spec(T.LICENSE_PLATE, "号牌号码", "HPHM", "hphm", "plate_no", g.dirty([g.plate() for _ in people], 0.02)),
        Spec(T.NONE, "车辆识别代号", "CLSBDH", "clsbdh", "vin",
             ["L" + "".join(g.rng.choice(vin_chars) for _ in range(16)) for _ in people]),
        Spec(T.NONE, "品牌", "PP", "pp", "brand", g.pick(VEHICLE_BRANDS, n)),
        Spec(T.NONE, "车身颜色", "CSYS", "csys", "colour", g.pick(COLOURS, n)),
        Spec(T.PERSON_NAME, "机动车所有人", "SYR", "syr", "owner_name", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "所有人身份证明号码", "SFZMHM", "sfzmhm", "owner_id_no", g.dirty(g.id_column(people, 0.03))),
        Spec(T.MOBILE, "手机号码", "SJHM", "sjhm", "owner_mobile", g.dirty([g.mobile(0.2) for _ in people])),
        Spec(T.ADDRESS, "住所地址", "ZSDZ", "zsdz", "owner_address", g.dirty([g.address() for _ in people])),
    ]  # fmt: skip


def parking(g: Gen, n: int) -> list[Spec]:
    """停车场出入记录."""
    entered = [g.moment(2025, 2025) for _ in range(n)]
    return [
        Spec(T.LICENSE_PLATE, "车牌号", "CPH", "cph", "plateNumber", g.dirty([g.plate() for _ in range(n)], 0.04,
                                                                             junk=("无牌车", "未识别"))),
        Spec(T.NONE, "停车场名称", "TCCMC", "tccmc", "parkingLot",
             g.pick(["青年大街地下停车场", "太原街万达停车场", "北陵公园停车场", "市府广场停车场", "大悦城停车场"], n)),
        Spec(T.NONE, "车位号", "CWH", "cwh", "space", [f"{g.rng.choice('ABCDEF')}{g.rng.randrange(1, 99):02d}"
                                                        for _ in range(n)]),
        Spec(T.NONE, "入场时间", "RCSJ", "rcsj", "entryTime", entered),
    ]  # fmt: skip


def violations(g: Gen, n: int) -> list[Spec]:
    """交通违法记录: a driving licence number is the holder's resident ID number."""
    people = g.people(n, (1950, 2004))
    occurred = [g.moment(2024, 2025) for _ in people]
    return [
        Spec(T.LICENSE_PLATE, "号牌号码", "HPHM", "hphm", "plate_no", g.dirty([g.plate() for _ in people])),
        Spec(T.PERSON_NAME, "当事人", "DSR", "dsr", "driver_name", g.dirty([p.name for p in people])),
        Spec(T.ID_NUMBER, "驾驶证号", "JSZH", "jszh", "driving_licence_no", g.dirty(g.id_column(people))),
        Spec(T.NONE, "违法时间", "WFSJ", "wfsj", "occurred_at", occurred),
        # region + decision date + sequence: 18 digits shaped like an ID number, one in eleven passing its check
        Spec(T.NONE, "决定书编号", "JDSBH", "jdsbh", "decision_no",
             [f"{g.rng.choice(list(SHENYANG_COUNTIES))}{t + timedelta(days=g.rng.randrange(3, 30)):%Y%m%d}{g.digits(4)}"
              for t in occurred]),
        Spec(T.NONE, "违法行为", "WFXW", "wfxw", "offence",
             g.pick(["机动车违反禁止标线指示的", "驾驶机动车不按规定使用灯光的", "机动车违反规定停放的",
                     "驾驶机动车超过规定时速未达20%的", "不按导向车道行驶的"], n)),
    ]  # fmt: skip


def exit_entry(g: Gen, n: int) -> list[Spec]:
    """出入境证件: passports and permits of Shenyang residents."""
    people = g.people(n, (1945, 2015))
    return [
        Spec(T.PERSON_NAME, "姓名", "XM", "xm", "fullName", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "公民身份号码", "GMSFHM", "gmsfhm", "citizenId", g.dirty(g.id_column(people, 0.02))),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "dateOfBirth", g.dirty(g.birth_column(people, "compact"))),
        Spec(T.PASSPORT, "护照号码", "HZHM", "hzhm", "passportNo", g.dirty([g.passport() for _ in people], 0.04)),
        Spec(T.PASSPORT, "原护照号码", "YHZHM", "yhzh", "previousPassportNo",
             g.dirty([g.passport(old=True) if g.rng.random() < 0.8 else None for _ in people], 0.02)),
        Spec(T.HK_MACAU_PASS, "往来港澳通行证号码", "GATXZHM", "gatxz", "hkMacauPermitNo",
             g.dirty([g.hk_macau_pass() for _ in people], 0.04)),
        Spec(T.HK_MACAU_PASS, "原往来港澳通行证号码", "YGATXZHM", "ytxzh", "previousPermitNo",
             g.dirty([g.hk_macau_pass(booklet=True) if g.rng.random() < 0.7 else None for _ in people], 0.02)),
        Spec(T.NONE, "签发日期", "QFRQ", "qfrq", "issuedOn", [g.day(2015, 2025) for _ in people]),
    ]  # fmt: skip


def hotel(g: Gen, n: int) -> list[Spec]:
    """境外人员住宿登记: guests from abroad, Hong Kong and Macau; no resident ID column, so an opaque birth-date
    column here is ambiguous and labelled none."""
    people = g.people(n, (1950, 2010))
    names = [g.rng.choice(LATIN_NAMES) if g.rng.random() < 0.08 else p.name for p in people]
    return [
        Spec(T.PERSON_NAME, "旅客姓名", "LKXM", "lkxm", "guest_name", g.dirty(names, 0.01)),
        Spec(T.NONE, "证件类型", "ZJLX", "zjlx", "document_type",
             g.pick(["护照", "港澳居民来往内地通行证", "台湾居民来往大陆通行证"], n)),
        Spec(T.PASSPORT, "护照号码", "HZHM", "hz", "passport", g.dirty([g.passport() for _ in people], 0.05)),
        Spec(T.HK_MACAU_PASS, "港澳居民来往内地通行证号码", "HXZHM", "hxzh", "home_return_permit",
             g.dirty([g.home_return_permit() for _ in people], 0.05)),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "birthday", g.dirty([p.birth.isoformat() for p in people]),
             opaque_truth=T.NONE),
        Spec(T.NONE, "国籍（地区）", "GJ", "gj", "nationality",
             g.pick(["中国香港", "中国澳门", "日本", "韩国", "美国", "俄罗斯", "德国"], n)),
        Spec(T.NONE, "房间号", "FJH", "fjh", "room",
             [f"{g.rng.randrange(2, 25)}{g.rng.randrange(1, 40):02d}" for _ in people]),
        Spec(T.MOBILE, "联系手机", "LXSJ", "sjh", "mobile_phone", g.dirty([g.mobile(0.4) for _ in people], 0.08)),
        Spec(T.EMAIL, "电子邮箱", "DZYX", "yx", "email", g.dirty([g.email() if g.rng.random() < 0.7 else None
                                                                  for _ in people])),
    ]  # fmt: skip


def bank(g: Gen, n: int) -> list[Spec]:
    """社保卡金融账户: the social-security cards with a bank account."""
    people = g.people(n, (1940, 2005))
    return [
        Spec(T.PERSON_NAME, "持卡人", "CKR", "ckr", "cardholder", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "社会保障号码", "SHBZHM", "shbzhm", "social_security_no", g.dirty(g.id_column(people))),
        Spec(T.BANK_CARD, "银行卡号", "YHKH", "yhkh", "bank_card_no", g.dirty([g.bank_card() for _ in people])),
        Spec(T.BANK_CARD, "信用卡号", "XYKH", "xykh", "credit_card_number",
             g.dirty([g.bank_card(spaced=0.3) for _ in people], 0.05)),
        Spec(T.NONE, "开户银行", "KHYH", "khyh", "bank_name", g.pick(BANKS, n)),
        Spec(T.NONE, "交易流水号", "JYLSH", "jylsh", "transaction_id", [g.order18() + g.digits(2) for _ in people]),
        Spec(T.NONE, "商户编号", "SHBH", "shbh", "merchant_no", [f"10221{g.digits(10)}" for _ in people]),
    ]  # fmt: skip


def web_log(g: Gen, n: int) -> list[Spec]:
    """政务服务网访问日志."""
    return [
        Spec(T.EMAIL, "登录账号", "DLZH", "yx", "loginEmail", g.dirty([g.email() for _ in range(n)])),
        Spec(T.IP_ADDRESS, "登录IP", "DLIP", "dlip", "clientIp",
             g.dirty([g.fake.ipv4_public() if g.rng.random() < 0.7 else g.fake.ipv4_private() for _ in range(n)])),
        Spec(T.IP_ADDRESS, "IPv6地址", "IPV6DZ", "ipv6dz", "clientIpv6", g.dirty([g.fake.ipv6() for _ in range(n)])),
        Spec(T.IP_ADDRESS, "来源地址", "LYDZ", "lydz", "remoteAddr", g.dirty([g.ip_port() for _ in range(n)])),
        Spec(T.IP_ADDRESS, "服务器地址", "FWQIP", "fwqip", "serverIp",
             [g.rng.choice(["10.12.0.21", "10.12.0.22", "10.12.0.23", "172.16.8.4"]) for _ in range(n)]),
        Spec(T.NONE, "访问地址", "FWDZ", "url", "requestUrl",
             [f"https://www.shenyang.gov.cn/{g.rng.choice(['zwgk', 'bsfw', 'hdjl'])}/{g.digits(6)}.html"
              for _ in range(n)]),
        Spec(T.NONE, "客户端版本", "KHDBB", "bbh", "appVersion", [g.version() for _ in range(n)]),
        Spec(T.NONE, "会话标识", "HHBS", "hhid", "sessionId", [g.fake.md5() for _ in range(n)]),
    ]  # fmt: skip


def transit(g: Gen, n: int) -> list[Spec]:
    """公交地铁站点: public places, with coordinates; a station's address is an address of a place."""
    points = [g.coordinates() for _ in range(n)]
    return [
        Spec(T.NONE, "站点名称", "ZDMC", "zdmc", "stationName", g.pick(STATIONS, n)),
        Spec(T.NONE, "线路名称", "XLMC", "xlmc", "lineName", g.pick(LINES, n)),
        Spec(T.COORDINATES, "经度", "JD", "jd", "longitude", g.dirty([p[0] for p in points]), opaque_truth=T.NONE),
        Spec(T.COORDINATES, "纬度", "WD", "wd", "latitude", g.dirty([p[1] for p in points]), opaque_truth=T.NONE),
        Spec(T.COORDINATES, "经纬度", "JWD", "jwd", "location", g.dirty([f"{a:.6f},{b:.6f}" for a, b in points])),
        Spec(T.ADDRESS, "站点地址", "ZDDZ", "zddz", "stationAddress", g.dirty([g.address("street") for _ in range(n)])),
    ]  # fmt: skip


def bike_trips(g: Gen, n: int) -> list[Spec]:
    """共享单车骑行记录: the opaque style holds coordinates as pairs, which say what they are."""
    starts = [g.coordinates() for _ in range(n)]
    ends = [g.coordinates() for _ in range(n)]
    return [
        Spec(T.NONE, "订单编号", "DDBH", "ddbh", "trip_id", [g.order18() for _ in range(n)]),
        Spec(T.MOBILE, "用户手机号", "YHSJH", "sjh", "user_mobile", g.dirty([g.mobile() for _ in range(n)])),
        Spec(T.COORDINATES, "起点坐标", "QDZB", "qdzb", "start_location",
             g.dirty([f"{a:.6f},{b:.6f}" for a, b in starts])),
        Spec(T.COORDINATES, "终点坐标", "ZDZB", "zdzb", "end_location",
             g.dirty([f"{a:.6f}, {b:.6f}" for a, b in ends])),
        Spec(T.NONE, "汇率", "HL", "hl", "rate", [round(g.rng.uniform(6.8, 7.3), 4) for _ in range(n)]),
    ]  # fmt: skip


def orders(g: Gen, n: int) -> list[Spec]:
    """电商订单: full of numbers that look like IDs, cards and phones but are not."""
    return [
        Spec(T.NONE, "订单号", "DDH", "ddh", "order_no", [g.order18() for _ in range(n)]),
        Spec(T.NONE, "平台订单号", "PTDDH", "ptddh", "platform_order_no",
             [g.rng.choice("123456789") + g.digits(18) for _ in range(n)]),
        Spec(T.NONE, "商品名称", "SPMC", "spmc", "product_name", g.pick(PRODUCTS, n)),
        Spec(T.NONE, "订单金额", "DDJE", "ddje", "amount", [g.amount(1, 5000) for _ in range(n)]),
        Spec(T.NONE, "订单状态", "DDZT", "ddzt", "order_status",
             g.pick(["待付款", "已付款", "已发货", "已完成", "已退款"], n)),
        Spec(T.PERSON_NAME, "收货人", "SHR", "shr", "consignee", g.dirty([g.person_name() for _ in range(n)], 0.01)),
        Spec(T.ADDRESS, "收货地址", "SHDZ", "shdz", "shipping_address", g.dirty([g.address("home") for _ in range(n)])),
        Spec(T.MOBILE, "收货人电话", "SHRDH", "shrdh", "consignee_phone", g.dirty([g.mobile(0.25) for _ in range(n)])),
        Spec(T.NONE, "联系电话", "LXDH", "lxdh", "phone", [g.order18() for _ in range(n)]),  # a mis-mapped column
        Spec(T.NONE, "支付流水号", "ZFLSH", "lsh", "serial_no", [g.serial11() for _ in range(n)]),
        Spec(T.NONE, "会员卡号", "HYKH", "hykh", "member_card_no",
             [g.luhn_failing(g.rng.choice([16, 17, 18, 19])) for _ in range(n)]),
        Spec(T.BANK_CARD, "退款银行卡号", "TKYHKH", "tkkh", "refund_card_no",
             g.dirty([g.bank_card() for _ in range(n)])),
        Spec(T.IP_ADDRESS, "下单IP", "XDIP", "xdip", "order_ip", g.dirty([g.fake.ipv4_public() for _ in range(n)])),
        Spec(T.CREDIT_CODE, "商户统一社会信用代码", "SHXYDM", "shxydm", "merchant_uscc",
             g.dirty([g.credit_code(g.rng.choice(["enterprise", "individual"])) for _ in range(n)])),
    ]  # fmt: skip


def procurement(g: Gen, n: int) -> list[Spec]:
    """政府采购中标公告."""
    projects = ["智慧社区", "老旧小区改造", "道路维修", "数据中心", "校园安防"]
    return [
        Spec(T.NONE, "项目名称", "XMMC", "xmmc", "project_name",
             [f"沈阳市{g.rng.choice(list(SHENYANG_COUNTIES.values()))}{g.rng.choice(projects)}项目" for _ in range(n)]),
        Spec(T.NONE, "供应商名称", "GYSMC", "gysmc", "supplier_name", [g.company() for _ in range(n)]),
        Spec(T.CREDIT_CODE, "供应商统一社会信用代码", "GYSXYDM", "xydm", "supplier_credit_code",
             g.dirty([g.credit_code() for _ in range(n)], 0.02)),
        Spec(T.PERSON_NAME, "项目联系人", "XMLXR", "lxr", "contact_person",
             g.dirty([g.person_name() for _ in range(n)])),
        Spec(T.LANDLINE, "联系电话", "LXDH", "lxdh", "contact_tel", g.dirty([g.landline() for _ in range(n)])),
    ]  # fmt: skip


def directory(g: Gen, n: int) -> list[Spec]:
    """机关事业单位通讯录."""
    return [
        Spec(T.NONE, "单位名称", "DWMC", "dwmc", "org_name",
             [f"沈阳市{g.rng.choice(['数据局', '公安局', '市场监督管理局', '卫生健康委员会', '教育局', '民政局'])}"
              f"{g.rng.choice(['', '办公室', '信息中心', '政务服务处'])}" for _ in range(n)]),
        Spec(T.CREDIT_CODE, "统一社会信用代码", "TYSHXYDM", "tyshxydm", "uscc",
             [g.credit_code(g.rng.choice(["government", "institution", "social"])) for _ in range(n)]),
        Spec(T.PERSON_NAME, "负责人", "FZR", "fzr", "head", g.dirty([g.person_name() for _ in range(n)])),
        Spec(T.LANDLINE, "办公电话", "BGDH", "bgdh", "office_phone", g.dirty([g.landline() for _ in range(n)])),
        Spec(T.LANDLINE, "传真", "CZ", "cz", "fax", g.dirty([g.landline() for _ in range(n)], 0.1)),
        Spec(T.EMAIL, "电子邮箱", "DZYX", "yxdz", "mail", g.dirty([g.email() for _ in range(n)])),
        Spec(T.ADDRESS, "办公地址", "BGDZ", "bgdz", "office_address", g.dirty([g.address("street") for _ in range(n)])),
        Spec(T.NONE, "邮政编码", "YZBM", "yzbm", "postcode", [f"110{g.rng.randrange(0, 200):03d}" for _ in range(n)]),
    ]  # fmt: skip


def disability(g: Gen, n: int) -> list[Spec]:
    """残疾人基本信息."""
    people = g.people(n)
    return [
        Spec(T.PERSON_NAME, "姓名", "XM", "xm", "name", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "身份证号码", "SFZHM", "sfzhm", "idNumber", g.dirty(g.id_column(people, 0.04))),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "birthDate", g.dirty(g.birth_column(people, "slash"))),
        Spec(T.ETHNICITY, "民族", "MZ", "mz", "nation", g.dirty([p.ethnicity.removesuffix("族") if g.rng.random() < 0.3
                                                              else p.ethnicity for p in people])),
        Spec(T.HEALTH, "残疾类别", "CJLB", "cjlb", "disabilityType", g.dirty(g.pick(DISABILITIES, n))),
        Spec(T.MOBILE, "监护人电话", "JHRDH", "jhrdh", "guardianPhone", g.dirty([g.mobile() for _ in people], 0.05)),
        Spec(T.NONE, "所属街道", "SSJD", "ssjd", "subdistrict",
             g.pick(["南湖街道", "北市场街道", "五里河街道", "浑河站西街道", "新城子街道", "虎石台街道"], n)),
        Spec(T.NONE, "发证日期", "FZRQ", "fzrq", "issuedOn", [g.day(2010, 2025) for _ in people]),
    ]  # fmt: skip


def clergy(g: Gen, n: int) -> list[Spec]:
    """宗教教职人员备案."""
    people = g.people(n, (1940, 1998))
    return [
        Spec(T.PERSON_NAME, "姓名", "XM", "xm", "full_name", [p.name for p in people]),
        Spec(T.ID_NUMBER, "身份证号", "SFZH", "sfzh", "id_card", g.dirty(g.id_column(people, 0.05))),
        Spec(T.BIRTH_DATE, "出生年月日", "CSNYR", "csny", "dob", g.dirty(g.birth_column(people, "zh"))),
        Spec(T.ETHNICITY, "民族", "MZ", "mz", "ethnic_group", [p.ethnicity for p in people]),
        Spec(T.RELIGION, "所属宗教", "SSZJ", "zj", "religion", g.dirty([g.rng.choice(RELIGIONS) for _ in people])),
        Spec(T.NONE, "教职", "JZ", "jz", "position",
             g.pick(["住持", "监院", "阿訇", "神父", "牧师", "道长", "修女"], n)),
        Spec(T.NONE, "所在宗教活动场所", "CSMC", "csmc", "venue",
             g.pick(["般若寺", "慈恩寺", "太清宫", "清真南寺", "南关天主教堂", "东关基督教堂", "实胜寺"], n)),
        Spec(T.MOBILE, "联系电话", "LXDH", "lxdh", "phone", g.dirty([g.mobile() for _ in people])),
    ]  # fmt: skip


def survey(g: Gen, n: int) -> list[Spec]:
    """少数民族和宗教情况调查."""
    people = g.people(n)
    return [
        Spec(T.PERSON_NAME, "被调查人", "BDCR", "bdcr", "respondent", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "证件号码", "ZJHM", "zjhm", "document_no", g.dirty(g.id_column(people))),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "birth", g.dirty(g.birth_column(people, "timestamp"))),
        Spec(T.ETHNICITY, "民族", "MZ", "mz", "ethnicity", g.dirty([p.ethnicity for p in people])),
        Spec(T.ETHNICITY, "民族代码", "MZDM", "mzdm", "ethnicity_code", g.dirty([p.ethnicity_code for p in people]),
             opaque_truth=T.NONE),
        Spec(T.RELIGION, "宗教信仰", "ZJXY", "zjxy", "religion", g.dirty([g.religion(0.25) for _ in people])),
        Spec(T.RELIGION, "配偶宗教信仰", "POZJXY", "pozjxy", "spouse_religion",
             g.dirty([g.religion(0.2) for _ in people])),
        Spec(T.NONE, "调查日期", "DCRQ", "dcrq", "surveyed_on", [g.day(2024, 2025).isoformat() for _ in people]),
    ]  # fmt: skip


def students(g: Gen, n: int) -> list[Spec]:
    """中小学学籍: children's data, with the guardian's contact and the subsidy card."""
    people = g.people(n, (2008, 2019))
    return [
        Spec(T.PERSON_NAME, "学生姓名", "XSXM", "xsxm", "studentName", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "身份证件号", "SFZJH", "sfzjh", "studentIdCard", g.dirty(g.id_column(people))),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "birthday", g.dirty(g.birth_column(people, "dash"))),
        Spec(T.ETHNICITY, "民族", "MZ", "mz", "ethnicity", [p.ethnicity for p in people]),
        Spec(T.NONE, "学校名称", "XXMC", "xxmc", "schoolName",
             g.pick(["沈阳市第一二〇中学", "沈阳市和平区南京街第一小学", "沈阳市第七中学", "沈阳市浑南区第一小学"], n)),
        Spec(T.PERSON_NAME, "监护人姓名", "JHRXM", "jhrxm", "guardianName", g.dirty([g.person_name() for _ in people])),
        Spec(T.MOBILE, "监护人手机", "JHRSJ", "jhrsj", "guardianMobile", g.dirty([g.mobile() for _ in people])),
        Spec(T.ADDRESS, "家庭住址", "JTZZ", "jtzz", "homeAddress", g.dirty([g.address() for _ in people])),
        Spec(T.BANK_CARD, "补助发放卡号", "BZFFKH", "bzkh", "subsidyCardNo",
             g.dirty([g.bank_card() for _ in people], 0.06)),
    ]  # fmt: skip


def tour_group(g: Gen, n: int) -> list[Spec]:
    """出境旅游团队名单: travel documents and emergency contacts, no resident ID column."""
    people = g.people(n, (1945, 2018))
    return [
        Spec(T.NONE, "团号", "TH", "th", "group_no",
             [f"SY{g.rng.randrange(2024, 2026)}-{g.digits(4)}-{g.rng.choice(['HK', 'MO', 'JP', 'TH'])}"
                                                     for _ in people]),
        Spec(T.PERSON_NAME, "游客姓名", "YKXM", "ykxm", "touristName", g.dirty([p.name for p in people], 0.01)),
        Spec(T.BIRTH_DATE, "出生日期", "CSRQ", "csrq", "birthDate", g.dirty([p.birth for p in people]),
             opaque_truth=T.NONE),
        Spec(T.PASSPORT, "护照号", "HZH", "hzh", "passportNumber", g.dirty([g.passport() for _ in people], 0.06)),
        Spec(T.HK_MACAU_PASS, "港澳通行证", "GATXZ", "txz", "hkMacauPass",
             g.dirty([g.hk_macau_pass() for _ in people], 0.06)),
        Spec(T.MOBILE, "手机号码", "SJHM", "sjhm", "mobile", g.dirty([g.mobile() for _ in people])),
        Spec(T.PERSON_NAME, "紧急联系人", "JJLXR", "jjlxr", "emergencyContact",
             g.dirty([g.person_name() for _ in people])),
        Spec(T.MOBILE, "紧急联系人电话", "JJLXRDH", "jjlxrdh", "emergencyPhone",
             g.dirty([g.mobile(0.3) for _ in people])),
    ]  # fmt: skip


def study_abroad(g: Gen, n: int) -> list[Spec]:
    """出国（境）留学人员备案."""
    people = g.people(n, (1995, 2007))
    return [
        Spec(T.PERSON_NAME, "姓名", "XM", "xm", "student_name", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "身份证号", "SFZH", "sfzh", "id_no", g.dirty(g.id_column(people))),
        Spec(T.PASSPORT, "护照号码", "HZHM", "hzhm", "passport_no", g.dirty([g.passport() for _ in people], 0.05)),
        Spec(T.HK_MACAU_PASS, "往来港澳通行证", "WLGATXZ", "gatxzh", "exit_entry_permit",
             g.dirty([g.hk_macau_pass() if g.rng.random() < 0.6 else None for _ in people])),
        Spec(T.NONE, "就读院校", "JDYX", "jdyx", "university",
             g.pick(["University of Toronto", "香港大学", "墨尔本大学", "University of Manchester", "早稻田大学"], n)),
        Spec(T.NONE, "出国日期", "CGRQ", "cgrq", "departure_date", [g.day(2020, 2025) for _ in people]),
        Spec(T.EMAIL, "电子邮箱", "DZYX", "dzyx", "email", g.dirty([g.email() for _ in people])),
        Spec(T.MOBILE, "家长手机", "JZSJ", "jzsjh", "parent_mobile", g.dirty([g.mobile() for _ in people])),
    ]  # fmt: skip


def etc_toll(g: Gen, n: int) -> list[Spec]:
    """高速公路ETC通行记录: an ETC card number is a toll account, not a bank card."""
    gates = ["沈阳西站", "沈阳北站", "沈阳南站", "桃仙机场站", "新民站", "辽中站", "抚顺站", "铁岭站", "鞍山站"]
    return [
        Spec(T.LICENSE_PLATE, "车牌号码", "CPHM", "cphm", "vehiclePlate", g.dirty([g.plate() for _ in range(n)])),
        Spec(T.LICENSE_PLATE, "挂车号牌", "GCHP", "gchp", "trailerPlate",
             [g.trailer_plate() if g.rng.random() < 0.6 else None for _ in range(n)]),
        Spec(T.NONE, "车牌颜色", "CPYS", "cpys", "plateColour",
             g.pick(["蓝色", "黄色", "绿色", "渐变绿色", "黄绿双拼色"], n)),
        Spec(T.NONE, "ETC卡号", "ETCKH", "etckh", "etcCardNo",
             [f"2101{g.rng.randrange(20, 26)}{g.digits(14)}" for _ in range(n)]),
        Spec(T.NONE, "入口收费站", "RKSFZ", "rksfz", "entryGate", g.pick(gates, n)),
        Spec(T.NONE, "通行费", "TXF", "txf", "toll", [g.amount(5, 300) for _ in range(n)]),
        Spec(T.MOBILE, "车主手机", "CZSJ", "czsjh", "ownerMobile",  # stored as integers by a spreadsheet import
             g.dirty([int(g.fake.phone_number()) for _ in range(n)])),
    ]  # fmt: skip


def volunteers(g: Gen, n: int) -> list[Spec]:
    """志愿者登记: 出生年月 is written to the month, as personnel forms ask for it; no ID column."""
    people = g.people(n, (1950, 2006))
    months = [
        g.rng.choice([f"{p.birth:%Y-%m}", f"{p.birth:%Y%m}", f"{p.birth:%Y.%m}", f"{p.birth.year}年{p.birth.month}月"])
        for p in people
    ]
    return [
        Spec(T.PERSON_NAME, "姓名", "XM", "xm", "volunteerName", g.dirty([p.name for p in people], 0.01)),
        Spec(T.BIRTH_DATE, "出生年月", "CSNY", "csny", "birthMonth", g.dirty(months), opaque_truth=T.NONE),
        Spec(T.ETHNICITY, "民族", "MZ", "mz", "ethnicity", g.dirty([p.ethnicity for p in people])),
        Spec(T.NONE, "政治面貌", "ZZMM", "zzmm", "politicalStatus",
             g.pick(["群众", "共青团员", "中共党员", "中共预备党员"], n)),
        Spec(T.MOBILE, "手机号码", "SJHM", "sjhm", "mobile", g.dirty([g.mobile() for _ in people])),
        Spec(T.NONE, "居住小区", "JZXQ", "jzxq", "estate",
             g.pick(["金地檀府", "万科城", "华府丹郡", "龙湖天街", "融创壹号院", "中海国际社区", "金隅凤麟府",
                     "首开国风润城", "保利花园", "华润幸福里"], n)),
    ]  # fmt: skip


def physical_exam(g: Gen, n: int) -> list[Spec]:
    """健康体检: a conclusion is health information even when it says nothing is wrong."""
    people = g.people(n, (1945, 2005))
    findings = ["血压偏高", "血脂异常", "空腹血糖偏高", "尿酸偏高", "窦性心律不齐", "肝功能异常", "甲状腺结节",
                "脂肪肝", "肺结节", "颈动脉斑块", "轻度贫血", "幽门螺杆菌阳性", "骨量减少", "屈光不正"]  # fmt: skip
    return [
        Spec(T.PERSON_NAME, "受检者姓名", "SJZXM", "sjzxm", "examinee", g.dirty([p.name for p in people], 0.01)),
        Spec(T.ID_NUMBER, "证件号码", "ZJHM", "zjhm", "idCardNumber", g.dirty(g.id_column(people))),
        Spec(T.NONE, "体检日期", "TJRQ", "tjrq", "examDate", [g.day(2024, 2025) for _ in people]),
        Spec(T.NONE, "体检机构", "TJJG", "tjjg", "examCentre", g.pick(HOSPITALS, n)),
        Spec(T.HEALTH, "体检结论", "TJJL", "tjjl", "examConclusion",
             [g.rng.choice(["未见明显异常", "未见异常"]) if g.rng.random() < 0.3
              else "；".join(g.rng.sample(findings, g.rng.randrange(1, 3))) for _ in people]),
        Spec(T.MOBILE, "手机号", "SJH", "sjh", "phone", g.dirty([g.mobile() for _ in people])),
    ]  # fmt: skip


def food_safety(g: Gen, n: int) -> list[Spec]:
    """餐饮服务食品安全检查: Shenyang's famous eateries carry their founders' surnames (马家烧麦, 李连贵熏肉大饼)."""
    dishes = ["马家烧麦", "老边饺子", "李连贵熏肉大饼", "杨家吊炉饼", "张氏馄饨", "锅包肉", "宫保鸡丁", "鱼香肉丝",
              "小鸡炖蘑菇", "王记鸡架", "刘记麻辣烫", "回头", "酸菜白肉", "雪绵豆沙", "朱记熏肉"]  # fmt: skip
    return [
        Spec(T.NONE, "门店名称", "MDMC", "mdmc", "shop_name",
             [f"{g.rng.choice(dishes)}（{g.rng.choice(STREETS)}店）" for _ in range(n)]),
        Spec(T.NONE, "主营菜品", "ZYCP", "zycp", "signature_dish", g.pick(dishes, n)),
        Spec(T.CREDIT_CODE, "统一社会信用代码", "TYSHXYDM", "tyshxydm", "credit_code",
             g.dirty([g.credit_code(g.rng.choice(["enterprise", "individual", "individual"])) for _ in range(n)])),
        Spec(T.PERSON_NAME, "法定代表人（负责人）", "FDDBR", "fzr", "legal_person",
             g.dirty([g.person_name() for _ in range(n)])),
        Spec(T.ADDRESS, "经营地址", "JYDZ", "jydz", "business_address",
             g.dirty([g.address("street") for _ in range(n)])),
        # small shops give a mobile as often as a landline: a careful reader calls the column by its majority
        Spec(T.MOBILE, "联系电话", "LXDH", "lxdh", "telephone",
             g.dirty([g.mobile() if g.rng.random() < 0.62 else g.landline(0.1) for _ in range(n)])),
    ]  # fmt: skip


Z, P, E, X = Style.ZH, Style.PINYIN, Style.EN, Style.OPAQUE
# Each theme in the styles it is rendered in: every type gets all four styles and at least 14 columns, and the
# whole set stays small enough to classify in seconds.
THEMES: dict[str, tuple[Theme, tuple[Style, ...]]] = {
    "population": (population, (Z, X)),
    "enterprise": (enterprise, (Z, P, E)),
    "outpatient": (outpatient, (Z, E, X)),
    "vehicles": (vehicles, (Z, P)),
    "parking": (parking, (Z, P, E, X)),
    "violations": (violations, (E, X)),
    "exit_entry": (exit_entry, (Z, P, E, X)),
    "hotel": (hotel, (Z, X)),
    "bank": (bank, (Z, P, E, X)),
    "web_log": (web_log, (Z, P, E, X)),
    "transit": (transit, (Z, P, X)),
    "bike_trips": (bike_trips, (Z, P, E, X)),
    "orders": (orders, (Z, P, E, X)),
    "procurement": (procurement, (Z, E)),
    "directory": (directory, (Z, P, E, X)),
    "disability": (disability, (P, E)),
    "clergy": (clergy, (Z, P, E, X)),
    "survey": (survey, (Z, P, E, X)),
    "students": (students, (Z, E)),
    "tour_group": (tour_group, (P, E, X)),
    "study_abroad": (study_abroad, (Z, P)),
    "etc_toll": (etc_toll, (Z, E, X)),
    "volunteers": (volunteers, (Z, E, X)),
    "physical_exam": (physical_exam, (P, E, X)),
    "food_safety": (food_safety, (E, X)),
}
OPAQUE_CODES = ("c{}", "f{}", "col{}", "fld_{:02d}", "x{}", "a{}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _name(spec: Spec, style: Style, position: int, table_index: int) -> tuple[str, str]:
    match style:
        case Style.ZH:
            return spec.zh, spec.label
        case Style.PINYIN:
            return spec.py, ""
        case Style.EN:
            return spec.en, ""
    return OPAQUE_CODES[table_index % len(OPAQUE_CODES)].format(position), ""


@cache
def build_tables(seed: int = SEED, rows: tuple[int, int] = (160, 320)) -> tuple[Table, ...]:
    """Every theme in its styles, each table with its own rows (so two styles never share values)."""
    tables: list[Table] = []
    for t, (theme, (make, styles)) in enumerate(THEMES.items()):
        for style in styles:
            g = Gen(seed + 100 * t + list(Style).index(style))
            n = g.rng.randrange(*rows)
            specs = make(g, n)
            index = len(tables)
            columns = []
            for position, spec in enumerate(specs, start=1):
                name, label = _name(spec, style, position, index)
                truth = spec.opaque_truth if style is Style.OPAQUE and spec.opaque_truth else spec.truth
                assert len(spec.values) == n, (theme, name)
                columns.append(Column(name, label, truth, style, spec.values))
            names = [c.name for c in columns]
            assert len(set(names)) == len(names), (theme, style, names)
            tables.append(Table(f"{theme}_{style.value}", theme, style, columns))
    return tuple(tables)


def write_tables(tables: Sequence[Table], directory: Path) -> dict[str, Path]:
    """Each table as one Parquet file in ``directory``."""
    paths = {}
    for table in tables:
        path = directory / f"{table.name}.parquet"
        pq.write_table(pa.table({c.name: pa.array(c.values) for c in table.columns}), path)
        paths[table.name] = path
    return paths


# --- scoring ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    table: str
    column: Column
    predicted: InfoType
    confidence: float
    decided_by: str
    evidence: list[dict[str, Any]]

    @property
    def right(self) -> bool:
        return self.predicted is self.column.truth


def classify_tables(
    tables: Sequence[Table], paths: dict[str, Path], *, mode: Mode = Mode.SAMPLE, sample_rows: int | None = None
) -> tuple[list[Outcome], dict[str, SnapshotDetection]]:
    """Classify every table as its own snapshot, two at a time (DuckDB plans and runs outside the GIL)."""
    extra = {"sample_rows": sample_rows} if sample_rows else {}

    def one(table: Table) -> SnapshotDetection:
        fields = [c.spec for c in table.columns]
        return classify_files([paths[table.name]], fields, rows_total=table.rows, mode=mode, **extra)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, tables))
    outcomes: list[Outcome] = []
    snapshots: dict[str, SnapshotDetection] = {}
    for table, result in zip(tables, results, strict=True):
        snapshots[table.name] = result
        for column, found in zip(table.columns, result.fields, strict=True):
            d = found.detection
            outcomes.append(Outcome(table.name, column, d.type, d.confidence, d.decided_by, d.evidence))
    return outcomes, snapshots


@dataclass(frozen=True)
class Score:
    type: InfoType
    support: int
    predicted: int
    right: int

    @property
    def precision(self) -> float:
        return self.right / self.predicted if self.predicted else (1.0 if not self.support else 0.0)

    @property
    def recall(self) -> float:
        return self.right / self.support if self.support else (1.0 if not self.predicted else 0.0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def scores(outcomes: Sequence[Outcome]) -> list[Score]:
    """Precision, recall and F1 of every type, 'none' included."""
    support = Counter(o.column.truth for o in outcomes)
    predicted = Counter(o.predicted for o in outcomes)
    right = Counter(o.predicted for o in outcomes if o.right)
    return [Score(t, support[t], predicted[t], right[t]) for t in InfoType]


def macro_f1(outcomes: Sequence[Outcome]) -> float:
    """The mean F1 over all 18 types ('none' included), every type weighing the same."""
    found = scores(outcomes)
    return sum(s.f1 for s in found) / len(found)


def style_counts(tables: Sequence[Table]) -> dict[Style, int]:
    return dict(Counter(c.style for t in tables for c in t.columns))


def report(outcomes: Sequence[Outcome], *, misclassified: bool = False) -> str:
    lines = [f"{'type':<15}{'support':>8}{'pred':>6}{'prec':>8}{'recall':>8}{'F1':>8}"]
    for s in scores(outcomes):
        lines.append(f"{s.type.value:<15}{s.support:>8}{s.predicted:>6}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}")
    right = sum(o.right for o in outcomes)
    lines.append(f"macro-F1 {macro_f1(outcomes):.4f}  accuracy {right}/{len(outcomes)} = {right / len(outcomes):.4f}")
    if misclassified:
        wrong = [o for o in outcomes if not o.right]
        lines.append(f"\nmisclassified ({len(wrong)}):")
        for o in wrong:
            label = f" [{o.column.label}]" if o.column.label else ""
            lines.append(
                f"- {o.table}.{o.column.name}{label}: truth {o.column.truth.value}, predicted {o.predicted.value} "
                f"({o.decided_by}, {o.confidence})"
            )
            for e in o.evidence:
                lines.append(f"    {e}")
    return "\n".join(lines)


def main() -> None:
    tables = build_tables()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_tables(tables, Path(tmp))
        started = time.perf_counter()
        outcomes, _ = classify_tables(tables, paths)
        seconds = time.perf_counter() - started
    counts = style_counts(tables)
    print(f"{len(tables)} tables, {len(outcomes)} columns; by naming style: {dict(sorted(counts.items()))}")
    print(f"classified in sample mode in {seconds:.1f} s\n")
    print(report(outcomes, misclassified=True))


if __name__ == "__main__":
    sys.exit(main())
