"""Seals (公章) found by their shape, and their ink told from the print under them.

A colour scan loses a red seal to `cleanup.drop_colour_ink`; a grey or black-and-white scan keeps it as
a ring of mid-grey or dotted ink across rulings, labels and figures. The ring gives it away: a band of
ink 1–2 mm wide at one distance from a centre (round seals) or along an ellipse (the oval seals of
业务专用章 and 财务专用章, 40–50 mm by 30 mm, stamped turned), with little ink just inside and outside
it, which no text or table draws. An oval is searched as a circle in coordinates stretched along its
axes: every measure of a round ring then applies to it unchanged. Inside a found seal, print is told
from seal ink by darkness: stamp ink is lighter than printer's ink (a dotted 1-bit seal is too, once
the page is smoothed), so ink whose darkest neighbourhood stays well above the print's own darkness is
the seal's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from services.ocr.cleanup import CleanPage
from services.ocr.grid import Rulings, ruling_masks

MIN_RADIUS_MM, MAX_RADIUS_MM = 14.0, 26.0
"""official seals are 38–50 mm across (a 42 mm round seal is the common size)"""
COARSE_DPI = 25
"""the ring search runs on a copy at this resolution: a millimetre is about a pixel"""
MIN_RING_SCORE = 0.07
"""ink density on the ring minus that just inside or outside it, at the coarse search"""
MIN_COARSE_COVERAGE = 0.75
"""share of directions with ink on the ring at the coarse search, before a closer look"""
MIN_COARSE_OVAL_COVERAGE = 0.65
"""the same for an oval: the coarse search's shapes are 15° and a quarter in length over breadth
apart, and a stamp faded along one side, seen through the nearest of them, shows ink in 0.69 of the
directions (the closer look, in its own shape, 0.93; `MIN_COVERAGE` decides there)"""
MAX_PRINT_TAKEN = 0.12
"""a darkness that would take this share of the page's print elsewhere for seal does not tell them apart"""
RING_RULES = ((0.28, 1.8, 2.9), (0.25, 1.4, 2.2), (0.2, 3.0, 3.5))
"""(least density, least standing out, widest band in mm): a ring meeting any of them is a seal's"""
DOTTED_RING_DENSITY = 0.2
MIN_COVERAGE = 0.85
"""share of directions from the centre in which the ring shows ink"""
OVAL_ASPECTS = (1.3, 1.55)
"""length over breadth of the oval seals looked for first (40×30 mm is 1.33, 45×30 mm is 1.5); the
closer look then finds the shape between and beyond (from 1.05)"""
OVAL_TURNS = tuple(range(-45, 46, 15))
"""degrees an oval may be turned, searched 15° apart (a hand stamps it roughly level)"""
OVAL_MIN_MM, OVAL_MAX_MM = 17.0, 26.0
"""half the length of an oval seal"""
SPECK_AREA = 6
"""pixels (at 100 dpi) a dot of a dotted seal, or of the print's punctuation, covers at most"""
LIGHT_STROKE_AREA = 25
"""pixels (at 100 dpi) a light piece of print hanging from its dark strokes covers at most"""
PRINT_HEIGHT_SLACK = 0.15
"""share of its dark print's height a light stroke of the print may reach above or below it"""
PRINT_ACROSS_RING = 0.35
"""how much darker than the split (as a share of print to seal) print on a lighter ring must be to stay"""
LIGHTER_RING = 0.5
"""share of a ring's ink lighter than the split that makes it a ring lighter than the print (grey seals
show 77–98 %, 1-bit ones as dark as the print 0–3 %)"""
CROWDED_SPECKS = 2
"""a speck with this many others about a stroke gap away is one of a dotted seal's"""
INNER_RING_MM = 4.0
"""how far inside the rim a double ring's inner line may run"""
CLIMB_PIXELS = 8_000
"""ink pixels enough to tell the sharpest ring near a hit"""
SHAPE_SWEEP_ASPECTS = (1.2, 1.35, 1.5, 1.65, 1.8)
"""lengths over breadths an oval found by the coarse search is tried in again, around its centre"""
SWEEP_PIXELS = 3_000
"""ink pixels enough for the sweep of centres and shapes that starts an oval's climb"""
SWEEP_TURNS = tuple(range(-30, 31, 10))
"""turns away from the coarse search's that an oval's first sweep tries: the coarse turns are 15°
apart, and seen from a centre a coarse pixel off, a turn 20° off can look best"""
SWEEP_MOVES = 2
"""times the sweep moves on to where its best lay on its edge (the coarse centre can be two coarse
pixels off)"""
MOVED_TURNS = (-10, 0, 10)
"""turns a sweep moved on for its centre alone tries (its turn was already the best)"""
FINE_TURNS = (-5, 0, 5)
"""turns of the last, fine sweep around the best"""
RULING_FIT_IN = 0.4
"""inches of a ruling outside a seal whose line is drawn on through it (pieces shorter than half
this are stubs of the ring, not rulings)"""
RULING_FIT_SLACK = 1.5
"""pixels beyond a ruling's half thickness that still lie on it inside a seal"""
OVAL_COARSE_DPI = 12.5
"""the ovals' search, many shapes more than the round one, runs on a copy twice as coarse"""


