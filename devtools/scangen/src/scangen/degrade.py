"""Seeded, composable scan degradations: ink on the paper, the page on the glass, the scanner, the file.

Each step changes a page image and says what it did; the record goes into the page's truth. Random
details (where a seal lands, the skew angle, noise) come from the page's own generator, so a page
degrades the same whatever else is in the document. Geometric steps (Skew, Perspective, PageCurl)
are written in `geometry`, which maps the truth's boxes with the very same formulas.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from PIL import Image, ImageFilter

from . import geometry
from .layout import mm_to_px
from .render import ScanPage
from .seal import (
    BLACK,
    PEN_BLUE,
    SEAL_GREY,
    SEAL_RED,
    SealShape,
    dotted,
    multiply_ink,
    seal_mask,
    signature_mask,
)
from .truth import BBox, PageTruth

WHITE = (255, 255, 255)


class Degradation(Protocol):
    """Changes a page image; returns the new image and what it did (recorded in the truth)."""

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]: ...


def _record(step: object, **drawn: Any) -> dict[str, Any]:
    return {"kind": type(step).__name__, **asdict(step), **drawn}  # type: ignore[call-overload]


# --- ink on the paper ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperTint:
    """Yellowed paper: less blue and a little less green, in faint blotches."""

    strength: float  # 0: white paper, 1: old newsprint

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        w, h = image.size
        blotches = Image.fromarray((rng.uniform(0.7, 1.0, size=(8, 6)) * 255).astype(np.uint8))
        field = np.asarray(blotches.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255
        tint = np.array([0.0, 0.05, 0.16], dtype=np.float32) * self.strength
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        return _to_image(pixels * (1 - tint * field[..., None])), _record(self)


@dataclass(frozen=True)
class Seal:
    """A 公章 stamped over one part of the form; only the page holding that part gets it.

    `where` names the part: "totals" (the right of 评分等级, over the 总分 row), "header" (the right of
    实施单位's value), or any other place whose cell `field` names (centred on that cell).
    `ink`: "red", "grey" (a red seal as a grey scan shows it) or "bw" (the broken ring of dots a
    black-and-white scanner leaves).
    """

    text: str = "上海科学技术交流中心"
    diameter_mm: float = 40.0
    opacity: float = 0.8
    where: str = "totals"
    field: str | None = None
    ink: str = "red"
    shape: str = SealShape.round.value

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        target = _seal_target(truth, self.where, self.field)
        if target is None:
            return image, _record(self, placed=False)
        diameter = mm_to_px(self.diameter_mm, truth.dpi)
        jitter = diameter // 6
        cx = (target[0] + target[2]) // 2 + int(rng.integers(-jitter, jitter + 1))
        cy = (target[1] + target[3]) // 2 + int(rng.integers(-jitter, jitter + 1))
        mask, turn = seal_mask(self.text, diameter, rng, SealShape(self.shape))
        origin = (cx - diameter // 2, cy - diameter // 2)
        if self.ink == "bw":
            stamped = multiply_ink(image, dotted(mask, self.opacity, rng), origin, BLACK, 1.0)
        else:
            colour = SEAL_RED if self.ink == "red" else SEAL_GREY
            stamped = multiply_ink(image, mask, origin, colour, self.opacity)
        box = (origin[0], origin[1], origin[0] + diameter, origin[1] + diameter)
        return stamped, _record(self, placed=True, bbox=box, turn=round(turn, 2))


def _seal_target(truth: PageTruth, where: str, field: str | None) -> BBox | None:
    """Where on this page the seal goes, if that part of the form is on it."""
    if where in ("totals", "header"):
        # The right half of the grade cell (or of 实施单位's value), as units stamp beside them.
        fields = ("form.grade", "form.total_score") if where == "totals" else ("form.implementing_unit",)
        for name in fields:
            cells = truth.cells_for(name)
            if cells:
                x0, y0, x1, y1 = cells[0].bbox
                return (x0 + (x1 - x0) // 2, y0, x1, y1)
        return None
    cells = [c for c in truth.cells if c.field == field and not c.continued]
    return cells[0].bbox if cells else None


@dataclass(frozen=True)
class Signature:
    """A pen scribble to the right of 评分等级's grade, or under the table."""

    opacity: float = 0.9

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        cells = truth.cells_for("form.grade")
        if not cells:
            return image, _record(self, placed=False)
        x1, y1 = cells[0].bbox[2:]
        width, height = mm_to_px(35, truth.dpi), mm_to_px(14, truth.dpi)
        stroke = max(2, truth.dpi // 90)
        origin = (x1 - width - int(rng.integers(0, width // 2)), y1 - height // 3)
        mask = signature_mask(width, height, stroke, rng)
        signed = multiply_ink(image, mask, origin, PEN_BLUE, self.opacity)
        return signed, _record(self, placed=True, bbox=(*origin, origin[0] + width, origin[1] + height))


@dataclass(frozen=True)
class UnevenLight:
    """A smooth linear shading across the page, darkest `strength` (0–1) at one side."""

    strength: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        w, h = image.size
        angle = float(rng.uniform(0, 2 * np.pi))
        xx = np.arange(w, dtype=np.float32)[None, :]
        yy = np.arange(h, dtype=np.float32)[:, None]
        ramp = (xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(
            angle
        )  # a plane: one row + one column
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        shade = 1 - self.strength * ramp
        return _to_image(_per_pixel(np.asarray(image, dtype=np.float32), shade)), _record(
            self, angle=round(angle, 4)
        )


# --- the page on the glass -----------------------------------------------------------------------


@dataclass(frozen=True)
class PageCurl:
    """The sheet not flat: lifted along `edge` (see geometry.Curl); `strength` scales every part."""

    edge: str
    strength: float  # 0..1

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        w, h = image.size
        scale = min(w, h) * self.strength
        curl = geometry.Curl(
            edge=self.edge,
            pull=round(float(rng.uniform(0.02, 0.035)) * scale, 2),
            squeeze=round(float(rng.uniform(0.008, 0.02)) * scale, 2),
            wave=round(float(rng.uniform(0.002, 0.008)) * scale, 2),
            reach=round(float(rng.uniform(0.12, 0.2)) * min(w, h), 2),
        )
        pixels = curl.warp(np.asarray(image), _fill(image))
        return Image.fromarray(pixels), _record(
            self, pull=curl.pull, squeeze=curl.squeeze, wave=curl.wave, reach=curl.reach
        )


@dataclass(frozen=True)
class Perspective:
    """A page not parallel to the glass: each corner drawn in by up to `strength` of the page."""

    strength: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        w, h = image.size
        inward = rng.uniform(0, self.strength, size=(4, 2)) * (w, h)
        signs = np.array([(1, 1), (-1, 1), (-1, -1), (1, -1)])  # TL, TR, BR, BL move inwards
        corners = np.array([(0, 0), (w, 0), (w, h), (0, h)]) + signs * inward
        matrix = geometry.homography([tuple(c) for c in corners.round(2)], (w, h))
        pixels = cv2.warpPerspective(
            np.asarray(image), matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=_fill(image)
        )
        return Image.fromarray(pixels), _record(self, matrix=matrix.round(10).tolist())


@dataclass(frozen=True)
class Skew:
    max_degrees: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        angle = float(rng.uniform(-self.max_degrees, self.max_degrees))
        rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=WHITE)
        return rotated, _record(self, angle=round(angle, 4))


# --- the scanner -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeShadow:
    """The dark band a scanner lid leaves along one edge where the paper does not touch the glass."""

    edge: str
    strength: float  # darkening at the very edge, 0..1
    width_mm: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        w, h = image.size
        width = mm_to_px(self.width_mm, truth.dpi)
        if self.edge in ("left", "right"):
            across = np.arange(w, dtype=np.float32)
            distance = (across if self.edge == "left" else w - 1 - across)[None, :]
        else:
            across = np.arange(h, dtype=np.float32)
            distance = (across if self.edge == "top" else h - 1 - across)[:, None]
        shade = np.broadcast_to(1 - self.strength * np.exp(-distance / width), (h, w))
        return _to_image(_per_pixel(np.asarray(image, dtype=np.float32), shade)), _record(self)


@dataclass(frozen=True)
class Blur:
    radius: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        return image.filter(ImageFilter.GaussianBlur(self.radius)), _record(self)


@dataclass(frozen=True)
class GaussianNoise:
    sigma: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        pixels = np.asarray(image, dtype=np.float32)
        # One noise value per pixel for all channels: scanner noise is mostly luminance.
        noise = rng.normal(0, self.sigma, size=pixels.shape[:2])
        return _to_image(pixels + (noise[..., None] if pixels.ndim == 3 else noise)), _record(self)


@dataclass(frozen=True)
class Specks:
    """Salt-and-pepper: dust (dark) and dropouts (white), 1–`max_size` px squares."""

    density: float
    max_size: int = 2

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        pixels = np.array(image)
        h, w = pixels.shape[:2]
        count = int(self.density * h * w / self.max_size**2)
        ys, xs = rng.integers(0, h, count), rng.integers(0, w, count)
        sizes = rng.integers(1, self.max_size + 1, count)
        dark = rng.random(count) < 0.7
        for y, x, s, d in zip(ys, xs, sizes, dark, strict=True):
            pixels[y : y + s, x : x + s] = rng.integers(0, 60) if d else 255
        return Image.fromarray(pixels), _record(self, count=count)


@dataclass(frozen=True)
class Greyscale:
    """A grey scan: one channel of luminance."""

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        return image.convert("L"), _record(self)


@dataclass(frozen=True)
class Bilevel:
    """A black-and-white (1-bit) scan: a fixed threshold (text mode) or error diffusion (photo mode)."""

    method: str = "threshold"  # or "dither"
    threshold: int = 160

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        grey = image.convert("L")
        if self.method == "dither":
            return grey.convert("1", dither=Image.Dither.FLOYDSTEINBERG), _record(self)
        level = self.threshold
        return grey.point(lambda v: 255 if v >= level else 0).convert("1", dither=Image.Dither.NONE), _record(
            self
        )


# --- the file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jpeg:
    quality: int

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=self.quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return decoded.convert(image.mode), _record(self)


def _fill(image: Image.Image) -> tuple[int, ...] | int:
    """White in the image's own channels: what a scanner shows beyond the paper."""
    return 255 if image.mode == "L" else WHITE


def _per_pixel(pixels: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """`pixels` times one factor per pixel, for every channel (grey or colour)."""
    return pixels * (factor[..., None] if pixels.ndim == 3 else factor)


def _to_image(pixels: np.ndarray) -> Image.Image:
    """Rounded and clipped to bytes (in place: `pixels` is always a scratch array of the step)."""
    return Image.fromarray(np.clip(np.rint(pixels, out=pixels), 0, 255, out=pixels).astype(np.uint8))


def page_rng(seed: int, page: int, stream: int = 0) -> np.random.Generator:
    """Each page's own generator; `stream` 0 is the development draw (other streams: held-out)."""
    return np.random.default_rng([seed, page] if stream == 0 else [seed, page, stream])


def degrade_page(page: ScanPage, steps: Sequence[Degradation], seed: int, stream: int = 0) -> ScanPage:
    rng = page_rng(seed, page.truth.page, stream)
    truth = page.truth.model_copy(deep=True)
    image = page.image
    for step in steps:
        image, done = step.apply(image, truth, rng)
        truth.degradations.append(done)
    _place_corners(truth)
    return ScanPage(image, truth)


def _place_corners(truth: PageTruth) -> None:
    """Where each cell's corners and each text line's box ended up in the scan."""
    size = (truth.width, truth.height)
    for item in [*truth.cells, *truth.text_lines]:
        x0, y0, x1, y1 = item.bbox
        mapped = geometry.map_points(
            truth.degradations, np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]), size
        )
        item.corners = [(round(float(x), 1), round(float(y), 1)) for x, y in mapped]


def degrade_pages(pages: Sequence[ScanPage], steps: Sequence[Degradation], seed: int) -> list[ScanPage]:
    return [degrade_page(page, steps, seed) for page in pages]
