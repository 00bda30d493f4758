"""The certificate as a PDF (登记证书): its fields in Chinese and English, and a QR code of the public lookup URL
``{base_url}/registry/certificates/{number}``.

Fonts. The Chinese text is set in Noto Sans CJK SC, which CI and the Debian machines get from fonts-noto-cjk,
and the font is embedded (subset) so the certificate prints the same everywhere and for years. Tried:

- reportlab reads TrueType outlines only, and Noto CJK's are CFF; its built-in CID font STSong-Light works but
  is not embedded, so each viewer substitutes a font of its own;
- fpdf2 embeds the CFF as is (CIDFontType0C) and poppler shows and extracts it right, but it addresses glyphs
  through an embedded CMap, and then pdfminer.six finds no text at all and pypdf puts a space after every
  character: a holder's tools could not search or copy the certificate;
- so fontTools (fpdf2's own dependency) first cuts the font down to the characters the page uses, then turns
  the cubic CFF outlines of that subset into TrueType quadratics (cu2qu, within a thousandth of an em), and
  fpdf2 embeds the result as CIDFontType2 with Identity-H and a ToUnicode map, the form every reader handles.
  Cutting first keeps it quick: about a second for the page's two faces, where fpdf2 alone takes two
  seconds or more for each face it loads whole.

The QR code is drawn as vector squares from the ``qrcode`` package's matrix, so it stays sharp at any scale.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import qrcode
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable
from fpdf import FPDF

from shengjing.errors import ConfigurationError, InvalidInput
from shengjing.registry.bundle import Certificate
from shengjing.registry.numbers import CertificateNumber

_NOTO = Path("/usr/share/fonts/opentype/noto")

# The subsetter reports each table it touches at INFO: some thirty lines for every certificate printed.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


@dataclass(frozen=True)
class FontFace:
    """A font file, and the face to take from it by PostScript name (a .ttc collection holds several)."""

    path: Path
    postscript_name: str


@dataclass(frozen=True)
class Fonts:
    regular: FontFace
    bold: FontFace


DEBIAN_NOTO = Fonts(
    FontFace(_NOTO / "NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular"),
    FontFace(_NOTO / "NotoSansCJK-Bold.ttc", "NotoSansCJKsc-Bold"),
)

_MARGIN = 22.0  # mm
_LABEL_WIDTH = 46.0
_QR_SIZE = 34.0
_LINE_HEIGHT = 0.54  # mm of line per point of font size: 6.5 mm at 12 pt
_GREY = (90, 90, 90)


def lookup_url(base_url: str, number: CertificateNumber | str) -> str:
    """Where the public checks a certificate: ``{base_url}/registry/certificates/{number}``."""
    if not base_url.startswith(("https://", "http://")) or any(c.isspace() for c in base_url):
        raise InvalidInput(
            f"公开查询地址应为 http(s):// 开头的网址：{base_url}。",
            f"The public base URL should be an http(s):// URL: {base_url}.",
            base_url=base_url,
        )
    return f"{base_url.rstrip('/')}/registry/certificates/{number}"


def _date_zh(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _rows(certificate: Certificate) -> list[tuple[str, str, str]]:
    """(Chinese label, English label, value) for each line of the certificate, in print order."""
    c = certificate
    holder = c.holder.name + (f"\n统一社会信用代码 {c.holder.credit_code}" if c.holder.credit_code else "")
    term_end = _date_zh(c.term_end) if c.term_end else "长期"
    return [
        ("证书编号", "Certificate No.", str(c.number)),
        ("登记号", "Registration No.", str(c.registration_number)),
        ("权利人", "Holder", holder),
        ("登记对象", "Registered data", f"{c.object.name}\n{c.object.kind.label_zh}  {c.object.id}"),
        ("权利类型", "Rights", "、".join(right.label_zh for right in c.rights)),
        ("权利范围", "Scope", c.scope or "不限"),
        ("有效期限", "Term", f"{_date_zh(c.term_start)} 至 {term_end}"),
        ("数据指纹", "Fingerprint (SHA-256)", f"{c.fingerprint[:32]}\n{c.fingerprint[32:]}"),
        ("发证机构", "Issued by", f"{c.authority_name}（{c.number.authority.division}-{c.number.authority.unit}）"),
        ("发证日期", "Date of issue", _date_zh(c.issued_on)),
    ]


_TITLE = ("数据产权登记证书", "Data Property Registration Certificate")
_NOTE = (
    "本证书的电子数据包由发证机构数字签名，并记入登记透明日志，任何人均可独立核验。",
    "The certificate's electronic bundle is signed by the issuing authority and recorded in the registry's "
    "transparency log: anyone can verify it.",
)


def certificate_pdf(certificate: Certificate, base_url: str, fonts: Fonts = DEBIAN_NOTO) -> bytes:
    """The certificate as a one-page A4 PDF."""
    url = lookup_url(base_url, certificate.number)
    rows = _rows(certificate)
    scan = ("扫码查验", "Scan to verify", url)
    text = "".join([*_TITLE, *_NOTE, *scan, *(part for row in rows for part in row)])

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(f"{_TITLE[0]} {certificate.number}")
    pdf.set_author(certificate.authority_name)
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(dt.datetime.combine(certificate.issued_on, dt.time(), dt.UTC))
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN, _MARGIN)
    with tempfile.TemporaryDirectory(prefix="shengjing-fonts-") as tmp:
        for style, face in (("", fonts.regular), ("B", fonts.bold)):
            path = Path(tmp) / f"{face.postscript_name}.ttf"
            path.write_bytes(truetype_subset(face, text))
            pdf.add_font("cjk", style, path)
        pdf.add_page()
        _draw(pdf, rows, scan)
        return bytes(pdf.output())


def _draw(pdf: FPDF, rows: list[tuple[str, str, str]], scan: tuple[str, str, str]) -> None:
    width = pdf.w - 2 * _MARGIN
    pdf.set_line_width(0.6)
    pdf.rect(12, 12, pdf.w - 24, pdf.h - 24)
    pdf.set_line_width(0.2)
    pdf.rect(14, 14, pdf.w - 28, pdf.h - 28)

    pdf.set_xy(_MARGIN, 34)
    pdf.set_font("cjk", "B", 26)
    pdf.cell(width, 14, _TITLE[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 11)
    pdf.set_text_color(*_GREY)
    pdf.cell(width, 7, _TITLE[1], align="C")
    pdf.set_text_color(0)

    footer_top = pdf.h - _MARGIN - _QR_SIZE - 6
    _draw_rows(pdf, rows, top=64.0, bottom=footer_top - 6)
    _draw_footer(pdf, scan, footer_top)


def _draw_rows(pdf: FPDF, rows: list[tuple[str, str, str]], top: float, bottom: float) -> None:
    """The fields, label on the left, value on the right, at the largest size (12 pt down to 7) that keeps them
    above the footer: long names wrap instead of running into the QR code."""
    value_width = pdf.w - 2 * _MARGIN - _LABEL_WIDTH

    def heights(size: float) -> list[float]:
        pdf.set_font("cjk", "", size)
        line = size * _LINE_HEIGHT
        lines = [len(pdf.multi_cell(value_width, line, value, dry_run=True, output="LINES")) for *_, value in rows]
        return [max(n * line, 10.5) + size * 0.4 for n in lines]

    size = next((size for size in (12, 11, 10, 9, 8, 7) if top + sum(heights(size)) <= bottom), None)
    if size is None:
        raise InvalidInput("证书内容过长，无法排在一页内。", "The certificate's text is too long to fit on one page.")
    y = top
    for (label_zh, label_en, value), height in zip(rows, heights(size), strict=True):
        pdf.set_xy(_MARGIN, y)
        pdf.set_font("cjk", "B", 12)
        pdf.cell(_LABEL_WIDTH, 6.5, label_zh)
        pdf.set_xy(_MARGIN, y + 6.5)
        pdf.set_font("cjk", "", 8)
        pdf.set_text_color(*_GREY)
        pdf.cell(_LABEL_WIDTH, 4, label_en)
        pdf.set_text_color(0)
        pdf.set_xy(_MARGIN + _LABEL_WIDTH, y)
        pdf.set_font("cjk", "", size)
        pdf.multi_cell(value_width, size * _LINE_HEIGHT, value, align="L")
        y += height


def _draw_footer(pdf: FPDF, scan: tuple[str, str, str], top: float) -> None:
    """The QR code on the right; on its left the URL it holds, on one line, and a note on verifying."""
    qr_x = pdf.w - _MARGIN - _QR_SIZE
    _draw_qr(pdf, scan[2], qr_x, top, _QR_SIZE)
    text_width = qr_x - _MARGIN - 6
    pdf.set_xy(_MARGIN, top)
    pdf.set_font("cjk", "B", 11)
    pdf.cell(text_width, 6, f"{scan[0]}  {scan[1]}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", _fitting_size(pdf, scan[2], text_width, 9))
    pdf.cell(text_width, 5, scan[2], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", "", 9)
    pdf.multi_cell(text_width, 5, _NOTE[0], align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*_GREY)
    pdf.set_font("cjk", "", 8)
    pdf.multi_cell(text_width, 4, _NOTE[1], align="L")
    pdf.set_text_color(0)


def _fitting_size(pdf: FPDF, text: str, width: float, largest: float) -> float:
    """The largest font size up to ``largest`` at which ``text`` fits on one line of ``width`` (6 pt at least):
    a URL broken over two lines is easy to copy wrong."""
    size = largest
    while size > 6:
        pdf.set_font_size(size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 0.5
    return size


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code's modules, True for dark, without the quiet zone: error correction level M (15 %), enough
    for a printed page that gets creased or stamped on."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def _draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """One filled rectangle per run of dark modules in a row; the page around it is the quiet zone."""
    matrix = qr_matrix(url)
    module = size / len(matrix)
    pdf.set_fill_color(0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")


# --- fonts -------------------------------------------------------------------------------------------------------


def _open_face(face: FontFace) -> TTFont:
    try:
        with face.path.open("rb") as handle:
            collection = handle.read(4) == b"ttcf"
        fonts = TTCollection(face.path, lazy=True).fonts if collection else [TTFont(face.path, lazy=True)]
    except OSError as exc:
        raise ConfigurationError(
            f"无法读取证书字体 {face.path}：{exc.strerror}（Debian 上请安装 fonts-noto-cjk）。",
            f"Cannot read the certificate font {face.path}: {exc.strerror} (on Debian, install fonts-noto-cjk).",
            path=str(face.path),
        ) from exc
    for font in fonts:
        if font["name"].getDebugName(6) == face.postscript_name:
            return font
    raise ConfigurationError(
        f"字体文件 {face.path} 中没有 {face.postscript_name}。",
        f"The font file {face.path} has no face {face.postscript_name}.",
        path=str(face.path),
    )


def truetype_subset(face: FontFace, text: str) -> bytes:
    """The face cut down to the characters of ``text``, with TrueType outlines (see the module's note)."""
    font = _open_face(face)
    try:
        return _subset(font, text)
    finally:
        font.close()  # the collection's fonts share one open file


def _subset(font: TTFont, text: str) -> bytes:
    options = subset.Options()
    # Set horizontally, left to right, one glyph per character: the layout tables (the largest part, and
    # the slowest to cut) and the vertical metrics are not needed.
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG", "vhea", "vmtx"]
    options.hinting = False
    options.name_IDs = ["*"]  # keep the copyright and licence (SIL OFL) names with the embedded font
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    if "CFF " in font:
        _cff_to_glyf(font)
    return _saved(font)


_MAXP_V1_FIELDS = (
    "maxZones",
    "maxTwilightPoints",
    "maxStorage",
    "maxFunctionDefs",
    "maxInstructionDefs",
    "maxStackElements",
    "maxSizeOfInstructions",
    "maxComponentElements",
    "maxPoints",
    "maxContours",
    "maxCompositePoints",
    "maxCompositeContours",
    "maxComponentDepth",
)


def _cff_to_glyf(font: TTFont) -> None:
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = font.getGlyphOrder()
    glyf.glyphs = {}
    for name in glyf.glyphOrder:
        pen = TTGlyphPen(glyph_set)
        # Tolerance 1 font unit (Noto CJK has 1000 to the em); PostScript and TrueType wind contours oppositely.
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    maxp = newTable("maxp")  # version 1.0, which TrueType outlines need; its counts are recomputed on save
    maxp.tableVersion = 0x00010000
    for name in _MAXP_V1_FIELDS:
        setattr(maxp, name, 0)
    maxp.maxZones = 1
    maxp.numGlyphs = len(glyf.glyphOrder)
    font["maxp"] = maxp
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0  # no glyph names: the CID names of the CFF mean nothing to TrueType
    font.sfntVersion = "\x00\x01\x00\x00"


def _saved(font: TTFont) -> bytes:
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()