@dataclass(frozen=True)
class Stretch:
    """The coordinates in which an ellipse of this shape is a circle of the same area: turned by
    `angle` degrees (clockwise on the page, as OpenCV draws), shrunk along the long axis by the square
    root of `aspect` and grown across it by as much."""

    aspect: float = 1.0
    angle: float = 0.0

    def apply(self, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.aspect == 1.0:
            return dx, dy
        turn = np.deg2rad(self.angle)
        along = dx * np.cos(turn) + dy * np.sin(turn)
        across = -dx * np.sin(turn) + dy * np.cos(turn)
        root = np.sqrt(self.aspect)
        return along / root, across * root

    def undo(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Page offsets of points given in the stretched coordinates."""
        if self.aspect == 1.0:
            return u, v
        turn = np.deg2rad(self.angle)
        root = np.sqrt(self.aspect)
        along, across = u * root, v / root
        return along * np.cos(turn) - across * np.sin(turn), along * np.sin(turn) + across * np.cos(turn)


ROUND = Stretch()


@dataclass(frozen=True)
class Seal:
    x: float
    y: float
    radius: float
    """the radius of the circle of the same area (for an oval: the root of its two half-axes' product)"""
    ring_width: float
    shape: Stretch = ROUND
    inner_rings: tuple[tuple[float, float], ...] = ()
    """(radius, width) of lines drawn all the way round inside the rim (a double ring's inner one)"""

    def half_axes(self, margin: float = 0.0) -> tuple[int, int]:
        root = np.sqrt(self.shape.aspect)
        return round(self.radius * root + margin), round(self.radius / root + margin)

    def disc(self, shape: tuple[int, ...], margin: float) -> np.ndarray:
        mask = np.zeros(shape[:2], dtype=np.uint8)
        centre = (round(self.x), round(self.y))
        cv2.ellipse(mask, centre, self.half_axes(margin), self.shape.angle, 0, 360, 255, -1)
        return mask

    def ring(self, shape: tuple[int, ...]) -> np.ndarray:
        """The rim and the lines inside it that go all the way round."""
        mask = np.zeros(shape[:2], dtype=np.uint8)
        centre = (round(self.x), round(self.y))
        root = np.sqrt(self.shape.aspect)
        for radius, width in ((self.radius, self.ring_width), *self.inner_rings):
            axes = (round(radius * root), round(radius / root))
            cv2.ellipse(mask, centre, axes, self.shape.angle, 0, 360, 255, max(1, round(width)))
        return mask


def _kernel_reach(radius: float, width: float, stretch: Stretch) -> int:
    return int((radius + width) * np.sqrt(stretch.aspect)) + 2


def _ring_kernel(radius: float, width: float, stretch: Stretch = ROUND) -> np.ndarray:
    size = _kernel_reach(radius, width, stretch)
    yy, xx = np.mgrid[-size : size + 1, -size : size + 1].astype(np.float32)
    distance = np.hypot(*stretch.apply(xx, yy))
    kernel = (np.abs(distance - radius) <= width / 2).astype(np.float32)
    return kernel / kernel.sum()


def find_seals(
    text_ink: np.ndarray, dpi: int, rulings: np.ndarray | None = None, limit: int = 2
) -> list[Seal]:
    """Round and oval seals on a page, from its ink with the rulings taken out (`rulings`, where
    given, only close the ring where it runs along one)."""
    seals: list[Seal] = []
    for search in (_round_candidates, _oval_candidates):
        for candidate in search(text_ink, dpi, limit):
            if len(seals) >= limit:
                return seals
            if any(seal.disc(text_ink.shape, 0)[_inside(candidate.centre, text_ink.shape)] for seal in seals):
                continue  # a seal found already, looked at again through another shape
            seal = _refine(text_ink, rulings, candidate, dpi)
            if seal is not None:
                seals.append(seal)
    return seals


def _inside(point: tuple[float, float], shape: tuple[int, ...]) -> tuple[int, int]:
    return min(shape[0] - 1, max(0, round(point[1]))), min(shape[1] - 1, max(0, round(point[0])))


@dataclass(frozen=True)
class Candidate:
    """A coarse hit: where a ring of this size and shape stands out, on the page's pixels."""

    centre: tuple[float, float]
    radius: float
    stretch: Stretch
    slack: int
    """the coarse search's pixel, in page pixels: how far the centre may be off"""


def _coarse(text_ink: np.ndarray, dpi: int, coarse_dpi: float) -> tuple[np.ndarray, int, float]:
    """The ink as a share per coarse pixel, the page pixels per coarse pixel, and coarse pixels a mm."""
    factor = max(1, round(dpi / coarse_dpi))
    small = (
        cv2.resize(
            text_ink,
            (text_ink.shape[1] // factor, text_ink.shape[0] // factor),
            interpolation=cv2.INTER_AREA,
        ).astype(np.float32)
        / 255.0
    )
    return small, factor, dpi / 25.4 / factor


def _ring_scores(
    small: np.ndarray, mm: float, radii_mm: np.ndarray, band: float, stretch: Stretch
) -> tuple[np.ndarray, np.ndarray]:
    """Per coarse pixel, how much the best ring of `radii_mm` (1.25 mm apart) centred there stands out,
    and that ring's radius: its ink less that of the ring two steps in (at half) or out."""
    height, width = small.shape
    reach = _kernel_reach(float(radii_mm[-1]) * mm, band, stretch)
    size = (cv2.getOptimalDFTSize(height + reach), cv2.getOptimalDFTSize(width + reach))
    spectra = _ring_spectra(size, mm, tuple(float(r) for r in radii_mm), band, stretch)
    on = np.fft.irfft2(np.fft.rfft2(small, s=size)[None] * spectra, s=size)[:, :height, :width]
    best_score = np.full(small.shape, -1.0, dtype=np.float32)
    best_radius = np.zeros(small.shape, dtype=np.float32)
    for i in range(2, len(radii_mm) - 2):
        score = _standing_out(on[i], on[i - 2], on[i + 2])
        better = score > best_score
        best_score[better] = score[better]
        best_radius[better] = radii_mm[i]
    return best_score, best_radius


def _standing_out(band: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """How much a ring's ink stands out of the ink either side of it. Just outside a seal's ring there
    is only what the seal was stamped on; just inside run its letters, so the band inside counts for
    half."""
    return band - np.maximum(0.5 * inside, outside)


@functools.lru_cache(maxsize=64)
def _ring_spectra(
    size: tuple[int, int], mm: float, radii_mm: tuple[float, ...], band: float, stretch: Stretch
) -> np.ndarray:
    """The Fourier transforms of the ring kernels, centred on the origin: the search filters a page by
    every ring at once, and pages of one resolution share them (some 150 kernels for the ovals)."""
    spectra = []
    for radius in radii_mm:
        kernel = _ring_kernel(radius * mm, band, stretch)
        centred = np.zeros(size, dtype=np.float32)
        centred[: kernel.shape[0], : kernel.shape[1]] = kernel
        half = kernel.shape[0] // 2
        spectra.append(np.fft.rfft2(np.roll(centred, (-half, -half), axis=(0, 1))))
    return np.stack(spectra)


def _round_candidates(text_ink: np.ndarray, dpi: int, limit: int) -> list[Candidate]:
    small, factor, mm = _coarse(text_ink, dpi, COARSE_DPI)
    step = 1.25
    radii_mm = np.arange(MIN_RADIUS_MM - 2 * step, MAX_RADIUS_MM + 2 * step + 0.01, step)
    best_score, best_radius = _ring_scores(small, mm, radii_mm, 1.6 * mm, ROUND)
    found = []
    for x, y, radius_mm in _peaks(best_score, best_radius, mm, 3 * limit):
        near = np.arange(max(MIN_RADIUS_MM, radius_mm - 6), min(MAX_RADIUS_MM, radius_mm + 6) + 0.01, 1.0)
        if max(_coarse_coverage(small, x, y, r * mm, 1.6 * mm, ROUND) for r in near) < MIN_COARSE_COVERAGE:
            continue  # ink in some directions only: text or rulings a circle crosses, not a ring
        centre = ((x + 0.5) * factor, (y + 0.5) * factor)
        found.append(Candidate(centre, radius_mm * dpi / 25.4, ROUND, factor))
    return found


def _oval_candidates(text_ink: np.ndarray, dpi: int, limit: int) -> list[Candidate]:
    """Ovals of every length, breadth and turn looked for, each centre keeping the shape that stands
    out most there."""
    small, factor, mm = _coarse(text_ink, dpi, OVAL_COARSE_DPI)
    band, step = max(1.6 * mm, 1.2), 1.25
    best_score = np.full(small.shape, -1.0, dtype=np.float32)
    best_radius = np.zeros(small.shape, dtype=np.float32)
    best_shape = np.zeros(small.shape, dtype=np.int32)
    shapes = [Stretch(aspect, angle) for aspect in OVAL_ASPECTS for angle in OVAL_TURNS]
    for index, stretch in enumerate(shapes):
        root = np.sqrt(stretch.aspect)
        radii_mm = np.arange(OVAL_MIN_MM / root - 2 * step, OVAL_MAX_MM / root + 2 * step + 0.01, step)
        score, radius = _ring_scores(small, mm, radii_mm, band, stretch)
        better = score > best_score
        best_score[better], best_radius[better], best_shape[better] = score[better], radius[better], index
    found = []
    for x, y, radius_mm in _peaks(best_score, best_radius, mm, limit):
        stretch = shapes[int(best_shape[y, x])]
        if _coarse_coverage(small, x, y, radius_mm * mm, band, stretch) < MIN_COARSE_OVAL_COVERAGE:
            continue
        centre = ((x + 0.5) * factor, (y + 0.5) * factor)
        found.append(Candidate(centre, radius_mm * dpi / 25.4, stretch, factor))
    return found


def _peaks(
    best_score: np.ndarray, best_radius: np.ndarray, mm: float, count: int
) -> list[tuple[int, int, float]]:
    """The strongest ring centres, each blotting out its own disc before the next is taken."""
    best_score = best_score.copy()
    peaks = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(best_score)), best_score.shape)
        if best_score[y, x] < MIN_RING_SCORE:
            break
        radius_mm = float(best_radius[y, x])
        cv2.circle(best_score, (int(x), int(y)), max(1, round(radius_mm * mm)), -1.0, -1)
        peaks.append((int(x), int(y), radius_mm))
    return peaks


def _coarse_coverage(
    small: np.ndarray, x: int, y: int, radius: float, band: float, stretch: Stretch
) -> float:
    """Share of 48 directions in which the coarse page shows ink on the ring."""
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)[:, None]
    offsets = np.linspace(-band, band, 5)[None, :]
    u, v = (radius + offsets) * np.cos(angles), (radius + offsets) * np.sin(angles)
    dx, dy = stretch.undo(u, v)
    xs = np.clip(np.round(x + dx).astype(int), 0, small.shape[1] - 1)
    ys = np.clip(np.round(y + dy).astype(int), 0, small.shape[0] - 1)
    return float((small[ys, xs].max(axis=1) > 0.1).mean())


@dataclass(frozen=True)
class RingEvidence:
    """What the ink says about a ring around one centre."""

    radius: float
    width: float
    density: float
    """share of the ring's area inked"""
    inside: float
    outside: float
    """share of the bands just inside and outside the ring inked"""
    coverage: float
    """share of directions from the centre in which the ring shows ink"""
    pixels_per_mm: float

    @property
    def clearness(self) -> float:
        """How far the ring's ink stands out of the bands either side (the inside, where the letters
        run, at half)."""
        return self.density - max(0.5 * self.inside, self.outside)

    @property
    def is_seal(self) -> bool:
        """Text and rulings a circle happens to cross cover some directions densely and leave others
        bare, and make no sharp band; a stamped ring, even dotted or faded in places, shows ink nearly
        all the way round, in a band 1–3 mm wide that stands out from either side of it. The sparser
        the band, the more it must stand out."""
        if self.coverage < MIN_COVERAGE:
            return False
        standing_out = self.density / max(self.inside, self.outside, 1e-3)
        width_mm = self.width / self.pixels_per_mm
        return any(
            self.density >= density and standing_out >= ratio and width_mm <= widest
            for density, ratio, widest in RING_RULES
        )


def _refine(ink: np.ndarray, rulings: np.ndarray | None, candidate: Candidate, dpi: int) -> Seal | None:
    """The seal's exact centre, size (and, for an oval, shape) near a coarse hit, or None when there
    is no sharp ring."""
    cx, cy = candidate.centre
    radius, slack, stretch = candidate.radius, candidate.slack, candidate.stretch
    mm = dpi / 25.4
    # An oval's shape may still change below: its reach is that of the longest oval looked for.
    least = MIN_RADIUS_MM if stretch.aspect == 1 else OVAL_MIN_MM / np.sqrt(max(OVAL_ASPECTS))
    longest = 1.0 if stretch.aspect == 1 else np.sqrt(max(OVAL_ASPECTS))
    lo = max(least * mm - 2 * mm, radius - 6 * mm)
    hi = min(MAX_RADIUS_MM * mm + 2 * mm, radius + 6 * mm)
    reach = int(hi * longest + 4 * mm + 4 * slack)
    x0, y0 = max(0, int(cx) - reach), max(0, int(cy) - reach)
    x1, y1 = min(ink.shape[1], int(cx) + reach + 1), min(ink.shape[0], int(cy) + reach + 1)
    ys, xs = np.nonzero(ink[y0:y1, x0:x1])
    if xs.size == 0:
        return None
    xs, ys = xs.astype(np.float32) + x0, ys.astype(np.float32) + y0
    along = np.nonzero(rulings[y0:y1, x0:x1]) if rulings is not None else (np.array([]), np.array([]))
    ruling_ys, ruling_xs = along[0].astype(np.float32) + y0, along[1].astype(np.float32) + x0
    edges = np.arange(lo - 4 * mm, hi + 4 * mm + 1, 1.0)
    # An oval is a seal only at a seal's length: its radius (that of the circle of its area) is looked
    # for only where its length is one (a small oval fitted to the letters inside the rim is not).
    lengths = None if stretch.aspect == 1 else ((OVAL_MIN_MM - 1) * mm, (OVAL_MAX_MM + 1) * mm)
    climb = _Climb(xs, ys, edges, max(3, round(1.2 * mm)), lo, hi, lengths)

    def evidence_at(x: float, y: float, shape: Stretch) -> RingEvidence | None:
        u, v = shape.apply(xs - x, ys - y)
        least, most = climb.radii(shape)
        return ring_evidence(
            u, v, 0.0, 0.0, edges, least, most, mm, shape.apply(ruling_xs - x, ruling_ys - y)
        )

    if stretch.aspect == 1:
        px, py, stretch = climb.to_sharpest(cx, cy, stretch, 2 * slack, 0)
        evidence = evidence_at(px, py, stretch)
    else:
        # The coarse search's shapes are far apart, and its centre is off by up to a coarse pixel: a
        # climb from the nearest shape at that centre stops short (a turn 10° off fits the ring as
        # well as the true one, seen from a centre a few pixels off). Centres and shapes are swept
        # together, on fewer pixels, first wide (turns 30° either way, 10° apart), then fine around
        # the best; the climb starts from there.
        sweep = _Climb(xs, ys, edges, climb.window, lo, hi, lengths, SWEEP_PIXELS)
        half = max(1, slack // 2)
        turns = SWEEP_TURNS
        for _ in range(1 + SWEEP_MOVES):
            x, y, found = sweep.best_of(cx, cy, 2 * half, half, stretch.angle, turns)
            # A best on the sweep's edge says the truth may lie beyond it: swept again from there, in
            # turn as widely only if the turn was on the edge.
            moved = max(abs(x - cx), abs(y - cy)) >= 2 * half
            turned = abs(found.angle - stretch.angle) >= turns[-1]
            cx, cy, stretch = x, y, found
            if not (moved or turned):
                break
            turns = SWEEP_TURNS if turned else MOVED_TURNS
        cx, cy, stretch = sweep.best_of(cx, cy, half, half, stretch.angle, FINE_TURNS)
        px, py, stretch = climb.to_sharpest(cx, cy, stretch, half, 2)
        evidence = evidence_at(px, py, stretch)
        if evidence is not None and evidence.is_seal:
            # Near the rim, the rim's own pixels tell its exact centre, length and turn.
            fitted = _fit_rim(xs, ys, px, py, stretch, evidence)
            if fitted is not None and (again := evidence_at(*fitted)) is not None and again.is_seal:
                (px, py, stretch), evidence = fitted, again
            px, py, stretch, evidence = _clearest_fit(xs, ys, px, py, stretch, evidence, evidence_at)
    if evidence is None or not evidence.is_seal:
        return None
    u, v = stretch.apply(xs - px, ys - py)
    inner = _inner_rings(u, v, evidence, mm, stretch.apply(ruling_xs - px, ruling_ys - py))
    seal = Seal(px, py, evidence.radius, evidence.width, stretch, inner)
    length_mm = seal.half_axes()[0] / mm
    least, most = (MIN_RADIUS_MM, MAX_RADIUS_MM) if stretch.aspect == 1 else (OVAL_MIN_MM, OVAL_MAX_MM)
    if not least - 1 <= length_mm <= most + 1:
        return None  # a ring of another size is not a seal (a letter's loop, a drawn circle)
    return seal


TURN_CHECKS = (-20, -10, 10, 20)
TURN_CHECK_ASPECT = 1.45
"""turns away from the fitted one, at a middling oval's length over breadth, checked on every pixel
once the rim is fitted"""
WIDER_CHECK_MM = 2.0
"""how much wider than the fitted rim a rim is looked for once the rim is fitted"""


def _clearest_fit(
    xs: np.ndarray,
    ys: np.ndarray,
    x: float,
    y: float,
    shape: Stretch,
    rim: RingEvidence,
    evidence_at: Callable[[float, float, Stretch], RingEvidence | None],
) -> tuple[float, float, Stretch, RingEvidence]:
    """The fitted oval, or one fitted again from a neighbouring start whose rim stands out more
    clearly. The climb judges on a sample of the pixels, and two things can hold it off the rim where
    the rim's own pixels fit no better:
    - heavy letters inside the rim, at a turn 20° off: turns `TURN_CHECKS` from the fitted one;
    - a rim whose top went with a ruling it runs along, fitted lower and smaller through the letters
      and a double ring's inner line: a rim `WIDER_CHECK_MM` wider.
    Judged on every pixel, the true rim leaves the band outside it bare."""
    starts: list[tuple[Stretch, RingEvidence]] = []
    for turn in TURN_CHECKS:
        turned_shape = Stretch(TURN_CHECK_ASPECT, shape.angle + turn)
        # Seen from the centre fitted at the wrong turn, the true turn's ring may blur to no seal's;
        # fitted to its band's pixels, it settles on the rim.
        if (turned := evidence_at(x, y, turned_shape)) is not None:
            starts.append((turned_shape, turned))
    starts.append((shape, replace(rim, radius=rim.radius + WIDER_CHECK_MM * rim.pixels_per_mm)))
    best = (x, y, shape, rim)
    for start_shape, start in starts:
        refitted = _refitted(xs, ys, x, y, start_shape, start, evidence_at)
        if refitted is not None and refitted[3].clearness > best[3].clearness:
            best = refitted
    return best


def _refitted(
    xs: np.ndarray,
    ys: np.ndarray,
    x: float,
    y: float,
    shape: Stretch,
    start: RingEvidence,
    evidence_at: Callable[[float, float, Stretch], RingEvidence | None],
) -> tuple[float, float, Stretch, RingEvidence] | None:
    """The rim fitted from `start`, and fitted once more from the ring found there (a start some way
    off takes two fits to settle), or None where no seal's rim is found."""
    for _ in range(2):
        fitted = _fit_rim(xs, ys, x, y, shape, start)
        found = evidence_at(*fitted) if fitted is not None else None
        if fitted is None or found is None or not found.is_seal:
            return None
        (x, y, shape), start = fitted, found
    return x, y, shape, start


RIM_FITS = 3
"""rounds of fitting an ellipse to the ink along the rim, each to the band the last one found"""
MIN_RIM_PIXELS = 100
"""ink pixels along the rim too few to fit an ellipse to (a ring that is mostly gone)"""


def _fit_rim(
    xs: np.ndarray, ys: np.ndarray, x: float, y: float, shape: Stretch, rim: RingEvidence
) -> tuple[float, float, Stretch] | None:
    """The ellipse fitted to the ink of the rim around the one found, or None when too little is
    there. A climb moves one measure at a time and stops where a turn 10° off and a centre a few
    pixels off fit about as well as the truth; the rim's pixels, all the way round, pull every measure
    at once. The band is the rim's width and a millimetre either side: the letters inside stay out."""
    radius = rim.radius
    for _ in range(RIM_FITS):
        distance = np.hypot(*shape.apply(xs - x, ys - y))
        band = np.abs(distance - radius) <= rim.width / 2 + rim.pixels_per_mm
        if band.sum() < MIN_RIM_PIXELS:
            return None
        points = np.column_stack([xs[band], ys[band]]).astype(np.float32)
        (x, y), (first, second), angle = cv2.fitEllipseDirect(points)
        if first < second:
            first, second, angle = second, first, angle + 90
        angle = (angle + 90) % 180 - 90
        if second <= 0 or first / second > max(SHAPE_SWEEP_ASPECTS) + 0.2:
            return None
        shape, radius = Stretch(float(first / second), float(angle)), float(np.sqrt(first * second) / 2)
    return float(x), float(y), shape


class _Climb:
    """A climb to the centre (and shape) around which the ink makes its sharpest ring between `lo`
    and `hi` from the centre. It looks at every few ink pixels only (a dithered page inks a fifth of
    its pixels)."""

    def __init__(
        self,
        xs: np.ndarray,
        ys: np.ndarray,
        edges: np.ndarray,
        window: int,
        lo: float,
        hi: float,
        lengths: tuple[float, float] | None = None,
        pixels: int = CLIMB_PIXELS,
    ):
        stride = max(1, xs.size // pixels)
        self.lengths = lengths
        self.xs, self.ys = xs[::stride], ys[::stride]
        self.edges, self.window, self.lo, self.hi = edges, window, lo, hi

    def radii(self, shape: Stretch) -> tuple[float, float]:
        """The radii looked at in this shape: those of a seal's length, where `lengths` bounds it."""
        if self.lengths is None:
            return self.lo, self.hi
        root = np.sqrt(shape.aspect)
        return max(self.lo, self.lengths[0] / root), min(self.hi, self.lengths[1] / root)

    def sharpest(self, x: float, y: float, shape: Stretch) -> float:
        edges = self.edges
        least, most = self.radii(shape)
        looked_at = (edges[:-1] >= least) & (edges[:-1] <= most)
        if not looked_at.any():
            return -1.0
        distance = np.hypot(*shape.apply(self.xs - x, self.ys - y)) - edges[0]
        within = distance[(distance >= 0) & (distance < edges.size - 1)].astype(np.int64)
        density = np.bincount(within, minlength=edges.size - 1) / (2 * np.pi * (edges[:-1] + 0.5))
        smooth = np.convolve(density, np.ones(self.window) / self.window, mode="same")
        if self.lengths is None:
            return float(smooth[looked_at].max())
        # An oval's shape is judged by how its rim stands out of the ink either side (as the coarse
        # search judges it): the densest band alone may be its letters, fitted by a shape turned off.
        gap = 2 * self.window
        standing = smooth.copy()
        standing[gap:-gap] = _standing_out(smooth[gap:-gap], smooth[: -2 * gap], smooth[2 * gap :])
        return float(standing[looked_at].max())

    def best_of(
        self, x: float, y: float, reach: int, step: int, angle: float, turns: tuple[int, ...]
    ) -> tuple[float, float, Stretch]:
        """The sharpest of the centres within `reach` pixels (`step` apart) and the shapes of
        `SHAPE_SWEEP_ASPECTS` turned by `turns` from `angle`."""
        _, x, y, shape = max(
            (
                (self.sharpest(x + dx, y + dy, shape), x + dx, y + dy, shape)
                for dx in range(-reach, reach + 1, step)
                for dy in range(-reach, reach + 1, step)
                for shape in (
                    Stretch(aspect, angle + turn) for aspect in SHAPE_SWEEP_ASPECTS for turn in turns
                )
            ),
            key=lambda found: found[0],
        )
        return x, y, shape

    def to_sharpest(
        self, x: float, y: float, shape: Stretch, step: int, shape_step: int
    ) -> tuple[float, float, Stretch]:
        """Moves of `step` pixels, halving down to one; for an oval also of 0.025 × `shape_step` in
        length over breadth and 2° × `shape_step` of turn, halving down to 0.025 and 2°."""
        best = self.sharpest(x, y, shape)
        while step >= 1 or shape_step >= 1:
            moves = [
                (x + dx * step, y + dy * step, shape) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy
            ]
            if shape_step >= 1:
                moves += [
                    (
                        x,
                        y,
                        Stretch(
                            max(1.05, shape.aspect + da * 0.025 * shape_step),
                            shape.angle + dt * 2 * shape_step,
                        ),
                    )
                    for da in (-1, 0, 1)
                    for dt in (-1, 0, 1)
                    if da or dt
                ]
            score, mx, my, mshape = max(((self.sharpest(*move), *move) for move in moves), key=lambda m: m[0])
            if score > best:
                x, y, shape, best = mx, my, mshape, score
            else:
                step //= 2
                shape_step //= 2
        return x, y, shape


def ring_evidence(
    xs: np.ndarray,
    ys: np.ndarray,
    px: float,
    py: float,
    edges: np.ndarray,
    lo: float,
    hi: float,
    mm: float,
    rulings: tuple[np.ndarray, np.ndarray],
) -> RingEvidence | None:
    """The ring around (px, py): its radius and width from the radial ink profile, and how it stands
    out. Where the ring runs along a ruling its ink went with the ruling: there the ruling counts."""
    distance = np.hypot(xs - px, ys - py)
    counts, _ = np.histogram(distance, edges)
    radii = edges[:-1] + 0.5
    density = counts / (2 * np.pi * radii)
    smooth = np.convolve(density, np.ones(3) / 3, mode="same")
    inner = np.nonzero((radii >= lo) & (radii <= hi))[0]
    if inner.size == 0:
        return None
    strongest = int(inner[np.argmax(smooth[inner])])
    # A seal's ring is its outer edge; its letters run just inside as a second band, often the
    # denser one. The strongest band says whether this is a seal; the outermost says how far it goes.
    rims = [
        i
        for i in inner
        if i >= strongest
        and smooth[i] >= max(DOTTED_RING_DENSITY, 0.5 * smooth[strongest])
        and smooth[i] >= smooth[max(0, i - 1)]
        and smooth[i] >= smooth[min(smooth.size - 1, i + 1)]
    ]
    evidence = _band_evidence(xs, ys, px, py, distance, smooth, radii, strongest, mm, rulings)
    rim = max(rims, default=strongest)
    if rim == strongest:
        return evidence
    outer = _band_evidence(xs, ys, px, py, distance, smooth, radii, rim, mm, rulings)
    if outer.is_seal and not evidence.is_seal:
        # A double ring's inner line may be the strongest band, with the rim just outside it as its
        # "outside": the rim then stands out on its own, from its outside and the line within.
        return outer
    return replace(evidence, radius=outer.radius, width=outer.width)


def _inner_rings(
    u: np.ndarray, v: np.ndarray, rim: RingEvidence, mm: float, rulings: tuple[np.ndarray, np.ndarray]
) -> tuple[tuple[float, float], ...]:
    """Lines inside the rim, within `INNER_RING_MM` of it, that go all the way round: a double-ring
    seal's inner ring, no wider than the rim. The letters along the rim make a wider band, or leave a
    quarter of the way round or more bare."""
    distance = np.hypot(u, v)
    edges = np.arange(rim.radius - rim.width / 2 - INNER_RING_MM * mm, rim.radius - rim.width / 2, 1.0)
    if edges.size < 5:
        return ()
    counts, _ = np.histogram(distance, edges)
    radii = edges[:-1] + 0.5
    smooth = np.convolve(counts / (2 * np.pi * radii), np.ones(3) / 3, mode="same")
    rings = []
    for i in range(1, smooth.size - 1):
        if smooth[i] < DOTTED_RING_DENSITY or smooth[i] < smooth[i - 1] or smooth[i] < smooth[i + 1]:
            continue
        band = _band_evidence(u, v, 0.0, 0.0, distance, smooth, radii, i, mm, rulings)
        line = band.width <= rim.width and band.radius + band.width / 2 < rim.radius - rim.width / 2
        if line and band.coverage >= MIN_COVERAGE and (band.radius, band.width) not in rings:
            rings.append((band.radius, band.width))
    return tuple(rings)


def _band_evidence(
    xs: np.ndarray,
    ys: np.ndarray,
    px: float,
    py: float,
    distance: np.ndarray,
    smooth: np.ndarray,
    radii: np.ndarray,
    peak: int,
    mm: float,
    rulings: tuple[np.ndarray, np.ndarray],
) -> RingEvidence:
    """The band of the radial profile around `peak` (its half-height width), and how it stands out."""
    half = smooth[peak] / 2
    left, right = peak, peak
    while left > 0 and smooth[left - 1] >= half:
        left -= 1
    while right < smooth.size - 1 and smooth[right + 1] >= half:
        right += 1
    width = float(np.clip(right - left + 1, 0.6 * mm, 3.5 * mm))
    radius = float((radii[left] + radii[right]) / 2)
    band = (distance >= radius - width / 2) & (distance <= radius + width / 2)
    area = 2 * np.pi * radius * width

    def share(start: float, stop: float) -> float:
        ring_area = np.pi * (stop**2 - start**2)
        return float(((distance >= start) & (distance < stop)).sum() / max(ring_area, 1.0))

    ruling_distance = np.hypot(rulings[0] - px, rulings[1] - py)
    on_ruling = (ruling_distance >= radius - width / 2) & (ruling_distance <= radius + width / 2)
    angles = np.concatenate(
        [
            np.arctan2(ys[band] - py, xs[band] - px),
            np.arctan2(rulings[1][on_ruling] - py, rulings[0][on_ruling] - px),
        ]
    )
    sectors = np.unique(((angles + np.pi) / (2 * np.pi) * 72).astype(np.int32) % 72)
    return RingEvidence(
        radius=radius,
        width=width,
        density=float(band.sum() / max(area, 1.0)),
        inside=share(radius - width / 2 - 2.5 * mm, radius - width / 2 - 0.5 * mm),
        outside=share(radius + width / 2 + 0.5 * mm, radius + width / 2 + 2.5 * mm),
        coverage=sectors.size / 72,
        pixels_per_mm=mm,
    )


@dataclass(frozen=True)
class SealInk:
    ink: np.ndarray
    """ink map pixels that are the seal's (uint8, 255): out of the text and rulings"""
    paper: np.ndarray
    """grey page pixels to whiten (uint8, 255): the seal's ink, but never print or its soft edges"""


def seal_ink(
    grey: np.ndarray, ink: np.ndarray, seals: list[Seal], dpi: int, rulings: np.ndarray | None = None
) -> SealInk:
    """The ink inside the seals that is the seal's own: markedly lighter than the print around it.

    Darkness is judged on the darkest pixel nearby, so a print stroke's soft edge counts as print. It
    is judged twice: on the page as it is (a grey seal is lighter than print), and smoothed (the dots
    of a dotted 1-bit seal turn grey, solid print stays dark); the view that parts the ink in the seal
    more clearly into print and seal decides. Where neither does (a seal as dark as the print), only
    the ring itself is taken. The ring leaves the ink map whatever its darkness (left in, it would
    join the print it crosses into lines of its own); only print a lighter ring runs through stays.
    """
    taken, paper = np.zeros_like(ink), np.zeros_like(ink)
    if not seals:
        return SealInk(taken, paper)
    views = (
        cv2.erode(grey, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))),
        cv2.erode(
            cv2.GaussianBlur(grey, (0, 0), dpi / 200), cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        ),
    )
    # Dark ink that may hold up light print: not the rulings, which seal strokes cross everywhere.
    print_ink = ink > 0 if rulings is None else (ink > 0) & ~_with_neighbours(rulings > 0)
    discs = _discs(seals, ink.shape) > 0
    elsewhere = (ink > 0) & ~discs
    prints = [view[elsewhere] if elsewhere.any() else np.zeros(1, np.uint8) for view in views]
    for seal in seals:
        disc = seal.disc(ink.shape, margin=seal.ring_width) > 0
        here = disc & (ink > 0)
        ring = seal.ring(ink.shape)
        on_ring = (ring > 0) & (ink > 0)
        taken[on_ring] = 255
        splits = [
            (_split(view[here], page_print), view) for view, page_print in zip(views, prints, strict=True)
        ]
        usable = [(split, view) for split, view in splits if split is not None]
        if usable:
            (threshold, apart), view = max(usable, key=lambda item: item[0][1])
            lighter = disc & (view > threshold)
            lighter &= ~_light_print(lighter & (ink > 0), disc & print_ink & ~lighter, dpi)
            taken[lighter & (ink > 0)] = 255
            paper[lighter] = 255
            if (on_ring & lighter).sum() > LIGHTER_RING * on_ring.sum():
                # A ring lighter than the print: the print it runs through stays whole in the ink map
                # (a 4 the rim crosses). A 1-bit seal's ring is as dark as the print and goes whole.
                # Ink nearer the print's darkness than the split, in pieces as large as a stroke: the
                # ring's own ink is lighter.
                dark = disc & (ink > 0) & (view <= threshold - PRINT_ACROSS_RING * apart)
                taken[on_ring & dark & ~_specks(dark, dpi, LIGHT_STROKE_AREA)] = 0
            # A dotted ring as dark as the print: its dots leave the page too, the print it crosses
            # (strokes, not dots) stays.
            _whiten(paper, on_ring & _specks(here, dpi, SPECK_AREA * 2))
        else:
            paper[on_ring] = 255
        dots = _stray_dots(disc & (ink > 0) & (taken == 0), dpi, ring)
        taken[dots] = 255
        _whiten(paper, dots)
    return SealInk(taken, paper)


def _light_print(light: np.ndarray, dark: np.ndarray, dpi: int) -> np.ndarray:
    """Light ink that is part of the print: a piece no larger than a stroke that runs on from dark print.

    A thin stroke fades as it thins (the diagonal of a 楷体 4, the tail of a 仿宋 stroke) and may be as
    light as the seal, but it hangs from the dark print it belongs to, within that print's height.
    Where a seal's stroke crosses the print, it runs on far beyond it: too large a piece to be kept,
    or, cut short by the print it crosses, above or below it (a letter's stroke across the 1 of 100.00).
    """
    kept = np.zeros(light.shape, dtype=bool)
    ys, xs = np.nonzero(light | dark)
    if not ys.size:
        return kept
    # Within the seal only: the masks are the page's, the pieces all lie where the seal does.
    here = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    light, dark = light[here], dark[here]
    dark = _specks(dark, dpi, SPECK_AREA * 2) ^ dark  # print's strokes, not a seal's dark specks
    count, labels, stats, _ = cv2.connectedComponentsWithStats(light.astype(np.uint8), connectivity=8)
    touching = np.zeros(count, dtype=bool)
    touching[np.unique(labels[_with_neighbours(dark) & light])] = True
    keep = touching & (stats[:, cv2.CC_STAT_AREA] <= (dpi / 100) ** 2 * LIGHT_STROKE_AREA)
    keep[0] = False
    if keep.any():
        _, dark_labels, dark_stats, _ = cv2.connectedComponentsWithStats(
            dark.astype(np.uint8), connectivity=8
        )
        for index in np.nonzero(keep)[0]:
            keep[index] = _within_height(stats[index], dark_labels, dark_stats)
    kept[here] = keep[labels]
    return kept


def _within_height(piece: np.ndarray, dark_labels: np.ndarray, dark_stats: np.ndarray) -> bool:
    """Whether a light piece lies within the height of the dark print beside it (a little beyond it
    at most: a faded stroke's end)."""
    x, y, w, h = (int(v) for v in piece[:4])
    around = dark_labels[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1]
    beside = np.unique(around[around > 0])
    if beside.size == 0:
        return False
    top = int(dark_stats[beside, cv2.CC_STAT_TOP].min())
    bottom = int((dark_stats[beside, cv2.CC_STAT_TOP] + dark_stats[beside, cv2.CC_STAT_HEIGHT]).max())
    slack = max(2, round(PRINT_HEIGHT_SLACK * (bottom - top)))
    return y >= top - slack and y + h <= bottom + slack


def _whiten(paper: np.ndarray, dots: np.ndarray) -> None:
    """Mark dots for whitening on the grey page, with the pixel around each (their soft edge)."""
    paper[_with_neighbours(dots)] = 255


def _with_neighbours(mask: np.ndarray) -> np.ndarray:
    """The pixels of a boolean mask and the eight around each."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def _specks(ink: np.ndarray, dpi: int, area: float) -> np.ndarray:
    """The ink pixels of pieces no larger than `area` (in pixels at 100 dpi)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] <= (dpi / 100) ** 2 * area
    small[0] = False
    return small[labels]


def _stray_dots(left: np.ndarray, dpi: int, ring: np.ndarray) -> np.ndarray:
    """Specks in a seal that are no part of the print: what is left of a dotted or mottled seal.

    A speck level with a character next to it (a decimal point, the dot of a 。) is kept, unless it
    lies among other specks: a dotted seal strews them in clusters between the digits, while the
    print's own dots stand alone. A speck on the foot of the character left of it (a decimal point)
    and pieces of print the ring was cut out of (they touch the ring) are kept whatever lies around.
    """
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(left.astype(np.uint8), connectivity=8)
    x, y, w, h, area = (stats[:, i].astype(np.int64) for i in range(5))
    speck = area <= (dpi / 100) ** 2 * SPECK_AREA
    speck[0] = False
    print_like = ~speck & (h >= dpi // 20)
    print_like[0] = False
    reach = dpi // 8  # about a character's width
    near = dpi / 16  # about a character's stroke gap: specks this close are a seal's dots
    by_ring = np.zeros(count, dtype=bool)
    by_ring[np.unique(labels[(cv2.dilate(ring, np.ones((5, 5), np.uint8)) > 0) & (labels > 0)])] = True
    specks = np.nonzero(speck)[0]
    stray = np.zeros(count, dtype=bool)
    for i in specks:
        cy = y[i] + h[i] / 2
        beside = (
            print_like
            & (x - reach <= x[i] + w[i])
            & (x[i] <= x + w + reach)
            & (y - h * 0.3 <= cy)
            & (cy <= y + h * 1.3)
        )
        foot = y[i] + h[i]
        on_the_line = (  # a decimal point or a 。 on the foot of the character just left of it
            print_like
            & (x + w <= x[i] + w[i])
            & (x[i] <= x + w + reach // 2)
            & (abs(y + h - foot) <= h * 0.15)
        )
        crowd = int((np.hypot(*(centroids[specks] - centroids[i]).T) <= near).sum()) - 1
        crowded = crowd >= CROWDED_SPECKS and not by_ring[i] and not on_the_line.any()
        stray[i] = not beside.any() or crowded
    return stray[labels]


def _split(values: np.ndarray, page_print: np.ndarray) -> tuple[int, float] | None:
    """A darkness between the print's (as elsewhere on the page) and the seal's (the bulk of the
    lighter ink in the seal), with how far apart the two are; None when they are not clearly apart, or
    when the page's own print is not clearly darker than it (thin 1-bit print, smoothed, is as grey as
    a dotted seal: a split there would take print away)."""
    print_level = float(np.median(page_print))
    lighter = values[values > print_level + 40]
    if values.size < 50 or lighter.size < 50:
        return None
    seal_level = float(np.median(lighter))
    apart = seal_level - print_level
    # Nearer the seal than the print: print under a seal is often a little lighter than elsewhere, and
    # taking print away costs more than leaving a seal speck.
    threshold = print_level + 0.7 * apart
    if apart < 45 or float(np.mean(page_print > threshold)) > MAX_PRINT_TAKEN:
        return None
    return int(threshold), apart


def without_seals(clean: CleanPage, rulings: Rulings, dpi: int) -> tuple[CleanPage, Rulings, list[Seal]]:
    """The page with the seals' ink taken out of its ink map, and its rulings found again without them.

    A thick ring holds straight runs as long as a short ruling, so rulings are found again once it is
    gone; the true rulings it crossed are kept whole (they run on beyond the seal).
    """
    both = rulings.both
    seals = find_seals(cv2.bitwise_and(clean.ink, cv2.bitwise_not(both)), dpi, both)
    if not seals:
        return clean, rulings, seals
    found = seal_ink(clean.grey, clean.ink, seals, dpi, both)
    discs = _discs(seals, clean.ink.shape)
    kept = _rulings_beyond(rulings, discs, dpi) > 0
    found.ink[kept] = 0
    found.paper[kept] = 0
    ink = cv2.bitwise_and(clean.ink, cv2.bitwise_not(found.ink))
    # Whitened in the grey page too, so the line crops the recogniser reads show no seal.
    grey = np.where(found.paper > 0, np.uint8(255), clean.grey)
    return replace(clean, grey=grey, ink=ink), _without_strays(ruling_masks(ink, dpi), discs, dpi), seals


def _discs(seals: list[Seal], shape: tuple[int, ...]) -> np.ndarray:
    """Where the seals lie, each with its ring's width around it (uint8, 255)."""
    discs = np.zeros(shape[:2], dtype=np.uint8)
    for seal in seals:
        discs |= seal.disc(shape, margin=seal.ring_width)
    return discs


def _without_strays(rulings: Rulings, discs: np.ndarray, dpi: int) -> Rulings:
    """The rulings less the pieces that lie wholly inside a seal and end on no crossing ruling: what a
    seal left as straight runs (an upright edge of its star, a letter's stroke). A table's line wholly
    inside a seal (a column of one row) runs from one ruling to the next; where the seal's ring was
    taken out of one of those, it still meets the other."""
    junction = max(3, dpi // 50)
    around = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * junction + 1, 2 * junction + 1))
    horizontal = _ended_on(rulings.horizontal, cv2.dilate(rulings.vertical, around) > 0, discs, along_x=True)
    vertical = _ended_on(rulings.vertical, cv2.dilate(rulings.horizontal, around) > 0, discs, along_x=False)
    return Rulings(horizontal, vertical)


def _ended_on(mask: np.ndarray, crossing: np.ndarray, discs: np.ndarray, along_x: bool) -> np.ndarray:
    """`mask` less its pieces wholly inside `discs` that meet `crossing` at neither end."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    inside = np.zeros(count, dtype=bool)
    inside[np.unique(labels[(mask > 0) & (discs > 0)])] = True
    inside[np.unique(labels[(mask > 0) & (discs == 0)])] = False
    inside[0] = False
    keep = np.ones(count, dtype=bool)
    keep[0] = False
    for label in np.nonzero(inside)[0]:
        x, y, w, h, _ = stats[label]
        if along_x:
            ends = crossing[y : y + h, x], crossing[y : y + h, x + w - 1]
        else:
            ends = crossing[y, x : x + w], crossing[y + h - 1, x : x + w]
        keep[label] = any(end.any() for end in ends)
    return np.where(keep[labels], mask, np.uint8(0))


def _rulings_beyond(rulings: Rulings, discs: np.ndarray, dpi: int) -> np.ndarray:
    """The rulings that run on beyond the seals: the table's own lines, not runs of a ring.

    Inside a seal a ruling is kept only along the line its part outside draws. A ring's arc that
    meets a ruling joins it in the ruling mask (the flat top of an oval holds a straight run as long
    as a short ruling); kept whole with it, the arc would be found again as a ruling of its own and
    part a table row in two.
    """
    kept = cv2.bitwise_and(rulings.both, cv2.bitwise_not(discs))
    ys, xs = np.nonzero(discs)
    if not ys.size:
        return kept
    reach = round(RULING_FIT_IN * dpi) + 2
    near = (
        slice(max(0, ys.min() - reach), ys.max() + reach + 1),
        slice(max(0, xs.min() - reach), xs.max() + reach + 1),
    )
    for mask, across_axis in ((rulings.horizontal, 0), (rulings.vertical, 1)):
        kept[near][_on_lines_through(mask[near], discs[near], across_axis, dpi)] = 255
    return kept


def _on_lines_through(mask: np.ndarray, discs: np.ndarray, across_axis: int, dpi: int) -> np.ndarray:
    """The ruling pixels inside the seals that lie on the straight line a ruling outside them draws
    (each piece's end within `RULING_FIT_IN` of a seal, fitted and drawn on into it)."""
    on_line = np.zeros(mask.shape, dtype=bool)
    points = np.nonzero((mask > 0) & (discs > 0))
    if not points[0].size:
        return on_line
    outside = cv2.bitwise_and(mask, cv2.bitwise_not(discs))
    at_seal = cv2.dilate(discs, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))) > 0
    _, labels, stats, _ = cv2.connectedComponentsWithStats(outside, connectivity=8)
    along_axis = 1 - across_axis
    reach = RULING_FIT_IN * dpi
    for label in np.unique(labels[at_seal & (outside > 0)]):
        x, y, w, h, _ = stats[label]
        piece = labels[y : y + h, x : x + w] == label
        meets = np.nonzero(piece & at_seal[y : y + h, x : x + w])
        coords = np.nonzero(piece)
        along = coords[along_axis].astype(np.float64)
        across = coords[across_axis].astype(np.float64)
        near = np.abs(along - meets[along_axis].mean()) <= reach
        extent = np.ptp(along[near]) + 1
        if extent < reach / 2:
            continue  # a stub of an arc poking out of the seal, not a ruling
        slope, offset = np.polyfit(along[near], across[near], 1)
        tolerance = near.sum() / extent / 2 + RULING_FIT_SLACK
        # The fit is in the piece's own box: back to the mask's coordinates.
        start_along, start_across = (y, x) if along_axis == 0 else (x, y)
        predicted = slope * (points[along_axis] - start_along) + offset + start_across
        on = np.abs(points[across_axis] - predicted) <= tolerance
        on_line[points[0][on], points[1][on]] = True
    return on_line
