"""Boxes over a kept page image: where the fields of a submission's records sit, coloured by what a
reviewer has to do with them — red where an error-level check does not pass, amber where OCR was
unsure of the value read. Pure: PNG bytes and records in, PNG bytes out."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageDraw

from selfeval.contract import FieldLocation, Record

Colour = tuple[int, int, int]
FAILING: Colour = (220, 20, 20)
"""a field a check names that does not pass (`Record.fields_needing_review`)"""
DOUBTFUL: Colour = (245, 160, 0)
"""a field read with less OCR confidence than the configured minimum"""
FILL_OPACITY = 48
"""the box's inside is tinted this much (of 255), so the value stays readable through it"""
MAX_PIXELS = 16_000_000
"""a kept page is at most 2600 pixels a side; anything much bigger is not one"""


@dataclass(frozen=True)
class Mark:
    box: tuple[float, float, float, float]
    """fractions of the page's width and height"""
    colour: Colour


def marks_for(records: Iterable[Record], page: int, min_confidence: float) -> list[Mark]:
    """The boxes to draw on one page: doubtful fields first, failing ones over them (a field both
    failing and doubtful is red)."""
    doubtful: list[Mark] = []
    failing: list[Mark] = []
    for record in records:
        locations = record.provenance.field_locations
        needing_review = record.fields_needing_review()
        provenance = record.provenance
        unsure = [
            path
            for path in provenance.field_confidence
            if (confidence := provenance.reading_confidence(path)) is not None
            and confidence < min_confidence
            and path not in needing_review
        ]
        doubtful += [Mark(at.box, DOUBTFUL) for at in _on_page(locations, unsure, page)]
        failing += [Mark(at.box, FAILING) for at in _on_page(locations, needing_review, page)]
    return doubtful + failing


def _on_page(locations: dict[str, FieldLocation], paths: list[str], page: int) -> list[FieldLocation]:
    # A path with no place of its own (the indicator list as a whole) is not drawn.
    return [locations[path] for path in paths if path in locations and locations[path].page == page]


def draw_marks(png: bytes, marks: list[Mark]) -> bytes:
    """The page in colour with each mark as a tinted box with a solid edge; ValueError if `png` is
    not an image that size."""
    try:
        with Image.open(io.BytesIO(png)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise ValueError(f"{opened.width}×{opened.height} pixels is not a kept page image")
            page = opened.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:  # not an image, or cut short
        raise ValueError(f"not a page image: {exc}") from exc
    overlay = Image.new("RGBA", page.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    edge = max(2, round(min(page.size) / 400))
    for mark in marks:
        x0, y0, x1, y1 = mark.box
        # The edge goes just outside the cell, over its rulings, so it never hides the value.
        box = (
            max(0, round(x0 * page.width) - edge),
            max(0, round(y0 * page.height) - edge),
            min(page.width - 1, round(x1 * page.width) + edge),
            min(page.height - 1, round(y1 * page.height) + edge),
        )
        draw.rectangle(box, fill=(*mark.colour, FILL_OPACITY), outline=(*mark.colour, 255), width=edge)
    out = io.BytesIO()
    Image.alpha_composite(page, overlay).convert("RGB").save(out, format="PNG", optimize=False)
    return out.getvalue()


def draw_fields(png: bytes, records: Iterable[Record], page: int, min_confidence: float) -> bytes:
    """A kept page image with the fields of the submission's records on that page boxed."""
    return draw_marks(png, marks_for(records, page, min_confidence))
