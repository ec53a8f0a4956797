"""Ink marks drawn as coverage masks: a red round 公章 and a pen signature scribble."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .fonts import FontFamily, load_font

SEAL_RED = (205, 35, 45)
PEN_BLUE = (30, 40, 110)


def seal_mask(text: str, diameter: int, rng: np.random.Generator) -> Image.Image:
    """An "L" mask (255 = full ink) of a round seal: ring, centre star, text along the top arc."""
    mask = Image.new("L", (diameter, diameter), 0)
    draw = ImageDraw.Draw(mask)
    ring = max(2, round(diameter * 0.035))
    draw.ellipse((ring // 2, ring // 2, diameter - ring // 2, diameter - ring // 2), outline=255, width=ring)
    draw.polygon(_star_points(diameter / 2, diameter / 2, diameter * 0.17), fill=255)
    _draw_arc_text(mask, text, diameter, ring)
    mask = _patchy_ink(mask, rng)
    return mask.rotate(float(rng.uniform(-30, 30)), resample=Image.Resampling.BICUBIC)


def _star_points(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.38
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _draw_arc_text(mask: Image.Image, text: str, diameter: int, ring: int) -> None:
    """Each character upright towards the rim, spread over the upper ~220° of the circle."""
    if not text:
        return
    size = max(8, round(diameter * 0.13))
    font = load_font(FontFamily.sans, size, bold=True)
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
        cy = diameter / 2 - radius * math.cos(rad)
        mask.paste(255, (round(cx - size), round(cy - size)), glyph)


def _patchy_ink(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Real stamps leave uneven ink: modulate coverage with smooth noise."""
    small = rng.uniform(0.55, 1.0, size=(12, 12))
    texture = Image.fromarray((small * 255).astype(np.uint8)).resize(mask.size, Image.Resampling.BICUBIC)
    texture = texture.filter(ImageFilter.GaussianBlur(2))
    ink = np.asarray(mask, dtype=np.float32) * np.asarray(texture, dtype=np.float32) / 255
    return Image.fromarray(ink.clip(0, 255).astype(np.uint8))


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
