"""Text lines without a detector: ink blobs grouped into rows, inside each cell or outside the tables.

A cell of a ruled form holds a few horizontal lines of print, so connected ink blobs (ruling pixels
removed) grouped by vertical overlap give its lines exactly and cheaply. Tiny blobs far from any
print are specks of dust or noise and are dropped, so they never become characters; tiny blobs
inside a line (decimal points, the dot of i) stay with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from selfeval.contract.ocr import Box


@dataclass
class Blobs:
    """Connected ink components of a page: label image plus (x0, y0, x1, y1, area) per label."""

    labels: np.ndarray
    boxes: np.ndarray
    small: np.ndarray
    """True for blobs too small to be print on their own (specks, dots)"""
    huge: np.ndarray
    """True for blobs too big to be print (a shadow, a scribble, what is left of a seal): never text"""


@dataclass
class LineBox:
    box: Box
    labels: list[int] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def find_blobs(ink: np.ndarray, rulings: np.ndarray, dpi: int) -> Blobs:
    """Blobs of ink once the ruling lines (slightly widened for their soft edges) are taken out."""
    widened = cv2.dilate(rulings, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    text_ink = cv2.bitwise_and(ink, cv2.bitwise_not(widened))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(text_ink, connectivity=8)
    x, y, w, h, area = (stats[:, i] for i in range(5))
    boxes = np.stack([x, y, x + w, y + h, area], axis=1)
    boxes[0] = 0  # label 0 is the background
    speck_side = max(3, dpi // 30)
    small = (area < (dpi / 100) ** 2 * 6) & (np.maximum(w, h) < speck_side)
    # No character of these forms is over half an inch tall, and no word without a gap two inches wide.
    huge = (h > dpi // 2) | (w > 2 * dpi)
    return Blobs(labels=labels, boxes=boxes, small=small, huge=huge)


def group_lines(blobs: Blobs, members: np.ndarray) -> list[LineBox]:
    """Rows of text, top to bottom: runs of the vertical extent covered by print, dots attached."""
    members = members[~blobs.huge[members]]
    big = members[~blobs.small[members]]
    if big.size == 0:
        return []
    rows = _rows_from_print(blobs.boxes, big)
    _attach_dots(rows, blobs.boxes, members[blobs.small[members]])
    return rows


def _rows_from_print(all_boxes: np.ndarray, big: np.ndarray) -> list[LineBox]:
    """Blobs whose vertical extents overlap or touch form one row (the blank between lines splits)."""
    order = big[np.argsort(all_boxes[big, 1], kind="stable")]
    rows: list[LineBox] = []
    for label in order:
        x0, y0, x1, y1 = (int(v) for v in all_boxes[label, :4])
        last = rows[-1] if rows else None
        if last is not None and y0 < last.box[3]:
            lb = last.box
            last.box = (min(lb[0], x0), lb[1], max(lb[2], x1), max(lb[3], y1))
            last.labels.append(int(label))
        else:
            rows.append(LineBox((x0, y0, x1, y1), [int(label)]))
    return rows


def merge_split_characters(rows: list[LineBox], line_height: float) -> list[LineBox]:
    """Join rows that are halves of one line: a short last line like "装。" has no character as tall
    as the line, so the top and bottom parts of 装 (or the two strokes of 二) look like two rows."""
    merged: list[LineBox] = []
    for row in rows:
        last = merged[-1] if merged else None
        if (
            last is not None
            and row.box[1] - last.box[3] <= 0.3 * line_height
            and max(last.box[3], row.box[3]) - last.box[1] <= 1.15 * line_height
        ):
            lb = last.box
            last.box = (min(lb[0], row.box[0]), lb[1], max(lb[2], row.box[2]), max(lb[3], row.box[3]))
            last.labels.extend(row.labels)
        else:
            merged.append(row)
    return merged


def split_tall_rows(rows: list[LineBox], blobs: Blobs, line_height: float) -> list[LineBox]:
    """Rows much taller than a line are lines touching each other: cut at the thinnest ink."""
    result: list[LineBox] = []
    pending = list(rows)
    while pending:
        row = pending.pop(0)
        if row.height <= 1.6 * line_height or len(row.labels) < 2:
            result.append(row)
            continue
        x0, y0, x1, y1 = row.box
        ink = np.isin(blobs.labels[y0:y1, x0:x1], row.labels).sum(axis=1)
        lo, hi = int(row.height * 0.3), int(row.height * 0.7)
        valley = lo + int(np.argmin(ink[lo:hi]))
        if ink[valley] > 0.15 * np.median(ink):  # no gap between lines: one line in a bigger font
            result.append(row)
            continue
        cut = y0 + valley
        upper = [lab for lab in row.labels if (blobs.boxes[lab, 1] + blobs.boxes[lab, 3]) / 2 < cut]
        lower = [lab for lab in row.labels if lab not in set(upper)]
        if not upper or not lower:
            result.append(row)
            continue
        pending[:0] = [_row_of(upper, blobs.boxes), _row_of(lower, blobs.boxes)]
    return result


def _row_of(labels: list[int], all_boxes: np.ndarray) -> LineBox:
    boxes = all_boxes[labels]
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max()))
    return LineBox(box, list(labels))


def _attach_dots(rows: list[LineBox], all_boxes: np.ndarray, small: np.ndarray) -> None:
    """A small blob within a row's print is part of it (a decimal point, the dot of 术 or 氵).

    Just beyond either end it may be 。 or the dots of ：; farther out it is dust, left out so it
    never turns into a stray character.
    """
    for label in small:
        x0, y0, x1, y1 = (int(v) for v in all_boxes[label, :4])
        cy = (y0 + y1) / 2
        for row in rows:
            rx0, ry0, rx1, ry1 = row.box
            # CJK punctuation sits on the ideographic baseline, below the bottom of digits: a 。 after
            # "0.01%" hangs lower than the row of figures it ends.
            if not ry0 <= cy <= ry1 + 0.4 * row.height:
                continue
            # A full-width ： has its dots ~half a character out; a line-final ， or 。 sits anywhere in
            # the full character cell after the last character (centred in some faces).
            reach = 0.6 * row.height
            if rx0 - reach <= x0 and x1 <= rx1 + 1.1 * row.height:
                row.labels.append(int(label))
                row.box = (min(rx0, x0), ry0, max(rx1, x1), ry1)
                break


def widest_gap(height: int) -> int:
    """The widest gap within one line of print this tall (~1.5 character heights): pieces of a row
    farther apart are separate text lines."""
    return max(8, int(height * 1.5))


def split_wide_gaps(row: LineBox, all_boxes: np.ndarray) -> list[LineBox]:
    """Pieces of one row farther apart than `widest_gap` are separate text lines."""
    labels = sorted(row.labels, key=lambda lab: all_boxes[lab, 0])
    gap_limit = widest_gap(row.height)
    pieces: list[LineBox] = []
    for label in labels:
        x0, y0, x1, y1 = (int(v) for v in all_boxes[label, :4])
        last = pieces[-1] if pieces else None
        if last and x0 - last.box[2] <= gap_limit:
            lb = last.box
            last.box = (lb[0], min(lb[1], y0), max(lb[2], x1), max(lb[3], y1))
            last.labels.append(label)
        else:
            pieces.append(LineBox((x0, y0, x1, y1), [label]))
    return pieces


def blob_regions(blobs: Blobs, region_of_point: np.ndarray) -> np.ndarray:
    """For each blob, the region id (cell index, or -1 = outside every table) holding its centre."""
    cx = ((blobs.boxes[:, 0] + blobs.boxes[:, 2]) // 2).clip(0, region_of_point.shape[1] - 1)
    cy = ((blobs.boxes[:, 1] + blobs.boxes[:, 3]) // 2).clip(0, region_of_point.shape[0] - 1)
    regions = region_of_point[cy, cx].astype(np.int64)
    regions[0] = -2  # background label
    return regions


def _ends_with_low_mark(blobs: Blobs, line: LineBox) -> bool:
    """Whether the line's last blob is a small mark low in the line (。，、 after the last character)."""
    if not line.labels:
        return False
    last = max(line.labels, key=lambda label: blobs.boxes[label, 2])
    y0, y1 = int(blobs.boxes[last, 1]), int(blobs.boxes[last, 3])
    line_top, line_bottom = line.box[1], line.box[3]
    return (y1 - y0) < 0.45 * (line_bottom - line_top) and y0 > (line_top + line_bottom) / 2


