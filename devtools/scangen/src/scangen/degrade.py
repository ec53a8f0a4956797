"""Seeded, composable scan degradations (Pillow + numpy only) and the clean/office/poor presets."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageFilter

from .layout import mm_to_px
from .render import ScanPage
from .seal import PEN_BLUE, SEAL_RED, multiply_ink, seal_mask, signature_mask
from .truth import BBox, PageTruth

WHITE = (255, 255, 255)


class Degradation(Protocol):
    """Changes a page image; returns the new image and what it did (recorded in the truth)."""

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]: ...


def _record(step: object, **drawn: Any) -> dict[str, Any]:
    return {"kind": type(step).__name__, **asdict(step), **drawn}  # type: ignore[call-overload]


@dataclass(frozen=True)
class Skew:
    max_degrees: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        angle = float(rng.uniform(-self.max_degrees, self.max_degrees))
        rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=WHITE)
        return rotated, _record(self, angle=round(angle, 4))


@dataclass(frozen=True)
class GaussianNoise:
    sigma: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        pixels = np.asarray(image, dtype=np.float32)
        # One noise value per pixel for all channels: scanner noise is mostly luminance.
        noise = rng.normal(0, self.sigma, size=pixels.shape[:2])[..., None]
        return _to_image(pixels + noise), _record(self)


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
class Blur:
    radius: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        return image.filter(ImageFilter.GaussianBlur(self.radius)), _record(self)


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
            return decoded.convert("RGB"), _record(self)


@dataclass(frozen=True)
class UnevenLight:
    """A smooth linear shading across the page, darkest `strength` (0–1) at one side."""

    strength: float

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        w, h = image.size
        angle = float(rng.uniform(0, 2 * np.pi))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ramp = (xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        shade = 1 - self.strength * ramp
        pixels = np.asarray(image, dtype=np.float32) * shade[..., None]
        return _to_image(pixels), _record(self, angle=round(angle, 4))


@dataclass(frozen=True)
class RedSeal:
    """A red round 公章 over the 总分/评分等级 rows ("totals") or over 实施单位 ("header").

    Only pages holding that part of the form are stamped, so a form gets one seal.
    """

    text: str = "上海科学技术交流中心"
    diameter_mm: float = 40.0
    opacity: float = 0.8
    where: str = "totals"

    def apply(
        self, image: Image.Image, truth: PageTruth, rng: np.random.Generator
    ) -> tuple[Image.Image, dict[str, Any]]:
        target = _seal_target(truth, self.where)
        if target is None:
            return image, _record(self, placed=False)
        diameter = mm_to_px(self.diameter_mm, truth.dpi)
        jitter = diameter // 6
        cx = (target[0] + target[2]) // 2 + int(rng.integers(-jitter, jitter + 1))
        cy = (target[1] + target[3]) // 2 + int(rng.integers(-jitter, jitter + 1))
        mask = seal_mask(self.text, diameter, rng)
        origin = (cx - diameter // 2, cy - diameter // 2)
        stamped = multiply_ink(image, mask, origin, SEAL_RED, self.opacity)
        box = (origin[0], origin[1], origin[0] + diameter, origin[1] + diameter)
        return stamped, _record(self, placed=True, bbox=box)


def _seal_target(truth: PageTruth, where: str) -> BBox | None:
    """The right half of the grade cell (or of 实施单位's value), if it is on this page."""
    fields = ("form.grade", "form.total_score") if where == "totals" else ("form.implementing_unit",)
    for field in fields:
        cells = truth.cells_for(field)
        if cells:
            x0, y0, x1, y1 = cells[0].bbox
            return (x0 + (x1 - x0) // 2, y0, x1, y1)
    return None


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


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8))


PRESETS = ("clean", "office", "poor")


def preset(name: str, signature: bool = False, seal_text: str | None = None) -> list[Degradation]:
    """The named chain in the order a page meets it: ink on paper, the scanner, the file."""
    seal = RedSeal(text=seal_text) if seal_text else RedSeal()
    ink: list[Degradation] = [seal, Signature()] if signature else [seal]
    if name == "clean":
        return [Signature()] if signature else []
    if name == "office":
        return [*ink, Skew(1.0), GaussianNoise(4.0), Jpeg(85)]
    if name == "poor":
        scan = [UnevenLight(0.25), Skew(3.0), Blur(1.0), GaussianNoise(10.0), Specks(0.0008, 3)]
        return [*ink, *scan, Jpeg(50)]
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


def page_rng(seed: int, page: int) -> np.random.Generator:
    """Each page's own stream, so a page degrades the same whatever else is in the document."""
    return np.random.default_rng([seed, page])


def degrade_page(page: ScanPage, steps: Sequence[Degradation], seed: int) -> ScanPage:
    rng = page_rng(seed, page.truth.page)
    truth = page.truth.model_copy(deep=True)
    image = page.image
    for step in steps:
        image, done = step.apply(image, truth, rng)
        truth.degradations.append(done)
    return ScanPage(image, truth)


def degrade_pages(pages: Sequence[ScanPage], steps: Sequence[Degradation] | str, seed: int) -> list[ScanPage]:
    chain = preset(steps) if isinstance(steps, str) else steps
    return [degrade_page(page, chain, seed) for page in pages]
