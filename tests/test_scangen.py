"""The scan generator: layout truth, page splits, typefaces, scan modes, seals, geometry, determinism,
held-out draws, arithmetic, outputs."""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFont

from scangen import (
    FACES,
    CellTruth,
    Family,
    FontMissingError,
    LayoutStyle,
    PageTruth,
    RenderOptions,
    ScanPage,
    SealInk,
    SealPlace,
    Split,
    draw_look,
    faces_of,
    format_amount,
    map_points,
    page_geometry,
    random_form,
    render_forms,
    scan_forms,
    typeface,
    write_pdf,
    write_tiff,
)
from scangen.cli import main as cli_main
from scangen.compare import is_figure
from scangen.fixtures import REAL_FORMS
from scangen.fonts import FontFile, locate
from scangen.layout import random_style
from scangen.seal import DEV_SHAPES, HELDOUT_SHAPES
from selfeval.contract.record import Form, Funding, FundingRow, Goal, Grade, Indicator, Record

pytestmark = pytest.mark.unit

D = Decimal
TITLE = "财政项目支出绩效自评表"
FAST = RenderOptions(dpi=150)


def _row(a: str, b: str, c: str, weight: str | None = None, rate: str = "100.00") -> FundingRow:
    score = D("10.00") if weight else None
    return FundingRow(
        initial_budget=D(a),
        annual_budget=D(b),
        executed=D(c),
        weight=D(weight) if weight else None,
        execution_rate=D(rate),
        score=score,
    )


UNIT = "上海科学技术交流中心"


def small_form(n_indicators: int = 4, target: str = "=2(场)", unit: str = UNIT) -> Form:
    """A hand-made form: 10 + 90 weights, everything met."""
    weights = [D(90) / n_indicators] * n_indicators
    weights[-1] = D(90) - sum(weights[:-1])
    weights = [w.quantize(D("0.01")) for w in weights]
    levels = [
        ("产出指标", "数量指标"),
        ("效益指标", "社会效益指标"),
        ("满意度指标", "服务对象满意度指标"),
    ]
    indicators = [
        Indicator(
            level1=levels[i % 3][0] if i else "产出指标",
            level2=levels[i % 3][1] if i else "数量指标",
            name=f"指标{i + 1}号工作",
            target=target,
            actual="2.00(场)",
            weight=weights[i],
            score=weights[i],
        )
        for i in range(n_indicators)
    ]
    indicators.sort(key=lambda ind: ind.level1)
    zero = _row("0.00", "0.00", "0.00", rate="0.00")
    return Form(
        year=2024,
        project_name="测试项目",
        department="上海市科学技术委员会",
        implementing_unit=unit,
        funding=Funding(
            total=_row("3900.00", "1900.00", "1900.00", "10.00"),
            current_year_appropriation=_row("3900.00", "1900.00", "1900.00"),
            carryover=zero,
            other=zero,
        ),
        goals=[Goal(expected="完成年度工作任务。", actual="已完成。")],
        indicators=indicators,
        total_weight=D("100.00"),
        total_score=D("100.00"),
        grade=Grade.excellent,
    )


def long_form() -> Form:
    """Enough multi-line rows that the table must run over pages and split a row."""
    target = "按照年度计划及时完成各项工作任务，形成阶段性成果并通过专家评审验收" * 2
    return small_form(n_indicators=24, target=target)


def fixture_forms() -> list[Form]:
    return [Record.model_validate(json.loads(p.read_text(encoding="utf-8"))).form for p in REAL_FORMS]


def png_bytes(page: ScanPage) -> bytes:
    buffer = io.BytesIO()
    page.image.save(buffer, "PNG")
    return buffer.getvalue()


def is_field(cell: CellTruth, suffix: str, part: str = "") -> bool:
    return cell.field is not None and cell.field.endswith(suffix) and part in cell.field


def all_cells(pages: list[ScanPage]) -> list[tuple[PageTruth, CellTruth]]:
    return [(p.truth, c) for p in pages for c in p.truth.cells]


# --- layout truth ----------------------------------------------------------------------------


def test_rendered_form_has_title_year_and_one_row_per_indicator() -> None:
    form = small_form(n_indicators=5)
    pages = render_forms([form], FAST)
    first = pages[0].truth
    assert [t.text for t in first.text_lines] == [TITLE, "（2024年度）"]
    title_box = first.text_lines[0].bbox
    assert abs((title_box[0] + title_box[2]) / 2 - first.width / 2) <= 2  # centred
    names = [c for _, c in all_cells(pages) if is_field(c, ".name") and not c.continued]
    assert [c.text for c in names] == [ind.name for ind in form.indicators]
    assert pages[0].image.size == (first.width, first.height)
    assert (first.width, first.height) == (page_geometry(150).width, page_geometry(150).height)


