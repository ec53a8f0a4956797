"""Ink marks drawn as coverage masks: a 公章 of several shapes, its inks, and a pen signature scribble."""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .fonts import load_font

SEAL_RED = (205, 35, 45)
SEAL_GREY = (85, 85, 85)  # a red seal as a grey scanner sees it: a mid-grey ring over the print
PEN_BLUE = (30, 40, 110)
BLACK = (0, 0, 0)


class SealShape(StrEnum):
    round = "round"  # ring, star, the unit's name along the top
    round_titled = "round-titled"  # the same with 业务专用章 under the star
    oval = "oval"  # held-out: an oval ring, no star, the purpose across the middle
    double = "double"  # held-out: a double ring, star and a registration number at the bottom


DEV_SHAPES = (SealShape.round, SealShape.round_titled)
HELDOUT_SHAPES = (SealShape.oval, SealShape.double)


def seal_mask(
    text: str, diameter: int, rng: np.random.Generator, shape: SealShape = SealShape.round
) -> tuple[Image.Image, float]:
    """An "L" mask (255 = full ink) of a seal `diameter` pixels wide, patchy and turned at random;
    and the turn, in degrees counter-clockwise."""
    mask = Image.new("L", (diameter, diameter), 0)
    draw = ImageDraw.Draw(mask)
    ring = max(2, round(diameter * 0.035))
    font_face = "noto-sans" if shape in DEV_SHAPES else "noto-serif"
    if shape is SealShape.oval:
        inset = round(diameter * 0.16)
        draw.ellipse((ring // 2, inset, diameter - ring // 2, diameter - inset), outline=255, width=ring)
        inner = ring * 3
        draw.ellipse((inner, inset + inner, diameter - inner, diameter - inset - inner), outline=255, width=1)
        _draw_middle_text(mask, "业务专用章", diameter, font_face, diameter / 2)
        _draw_arc_text(mask, text, diameter, ring, font_face, squash=(diameter - 2 * inset) / diameter)
    else:
        draw.ellipse(
            (ring // 2, ring // 2, diameter - ring // 2, diameter - ring // 2), outline=255, width=ring
        )
        if shape is SealShape.double:
            inner = ring * 2
            draw.ellipse(
                (inner, inner, diameter - inner, diameter - inner), outline=255, width=max(1, ring // 2)
            )
        draw.polygon(_star_points(diameter / 2, diameter / 2, diameter * 0.17), fill=255)
        _draw_arc_text(mask, text, diameter, ring * (2 if shape is SealShape.double else 1), font_face)
        if shape is SealShape.round_titled:
            _draw_middle_text(mask, "业务专用章", diameter, font_face, diameter * 0.74)
        if shape is SealShape.double:
            number = "".join(str(d) for d in rng.integers(0, 10, size=13))
            _draw_middle_text(mask, number, diameter, font_face, diameter * 0.8, scale=0.07)
    mask = _patchy_ink(mask, rng)
    turn = float(rng.uniform(-30, 30))
    return mask.rotate(turn, resample=Image.Resampling.BICUBIC), turn


def _star_points(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.38
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _draw_arc_text(
    mask: Image.Image, text: str, diameter: int, ring: int, face: str, squash: float = 1.0
) -> None:
    """Each character upright towards the rim, spread over the upper ~220° of the circle (or oval)."""
    if not text:
        return
    size = max(8, round(diameter * 0.13))
    font = load_font(face, size, bold=True)
    radius = diameter / 2 - ring * 1.5 - size * 0.6
    sweep = min(220.0, 24.0 * len(text))
    for i, ch in enumerate(text):
        # Degrees clockwise from 12 o'clock: the text runs left to right over the top.
        deg = -sweep / 2 + sweep * (i + 0.5) / len(text)
        glyph = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(glyph).text((size, size), ch, font=font, fill=255, anchor="mm")
        glyph = glyph.rotate(-deg, resample=Image.Resampling.BICUBIC)
        rad = math.radians(deg)
        cx = diameter / 2 + radius * math.sin(rad)
        cy = diameter / 2 - radius * squash * math.cos(rad)
        mask.paste(255, (round(cx - size), round(cy - size)), glyph)


def _draw_middle_text(
    mask: Image.Image, text: str, diameter: int, face: str, y: float, scale: float = 0.11
) -> None:
    font = load_font(face, max(8, round(diameter * scale)), bold=True)
    ImageDraw.Draw(mask).text((diameter / 2, y), text, font=font, fill=255, anchor="mm")


def _patchy_ink(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Real stamps leave uneven ink: modulate coverage with smooth noise."""
    small = rng.uniform(0.55, 1.0, size=(12, 12))
    texture = Image.fromarray((small * 255).astype(np.uint8)).resize(mask.size, Image.Resampling.BICUBIC)
    texture = texture.filter(ImageFilter.GaussianBlur(2))
    ink = np.asarray(mask, dtype=np.float32) * np.asarray(texture, dtype=np.float32) / 255
    return Image.fromarray(ink.clip(0, 255).astype(np.uint8))


def dotted(mask: Image.Image, density: float, rng: np.random.Generator) -> Image.Image:
    """The seal as a black-and-white scanner leaves it: a broken ring of 2-pixel dots.

    `density` (the stamp's ink, 0..1) sets how many dots survive: a quarter to a half of the inked area.
    """
    half = mask.resize((max(1, mask.width // 2), max(1, mask.height // 2)), Image.Resampling.BILINEAR)
    coverage = np.asarray(half, dtype=np.float32) / 255
    kept = rng.random(coverage.shape) < coverage * (0.25 + 0.3 * density)
    dots = Image.fromarray((kept * 255).astype(np.uint8)).resize(mask.size, Image.Resampling.NEAREST)
    return dots


def signature_mask(width: int, height: int, stroke: int, rng: np.random.Generator) -> Image.Image:
    """A quick cursive-looking scribble: loops riding on a left-to-right baseline."""
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    n = 240
    t = np.linspace(0, 1, n)
    loops = rng.integers(3, 7)
    phase = rng.uniform(0, 2 * math.pi)
    x = 0.05 * width + 0.85 * width * t + 0.06 * width * np.sin(2 * math.pi * loops * t + phase)
    wobble = np.sin(2 * math.pi * rng.uniform(0.5, 1.5) * t)
    y = height / 2 + 0.3 * height * np.cos(2 * math.pi * loops * t) + 0.12 * height * wobble
    draw.line(list(zip(x.tolist(), y.tolist(), strict=True)), fill=255, width=stroke, joint="curve")
    tail_y = float(y[-1])
    draw.line([(float(x[-1]), tail_y), (width * 0.98, tail_y - 0.2 * height)], fill=255, width=stroke)
    return mask


def multiply_ink(
    image: Image.Image,
    mask: Image.Image,
    origin: tuple[int, int],
    color: tuple[int, int, int],
    opacity: float,
) -> Image.Image:
    """Multiply-blend ink of `color` through `mask` placed at `origin` (may hang off the page)."""
    page = np.asarray(image.convert("RGB"), dtype=np.float32)
    full = Image.new("L", image.size, 0)
    full.paste(mask, origin)
    layer = np.asarray(full, dtype=np.float32)[..., None] / 255 * opacity
    tint = np.asarray(color, dtype=np.float32) / 255
    out = page * (1 - layer * (1 - tint))
    return Image.fromarray(out.round().clip(0, 255).astype(np.uint8))
