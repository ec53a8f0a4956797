"""Line recognition, batched for speed on a small CPU, with a second opinion where a reading is wrong.

Lines are read with PP-OCRv6 (small or tiny). A line whose quotation marks cannot pair up (its
typical slip: a small ‘ after a wide gap dropped or read as “) is read again by PP-OCRv4 mobile, and
that reading is taken when its marks do pair up. A figure read with doubt is put to a vote
(`figure_votes`).

Recognition dominates the time of a page. Every crop is scaled to the model's height (48) and
padded with paper to one of a few fixed widths, and crops of the same width are batched together:
batches then have few distinct shapes, which the inference engines cache, and no crop pays for a
wider neighbour.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from services.ocr.figure_votes import outvoting, sharpened, wants_vote

HEIGHT = 48
TRAINING_WIDTH = 320
SHORT_CROP = 120
SURE = 0.95
_WIDTHS = (96, 160, 240, 320, 400, 480, 640, 800, 960, 1280, 1600, 2400, 3200)


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float


def bucket_width(width: int) -> int:
    """The smallest fixed width that holds `width` (crops wider than the last are squeezed)."""
    for bucket in _WIDTHS:
        if width <= bucket:
            return bucket
    return _WIDTHS[-1]


def to_model_input(crop: np.ndarray, min_width: int = _WIDTHS[0]) -> np.ndarray:
    """Grey crop → normalised CHW float32 at height 48, padded right with paper to its bucket width."""
    h, w = crop.shape[:2]
    width = max(8, math.ceil(w * HEIGHT / max(h, 1)))
    bucket = max(min_width, bucket_width(width))
    width = min(width, bucket)
    scaled = cv2.resize(
        crop, (width, HEIGHT), interpolation=cv2.INTER_AREA if h > HEIGHT else cv2.INTER_CUBIC
    )
    canvas = np.full((HEIGHT, bucket), PAD, dtype=np.float32)
    canvas[:, :width] = scaled.astype(np.float32) / 127.5 - 1.0  # the model's (x/255 - 0.5) / 0.5
    return np.repeat(canvas[None], 3, axis=0)


PAD = 0.0  # zeros after normalisation: mid-grey, as PaddleX pads in training and inference


def _scaled_width(crop: np.ndarray) -> int:
    h, w = crop.shape[:2]
    return max(8, math.ceil(w * HEIGHT / max(h, 1)))


def batch_size_for(width: int, batch_pixels: int) -> int:
    """Narrow crops batch by 8; wide ones by fewer (big batches of wide crops are slower per crop)."""
    return max(1, min(8, batch_pixels // width))


_OPENING = {"“": "”", "‘": "’"}
_CLOSING = {close: open_ for open_, close in _OPENING.items()}


def quotes_clash(text: str) -> bool:
    """True when the quotation marks of one line cannot be right as read.

    A mark may close one opened on an earlier line, and one may stay open for the next, so only two
    things are certain misreads: a mark opened again while already open (“…“), and a mark closed by
    the other kind (“…’).
    """
    open_marks: list[str] = []
    for char in text:
        if char in _OPENING:
            if char in open_marks:
                return True
            open_marks.append(char)
        elif char in _CLOSING and open_marks:
            if open_marks[-1] != _CLOSING[char]:
                return True
            open_marks.pop()
    return False


def with_marks_of(text: str, other: str) -> str | None:
    """`text` with each quotation mark that `other` reads as another mark at the same place taken from
    `other` (everything else as `text` has it), or None when no mark differs.

    The two readers slip on different marks of one line (one drops a small ‘, the other closes it
    with ”): where both saw a mark, and they agree on every character around it, the line can take
    each mark from the reader that got it right.
    """
    marks = set(_OPENING) | set(_CLOSING)
    merged = list(text)
    matcher = difflib.SequenceMatcher(a=text, b=other, autojunk=False)
    changed = False
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag != "replace" or a1 - a0 != 1 or b1 - b0 != 1:
            continue
        if text[a0] in marks and other[b0] in marks:
            merged[a0] = other[b0]
            changed = True
    return "".join(merged) if changed else None


class Recogniser:
    """Reads batches of line crops with a loaded `paddleocr.TextRecognition` model.

    The model is run through PaddleX's predictor runner directly: its public `predict` widens every
    crop to at least 320 pixels, which makes the many short cells of a form cost like long lines.
    `second_opinion` gives the reader that re-reads the lines whose quotation marks clash
    (`quotes_clash`) and the figures read with doubt (`figure_votes`); it is asked for only when a
    line needs it, so it can be loaded then.
    """

    def __init__(
        self,
        model: Any,
        batch_pixels: int = 2560,
        min_width: int = _WIDTHS[0],
        second_opinion: Callable[[], Recogniser] | None = None,
    ) -> None:
        predictor = model.paddlex_predictor
        self._runner = predictor.runner
        self._decode = predictor.post_op
        self._batch_pixels = batch_pixels
        self._min_width = min_width
        self._second_opinion = second_opinion

    def read(self, crops: Sequence[np.ndarray]) -> list[Reading]:
        """One reading per crop, in the order given.

        A crop of a character or two read with doubt is read again on the 320-wide canvas the model
        was trained on, and the surer reading wins: each canvas misreads some short crops the other
        reads right (a lone 中 narrow, 日) wide).
        """
        first = self._read_inputs([to_model_input(crop, self._min_width) for crop in crops])
        short = [
            index
            for index, crop in enumerate(crops)
            if _scaled_width(crop) < SHORT_CROP and first[index].confidence < SURE
        ]
        if short:
            wide = self._read_inputs([to_model_input(crops[i], TRAINING_WIDTH) for i in short])
            for index, reading in zip(short, wide, strict=True):
                if reading.confidence > first[index].confidence:
                    first[index] = reading
        self._vote_on_doubtful_figures(crops, first)
        clashing = [index for index, reading in enumerate(first) if quotes_clash(reading.text)]
        if clashing and self._second_opinion is not None:
            again = self._second_opinion().read([crops[i] for i in clashing])
            for index, reading in zip(clashing, again, strict=True):
                if not quotes_clash(reading.text):
                    first[index] = reading
                elif (merged := with_marks_of(reading.text, first[index].text)) and not quotes_clash(merged):
                    first[index] = Reading(merged, min(reading.confidence, first[index].confidence))
        return first

    def _vote_on_doubtful_figures(self, crops: Sequence[np.ndarray], readings: list[Reading]) -> None:
        """A figure read with doubt is read again sharpened and by the second opinion; when those two
        agree on another two-decimal figure, theirs replaces it (`figure_votes`)."""
        if self._second_opinion is None:  # the second opinion itself: it has no one to vote with
            return
        doubtful = [i for i, reading in enumerate(readings) if wants_vote(reading.text, reading.confidence)]
        if not doubtful:
            return
        again = self._read_inputs([to_model_input(sharpened(crops[i]), self._min_width) for i in doubtful])
        second = self._second_opinion().read([crops[i] for i in doubtful])
        for index, sharp, other in zip(doubtful, again, second, strict=True):
            if outvoting(readings[index].text, sharp.text, other.text):
                readings[index] = Reading(sharp.text, min(sharp.confidence, other.confidence))

    def _read_inputs(self, inputs: list[np.ndarray]) -> list[Reading]:
        by_width: dict[int, list[int]] = {}
        for index, tensor in enumerate(inputs):
            by_width.setdefault(tensor.shape[2], []).append(index)
        readings: list[Reading | None] = [None] * len(inputs)
        for width, indices in sorted(by_width.items()):
            size = batch_size_for(width, self._batch_pixels)
            for start in range(0, len(indices), size):
                chunk = indices[start : start + size]
                for index, reading in zip(
                    chunk, self._run(np.stack([inputs[i] for i in chunk])), strict=True
                ):
                    readings[index] = reading
        return [r if r is not None else Reading("", 0.0) for r in readings]

    def _run(self, batch: np.ndarray) -> list[Reading]:
        texts, scores = self._decode(self._runner(x=[batch]))
        return [Reading(str(text), float(score)) for text, score in zip(texts, scores, strict=True)]