def test_funding_amounts_print_two_decimals_dash_and_optional_separators() -> None:
    form = small_form()
    plain = render_forms([form], FAST)[0].truth
    grouped = render_forms([form], RenderOptions(dpi=150, thousands=True))[0].truth
    assert plain.cells_for("form.funding.total.initial_budget")[0].text == "3900.00"
    assert grouped.cells_for("form.funding.total.initial_budget")[0].text == "3,900.00"
    assert grouped.cells_for("form.funding.total.execution_rate")[0].text == "100.00"
    assert plain.cells_for("form.funding.carryover.weight")[0].text == "-"
    assert format_amount(D("999.5"), thousands=True) == "999.50"
    assert format_amount(None) == "-"


def test_table_has_eight_columns_and_merged_level_cells() -> None:
    form = small_form(n_indicators=6)
    truth = render_forms([form], FAST)[0].truth
    assert {c.col + c.colspan for c in truth.cells} <= set(range(1, 9))
    assert max(c.col + c.colspan for c in truth.cells) == 8
    level1 = truth.cells_for("form.indicators[0].level1")[0]
    assert level1.rowspan == sum(ind.level1 == form.indicators[0].level1 for ind in form.indicators)
    assert "\n".join(level1.lines) in ("产出\n指标",)


@pytest.mark.parametrize("face", sorted(FACES))
def test_every_printed_line_fits_inside_its_cell(face: str) -> None:
    forms = [long_form(), random_form(3)]
    for style in (LayoutStyle(), random_style(np.random.default_rng(len(face)))):
        pages = render_forms(forms, RenderOptions(dpi=150, face=face, style=style))
        geo = page_geometry(150, style)
        font = typeface(face, geo.body_px)
        for truth, cell in all_cells(pages):
            x0, y0, x1, y1 = cell.bbox
            assert 0 <= x0 < x1 <= truth.width and 0 <= y0 < y1 <= truth.height
            for line in cell.lines:
                assert font.getlength(line) <= x1 - x0 - 2 * geo.pad_x, (face, line)
            assert len(cell.lines) * geo.line_h <= y1 - y0


# --- multi-page ------------------------------------------------------------------------------


def test_long_form_splits_a_row_and_continues_it_without_numbers() -> None:
    form = long_form()
    pages = render_forms([form], FAST)
    assert len(pages) >= 2
    split = [c for c in pages[0].truth.cells if c.truncated and is_field(c, "", ".indicators[")]
    assert split, "expected the last row of page 1 to be split"
    index = split[0].field.split("]")[0] + "]"
    head = {c.field: c for c in pages[0].truth.cells_for(index)}
    top = [c for c in pages[1].truth.cells if c.row == 0]
    assert all(c.continued for c in top)
    tail = {c.field: c for c in top}
    target = f"{index}.target"
    assert tail[target].text and head[target].text + tail[target].text == form.indicators[0].target
    assert head[f"{index}.weight"].text and tail[f"{index}.weight"].text == ""
    assert tail[f"{index}.score"].text == ""
    levels = [c for c in top if is_field(c, "", "level1") or is_field(c, "", "level2")]
    assert levels and all(c.text == "" for c in levels)
    assert min(c.bbox[1] for c in pages[1].truth.cells) == page_geometry(150).margin


def test_unsplittable_rows_move_whole_and_nothing_is_lost() -> None:
    form = small_form(n_indicators=30, target="=2(场)")
    form.goals = [Goal(expected="目标" * 400, actual="完成" * 300)]
    pages = render_forms([form], FAST)
    assert len(pages) >= 2
    for i, ind in enumerate(form.indicators):
        parts = [c for _, c in all_cells(pages) if c.field == f"form.indicators[{i}].name"]
        assert "".join(c.text for c in parts) == ind.name
    goal = [c for _, c in all_cells(pages) if c.field == "form.goals[0].expected"]
    assert "".join(c.text for c in goal) == form.goals[0].expected


def test_two_forms_start_on_new_pages_with_their_own_index() -> None:
    pages = render_forms([long_form(), small_form()], FAST)
    assert [p.truth.page for p in pages] == list(range(1, len(pages) + 1))
    assert {p.truth.form_index for p in pages} == {0, 1}
    starts = [p.truth for p in pages if p.truth.form_page == 1]
    assert [t.form_index for t in starts] == [0, 1]
    assert all(t.text_lines and t.text_lines[0].text == TITLE for t in starts)
    assert all(not p.truth.text_lines for p in pages if p.truth.form_page > 1)


