"""What one scan looks like, drawn from a seed: typeface, layout, scan mode, seal, geometry, light.

`draw_look(quality, seed, split)` draws every choice; any of them can be fixed by name
(`draw_look("office", 3, face="uming", mode="bw")`), and fixing one never changes the others, but
for the seal's ink, which is drawn (from the same number) for the mode the page is scanned in.
`classic_look` is the look the project's first generator drew (Noto Sans, colour, a red round seal
beside the grade, the standard layout), which the reading was first built on.

Two splits: a development draw and a held-out draw. The held-out draw uses its own random streams,
faces (`fonts.Face.heldout`) and seal shapes (`seal.HELDOUT_SHAPES`) that the development draw never
produces, so a reading tuned on development scans can be measured on scans it never saw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

import numpy as np

from .degrade import (
    Bilevel,
    Blur,
    Degradation,
    EdgeShadow,
    GaussianNoise,
    Greyscale,
    Jpeg,
    PageCurl,
    PaperTint,
    Perspective,
    Seal,
    Signature,
    Skew,
    Specks,
    UnevenLight,
)
from .fonts import Family, face_named, faces_of
from .layout import STANDARD, LayoutStyle, random_style
from .seal import DEV_SHAPES, HELDOUT_SHAPES, SealShape


class Split(StrEnum):
    dev = "dev"
    heldout = "heldout"


STREAM = {Split.dev: 0, Split.heldout: 2}  # random streams: the two splits never share one


class ScanMode(StrEnum):
    colour = "colour"
    grey = "grey"
    bw = "bw"  # black-and-white, 1 bit per pixel (CCITT G4 in TIFF and PDF)


class SealInk(StrEnum):
    red = "red"
    grey = "grey"
    bw = "bw"
    none = "none"


class SealPlace(StrEnum):
    totals = "totals"  # beside the grade, over the 总分 row
    total_score = "total_score"  # on 总分's figure
    grade = "grade"  # on 评分等级
    figures = "figures"  # on one figure of the indicator table
    funding = "funding"  # on one figure of the funding block
    header = "header"  # beside 实施单位


EDGES = ("left", "top", "right", "bottom")
QUALITIES = ("clean", "office", "poor")
PRESET_DPI = {"clean": 300, "office": 200, "poor": 150}


@dataclass(frozen=True)
class Look:
    """Every choice behind one scan. Zero strengths mean the step is left out."""

    quality: str = "office"
    split: Split = Split.dev
    dpi: int = 200
    # the print
    face: str = "noto-sans"
    title_face: str = "noto-sans"
    style: LayoutStyle = STANDARD
    thousands: bool | None = False  # None: each form decides (some units print 3,900.00)
    # the ink on it
    paper_tint: float = 0.0
    seal: SealInk = SealInk.red
    seal_shape: SealShape = SealShape.round
    seal_at: SealPlace = SealPlace.totals
    seal_diameter_mm: float = 40.0
    seal_opacity: float = 0.8
    signature: bool = False
    # the page on the glass
    curl: float = 0.0
    curl_edge: str = "left"
    perspective: float = 0.0
    skew_degrees: float = 1.0
    # the scanner and the file
    uneven_light: float = 0.0
    shadow: float = 0.0
    shadow_edge: str = "right"
    blur: float = 0.0
    noise: float = 4.0
    specks: float = 0.0
    mode: ScanMode = ScanMode.colour
    bilevel: str = "threshold"
    threshold: int = 160
    jpeg_quality: int | None = 85

    @property
    def family(self) -> Family:
        return face_named(self.face).family

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: (asdict(v) if isinstance(v, LayoutStyle) else v) for name, v in values.items()}


def classic_look(quality: str = "office", dpi: int = 200, face: str = "noto-sans", **fixed: Any) -> Look:
    """The look of the project's first generator, preset by preset."""
    _check_quality(quality)
    base = Look(quality=quality, dpi=dpi, face=face, title_face=face)
    if quality == "clean":
        base = replace(base, seal=SealInk.none, skew_degrees=0.0, noise=0.0, jpeg_quality=None)
    elif quality == "poor":
        base = replace(
            base, uneven_light=0.25, skew_degrees=3.0, blur=1.0, noise=10.0, specks=0.0008, jpeg_quality=50
        )
    return _fixed(base, fixed)


