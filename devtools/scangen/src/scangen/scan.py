"""One call from forms to degraded pages: render, then age each page with a preset."""

from __future__ import annotations

from collections.abc import Sequence

from selfeval.contract.record import Form

from .degrade import degrade_page, preset
from .fonts import FontFamily
from .render import RenderOptions, ScanPage, render_forms


def scan_forms(
    forms: Sequence[Form],
    quality: str = "office",
    dpi: int = 200,
    seed: int = 0,
    font: FontFamily | str = FontFamily.sans,
    thousands: bool | None = False,
    signature: bool = False,
) -> list[ScanPage]:
    """Pages of all forms, each form from a new page, degraded with preset `quality`.

    The seal carries the form's own 实施单位; the same arguments always give the same pixels.
    """
    options = RenderOptions(dpi=dpi, font=FontFamily(font), thousands=thousands, seed=seed)
    pages = render_forms(list(forms), options)
    scanned = []
    for page in pages:
        unit = forms[page.truth.form_index].implementing_unit
        scanned.append(degrade_page(page, preset(quality, signature, seal_text=unit), seed))
    return scanned