def test_fixture_forms_render_with_every_indicator() -> None:
    forms = fixture_forms()
    assert len(forms) == 8
    pages = render_forms(forms, RenderOptions(dpi=200))
    for index, form in enumerate(forms):
        own = [p for p in pages if p.truth.form_index == index]
        scores = [c for p in own for c in p.truth.cells if is_field(c, ".score", "indicators")]
        assert len([c for c in scores if c.text]) == len(form.indicators)
        grade = [c for p in own for c in p.truth.cells_for("form.grade")]
        assert grade[0].text == form.grade.value


# --- degradation and determinism -------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    forms = [small_form()]
    a = scan_forms(forms, "office", dpi=150, seed=1)
    b = scan_forms(forms, "office", dpi=150, seed=1)
    c = scan_forms(forms, "office", dpi=150, seed=2)
    assert png_bytes(a[0]) == png_bytes(b[0])
    assert png_bytes(a[0]) != png_bytes(c[0])
    pdf_a, pdf_b = write_pdf(a, tmp_path / "a.pdf"), write_pdf(b, tmp_path / "b.pdf")
    assert pdf_a.read_bytes() == pdf_b.read_bytes()
    assert a[0].truth == b[0].truth


@pytest.mark.parametrize(("quality", "max_skew"), [("office", 1.0), ("poor", 3.0)])
def test_classic_presets_skew_within_bounds_and_seal_the_totals(quality: str, max_skew: float) -> None:
    pages = scan_forms([small_form()], quality, dpi=150, seed=5, classic=True)
    done = {d["kind"]: d for d in pages[-1].truth.degradations}
    assert abs(done["Skew"]["angle"]) <= max_skew
    assert done["Seal"]["placed"] and done["Seal"]["text"] == UNIT and done["Seal"]["ink"] == "red"
    x0, y0, x1, y1 = done["Seal"]["bbox"]
    pixels = np.asarray(pages[-1].image.convert("RGB"), dtype=np.int16)[y0:y1, x0:x1]
    reddish = (pixels[..., 0] - pixels[..., 1]) > 60
    assert reddish.sum() > 100


def test_classic_clean_preset_changes_nothing() -> None:
    rendered = render_forms([small_form()], FAST)
    scanned = scan_forms([small_form()], "clean", dpi=150, seed=9, classic=True)
    assert png_bytes(rendered[0]) == png_bytes(scanned[0])
    assert scanned[0].truth.degradations == []


# --- random variants -------------------------------------------------------------------------


def _rate(executed: Decimal, budget: Decimal) -> Decimal:
    if budget == 0:
        return D("0.00")
    return (executed / budget * 100).quantize(D("0.01"), rounding=ROUND_DOWN)


def _grade(total: Decimal) -> Grade:
    return Grade("优" if total >= 90 else "良" if total >= 80 else "中" if total >= 60 else "差")


@pytest.mark.parametrize("seed", range(50))
def test_random_form_arithmetic_is_consistent(seed: int) -> None:
    form = random_form(seed)
    f = form.funding
    subs = (f.current_year_appropriation, f.carryover, f.other)
    for attr in ("initial_budget", "annual_budget", "executed"):
        assert sum(getattr(r, attr) for r in subs) == getattr(f.total, attr)
    for row in (f.total, *subs):
        assert row.execution_rate == _rate(row.executed, row.annual_budget)
    ratio = f.total.executed / f.total.annual_budget
    expected = min(D(10), (D(10) * ratio).quantize(D("0.01"), rounding=ROUND_HALF_UP))
    assert f.total.weight == D(10) and f.total.score == expected
    assert all(r.weight is None and r.score is None for r in subs)
    assert 3 <= len(form.indicators) <= 30
    assert sum(i.weight for i in form.indicators) == D(90)
    assert all(D(0) <= i.score <= i.weight for i in form.indicators)
    assert all(i.deviation_reason for i in form.indicators if i.score < i.weight)
    assert form.total_weight == D(100)
    assert form.total_score == f.total.score + sum(i.score for i in form.indicators)
    assert form.grade == _grade(form.total_score)
    assert {i.level1 for i in form.indicators} <= {"产出指标", "效益指标", "满意度指标", "成本指标"}
    assert Form.model_validate(form.model_dump(mode="json")) == form


def test_random_forms_vary_and_some_run_over_pages() -> None:
    forms = [random_form(s) for s in range(12)]
    assert len({f.project_name for f in forms}) > 6
    assert len({len(f.indicators) for f in forms}) > 4
    pages = render_forms(forms, FAST)
    per_form = [sum(p.truth.form_index == i for p in pages) for i in range(len(forms))]
    assert max(per_form) >= 2 and min(per_form) >= 1


