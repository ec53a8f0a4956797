"""Ground truth written beside every page: what was printed where, before any degradation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BBox = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels of the undegraded page; x1/y1 are the far border lines."""
Point = tuple[float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CellTruth(_Model):
    """One cell of the ruled table as it appears on one page."""

    row: int = Field(description="grid row on this page, 0 = first table row on the page")
    col: int = Field(description="grid column 0..7")
    rowspan: int = 1
    colspan: int = 1
    bbox: BBox
    text: str = Field(description='printed text, wrapped lines joined with ""')
    lines: list[str] = Field(default_factory=list, description="the wrapped lines as drawn")
    field: str | None = Field(None, description="record path, e.g. form.indicators[2].name; None = label")
    continued: bool = Field(False, description="continuation of a row split at the previous page")
    truncated: bool = Field(False, description="text goes on at the top of the next page")
    corners: list[Point] = Field(
        default_factory=list,
        description="bbox's corners (TL, TR, BR, BL) where skew, perspective and curl put them in the scan",
    )


class TextLineTruth(_Model):
    """Free text outside the table (title, year line)."""

    kind: str
    text: str
    bbox: BBox
    corners: list[Point] = Field(default_factory=list, description="as CellTruth.corners")


class PageTruth(_Model):
    page: int = Field(description="1-based page number in the document")
    form_index: int = Field(description="0-based index of the form this page belongs to")
    form_page: int = Field(description="1-based page number within the form")
    width: int
    height: int
    dpi: int
    font: str = Field(description="the body text's face (a key of scangen.fonts.FACES)")
    title_font: str = Field("", description="the title's face")
    text_lines: list[TextLineTruth] = Field(default_factory=list)
    cells: list[CellTruth] = Field(default_factory=list)
    look: dict[str, Any] = Field(
        default_factory=dict,
        description="every choice behind the scan (scangen.look.Look): face, mode, seal, …",
    )
    degradations: list[dict[str, Any]] = Field(
        default_factory=list,
        description=(
            "applied in order; Skew turns about the page centre, counter-clockwise degrees; "
            "Perspective and PageCurl give their maps (scangen.geometry.map_points applies them all)"
        ),
    )

    def cells_for(self, field_prefix: str) -> list[CellTruth]:
        """Cells whose record path starts with `field_prefix`."""
        return [c for c in self.cells if c.field is not None and c.field.startswith(field_prefix)]

    def texts(self) -> list[str]:
        return [line.text for line in self.text_lines] + [c.text for c in self.cells]


class DocumentTruth(_Model):
    """Truth for a whole scan (one or more forms)."""

    pages: list[PageTruth]
    forms: list[dict[str, Any]] = Field(
        default_factory=list, description="each form as Form.model_dump(mode='json')"
    )
