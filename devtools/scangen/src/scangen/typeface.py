"""Text in one face at one size, each character from the first font that has its glyph.

Measuring (for wrapping) and drawing go through the same runs, so what was measured is what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageDraw, ImageFont

from .fonts import FACES, Face, FontFile, coverage, face_named, load_font_file

BBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class Typeface:
    """A face at a pixel size, regular or bold, with its per-character fallbacks."""

    face: Face
    size_px: int
    bold: bool = False

    @property
    def fonts(self) -> tuple[FontFile, ...]:
        return _font_chain(self.face.key, self.bold)

    @property
    def stroke(self) -> int:
        """Bold of a face without a bold file: strokes thickened by this many pixels."""
        return max(1, self.size_px // 30) if self.bold and self.face.bold is None else 0

    def runs(self, text: str) -> list[tuple[ImageFont.FreeTypeFont, str]]:
        """`text` cut where the font supplying the glyphs changes."""
        runs: list[tuple[ImageFont.FreeTypeFont, str]] = []
        current: FontFile | None = None
        for ch in text:
            font = self._font_for(ch)
            if runs and font == current:
                runs[-1] = (runs[-1][0], runs[-1][1] + ch)
            else:
                runs.append((load_font_file(font, self.size_px), ch))
                current = font
        return runs

    def _font_for(self, ch: str) -> FontFile:
        fonts = self.fonts
        if ch.isspace():
            return fonts[0]
        for font in fonts:
            if ord(ch) in coverage(font):
                return font
        raise ValueError(f"no face of {self.face.key!r} or its fallbacks has a glyph for {ch!r}")

    def getlength(self, text: str) -> float:
        return sum(font.getlength(part) for font, part in self.runs(text))

    def draw(
        self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, anchor: str, fill: object
    ) -> BBox:
        """Draw `text` at `xy` ("mm": centred, "lm": from the left, both on the middle of the line).

        Returns the inked box.
        """
        runs = self.runs(text)
        stroke = self.stroke
        if len(runs) <= 1:
            font = runs[0][0] if runs else load_font_file(self.fonts[0], self.size_px)
            draw.text(xy, text, font=font, fill=fill, anchor=anchor, stroke_width=stroke, stroke_fill=fill)
            return _int_box(draw.textbbox(xy, text, font=font, anchor=anchor, stroke_width=stroke))
        # Several fonts: one baseline for all, from the primary font's metrics.
        primary = load_font_file(self.fonts[0], self.size_px)
        ascent, descent = primary.getmetrics()
        x, y = xy
        baseline = y + (ascent - descent) / 2
        if anchor[0] == "m":
            x -= self.getlength(text) / 2
        boxes = []
        for font, part in runs:
            draw.text(
                (x, baseline), part, font=font, fill=fill, anchor="ls", stroke_width=stroke, stroke_fill=fill
            )
            boxes.append(draw.textbbox((x, baseline), part, font=font, anchor="ls", stroke_width=stroke))
            x += font.getlength(part)
        return (
            int(min(b[0] for b in boxes)),
            int(min(b[1] for b in boxes)),
            int(max(b[2] for b in boxes)),
            int(max(b[3] for b in boxes)),
        )


@lru_cache(maxsize=64)
def _font_chain(key: str, bold: bool) -> tuple[FontFile, ...]:
    """The face's own font, then its fallbacks', then every other face of its family."""
    face = face_named(key)
    order = [face] + [face_named(k) for k in face.fallback]
    order += [f for f in FACES.values() if f.family == face.family and f not in order]
    use_bold = bold and face.bold is not None
    chain: list[FontFile] = []
    for member in order:
        font = member.bold if use_bold and member.bold is not None else member.regular
        if font not in chain:
            chain.append(font)
    return tuple(chain)


def typeface(key: str, size_px: int, bold: bool = False) -> Typeface:
    return Typeface(face_named(key), size_px, bold)


def _int_box(box: tuple[float, float, float, float]) -> BBox:
    x0, y0, x1, y1 = box
    return int(x0), int(y0), int(x1), int(y1)