# --- outputs ---------------------------------------------------------------------------------


def test_pdf_is_image_only_with_one_page_per_scan_page(tmp_path: Path) -> None:
    pages = scan_forms([long_form(), small_form()], "office", dpi=150, seed=3)
    path = write_pdf(pages, tmp_path / "scan.pdf")
    pdf = pdfium.PdfDocument(str(path))
    try:
        assert len(pdf) == len(pages) >= 3
        for i in range(len(pdf)):
            page = pdf[i]
            width, height = page.get_size()
            assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 in points
            assert page.get_textpage().get_text_range().strip() == ""
            kinds = {obj.type for obj in page.get_objects()}
            assert kinds == {pdfium.raw.FPDF_PAGEOBJ_IMAGE}
    finally:
        pdf.close()


def test_tiff_holds_every_page(tmp_path: Path) -> None:
    pages = render_forms([long_form()], FAST)
    path = write_tiff(pages, tmp_path / "scan.tiff")
    with Image.open(path) as tiff:
        assert tiff.n_frames == len(pages)


def test_cli_writes_pdf_pngs_and_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--random", "2", "--quality", "poor", "--dpi", "150", "--seed", "4"]
    assert cli_main([*args, "--out", str(tmp_path), "--png", "--pdf", "s.pdf"]) == 0
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(truth["pages"]) >= 2
    assert len(truth["forms"]) == 2 and (tmp_path / "s.pdf").stat().st_size > 0
    assert "page(s)" in capsys.readouterr().out


def test_missing_font_names_the_package() -> None:
    missing = FontFile("No Such Face CJK", "Regular", Path("/nonexistent/face.ttc"), 0, "fonts-wqy-zenhei")
    with pytest.raises(FontMissingError, match="fonts-wqy-zenhei"):
        locate(missing)


def test_a_face_installed_elsewhere_is_found_by_fontconfig() -> None:
    real = FACES["uming"].regular
    moved = replace(real, path=Path("/nonexistent/uming.ttc"))
    assert locate(moved) == (real.path, real.index)


# --- typefaces -------------------------------------------------------------------------------


@functools.cache
def printed_characters() -> frozenset[str]:
    """Every character a scan of the eight real forms prints (labels, figures, prose, title)."""
    pages = render_forms(fixture_forms(), RenderOptions(dpi=100))
    return frozenset(ch for page in pages for text in page.truth.texts() for ch in text if not ch.isspace())


