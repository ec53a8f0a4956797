"""One call from forms to scanned pages: choose the look, render, then put each page through it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from selfeval.contract.record import Form

from .degrade import degrade_page
from .fonts import FACES, Family, faces_of
from .look import STREAM, Look, SealPlace, Split, classic_look, degradations, draw_look
from .render import RenderOptions, ScanPage, render_forms

_FUNDING_ROWS = ("total", "current_year_appropriation")
_FUNDING_FIGURES = ("initial_budget", "annual_budget", "executed", "execution_rate")
_INDICATOR_FIGURES = ("weight", "score", "target", "actual")


def scan_forms(
    forms: Sequence[Form],
    quality: str = "office",
    dpi: int | None = None,
    seed: int = 0,
    font: str | None = None,
    thousands: bool | None = None,
    signature: bool | None = None,
    *,
    split: Split | str = Split.dev,
    classic: bool = False,
    **fixed: Any,
) -> list[ScanPage]:
    """Pages of all forms, each form from a new page, scanned at preset `quality`.

    Every choice of the look is drawn from `seed` (see `look.draw_look`) unless given: `font` (a face
    of fonts.FACES, or a family: song, fangsong, kai, hei), `dpi`, `thousands`, `signature`, and any
    other field of `look.Look` by name (mode="bw", seal="grey", seal_at="figures", …). `classic`
    starts from the first generator's look instead of drawing one. The seal carries the form's own
    实施单位; the same arguments always give the same pixels.
    """
    given = {
        k: v for k, v in {"dpi": dpi, "thousands": thousands, "signature": signature}.items() if v is not None
    }
    look = choose_look(quality, seed, split, classic, font, **given, **fixed)
    return scan_with_look(forms, look, seed)


def choose_look(
    quality: str, seed: int, split: Split | str, classic: bool, font: str | None, **fixed: Any
) -> Look:
    family = font if font in set(Family) else None
    face = font if font is not None and family is None else None
    if face is not None and face not in FACES:
        raise ValueError(
            f"unknown face or family {font!r}; faces: {', '.join(FACES)}; families: song, fangsong, kai, hei"
        )
    if classic:
        chosen = face or (faces_of(family, heldout=False)[0].key if family else "noto-sans")
        return classic_look(quality, fixed.pop("dpi", 200), chosen, split=split, **fixed)
    return draw_look(quality, seed, split, family, **({"face": face} if face else {}), **fixed)


def scan_with_look(forms: Sequence[Form], look: Look, seed: int) -> list[ScanPage]:
    options = RenderOptions(
        dpi=look.dpi,
        face=look.face,
        title_face=look.title_face,
        style=look.style,
        thousands=look.thousands,
        seed=seed,
    )
    stream = STREAM[look.split]
    scanned = []
    for page in render_forms(list(forms), options):
        index = page.truth.form_index
        form = forms[index]
        seal_field = seal_field_for(form, look.seal_at, np.random.default_rng([seed, index, 31, stream]))
        steps = degradations(look, form.implementing_unit, seal_field)
        done = degrade_page(page, steps, seed, stream)
        done.truth.look = look.as_dict()
        scanned.append(done)
    return scanned


def seal_field_for(form: Form, place: SealPlace, rng: np.random.Generator) -> str | None:
    """The record path of the cell a seal covers, for places that name one cell."""
    if place is SealPlace.total_score:
        return "form.total_score"
    if place is SealPlace.grade:
        return "form.grade"
    if place is SealPlace.funding:
        row = _FUNDING_ROWS[int(rng.integers(len(_FUNDING_ROWS)))]
        return f"form.funding.{row}.{_FUNDING_FIGURES[int(rng.integers(len(_FUNDING_FIGURES)))]}"
    if place is SealPlace.figures and form.indicators:
        index = int(rng.integers(len(form.indicators)))
        return f"form.indicators[{index}].{_INDICATOR_FIGURES[int(rng.integers(len(_INDICATOR_FIGURES)))]}"
    return None
