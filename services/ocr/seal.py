"""Seals (公章) found by their shape, and their ink told from the print under them.

A colour scan loses a red seal to `cleanup.drop_colour_ink`; a grey or black-and-white scan keeps it as
a ring of mid-grey or dotted ink across rulings, labels and figures. The ring gives it away: a band of
ink 1–2 mm wide at one distance from a centre, with little ink just inside and outside it, which no
text or table draws. Inside a found seal, print is told from seal ink by darkness: stamp ink is lighter
than printer's ink (a dotted 1-bit seal is too, once the page is smoothed), so ink whose darkest
neighbourhood stays well above the print's own darkness is the seal's.
"""

from __future__ import annotations

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
MIN_COARSE_COVERAGE = 0.75
"""share of directions with ink on the ring at the coarse search, before a closer look"""
"""ink density on the ring minus that just inside or outside it, at the coarse search"""
MAX_PRINT_TAKEN = 0.12
"""a darkness that would take this share of the page's print elsewhere for seal does not tell them apart"""
RING_RULES = ((0.28, 1.8, 2.9), (0.25, 1.4, 2.2), (0.2, 3.0, 3.5))
"""(least density, least standing out, widest band in mm): a ring meeting any of them is a seal's"""
DOTTED_RING_DENSITY = 0.2
MIN_COVERAGE = 0.85
"""share of directions from the centre in which the ring shows ink"""


@dataclass(frozen=True)
class Seal:
    x: float
    y: float
    radius: float
    ring_width: float

    def disc(self, shape: tuple[int, ...], margin: float) -> np.ndarray:
        mask = np.zeros(shape[:2], dtype=np.uint8)
        cv2.circle(mask, (round(self.x), round(self.y)), round(self.radius + margin), 255, -1)
        return mask


def _ring_kernel(radius: float, width: float) -> np.ndarray:
    size = int(radius + width) + 2
    yy, xx = np.mgrid[-size : size + 1, -size : size + 1]
    distance = np.hypot(xx, yy)
    kernel = (np.abs(distance - radius) <= width / 2).astype(np.float32)
    return kernel / kernel.sum()


def find_seals(
    text_ink: np.ndarray, dpi: int, rulings: np.ndarray | None = None, limit: int = 2
) -> list[Seal]:
    """Round seals on a page, from its ink with the rulings taken out (`rulings`, where given, only
    close the ring where it runs along one)."""
    factor = max(1, round(dpi / COARSE_DPI))
    small = (
        cv2.resize(
            text_ink,
            (text_ink.shape[1] // factor, text_ink.shape[0] // factor),
            interpolation=cv2.INTER_AREA,
        ).astype(np.float32)
        / 255.0
    )
    mm = dpi / 25.4 / factor
    band, step = 1.6 * mm, 1.25
    # Ink on rings of every radius, 1.25 mm apart: the ring two steps in and two out (2.5 mm) are the
    # bands a seal's ring must stand out from.
    radii_mm = np.arange(MIN_RADIUS_MM - 2 * step, MAX_RADIUS_MM + 2 * step + 0.01, step)
    on = [
        cv2.filter2D(small, -1, _ring_kernel(r * mm, band), borderType=cv2.BORDER_CONSTANT) for r in radii_mm
    ]
    best_score = np.full(small.shape, -1.0, dtype=np.float32)
    best_radius = np.zeros(small.shape, dtype=np.float32)
    for i in range(2, len(radii_mm) - 2):
        # Just outside a seal's ring there is only what the seal was stamped on; just inside run its
        # letters, so the band inside counts for half.
        score = on[i] - np.maximum(0.5 * on[i - 2], on[i + 2])
        better = score > best_score
        best_score[better] = score[better]
        best_radius[better] = radii_mm[i]
    seals: list[Seal] = []
    for _ in range(3 * limit):
        y, x = np.unravel_index(int(np.argmax(best_score)), best_score.shape)
        if best_score[y, x] < MIN_RING_SCORE or len(seals) >= limit:
            break
        radius_mm = float(best_radius[y, x])
        cv2.circle(best_score, (int(x), int(y)), max(1, round(radius_mm * mm)), -1.0, -1)
        near = np.arange(max(MIN_RADIUS_MM, radius_mm - 6), min(MAX_RADIUS_MM, radius_mm + 6) + 0.01, 1.0)
        if max(_coarse_coverage(small, x, y, r * mm, band) for r in near) < MIN_COARSE_COVERAGE:
            continue  # ink in some directions only: text or rulings a circle crosses, not a ring
        centre = ((x + 0.5) * factor, (y + 0.5) * factor)
        seal = _refine(text_ink, rulings, centre, radius_mm * dpi / 25.4, dpi, factor)
        if seal is not None:
            seals.append(seal)
    return seals


def _coarse_coverage(small: np.ndarray, x: int, y: int, radius: float, band: float) -> float:
    """Share of 48 directions in which the coarse page shows ink on the ring."""
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)[:, None]
    offsets = np.linspace(-band, band, 5)[None, :]
    xs = np.clip(np.round(x + (radius + offsets) * np.cos(angles)).astype(int), 0, small.shape[1] - 1)
    ys = np.clip(np.round(y + (radius + offsets) * np.sin(angles)).astype(int), 0, small.shape[0] - 1)
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