def draw_look(
    quality: str = "office",
    seed: int = 0,
    split: Split | str = Split.dev,
    family: str | None = None,
    **fixed: Any,
) -> Look:
    """Every choice drawn from `seed` within the preset `quality`; `fixed` choices are kept as given.

    `family` draws the face from one family (song, fangsong, kai, hei) instead of from all four.
    """
    _check_quality(quality)
    split = Split(split)
    rng = np.random.default_rng([seed, STREAM[split], 12])
    heldout = split is Split.heldout
    family_drawn = Family(str(rng.choice(list(Family))))
    # Each choice takes its numbers from the generator whatever is fixed, so fixing one choice never
    # changes another (the seal's ink is drawn for the scan mode, from its own number all the same).
    face_pick, title_family_pick, title_face_pick = rng.random(), rng.random(), rng.random()
    body_family = Family(family) if family else family_drawn
    body = _pick(faces_of(body_family, heldout), face_pick)
    # Titles are mostly bold 黑体 or 宋体 over a body in another face; some forms keep one face.
    title_family = Family.hei if title_family_pick < 0.5 else Family.song
    title = body if title_family_pick > 0.85 else _pick(faces_of(title_family, heldout), title_face_pick)
    style = random_style(rng) if rng.random() < 0.85 else STANDARD
    mode = ScanMode(str(rng.choice(list(ScanMode))))
    # The seal's ink is drawn for the mode the page is scanned in, fixed or drawn (from the same
    # number either way): no scanner but a 1-bit one leaves a stamp as 1-bit dots.
    scanned_in = ScanMode(fixed["mode"]) if fixed.get("mode") is not None else mode
    look = Look(
        quality=quality,
        split=split,
        dpi=PRESET_DPI[quality],
        face=body.key,
        title_face=title.key,
        style=style,
        thousands=None,
        mode=mode,
        signature=bool(rng.random() < 0.3),
        **_draw_seal(rng, scanned_in, heldout),
        **_draw_scan(rng, quality),
    )
    return _fixed(look, fixed)


def _pick(options: list[Any], fraction: float) -> Any:
    return options[min(int(fraction * len(options)), len(options) - 1)]


def _draw_seal(rng: np.random.Generator, mode: ScanMode, heldout: bool) -> dict[str, Any]:
    """A seal in the ink the scan mode shows it in, mostly; sometimes none."""
    inks = {
        ScanMode.colour: ((SealInk.red, 0.85), (SealInk.grey, 0.05), (SealInk.none, 0.10)),
        ScanMode.grey: ((SealInk.grey, 0.5), (SealInk.red, 0.4), (SealInk.none, 0.10)),
        ScanMode.bw: ((SealInk.bw, 0.6), (SealInk.red, 0.3), (SealInk.none, 0.10)),
    }[mode]
    ink = _weighted(rng, inks)
    shapes = HELDOUT_SHAPES if heldout else DEV_SHAPES
    return {
        "seal": ink,
        "seal_shape": shapes[int(rng.integers(len(shapes)))],
        "seal_at": SealPlace(str(rng.choice(list(SealPlace)))),
        "seal_diameter_mm": round(float(rng.uniform(36, 46)), 1),
        "seal_opacity": round(float(rng.uniform(0.55, 0.95)), 2),
    }


def _weighted(rng: np.random.Generator, options: tuple[tuple[Any, float], ...]) -> Any:
    values = [v for v, _ in options]
    weights = np.array([w for _, w in options])
    return values[int(rng.choice(len(values), p=weights / weights.sum()))]


