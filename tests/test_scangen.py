"""The scanned-form generator: layout truth, page splits, determinism, arithmetic, outputs."""

from __future__ import annotations

import io
import json
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from scangen import (
    CellTruth,
    FontFamily,
    FontMissingError,
    PageTruth,
    RenderOptions,
    ScanPage,
    font_file,
    format_amount,
    load_font,
    page_geometry,
    random_form,
    render_forms,
    scan_forms,
    write_pdf,
    write_tiff,
)
from scangen.cli import main as cli_main
from selfeval.contract.record import Form, Funding, FundingRow, Goal, Grade, Indicator, Record

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures" / "forms"
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
    paths = sorted(FIXTURES.glob("form_*.json"))
    return [Record.model_validate(json.loads(p.read_text(encoding="utf-8"))).form for p in paths]


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


def test_every_printed_line_fits_inside_its_cell() -> None:
    forms = [long_form(), random_form(3)]
    for family in (FontFamily.sans, FontFamily.serif, FontFamily.wqy):
        pages = render_forms(forms, RenderOptions(dpi=150, font=family))
        geo = page_geometry(150)
        font = load_font(family, geo.body_px)
        for truth, cell in all_cells(pages):
            x0, y0, x1, y1 = cell.bbox
            assert 0 <= x0 < x1 <= truth.width and 0 <= y0 < y1 <= truth.height
            for line in cell.lines:
                assert font.getlength(line) <= x1 - x0 - 2 * geo.pad_x, (family, line)
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


@pytest.mark.skipif(not FIXTURES.exists(), reason="fixtures not written yet")
def test_fixture_forms_render_with_every_indicator() -> None:
    forms = fixture_forms()
    if not forms:
        pytest.skip("no fixture forms yet")
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
def test_presets_skew_within_bounds_and_seal_the_totals(quality: str, max_skew: float) -> None:
    pages = scan_forms([small_form()], quality, dpi=150, seed=5)
    done = {d["kind"]: d for d in pages[-1].truth.degradations}
    assert abs(done["Skew"]["angle"]) <= max_skew
    assert done["RedSeal"]["placed"] and done["RedSeal"]["text"] == UNIT
    x0, y0, x1, y1 = done["RedSeal"]["bbox"]
    pixels = np.asarray(pages[-1].image.convert("RGB"), dtype=np.int16)[y0:y1, x0:x1]
    reddish = (pixels[..., 0] - pixels[..., 1]) > 60
    assert reddish.sum() > 100


def test_clean_preset_changes_nothing() -> None:
    rendered = render_forms([small_form()], FAST)
    scanned = scan_forms([small_form()], "clean", dpi=150, seed=9)
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


def test_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from scangen import fonts

    missing = fonts.FontFile(Path("/nonexistent/wqy.ttc"), 0)
    monkeypatch.setitem(fonts._REGULAR, FontFamily.wqy, missing)
    with pytest.raises(FontMissingError, match="fonts-wqy-zenhei"):
        font_file(FontFamily.wqy)
