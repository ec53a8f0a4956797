"""End to end with the real models: every figure on office-quality scans of real forms is read exactly."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from scangen import PageTruth, ScanPage, scan_forms, write_pdf, write_tiff
from selfeval.contract.ocr import Cell, PageTables
from services.ocr import OcrEngine, OcrSettings, tables_to_html
from tests.conftest import REAL_FORMS, load_fixture

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

NUMERIC_FIELD = re.compile(
    r"^form\.(funding\.\w+\.\w+|indicators\[\d+\]\.(weight|score)|total_weight|total_score)$"
)


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "")


def read_pages(engine: OcrEngine, pages: list[ScanPage], tmp_path: Path) -> PageTables:
    path = write_tiff(pages, tmp_path / "scan.tiff")
    return engine.read(path.read_bytes(), source=str(path))


def cells_by_position(result: PageTables, number: int) -> dict[tuple[int, int], Cell]:
    page = result.pages[number - 1]
    assert len(page.tables) == 1
    return {(c.row, c.col): c for c in page.tables[0].cells}


def compare(result: PageTables, truths: list[PageTruth]) -> tuple[list[str], int, int]:
    """Numeric-cell mismatches, and exact text hits over all cells."""
    wrong, hits, total = [], 0, 0
    for truth in truths:
        cells = cells_by_position(result, truth.page)
        for cell in truth.cells:
            got = cells.get((cell.row, cell.col))
            text = norm(got.text) if got else None
            total += 1
            hits += text == norm(cell.text)
            if cell.field and NUMERIC_FIELD.match(cell.field) and text != norm(cell.text):
                wrong.append(f"p{truth.page} {cell.field}: {cell.text!r} read as {text!r}")
    return wrong, hits, total


@pytest.fixture(scope="module")
def office_scans() -> dict[str, list[ScanPage]]:
    return {
        path.stem: scan_forms([load_fixture(path).form], quality="office", dpi=200, seed=1, classic=True)
        for path in (REAL_FORMS[0], REAL_FORMS[4])
    }


@pytest.fixture(scope="module")
def office_results(engine: OcrEngine, office_scans: dict[str, list[ScanPage]], tmp_path_factory) -> dict:
    results = {}
    for name, pages in office_scans.items():
        buffer = io.BytesIO()
        write_tiff(pages, tmp := tmp_path_factory.mktemp(name) / "scan.tiff")
        buffer.write(tmp.read_bytes())
        results[name] = engine.read(buffer.getvalue(), source=f"{name}.tiff")
    return results


@pytest.mark.system
@pytest.mark.parametrize("name", ["form_01", "form_05"])
def test_every_figure_is_read_exactly(name: str, office_scans, office_results) -> None:
    truths = [page.truth for page in office_scans[name]]
    wrong, hits, total = compare(office_results[name], truths)
    print(f"\n{name} office: {hits}/{total} cells exact ({hits / total:.1%})")
    numeric = sum(1 for t in truths for c in t.cells if c.field and NUMERIC_FIELD.match(c.field))
    assert numeric > 20
    assert wrong == []


@pytest.mark.system
def test_result_carries_provenance_and_timings(office_results) -> None:
    result = office_results["form_01"]
    assert len(result.sha256 or "") == 64 and result.source == "form_01.tiff"
    assert {"open", "clean", "grid", "recognise", "total"} <= result.timings.keys()
    assert result.models["rec"].startswith("PP-OCRv6_small_rec")
    assert "det" not in result.models  # no detector runs: provenance names only models that ran
    page = result.pages[0]
    assert page.dpi == 200 and page.width == 1654
    assert [line.text for line in page.free_lines][:1] == ["财政项目支出绩效自评表"]
    cell = cells_by_position(result, 1)[(3, 2)]
    assert cell.lines and cell.confidence == min(line.confidence for line in cell.lines)


@pytest.mark.system
def test_skew_is_reported(office_scans, office_results) -> None:
    for scan, page in zip(office_scans["form_01"], office_results["form_01"].pages, strict=True):
        applied = next(d["angle"] for d in scan.truth.degradations if d["kind"] == "Skew")
        assert abs(page.skew_degrees - applied) <= 0.3


@pytest.mark.system
def test_cells_under_the_seal_are_read(office_scans, office_results) -> None:
    for name, pages in office_scans.items():
        for scan in pages:
            seal = next(d for d in scan.truth.degradations if d["kind"] == "Seal")
            if not seal["placed"]:
                continue
            sx0, sy0, sx1, sy1 = seal["bbox"]
            cells = cells_by_position(office_results[name], scan.truth.page)
            under = [
                c for c in scan.truth.cells
                if c.text and c.bbox[0] < sx1 and sx0 < c.bbox[2] and c.bbox[1] < sy1 and sy0 < c.bbox[3]
            ]  # fmt: skip
            assert len(under) >= 2
            for cell in under:
                assert norm(cells[(cell.row, cell.col)].text) == norm(cell.text), cell.field


@pytest.mark.system
def test_the_tiny_line_reader_reads_every_figure(model_cache: Path, office_scans, tmp_path: Path) -> None:
    tiny = OcrEngine(OcrSettings(model_dir=model_cache, threads=2, line_reader="tiny"))
    assert tiny.models["rec"].startswith("PP-OCRv6_tiny_rec")
    pages = office_scans["form_05"]
    wrong, hits, total = compare(read_pages(tiny, pages, tmp_path), [p.truth for p in pages])
    print(f"\nform_05 office, tiny reader: {hits}/{total} cells exact")
    assert wrong == []


@pytest.mark.system
def test_multi_page_pdf(engine: OcrEngine, tmp_path: Path) -> None:
    pages = scan_forms([load_fixture(REAL_FORMS[3]).form], quality="clean", dpi=200, seed=1, classic=True)
    path = write_pdf(pages, tmp_path / "scan.pdf")
    result = engine.read(path.read_bytes(), source=str(path))
    assert len(result.pages) == len(pages) >= 2
    wrong, hits, total = compare(result, [p.truth for p in pages])
    print(f"\nform_04 clean via PDF: {hits}/{total} cells exact")
    assert wrong == []


@pytest.mark.system
def test_html_view(office_results) -> None:
    html = tables_to_html(office_results["form_01"])
    assert html.startswith("<!DOCTYPE html>") and 'rowspan="5"' in html and 'colspan="7"' in html
    assert "财政项目支出绩效自评表" in html


def test_table_without_rulings_falls_back_to_slanet(engine: OcrEngine) -> None:
    from PIL import Image, ImageDraw

    from scangen import load_font

    image = Image.new("RGB", (1400, 700), "white")
    draw, font = ImageDraw.Draw(image), load_font("noto-sans", 30)
    rows = [
        ["指标", "目标值", "实际值"],
        ["培训次数", "10", "12"],
        ["满意度", "90.00", "95.00"],
        ["完成率", "100%", "98%"],
    ]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            draw.text((100 + c * 420, 100 + r * 120), text, font=font, fill="black")
    page = engine.read_image(np.asarray(image)[:, :, ::-1].copy(), 200)
    assert [t.structure for t in page.tables] == ["slanet"]
    table = page.tables[0]
    assert table.n_rows == 4
    assert "培训次数" in {cell.text for cell in table.cells}


def ruled_strip(columns: tuple[int, ...]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white strip of a 200 dpi page holding a two-row table ruled at `columns`, and its drawing."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1654, 400), "white")
    draw = ImageDraw.Draw(image)
    for y in (100, 220, 340):
        draw.line((100, y, 1550, y), fill="black", width=3)
    for x in columns:
        draw.line((x, 100, x, 340), fill="black", width=3)
    return image, draw


def cell_texts(engine: OcrEngine, image: Image.Image) -> dict[tuple[int, int], str]:
    page = engine.read_image(np.asarray(image)[:, :, ::-1].copy(), 200)
    return {(cell.row, cell.col): cell.text for table in page.tables for cell in table.cells}


def test_a_speck_a_wide_gap_beyond_the_print_is_no_character(engine: OcrEngine) -> None:
    """What a faded seal leaves beyond a unit's name: a dark speck among strokes too faint to be ink.
    Read as a piece of its own, the speck and the faint strokes around it made a sure 业."""
    from scangen import load_font

    image, draw = ruled_strip((100, 500, 1550))
    font = load_font("noto-serif", 34)
    draw.text((160, 140), "实施单位", font=font, fill="black")
    draw.text((560, 140), "上海科学技术交流中心", font=font, fill="black")
    draw.text((160, 260), "项目名称", font=font, fill="black")
    draw.text((560, 260), "科研基地服务与科技项目管理", font=font, fill="black")
    draw.text((1280, 135), "业务", font=load_font("noto-serif", 40), fill=(240, 240, 240))
    draw.rectangle((1300, 158, 1310, 164), fill="black")
    texts = cell_texts(engine, image)
    assert texts[(0, 1)] == "上海科学技术交流中心"
    assert texts[(1, 1)] == "科研基地服务与科技项目管理"


def test_a_flat_speck_below_a_cells_text_is_no_dash(engine: OcrEngine) -> None:
    """A clump of a 1-bit scan's dither under a cell's text has a dash's shape; only a dash standing
    alone in its cell is the forms' "not applicable" mark."""
    from scangen import load_font

    image, draw = ruled_strip((100, 500, 900, 1550))
    font = load_font("noto-serif", 34)
    draw.text((160, 130), "达成指标", font=font, fill="black")
    draw.rectangle((190, 188, 196, 190), fill="black")  # a speck below the text
    draw.text((560, 130), "合格", font=font, fill="black")
    draw.rectangle((580, 112, 586, 114), fill="black")  # … and one above it
    draw.text((1200, 130), "-", font=font, fill="black")  # a dash alone in its cell
    draw.text((160, 250), "培训次数", font=font, fill="black")
    draw.text((560, 250), "-", font=font, fill="black")
    texts = cell_texts(engine, image)
    assert texts[(0, 0)] == "达成指标"
    assert texts[(0, 1)] == "合格"
    assert texts[(0, 2)] == "-"
    assert texts[(1, 1)] == "-"


def test_a_grade_amid_a_dropped_seals_mottle_is_read(engine: OcrEngine) -> None:
    """A red seal's colour, dropped, leaves blotches far fainter than the print around a grade under
    it. Read with them, the line was three times the character's height and read as nothing; read
    without the blotches far fainter than its darkest ink, it is the grade."""
    from scangen import load_font

    rng = np.random.default_rng(2)
    image, draw = ruled_strip((100, 500, 1550))
    font = load_font("noto-serif", 34)
    draw.text((160, 140), "总分", font=font, fill="black")
    draw.text((160, 260), "评分等级", font=font, fill="black")
    draw.text((900, 266), "优", font=load_font("lxgw-wenkai", 26), fill="black")
    for _ in range(250):
        x, y = int(rng.integers(700, 1200)), int(rng.integers(226, 334))
        width, height = int(rng.integers(4, 20)), int(rng.integers(3, 8))
        draw.ellipse((x, y, x + width, y + height), fill=(165, 165, 165))
    texts = cell_texts(engine, image)
    assert texts[(1, 1)] == "优"
    assert texts[(0, 0)] == "总分" and texts[(1, 0)] == "评分等级"