def glyph_mask(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    mask = font.getmask(ch)
    return bytes(mask) + bytes(str(mask.size), "ascii")


NOT_A_CHARACTER = "\U0010fffd"  # private use, plane 16: no face has it, so it draws .notdef


@pytest.mark.parametrize("bold", [False, True], ids=["regular", "bold"])
@pytest.mark.parametrize("face", sorted(FACES))
def test_every_face_draws_every_character_of_the_real_forms_without_tofu(face: str, bold: bool) -> None:
    characters = printed_characters()
    assert len(characters) > 400
    chosen = typeface(face, 40, bold)
    fell_back = 0
    for ch in sorted(characters):
        ((font, _),) = chosen.runs(ch)
        drawn, notdef = glyph_mask(font, ch), glyph_mask(font, NOT_A_CHARACTER)
        assert drawn != notdef, f"{face}: {ch!r} drawn as .notdef"
        assert any(font.getmask(ch)), f"{face}: {ch!r} drawn blank"
        fell_back += font.path != str(locate(chosen.fonts[0])[0])
    # cwTeX's faces (仿宋, and 粗黑 as WenQuanYi's bold) are drawn for traditional Chinese: a third of
    # the forms' simplified characters come from the fallback. Every other face has them all.
    if FACES[face].family is Family.fangsong or (face == "wqy-zenhei" and bold):
        assert fell_back > 50
    else:
        assert fell_back == 0


def test_each_family_has_development_and_heldout_faces() -> None:
    for family in Family:
        dev, heldout = faces_of(family, heldout=False), faces_of(family, heldout=True)
        assert dev and heldout, family
        assert all(f.family is family for f in dev + heldout)
    assert len(faces_of(Family.song, heldout=False)) >= 3 and len(faces_of(Family.kai, heldout=False)) >= 3


def test_titles_mix_faces_and_bold() -> None:
    looks = [draw_look("office", seed) for seed in range(40)]
    assert sum(look.title_face != look.face for look in looks) > 10
    assert {FACES[look.title_face].family for look in looks} >= {Family.hei, Family.song}
    bold = typeface("uming", 40, bold=True)
    assert bold.fonts[0] == FACES["uming"].bold and bold.stroke == 0
    assert typeface("kaiti-gb", 40, bold=True).stroke > 0  # no bold file: strokes thickened


# --- layout variation ------------------------------------------------------------------------


def test_layouts_vary_per_seed_and_figures_never_wrap() -> None:
    styles = [random_style(np.random.default_rng(seed)) for seed in range(30)]
    assert len({s.body_pt for s in styles}) >= 5 and all(9 <= s.body_pt <= 12 for s in styles)
    assert len({s.col_ems for s in styles}) == len(styles)
    assert len({s.line_spacing for s in styles}) > 10
    for seed, style in enumerate(styles[:8]):
        pages = render_forms([random_form(seed)], RenderOptions(dpi=150, face="lxgw-wenkai", style=style))
        figures = [c for _, c in all_cells(pages) if c.field and is_figure(c.field) and c.text]
        assert figures and all(len(c.lines) == 1 for c in figures), (style, [c.lines for c in figures])


def test_thousands_separators_come_and_go_per_form() -> None:
    pages = render_forms([small_form()] * 8, RenderOptions(dpi=100, thousands=None, seed=0))
    printed = {p.truth.cells_for("form.funding.total.initial_budget")[0].text for p in pages}
    assert printed == {"3900.00", "3,900.00"}


# --- scan modes and files --------------------------------------------------------------------


def pdf_images(path: Path) -> list[tuple[list[str], int]]:
    """(filters, bits per pixel) of each page's one image."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        found = []
        for i in range(len(pdf)):
            (image,) = [o for o in pdf[i].get_objects() if o.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE]
            found.append((list(image.get_filters()), image.get_metadata().bits_per_pixel))
        return found
    finally:
        pdf.close()


def test_black_and_white_scans_are_one_bit_g4_in_tiff_and_pdf(tmp_path: Path) -> None:
    pages = scan_forms([long_form()], "office", dpi=150, seed=2, mode="bw")
    assert len(pages) >= 2 and all(p.image.mode == "1" for p in pages)
    values = set(np.unique(np.asarray(pages[0].image.convert("L"))).tolist())
    assert values == {0, 255}
    assert not any(d["kind"] == "Jpeg" for d in pages[0].truth.degradations)
    with Image.open(write_tiff(pages, tmp_path / "scan.tiff")) as tiff:
        assert tiff.n_frames == len(pages)
        for frame in range(tiff.n_frames):
            tiff.seek(frame)
            assert tiff.mode == "1" and tiff.info["compression"] == "group4"
    assert pdf_images(write_pdf(pages, tmp_path / "scan.pdf")) == [(["CCITTFaxDecode"], 1)] * len(pages)


@pytest.mark.parametrize(("mode", "image_mode", "bits"), [("colour", "RGB", 24), ("grey", "L", 8)])
def test_colour_and_grey_scans_are_jpeg_in_pdf(mode: str, image_mode: str, bits: int, tmp_path: Path) -> None:
    pages = scan_forms([small_form()], "office", dpi=150, seed=2, mode=mode, jpeg_quality=55)
    assert pages[0].image.mode == image_mode
    assert pages[0].truth.degradations[-1] == {"kind": "Jpeg", "quality": 55}
    assert pdf_images(write_pdf(pages, tmp_path / "scan.pdf")) == [(["DCTDecode"], bits)]
    with Image.open(write_tiff(pages, tmp_path / "scan.tiff")) as tiff:
        assert tiff.mode == image_mode and tiff.info["compression"] == "tiff_adobe_deflate"


@pytest.mark.parametrize("mode", ["colour", "grey", "bw"])
@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_same_arguments_same_files(mode: str, split: str, tmp_path: Path) -> None:
    def files(name: str) -> tuple[bytes, bytes]:
        pages = scan_forms([small_form()], "poor", seed=4, mode=mode, split=split)
        pdf, tiff = write_pdf(pages, tmp_path / f"{name}.pdf"), write_tiff(pages, tmp_path / f"{name}.tiff")
        return pdf.read_bytes(), tiff.read_bytes()

    assert files("a") == files("b")


# --- seals -----------------------------------------------------------------------------------

# A scan with nothing but its seal (and what the test fixes): the seal's pixels are the only change.
PLAIN = {
    "noise": 0.0,
    "blur": 0.0,
    "skew_degrees": 0.0,
    "jpeg_quality": None,
    "paper_tint": 0.0,
    "uneven_light": 0.0,
    "curl": 0.0,
    "signature": False,
}


def placed_seal(pages: list[ScanPage]) -> tuple[ScanPage, dict]:
    placed = [(p, d) for p in pages for d in p.truth.degradations if d["kind"] == "Seal" and d["placed"]]
    assert len(placed) == 1, "one seal per form"
    return placed[0]


@pytest.mark.parametrize("place", list(SealPlace))
def test_a_seal_lands_on_the_part_it_was_placed_over(place: SealPlace) -> None:
    form = random_form(5)
    pages = scan_forms([form], "office", dpi=150, seed=3, seal="red", seal_at=place, mode="colour", **PLAIN)
    page, seal = placed_seal(pages)
    expected = {
        SealPlace.totals: "form.grade",
        SealPlace.total_score: "form.total_score",
        SealPlace.grade: "form.grade",
        SealPlace.figures: "form.indicators[",
        SealPlace.funding: "form.funding.",
        SealPlace.header: "form.implementing_unit",
    }[place]
    assert (seal["field"] or {"totals": "form.grade", "header": "form.implementing_unit"}[place]).startswith(
        expected
    )
    target = page.truth.cells_for(seal["field"] or expected)[0].bbox
    x0, y0, x1, y1 = seal["bbox"]
    overlap_x = min(x1, target[2]) - max(x0, target[0])
    overlap_y = min(y1, target[3]) - max(y0, target[1])
    assert overlap_x > 0 and overlap_y > 0, (seal["bbox"], target)


def seal_pixels(ink: str, mode: str) -> tuple[np.ndarray, int]:
    """The pixels a seal changed (against the same scan without it), and the seal's box area."""

    def scan(seal: str) -> list[ScanPage]:
        return scan_forms(
            [small_form()], "office", dpi=150, seed=6, seal=seal, mode=mode, seal_opacity=0.9, **PLAIN
        )

    pages = scan(ink)
    page, seal = placed_seal(pages)
    x0, y0, x1, y1 = seal["bbox"]
    bare = scan("none")[page.truth.page - 1]
    stamped = np.asarray(page.image.convert("RGB"), dtype=np.int16)[y0:y1, x0:x1]
    blank = np.asarray(bare.image.convert("RGB"), dtype=np.int16)[y0:y1, x0:x1]
    visible = 0 if mode == "bw" else 30  # the faint fringe of the seal's edges is no ink to speak of
    return stamped[np.abs(stamped - blank).sum(axis=2) > visible], (x1 - x0) * (y1 - y0)


def test_seal_inks_red_grey_and_broken_dots() -> None:
    red, _ = seal_pixels("red", "colour")
    assert len(red) > 500 and np.median(red[:, 0] - red[:, 1]) > 60
    grey, _ = seal_pixels("grey", "colour")
    assert len(grey) > 500 and np.abs(grey[:, 0] - grey[:, 1]).max() <= 2  # neutral
    assert 40 < np.median(grey[:, 0]) < 200  # mid-grey, not black
    dots, area = seal_pixels("bw", "bw")
    assert (dots == 0).all()  # black dots on white: the ring is only where paper was
    assert 100 < len(dots) < area * 0.12  # a broken ring of dots, not a solid one
    pages = scan_forms([small_form()], "office", dpi=150, seed=6, seal="none")
    assert not any(d["kind"] == "Seal" for p in pages for d in p.truth.degradations)


def test_seal_size_ink_and_turn_vary() -> None:
    looks = [draw_look("office", seed) for seed in range(40)]
    assert {look.seal for look in looks} == set(SealInk)
    assert set(SealPlace) == {look.seal_at for look in looks}
    assert (
        len({look.seal_diameter_mm for look in looks}) > 20
        and len({look.seal_opacity for look in looks}) > 20
    )
    turns = set()
    for seed in range(4):
        pages = scan_forms([small_form()], "office", dpi=150, seed=seed, seal="red", **PLAIN)
        turns.add(placed_seal(pages)[1]["turn"])
    assert len(turns) == 4 and all(-30 <= turn <= 30 for turn in turns)


def test_a_seal_is_drawn_in_an_ink_its_scan_mode_shows() -> None:
    """A stamp is 1-bit dots only on a 1-bit scan, also when the benchmark fixes the mode the seed
    did not draw; a 1-bit scan shows a red or grey stamp in its own way."""
    for seed in range(60):
        for mode in ("colour", "grey"):
            assert draw_look("office", seed, Split.heldout, mode=mode).seal != SealInk.bw
    assert SealInk.bw in {draw_look("office", seed, mode="bw").seal for seed in range(20)}


# --- geometry --------------------------------------------------------------------------------


def ruling_hits(page: ScanPage, moved: bool) -> float:
    """Share of points along the cells' borders that sit on ink, where the truth says (moved) or
    where they were printed (not moved)."""
    ink = np.asarray(page.image.convert("L")) < 140
    truth = page.truth
    points = []
    for cell in truth.cells:
        x0, y0, x1, y1 = cell.bbox
        for t in np.linspace(0.15, 0.85, 5):
            points += [(x0 + t * (x1 - x0), y0), (x0 + t * (x1 - x0), y1), (x0, y0 + t * (y1 - y0))]
    where = np.array(points, dtype=np.float64)
    if moved:
        where = map_points(truth.degradations, where, (truth.width, truth.height))
    hits = 0
    for x, y in where.round().astype(int):
        hits += ink[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].any()
    return hits / len(where)


@pytest.mark.parametrize(
    "warp",
    [
        {"perspective": 0.03},
        {"curl": 1.0, "curl_edge": "left"},
        {"curl": 1.0, "curl_edge": "top"},
        {"perspective": 0.02, "curl": 0.8, "curl_edge": "right", "skew_degrees": 3.0},
    ],
)
def test_truth_boxes_move_with_the_ink(warp: dict) -> None:
    plain = {**PLAIN, "seal": "none", "shadow": 0.0, "specks": 0.0, "perspective": 0.0}
    (page,) = scan_forms([small_form()], "poor", dpi=150, seed=7, mode="grey", **{**plain, **warp})
    kinds = [d["kind"] for d in page.truth.degradations]
    assert ("Perspective" in kinds) == ("perspective" in warp) and ("PageCurl" in kinds) == ("curl" in warp)
    assert ruling_hits(page, moved=True) > 0.97
    assert ruling_hits(page, moved=False) < 0.8  # the warp really moved the rulings
    cell = page.truth.cells[0]
    x0, y0, x1, y1 = cell.bbox
    corners = map_points(
        page.truth.degradations,
        np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]),
        (page.truth.width, page.truth.height),
    )
    assert np.allclose(cell.corners, corners, atol=0.06)