def crop_line(grey: np.ndarray, blobs: Blobs, line: LineBox, line_height: float) -> np.ndarray:
    """The line's grey pixels, with the ink of everything else (a neighbouring line, specks, what is
    left of a seal) whitened. Grey that is no blob at all stays: a decimal point or a hairline too
    faint for the ink map is still there for the recogniser to see.

    A crop is never less tall than a typical line, so a lone "-" or "." keeps its true size.
    """
    x0, y0, x1, y1 = line.box
    h = max(y1 - y0, round(line_height))
    pad_y = max(2, round(h * 0.2)) + (h - (y1 - y0)) // 2
    pad_x = max(3, round(h * 0.3))
    # A line-final 。 prints at the left of its full-width cell; without that cell's blank after it
    # the recogniser drops it ("0.01%。" read as "0.01%"). Other lines keep the tight margin, which
    # reads short cells ("优") with more confidence.
    pad_right = max(3, round(h * (1.0 if _ends_with_low_mark(blobs, line) else 0.3)))
    if x1 - x0 < 1.5 * h:  # a lone character: the recogniser wants some blank around it
        pad_x, pad_right = max(pad_x, round(h * 0.6)), max(pad_right, round(h * 0.6))
    top, left = max(0, y0 - pad_y), max(0, x0 - pad_x)
    bottom, right = min(grey.shape[0], y1 + pad_y), min(grey.shape[1], x1 + pad_right)
    labels = blobs.labels[top:bottom, left:right]
    own = np.isin(labels, line.labels).astype(np.uint8)
    own = cv2.dilate(own, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    others = cv2.dilate(((labels > 0) & (own == 0)).astype(np.uint8), np.ones((3, 3), np.uint8))
    crop = np.where((others > 0) & (own == 0), np.uint8(255), grey[top:bottom, left:right])
    return cv2.copyMakeBorder(
        crop,
        pad_y - (y0 - top),
        pad_y - (bottom - y1),
        pad_x - (x0 - left),
        pad_right - (right - x1),
        cv2.BORDER_CONSTANT,
        value=255,
    )


FAINT_PRINT = (110, 175)
"""on the cleaned grey page (paper 255), grey in this range beside a line where the ink map saw no ink
is print too faint for it (a softened 1-bit page's thinnest digits, print a red seal's colour
lightened); what a dropped seal's colour leaves is lighter nearly everywhere, and ink darker than this
outside the ink map was taken out of it on purpose (a seal's ink, a speck): the line ends there"""

LIGHTEST_FAINT_PRINT = 205
"""beside a line whose own print is light (a pale 150 dpi scan, print at grey 150-160), its faint print
reaches to half way from the line's darkest to paper (`_far_fainter_than`), but never lighter than
this: past it is paper's grain"""

FAINT_GAP_SHARE = 0.8
"""faint print is reached across gaps up to this share of the line's height: a blurred digit's lighter
side and the gap to a decimal point beside it lie between the print the grey still shows"""


def over_faint_print(
    line: LineBox, blobs: Blobs, grey: np.ndarray, within: Box, others: list[Box]
) -> LineBox:
    """The line widened over print beside it that the ink map left out (the 0 of 0.00 or the .00 of
    10.00 in thin 宋体 at 150 dpi): columns of the line's band that hold such print (`FAINT_PRINT`, or
    up to half way to paper from a light line's own print) and no blob of another line, reached from
    its ends across gaps no wider than `FAINT_GAP_SHARE` of its height, within its cell and short of
    the lines beside it. What is added must be a third of a character wide and half the line tall at
    least (a digit, not a speck); the recogniser reads it from the grey page, where it is plain to
    see."""
    x0, y0, x1, y1 = line.box
    height = y1 - y0
    left = max([box[2] for box in others if box[2] <= x0 and _same_band(box, line.box)], default=within[0])
    right = min([box[0] for box in others if box[0] >= x1 and _same_band(box, line.box)], default=within[2])
    if right - left <= x1 - x0:
        return line
    labels, band = blobs.labels[y0:y1, left:right], grey[y0:y1, left:right]
    no_blob, own = labels == 0, np.isin(labels, line.labels)
    own_print = int(band[own].min()) if own.any() else 0  # the line's blobs lie within its box
    lightest = max(FAINT_PRINT[1], min(_far_fainter_than(own_print), LIGHTEST_FAINT_PRINT))
    faint = (band <= lightest) & (band >= FAINT_PRINT[0]) & (no_blob | own)
    columns = faint.any(axis=0)
    taken = ((band < FAINT_PRINT[0]) & no_blob).any(axis=0)
    gap = max(3, int(FAINT_GAP_SHARE * height))
    start, stop = x0 - left, x1 - left  # the line's own columns, in the band's frame

    def reach(edge: int, step: int) -> int:
        last, column = edge, edge + step
        while 0 <= column < columns.size and abs(column - last) <= gap and not taken[column]:
            if columns[column]:
                last = column
            column += step
        return last

    new_start, new_stop = reach(start, -1), reach(stop - 1, 1) + 1

    def tall(a: int, b: int) -> bool:
        """Whether columns a..b add print: a third of a character wide and half the line tall at least
        (a pixel or two more is a stroke's soft edge, and widening by it only unsettles the reading)."""
        rows = np.nonzero(faint[:, a:b].any(axis=1))[0]
        return b - a >= height / 3 and rows.size > 0 and rows[-1] - rows[0] + 1 >= height / 2

    new_start = new_start if new_start < start and tall(new_start, start) else start
    new_stop = new_stop if new_stop > stop and tall(stop, new_stop) else stop
    if (new_start, new_stop) == (start, stop):
        return line
    return LineBox((left + new_start, y0, left + new_stop, y1), line.labels)


def joined_where_widened(found: list[LineBox], widened: list[LineBox]) -> list[LineBox]:
    """The row's pieces, left to right, with two made one where one of them was widened and the gap
    between them is now no wider than the gap within a line (`widest_gap`)."""
    joined: list[tuple[LineBox, bool]] = []
    pairs = sorted(zip(widened, found, strict=True), key=lambda pair: pair[0].box[0])
    for piece, before in pairs:
        grew = piece.box != before.box
        if joined:
            last, last_grew = joined[-1]
            lb, pb = last.box, piece.box
            if (grew or last_grew) and pb[0] - lb[2] <= widest_gap(max(last.height, piece.height)):
                box = (lb[0], min(lb[1], pb[1]), max(lb[2], pb[2]), max(lb[3], pb[3]))
                joined[-1] = (LineBox(box, [*last.labels, *piece.labels]), True)
                continue
        joined.append((piece, grew))
    return [piece for piece, _ in joined]


def _same_band(a: Box, b: Box) -> bool:
    return min(a[3], b[3]) > max(a[1], b[1])


FAINT_SHARE = 0.5
"""a blob whose darkest pixel lies more than this share of the way from its line's darkest to white is
no print of the line (print's thin strokes reach well past half way; the mottle a dropped seal's colour
or a grainy page leaves does not)"""


def _far_fainter_than(darkest: int) -> float:
    """The grey beyond which ink is far fainter than `darkest`: `FAINT_SHARE` of the way to paper."""
    return darkest * (1 - FAINT_SHARE) + 255 * FAINT_SHARE


def without_faint_blobs(line: LineBox, blobs: Blobs, grey: np.ndarray) -> LineBox | None:
    """The line without the blobs far fainter than its darkest, or None when every blob is as dark.

    A small character amid the mottle a red seal leaves once its colour is dropped (a grade under the
    seal's star) makes a line box three times its height: the recogniser, shown the character that
    small among the mottle, reads nothing."""
    darkest = {label: _darkest(label, blobs, grey) for label in line.labels}
    limit = _far_fainter_than(min(darkest.values()))
    kept = [label for label in line.labels if darkest[label] <= limit]
    if len(kept) == len(line.labels):
        return None
    return _row_of(kept, blobs.boxes)


def rows_darkness(
    rows: list[list[LineBox]], blobs: Blobs, grey: np.ndarray, line_height: float
) -> list[int | None]:
    """Each of a cell's rows' print darkness (`_print_darkness`), None for a lone speck: a scanner's
    black dot beside light print says nothing of how dark the print is."""
    return [
        None
        if len(row) == 1 and is_speck(row[0], line_height)
        else _print_darkness(row, blobs, grey, line_height)
        for row in rows
    ]


def page_print_darkness(cells_darkness: Iterable[list[int | None]]) -> int | None:
    """How dark a page's print is: the middle of its cells' darkest rows (`rows_darkness` of each
    cell), or None on a page with no cell of print. A light scan's print is light all over; a seal's
    pale remnants are in a few cells only."""
    darkest = [
        min(printed)
        for darkness in cells_darkness
        if (printed := [dark for dark in darkness if dark is not None])
    ]
    return int(np.median(darkest)) if darkest else None


def without_faint_rows(
    rows: list[list[LineBox]], darkness: list[int | None], page_print: int | None = None
) -> list[list[LineBox]]:
    """A cell's rows without those far fainter than its darkest row of print or than the page's print
    (`page_print`, see `page_print_darkness`), as `without_faint_blobs` judges, a lone speck aside;
    `darkness` is the rows' `rows_darkness`.

    What a dropped red seal leaves (the pale edges of its serial number, a few strokes of its letters)
    can still make a row of its own in a cell: the recogniser reads it surely, as digits, and the
    cell's figure gets them in front (26358.90). Alone in a cell the seal left otherwise blank, it is
    read as a value ('ダア' for a score), and a row cut by a page break starts an indicator of its own.
    Print is never that much fainter than the print of the cell it shares, nor than the page's own.
    Without the page's print to go by, a cell's only row stays, however faint."""
    printed = [dark for dark in darkness if dark is not None]
    if not printed or (len(printed) < 2 and page_print is None):
        return rows
    limit = _far_fainter_than(min(printed if page_print is None else [*printed, page_print]))
    return [row for row, dark in zip(rows, darkness, strict=True) if dark is None or dark <= limit]


SPECK_SHARE = 0.3
"""a blob no longer or taller than this share of a line's height is a speck, no measure of print"""


def _print_darkness(row: list[LineBox], blobs: Blobs, grey: np.ndarray, line_height: float) -> int:
    """The darkest grey of a row's blobs, specks aside (a scanner's black dot on light print) where
    the row holds more than specks."""
    labels = [label for piece in row for label in piece.labels]
    boxes = blobs.boxes[labels]
    sized = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= SPECK_SHARE * line_height
    measured = [label for label, big in zip(labels, sized, strict=True) if big] or labels
    return min(_darkest(label, blobs, grey) for label in measured)


def _darkest(label: int, blobs: Blobs, grey: np.ndarray) -> int:
    """The darkest grey of one blob, looked for in its own box (a line's box need not hold all of a dot
    hanging below it)."""
    x0, y0, x1, y1 = (int(v) for v in blobs.boxes[label, :4])
    return int(grey[y0:y1, x0:x1][blobs.labels[y0:y1, x0:x1] == label].min())


def is_speck(row: LineBox, line_height: float) -> bool:
    """A row that is one small mark alone (a seal's or the scanner's leftover), smaller than any
    character a form prints on a line of its own. A lone "-" is flat: it stays."""
    x0, y0, x1, y1 = row.box
    width, height = x1 - x0, y1 - y0
    return max(width, height) < 0.55 * line_height and width < 2 * height


def lone_dash(line: LineBox, blobs: Blobs, line_height: float) -> bool:
    """A line that is one short flat bar: "-" (recognisers misread a lone dash as "—", "!" or ",")."""
    if len(line.labels) != 1:
        return False
    x0, y0, x1, y1 = line.box
    width, height = x1 - x0, y1 - y0
    return height * 2 <= width <= line_height * 1.2 and height <= line_height * 0.4
