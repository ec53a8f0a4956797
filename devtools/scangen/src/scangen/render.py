"""Draw forms onto A4 page images and record what was drawn where."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from selfeval.contract.record import Form

from .layout import STANDARD, LayoutStyle, PageGeometry, Span, build_table, page_geometry, wrap_text
from .paginate import PlacedRow, measure_table, paginate
from .truth import CellTruth, PageTruth, TextLineTruth
from .typeface import Typeface, typeface

INK = (20, 20, 20)
PAPER = (255, 255, 255)
DEFAULT_YEAR = 2024


@dataclass(frozen=True)
class RenderOptions:
    dpi: int = 200
    face: str = "noto-sans"  # body text: a key of fonts.FACES
    title_face: str | None = None  # the title (bold) and year line; None: the body's face
    style: LayoutStyle = STANDARD
    # None: decide per form from `seed`, as some units print 3,900.00 and others 3900.00.
    thousands: bool | None = False
    seed: int = 0


@dataclass
class ScanPage:
    """One page image with its ground truth."""

    image: Image.Image
    truth: PageTruth


@dataclass
class _Canvas:
    image: Image.Image
    draw: ImageDraw.ImageDraw
    geo: PageGeometry
    body: Typeface
    truth: PageTruth
    cells: list[CellTruth] = field(default_factory=list)


def render_forms(forms: list[Form], options: RenderOptions | None = None) -> list[ScanPage]:
    """Render each form starting on a new page; pages are numbered through the document."""
    options = options or RenderOptions()
    pages: list[ScanPage] = []
    for index, form in enumerate(forms):
        pages.extend(render_form(form, options, form_index=index, first_page=len(pages) + 1))
    return pages


def render_form(
    form: Form, options: RenderOptions | None = None, form_index: int = 0, first_page: int = 1
) -> list[ScanPage]:
    options = options or RenderOptions()
    geo = page_geometry(options.dpi, options.style)
    body = typeface(options.face, geo.body_px)
    table = build_table(form, _thousands_for(options, form_index))
    rows = measure_table(table, body, geo)
    first = _new_canvas(geo, body, options, form_index, first_page, 1)
    placed_pages = paginate(rows, geo, _draw_title(first, form, options.title_face or options.face))
    canvases = [first] + [
        _new_canvas(geo, body, options, form_index, first_page + n - 1, n)
        for n in range(2, len(placed_pages) + 1)
    ]
    for canvas, placed in zip(canvases, placed_pages, strict=True):
        _draw_page_table(canvas, placed, table.spans)
    return [ScanPage(c.image, c.truth) for c in canvases]


def _thousands_for(options: RenderOptions, form_index: int) -> bool:
    if options.thousands is not None:
        return options.thousands
    return bool(np.random.default_rng([options.seed, form_index, 7]).integers(2))


def _new_canvas(
    geo: PageGeometry,
    body: Typeface,
    options: RenderOptions,
    form_index: int,
    page: int,
    form_page: int,
) -> _Canvas:
    image = Image.new("RGB", (geo.width, geo.height), PAPER)
    truth = PageTruth(
        page=page,
        form_index=form_index,
        form_page=form_page,
        width=geo.width,
        height=geo.height,
        dpi=geo.dpi,
        font=options.face,
        title_font=options.title_face or options.face,
    )
    return _Canvas(image, ImageDraw.Draw(image), geo, body, truth)


def _draw_title(canvas: _Canvas, form: Form, face: str) -> int:
    """Title (bold) and year line; returns where the table starts."""
    geo = canvas.geo
    y = geo.margin + geo.title_px // 2
    _centred_line(canvas, "title", "财政项目支出绩效自评表", y, typeface(face, geo.title_px, bold=True))
    y += geo.title_px + geo.year_px
    _centred_line(canvas, "year", f"（{form.year or DEFAULT_YEAR}年度）", y, typeface(face, geo.year_px))
    return y + geo.year_px


def _centred_line(canvas: _Canvas, kind: str, text: str, y: int, face: Typeface) -> None:
    box = face.draw(canvas.draw, (canvas.geo.width // 2, y), text, "mm", INK)
    canvas.truth.text_lines.append(TextLineTruth(kind=kind, text=text, bbox=box))


def _draw_page_table(canvas: _Canvas, placed: list[PlacedRow], spans: list[Span]) -> None:
    for grid_row, part in enumerate(placed):
        _draw_row(canvas, grid_row, part)
    for span in spans:
        _draw_span(canvas, placed, span)
    canvas.cells.sort(key=lambda c: (c.row, c.col))
    canvas.truth.cells = canvas.cells


def _draw_row(canvas: _Canvas, grid_row: int, part: PlacedRow) -> None:
    geo = canvas.geo
    for i, cell in enumerate(part.cells):
        x0, x1 = geo.span_x(cell.col, cell.colspan)
        box = (x0, part.y0, x1, part.y1)
        lines = part.lines[i]
        one_line = len(part.source.lines[i]) == 1
        align = "center" if cell.field is None or cell.numeric or one_line else "left"
        _draw_cell(canvas, box, lines, align)
        more = part.more[i] if part.more else False
        canvas.cells.append(
            CellTruth(
                row=grid_row,
                col=cell.col,
                colspan=cell.colspan,
                bbox=box,
                text="".join(lines),
                lines=lines if any(lines) else [],
                field=cell.field,
                continued=part.continued,
                truncated=more,
            )
        )


def _draw_span(canvas: _Canvas, placed: list[PlacedRow], span: Span) -> None:
    """Draw the part of a merged cell on this page; its label only where the span starts."""
    rows = [r for r, p in enumerate(placed) if span.first <= p.source.index <= span.last]
    if not rows:
        return
    geo = canvas.geo
    x0, x1 = geo.span_x(span.col, 1)
    box = (x0, placed[rows[0]].y0, x1, placed[rows[-1]].y1)
    starts_here = placed[rows[0]].source.index == span.first and not placed[rows[0]].continued
    lines = wrap_text(span.text, canvas.body, geo.text_width(span.col, 1), True) if starts_here else []
    room = max(0, (box[3] - box[1] - 2 * geo.pad_y) // geo.line_h)
    shown = lines[:room]
    canvas.draw.rectangle(box, fill=PAPER)  # hide the row borders inside the merged cell
    _draw_cell(canvas, box, shown, "center")
    canvas.cells.append(
        CellTruth(
            row=rows[0],
            col=span.col,
            rowspan=len(rows),
            bbox=box,
            text="".join(shown),
            lines=shown,
            field=span.field,
            continued=not starts_here,
            truncated=len(shown) < len(lines),
        )
    )


def _draw_cell(canvas: _Canvas, box: tuple[int, int, int, int], lines: list[str], align: str) -> None:
    geo = canvas.geo
    x0, y0, x1, y1 = box
    canvas.draw.rectangle(box, outline=INK, width=geo.rule)
    top = y0 + (y1 - y0 - len(lines) * geo.line_h) / 2
    for j, line in enumerate(lines):
        y = top + geo.line_h * (j + 0.5)
        if align == "center":
            canvas.body.draw(canvas.draw, ((x0 + x1) / 2, y), line, "mm", INK)
        else:
            canvas.body.draw(canvas.draw, (x0 + geo.pad_x, y), line, "lm", INK)
