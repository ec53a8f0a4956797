"""What the OCR service hands the parser: per page, ruled tables of cells plus the free text lines.

Coordinates are pixels of the cleaned, upright page image the OCR read (deskewed, flattened if the page
was not flat, turned if it was scanned turned), `(x0, y0, x1, y1)`; `Page.width` and `height` are its
size, and `PageImage` is that image, scaled down. Confidences are the
recogniser's probabilities in [0, 1]; a cell's confidence is the minimum over its lines, so one poorly
read line makes the whole cell doubtful.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

Box = tuple[int, int, int, int]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextLine(_Model):
    text: str
    confidence: float = Field(ge=0, le=1)
    box: Box


class Cell(_Model):
    """One cell of a table grid; merged cells span several grid rows or columns."""

    row: int = Field(ge=0)
    col: int = Field(ge=0)
    rowspan: int = Field(1, ge=1)
    colspan: int = Field(1, ge=1)
    bbox: Box
    text: str = Field("", description="the cell's lines joined in reading order")
    confidence: float | None = Field(None, description="minimum over the cell's lines; None when empty")
    lines: list[TextLine] = Field(default_factory=list)


class Table(_Model):
    bbox: Box
    n_rows: int
    n_cols: int
    structure: str = Field("ruling", description="how the grid was found: 'ruling' lines or 'slanet'")
    cells: list[Cell]


class Page(_Model):
    number: int = Field(ge=1, description="1-based page number in the submission")
    width: int
    height: int
    dpi: int
    skew_degrees: float = 0.0
    tables: list[Table] = Field(default_factory=list)
    free_lines: list[TextLine] = Field(default_factory=list, description="text outside tables")
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per stage")


class PageTables(_Model):
    """One submission, read."""

    sha256: str | None = None
    source: str | None = None
    pages: list[Page]
    models: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class PageImage:
    """One upright page as the OCR read it: the image its `Page` coordinates refer to (scaled down, so
    a box is placed on it as fractions of its width and height), as a grey PNG."""

    number: int
    png: bytes = field(repr=False)


@dataclass(frozen=True)
class SubmissionRead:
    """A submission read, with the upright images of its pages (kept apart: `PageTables` is JSON that
    travels between the services and carries no pixels)."""

    tables: PageTables
    page_images: list[PageImage]


class PageReader(Protocol):
    """What the pipeline needs of an OCR engine: scan bytes in, the tables of its pages out."""

    def read(self, data: bytes, source: str) -> PageTables: ...

    def read_with_images(self, data: bytes, source: str) -> SubmissionRead:
        """`read`, and the upright page images the tables were read from, for a reviewer."""
        ...
