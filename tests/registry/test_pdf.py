from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pypdfium2
import pytest
import zxingcpp
from pdfminer.high_level import extract_text

from shengjing.errors import ConfigurationError, InvalidInput
from shengjing.registry.bundle import Holder, ObjectKind, RegisteredObject
from shengjing.registry.pdf import DEBIAN_NOTO, FontFace, Fonts, certificate_pdf, lookup_url, qr_matrix
from tests.registry.samples import certificate

BASE_URL = "https://data.shenyang.gov.cn/"
URL = "https://data.shenyang.gov.cn/registry/certificates/SJDJ-2026-12-210100-01-000123"

pytestmark = pytest.mark.skipif(
    not DEBIAN_NOTO.regular.path.exists(), reason="fonts-noto-cjk is not installed (CI installs it)"
)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return certificate_pdf(certificate(), BASE_URL)


def _qr_codes(pdf: bytes) -> list[str]:
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=200 / 72).to_pil()  # 200 dpi, a phone camera's view of a printed page
    return [found.text for found in zxingcpp.read_barcodes(image) if found.format == zxingcpp.BarcodeFormat.QRCode]


def test_it_is_one_a4_page_with_its_fonts_embedded(pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf), strict=True)
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    fonts = [font.get_object() for font in page["/Resources"]["/Font"].values()]
    assert len(fonts) == 2
    for font in fonts:
        descendant = font["/DescendantFonts"][0].get_object()
        assert font["/Encoding"] == "/Identity-H" and "/ToUnicode" in font
        assert descendant["/Subtype"] == "/CIDFontType2"
        assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded, not left to the viewer
    assert reader.metadata is not None and "SJDJ-2026-12-210100-01-000123" in (reader.metadata.title or "")


def test_its_text_can_be_extracted(pdf: bytes) -> None:
    for text in (pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text(), extract_text(io.BytesIO(pdf))):
        for expected in ("SJDJ-2026-12-210100-01-000123", "21010001202600001235", "沈阳市公安局", "户籍人口基本信息",
                         "持有权、加工使用权", "2026年12月3日", "沈阳市数据局", URL):  # fmt: skip
            assert expected in text


def test_its_qr_code_holds_the_lookup_url(pdf: bytes) -> None:
    assert _qr_codes(pdf) == [URL]


def test_the_qr_code_is_the_matrix_for_the_url() -> None:
    # Without a decoder: 82 bytes at level M need version 5, 37 modules a side.
    matrix = qr_matrix(URL)
    assert len(matrix) == 37 and all(len(row) == 37 for row in matrix)
    assert matrix[0][:7] == [True] * 7  # a finder pattern in the corner


def test_long_names_are_set_smaller_and_keep_clear_of_the_qr_code() -> None:
    long = certificate(
        holder=Holder("沈阳市" + "某" * 93 + "有限公司", "11210100001148839G"),  # the longest name taken: 100
        object=RegisteredObject(ObjectKind.PRODUCT, "p-" + "x" * 98, "数据产品" * 25),
    )
    pdf = certificate_pdf(long, BASE_URL)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    assert _qr_codes(pdf) == [URL]
    assert "有限公司" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_lookup_url() -> None:
    assert lookup_url("https://data.shenyang.gov.cn", "SJDJ-2026-12-210100-01-000123") == URL
    assert lookup_url(BASE_URL, certificate().number) == URL
    for bad in ("data.shenyang.gov.cn", "ftp://x", "https://x y", ""):
        with pytest.raises(InvalidInput):
            lookup_url(bad, "SJDJ-2026-12-210100-01-000123")


def test_a_missing_font_says_what_to_install(tmp_path: Path) -> None:
    fonts = Fonts(FontFace(tmp_path / "none.ttc", "NotoSansCJKsc-Regular"), DEBIAN_NOTO.bold)
    with pytest.raises(ConfigurationError, match="fonts-noto-cjk"):
        certificate_pdf(certificate(), BASE_URL, fonts)
    fonts = Fonts(FontFace(DEBIAN_NOTO.regular.path, "NoSuchFace-Regular"), DEBIAN_NOTO.bold)
    with pytest.raises(ConfigurationError, match="NoSuchFace-Regular"):
        certificate_pdf(certificate(), BASE_URL, fonts)