def test_curl_bends_rulings_most_near_the_binding_edge() -> None:
    plain = {**PLAIN, "seal": "none", "perspective": 0.0, "shadow": 0.0, "specks": 0.0}
    (page,) = scan_forms(
        [small_form()], "poor", dpi=150, seed=8, **{**plain, "curl": 1.0, "curl_edge": "left"}
    )
    truth = page.truth
    near = np.array([(truth.cells[0].bbox[0], y) for y in (300.0, 1200.0)])
    far = np.array([(truth.width - 200.0, y) for y in (300.0, 1200.0)])
    shift_near = np.abs(map_points(truth.degradations, near, (truth.width, truth.height)) - near).max()
    shift_far = np.abs(map_points(truth.degradations, far, (truth.width, truth.height)) - far).max()
    assert shift_near > 2 * shift_far and shift_near > 4


# --- presets and draws -----------------------------------------------------------------------


def test_presets_draw_what_the_issue_describes() -> None:
    office = [draw_look("office", seed) for seed in range(20)]
    poor = [draw_look("poor", seed) for seed in range(20)]
    assert {look.dpi for look in office} == {200} and {look.dpi for look in poor} == {150}
    assert all(look.skew_degrees == 1.0 and look.blur > 0 for look in office)
    assert all(60 <= look.jpeg_quality <= 90 for look in office if look.mode != "bw")
    assert all(look.perspective > 0 and look.shadow > 0 and look.skew_degrees == 3.0 for look in poor)
    assert any(look.curl > 0 for look in poor)
    assert all(look.jpeg_quality is None for look in office + poor if look.mode == "bw")
    for quality in ("clean", "office", "poor"):
        looks = [draw_look(quality, seed) for seed in range(40)]
        assert {look.family for look in looks} == set(Family)
        assert {look.mode for look in looks} == {"colour", "grey", "bw"}
        assert len({look.face for look in looks}) >= 8