def _refine(
    ink: np.ndarray,
    rulings: np.ndarray | None,
    centre: tuple[float, float],
    radius: float,
    dpi: int,
    slack: int,
) -> Seal | None:
    """The seal's exact centre and radius near a coarse hit, or None when there is no sharp ring."""
    cx, cy = centre
    mm = dpi / 25.4
    lo = max(MIN_RADIUS_MM * mm - 2 * mm, radius - 6 * mm)
    hi = min(MAX_RADIUS_MM * mm + 2 * mm, radius + 6 * mm)
    reach = int(hi + 4 * mm + 4 * slack)
    x0, y0 = max(0, int(cx) - reach), max(0, int(cy) - reach)
    x1, y1 = min(ink.shape[1], int(cx) + reach + 1), min(ink.shape[0], int(cy) + reach + 1)
    ys, xs = np.nonzero(ink[y0:y1, x0:x1])
    if xs.size == 0:
        return None
    xs, ys = xs.astype(np.float32) + x0, ys.astype(np.float32) + y0
    along = np.nonzero(rulings[y0:y1, x0:x1]) if rulings is not None else (np.array([]), np.array([]))
    ruling_ys, ruling_xs = along[0].astype(np.float32) + y0, along[1].astype(np.float32) + x0
    edges = np.arange(lo - 4 * mm, hi + 4 * mm + 1, 1.0)
    window = max(3, round(1.2 * mm))
    inner = (edges[:-1] >= lo) & (edges[:-1] <= hi)

    def sharpest_ring(x: float, y: float) -> float:
        distance = np.hypot(xs - x, ys - y) - edges[0]
        within = distance[(distance >= 0) & (distance < edges.size - 1)].astype(np.int64)
        density = np.bincount(within, minlength=edges.size - 1) / (2 * np.pi * (edges[:-1] + 0.5))
        return float(np.convolve(density, np.ones(window) / window, mode="same")[inner].max())

    # Climb to the centre whose ring is sharpest, in steps halving from two coarse pixels to one.
    px, py, best = cx, cy, sharpest_ring(cx, cy)
    step = 2 * slack
    while step >= 1:
        moves = [(px + dx * step, py + dy * step) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
        score, x, y = max((sharpest_ring(x, y), x, y) for x, y in moves)
        if score > best:
            px, py, best = x, y, score
        else:
            step //= 2
    evidence = ring_evidence(xs, ys, px, py, edges, lo, hi, mm, (ruling_xs, ruling_ys))
    if evidence is None or not evidence.is_seal:
        return None
    if not MIN_RADIUS_MM - 1 <= evidence.radius / mm <= MAX_RADIUS_MM + 1:
        return None  # a ring of another size is not a seal (a letter's loop, a drawn circle)
    return Seal(px, py, evidence.radius, evidence.width)


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
    return replace(evidence, radius=outer.radius, width=outer.width)


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


def seal_ink(grey: np.ndarray, ink: np.ndarray, seals: list[Seal], dpi: int) -> SealInk:
    """The ink inside the seals that is the seal's own: markedly lighter than the print around it.

    Darkness is judged on the darkest pixel nearby, so a print stroke's soft edge counts as print. It
    is judged twice: on the page as it is (a grey seal is lighter than print), and smoothed (the dots
    of a dotted 1-bit seal turn grey, solid print stays dark); the view that parts the ink in the seal
    more clearly into print and seal decides. Where neither does (a seal as dark as the print), only
    the ring itself is taken. The ring always leaves the ink map, whatever its darkness: left in, it
    would join the print it crosses into lines of its own.
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
    discs = np.zeros(ink.shape, dtype=bool)
    for seal in seals:
        discs |= seal.disc(ink.shape, margin=seal.ring_width) > 0
    elsewhere = (ink > 0) & ~discs
    prints = [view[elsewhere] if elsewhere.any() else np.zeros(1, np.uint8) for view in views]
    for seal in seals:
        disc = seal.disc(ink.shape, margin=seal.ring_width) > 0
        here = disc & (ink > 0)
        ring = np.zeros_like(ink)
        cv2.circle(ring, (round(seal.x), round(seal.y)), round(seal.radius), 255, round(seal.ring_width))
        on_ring = (ring > 0) & (ink > 0)
        taken[on_ring] = 255
        splits = [
            (_split(view[here], page_print), view) for view, page_print in zip(views, prints, strict=True)
        ]
        usable = [(split, view) for split, view in splits if split is not None]
        if usable:
            (threshold, _), view = max(usable, key=lambda item: item[0][1])
            lighter = disc & (view > threshold)
            taken[lighter & (ink > 0)] = 255
            paper[lighter] = 255
        else:
            paper[on_ring] = 255
        dots = _stray_dots(disc & (ink > 0) & (taken == 0), dpi)
        taken[dots] = 255
        paper[cv2.dilate(dots.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = 255
    return SealInk(taken, paper)


def _stray_dots(left: np.ndarray, dpi: int) -> np.ndarray:
    """Specks in a seal that sit beside no print: what is left of a dotted or mottled seal.

    A speck level with a character next to it (a decimal point, the dot of a 。) is kept.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(left.astype(np.uint8), connectivity=8)
    x, y, w, h, area = (stats[:, i].astype(np.int64) for i in range(5))
    speck = area <= (dpi / 100) ** 2 * 6
    print_like = ~speck & (h >= dpi // 20)
    reach = dpi // 8  # about a character's width
    stray = np.zeros(count, dtype=bool)
    for i in np.nonzero(speck)[0]:
        if i == 0:
            continue
        cy = y[i] + h[i] / 2
        beside = (
            print_like
            & (x - reach <= x[i] + w[i])
            & (x[i] <= x + w + reach)
            & (y - h * 0.3 <= cy)
            & (cy <= y + h * 1.3)
        )
        stray[i] = not beside.any()
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
    found = seal_ink(clean.grey, clean.ink, seals, dpi)
    kept = _rulings_beyond(rulings, seals) > 0
    found.ink[kept] = 0
    found.paper[kept] = 0
    ink = cv2.bitwise_and(clean.ink, cv2.bitwise_not(found.ink))
    # Whitened in the grey page too, so the line crops the recogniser reads show no seal.
    grey = np.where(found.paper > 0, np.uint8(255), clean.grey)
    return replace(clean, grey=grey, ink=ink), ruling_masks(ink, dpi), seals


def _rulings_beyond(rulings: Rulings, seals: list[Seal]) -> np.ndarray:
    """The ruling pieces that reach outside every seal: the table's own lines, not runs of a ring."""
    discs = np.zeros(rulings.horizontal.shape, dtype=np.uint8)
    for seal in seals:
        discs |= seal.disc(discs.shape, margin=seal.ring_width)
    kept = np.zeros_like(discs)
    for mask in (rulings.horizontal, rulings.vertical):
        count, labels = cv2.connectedComponents(mask, connectivity=8)
        outside = np.unique(labels[(mask > 0) & (discs == 0)])
        keep = np.zeros(count, dtype=bool)
        keep[outside] = True
        keep[0] = False
        kept[keep[labels]] = 255
    return kept