def _draw_scan(rng: np.random.Generator, quality: str) -> dict[str, Any]:
    """The glass, the light, the sensor and the file, within the preset's ranges."""
    u = rng.uniform
    drawn: dict[str, Any] = {
        "curl_edge": EDGES[int(rng.choice(4, p=[0.4, 0.3, 0.15, 0.15]))],
        "shadow_edge": EDGES[int(rng.integers(4))],
        "bilevel": "dither" if rng.random() < 0.2 else "threshold",
        "threshold": int(rng.integers(135, 185)),
    }
    yellowed = rng.random() < 0.3
    if quality == "clean":
        drawn |= {"skew_degrees": 0.3, "noise": round(u(0, 2), 2), "jpeg_quality": int(rng.integers(88, 96))}
        drawn |= {"paper_tint": round(u(0.1, 0.4), 2) if yellowed else 0.0}
    elif quality == "office":
        drawn |= {
            "skew_degrees": 1.0,
            "blur": round(u(0.3, 0.9), 2),
            "noise": round(u(2, 6), 2),
            "uneven_light": round(u(0, 0.15), 3),
            "curl": round(u(0.1, 0.4), 2) if rng.random() < 0.25 else 0.0,
            "paper_tint": round(u(0.2, 0.6), 2) if yellowed else 0.0,
            "jpeg_quality": int(rng.integers(60, 91)),
        }
    else:
        drawn |= {
            "skew_degrees": 3.0,
            "perspective": round(u(0.01, 0.03), 3),
            "curl": round(u(0.4, 1.0), 2) if rng.random() < 0.6 else 0.0,
            "uneven_light": round(u(0.15, 0.35), 3),
            "shadow": round(u(0.35, 0.7), 2),
            "blur": round(u(0.7, 1.3), 2),
            "noise": round(u(7, 13), 2),
            "specks": round(u(0.0003, 0.001), 5),
            "paper_tint": round(u(0.3, 0.9), 2) if yellowed else 0.0,
            "jpeg_quality": int(rng.integers(40, 61)),
        }
    return drawn


def _check_quality(quality: str) -> None:
    if quality not in QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; choose one of {', '.join(QUALITIES)}")


_ENUMS = {"split": Split, "mode": ScanMode, "seal": SealInk, "seal_shape": SealShape, "seal_at": SealPlace}


def _fixed(look: Look, fixed: dict[str, Any]) -> Look:
    """`look` with the choices given by name; unknown names and values are refused clearly."""
    known = {f.name for f in fields(Look)}
    unknown = sorted(set(fixed) - known)
    if unknown:
        raise ValueError(f"unknown look choice(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    given = {k: (_ENUMS[k](v) if k in _ENUMS and v is not None else v) for k, v in fixed.items()}
    if not PRESET_DPI["poor"] <= given.get("dpi", look.dpi) <= PRESET_DPI["clean"]:
        raise ValueError(f"dpi {given['dpi']}: scans are drawn at 150 to 300 dpi")
    for key in ("face", "title_face"):
        if key in given:
            face_named(given[key])
    if isinstance(given.get("style"), str):  # by name: only the standard layout has one
        if given["style"] != "standard":
            raise ValueError(f"style {given['style']!r}: give a LayoutStyle, or 'standard'")
        given["style"] = STANDARD
    chosen = replace(look, **given)
    if chosen.mode is ScanMode.bw and "jpeg_quality" not in given:
        chosen = replace(chosen, jpeg_quality=None)  # 1-bit pages are stored losslessly (CCITT G4)
    return chosen


def degradations(look: Look, seal_text: str | None, seal_field: str | None) -> list[Degradation]:
    """The chain a page meets, in order: ink on the paper, the page on the glass, the scanner, the file."""
    steps: list[Degradation] = []
    if look.paper_tint:
        steps.append(PaperTint(look.paper_tint))
    if look.seal is not SealInk.none:
        seal = Seal(
            diameter_mm=look.seal_diameter_mm,
            opacity=look.seal_opacity,
            where=look.seal_at.value,
            field=seal_field,
            ink=look.seal.value,
            shape=look.seal_shape.value,
        )
        steps.append(replace(seal, text=seal_text) if seal_text else seal)
    if look.signature:
        steps.append(Signature())
    if look.uneven_light:
        steps.append(UnevenLight(look.uneven_light))
    if look.curl:
        steps.append(PageCurl(look.curl_edge, look.curl))
    if look.perspective:
        steps.append(Perspective(look.perspective))
    if look.skew_degrees:
        steps.append(Skew(look.skew_degrees))
    if look.shadow:
        steps.append(EdgeShadow(look.shadow_edge, look.shadow, width_mm=12.0))
    if look.blur:
        steps.append(Blur(look.blur))
    if look.noise:
        steps.append(GaussianNoise(look.noise))
    if look.specks:
        steps.append(Specks(look.specks, 3))
    if look.mode is ScanMode.grey:
        steps.append(Greyscale())
    if look.mode is ScanMode.bw:
        steps.append(Bilevel(look.bilevel, look.threshold))
    elif look.jpeg_quality is not None:
        steps.append(Jpeg(look.jpeg_quality))
    return steps
