"""A quick HTML view of what was read: each table with its row/col spans, then the free lines."""

from __future__ import annotations

from html import escape

from selfeval.contract.ocr import Page, PageTables, Table

_STYLE = (
    "body{font-family:sans-serif}table{border-collapse:collapse;margin:1em 0}"
    "td{border:1px solid #444;padding:2px 6px;vertical-align:top}"
    ".low{background:#fde2e2}.empty{background:#f4f4f4}.free{color:#555}"
)


def table_to_html(table: Table, low_confidence: float = 0.8) -> str:
    """One <table>; cells below `low_confidence` are shaded so a reviewer sees them at once."""
    by_row: dict[int, list[str]] = {}
    for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
        spans = ""
        if cell.rowspan > 1:
            spans += f' rowspan="{cell.rowspan}"'
        if cell.colspan > 1:
            spans += f' colspan="{cell.colspan}"'
        css = "empty" if not cell.text else ("low" if (cell.confidence or 0) < low_confidence else "")
        title = f"{cell.confidence:.3f}" if cell.confidence is not None else "empty"
        klass = f' class="{css}"' if css else ""
        by_row.setdefault(cell.row, []).append(f'<td{spans}{klass} title="{title}">{escape(cell.text)}</td>')
    rows = [f"<tr>{''.join(by_row.get(r, []))}</tr>" for r in range(table.n_rows)]
    return f'<table data-structure="{table.structure}">{"".join(rows)}</table>'


def page_to_html(page: Page) -> str:
    free = "".join(f'<p class="free">{escape(line.text)}</p>' for line in page.free_lines)
    tables = "".join(table_to_html(table) for table in page.tables)
    return f"<section><h2>Page {page.number} (skew {page.skew_degrees:+.2f}°)</h2>{free}{tables}</section>"


def tables_to_html(page_tables: PageTables) -> str:
    """A standalone HTML document for `selfeval ocr --html`."""
    title = escape(page_tables.source or "OCR result")
    body = "".join(page_to_html(page) for page in page_tables.pages)
    return (
        f'<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>\n"
    )