def test_fixing_one_choice_keeps_every_other() -> None:
    for seed in range(10):
        drawn = draw_look("poor", seed)
        fixed = draw_look("poor", seed, mode="bw", face="kaiti-gb", seal_at="figures", dpi=300)
        assert (fixed.mode, fixed.face, fixed.seal_at, fixed.dpi) == ("bw", "kaiti-gb", "figures", 300)
        keep = ("title_face", "style", "seal_shape", "perspective", "curl", "shadow", "noise")
        assert all(getattr(fixed, name) == getattr(drawn, name) for name in keep)
        # The seal's ink follows the mode the page is scanned in: the same draw when the mode is too.
        if drawn.mode == "bw":
            assert fixed.seal == drawn.seal
        assert draw_look("poor", seed, family="fangsong").family is Family.fangsong
    with pytest.raises(ValueError, match="unknown look choice"):
        draw_look("office", 1, colour="red")
    with pytest.raises(ValueError, match="150 to 300 dpi"):
        draw_look("office", 1, dpi=100)
    with pytest.raises(ValueError, match="unknown face"):
        scan_forms([small_form()], font="comic-sans")


def test_heldout_draws_never_overlap_development_draws() -> None:
    dev = [draw_look(q, seed, Split.dev) for q in ("clean", "office", "poor") for seed in range(60)]
    held = [draw_look(q, seed, Split.heldout) for q in ("clean", "office", "poor") for seed in range(60)]
    dev_faces = {look.face for look in dev} | {look.title_face for look in dev}
    held_faces = {look.face for look in held} | {look.title_face for look in held}
    assert dev_faces.isdisjoint(held_faces)
    assert held_faces == {f.key for f in FACES.values() if f.heldout}
    assert {look.seal_shape for look in dev} == set(DEV_SHAPES)
    assert {look.seal_shape for look in held} == set(HELDOUT_SHAPES)
    dev_forms = {random_form(seed).project_name for seed in range(200)}
    held_forms = {random_form(seed, heldout=True).project_name for seed in range(200)}
    assert dev_forms.isdisjoint(held_forms) and len(held_forms) > 50
    # The same seed and the same fixed choices give another scan on the held-out side.
    fixed = {"face": "noto-sans", "mode": "grey"}
    a = scan_forms([small_form()], "office", dpi=150, seed=1, **fixed)[0]
    b = scan_forms([small_form()], "office", dpi=150, seed=1, split="heldout", **fixed)[0]
    assert png_bytes(a) != png_bytes(b) and b.truth.look["split"] == "heldout"


def test_truth_records_the_look_and_every_step(tmp_path: Path) -> None:
    pages = scan_forms([small_form()], "poor", seed=12, font="song", mode="grey")
    look = pages[0].truth.look
    assert FACES[look["face"]].family is Family.song and look["mode"] == "grey" and look["quality"] == "poor"
    assert pages[0].truth.font == look["face"] and pages[0].truth.title_font == look["title_face"]
    kinds = [d["kind"] for d in pages[0].truth.degradations]
    assert kinds[-2:] == ["Greyscale", "Jpeg"] and "Perspective" in kinds and "EdgeShadow" in kinds
    assert Counter(kinds)["Skew"] == 1


def test_cli_draws_heldout_black_and_white_scans(tmp_path: Path) -> None:
    args = ["--random", "1", "--split", "heldout", "--mode", "bw", "--seal", "bw", "--seed", "2"]
    assert cli_main([*args, "--set", "perspective=0.02", "--out", str(tmp_path), "--tiff", "scan.tiff"]) == 0
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    look = truth["pages"][0]["look"]
    assert look["split"] == "heldout" and look["mode"] == "bw" and look["perspective"] == 0.02
    assert FACES[look["face"]].heldout
    with Image.open(tmp_path / "scan.tiff") as tiff:
        assert tiff.mode == "1" and tiff.info["compression"] == "group4"
    assert pdf_images(tmp_path / "scan.pdf")[0] == (["CCITTFaxDecode"], 1)


def test_cli_help_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scangen", "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    assert "--split" in result.stdout and "--seal-at" in result.stdout


def test_cli_each_form_gets_its_own_scan_and_look(tmp_path: Path) -> None:
    args = [
        "--random",
        "3",
        "--each",
        "--quality",
        "clean",
        "--dpi",
        "150",
        "--seed",
        "5",
        "--out",
        str(tmp_path),
    ]
    assert cli_main(args) == 0
    truths = [json.loads((tmp_path / f"00{i}-truth.json").read_text(encoding="utf-8")) for i in (1, 2, 3)]
    assert all(
        len(t["forms"]) == 1 and (tmp_path / f"00{i + 1}-scan.pdf").exists() for i, t in enumerate(truths)
    )
    looks = [t["pages"][0]["look"] for t in truths]
    assert len({(look["face"], look["mode"], look["seal_at"], look["seal"]) for look in looks}) == 3


def test_setup_installs_the_package_of_every_face() -> None:
    setup = (Path(__file__).parents[1] / "scripts" / "setup.sh").read_text(encoding="utf-8")
    listed = setup.split("APT_PACKAGES=(", 1)[1].split(")", 1)[0].split()
    fonts = {face.regular for face in FACES.values()} | {face.bold for face in FACES.values() if face.bold}
    assert {font.package for font in fonts} <= set(listed)
