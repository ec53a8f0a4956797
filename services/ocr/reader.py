"""The OCR service's entry point: `OcrEngine(settings).read(data, source) -> PageTables` (and
`read_with_images`, which also hands back the upright page images the tables were read from).

Per page: clean up (colour ink out, flat paper, deskew) → table grid from the rulings (SLANet_plus
only for a ruling-less tabular block) → text lines from ink blobs inside each cell and outside the
tables → one batched recognition pass → cells with their text. Models load once per engine; pages
are processed one at a time so memory stays bounded by one page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from selfeval.contract.messages import submission_id_for
from selfeval.contract.ocr import Box, Cell, Page, PageImage, PageTables, SubmissionRead, Table, TextLine
from services.ocr.cleanup import CleanPage, clean_page
from services.ocr.dewarp import dewarp
from services.ocr.grid import Grid, Rulings, find_grids, ruling_masks
from services.ocr.inputs import open_document
from services.ocr.models import (
    SECOND_REC_NAME,
    TABLE_NAME,
    PreparedModels,
    configure_paddle_environment,
    prepare_models,
    quiet_paddle,
)
from services.ocr.orientation import is_sideways, is_upside_down, turn
from services.ocr.page_images import page_png
from services.ocr.recognise import Reading, Recogniser
from services.ocr.seal import without_seals
from services.ocr.settings import OcrSettings
from services.ocr.slanet import grid_from_slanet
from services.ocr.textlines import (
    Blobs,
    LineBox,
    blob_regions,
    crop_line,
    find_blobs,
    group_lines,
    is_speck,
    joined_where_widened,
    lone_dash,
    merge_split_characters,
    over_faint_print,
    page_print_darkness,
    rows_darkness,
    split_tall_rows,
    split_wide_gaps,
    without_faint_blobs,
    without_faint_rows,
)

log = logging.getLogger(__name__)
OUTSIDE = -1
SURE_REREAD = 0.9
"""a line that read as nothing and is read again without its faint blobs keeps the new reading only
when this sure: mottle alone, its darkest blob kept, reads as a character now and then, never surely"""
DASH = Reading("-", 0.99)  # a lone flat bar in a cell is the forms' "not applicable" mark


class Stopwatch:
    """Seconds per named stage, accumulated."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        return {name: round(value, 4) for name, value in self.seconds.items()}


class OcrEngine:
    """Load the models once, then read any number of submissions."""

    def __init__(
        self,
        settings: OcrSettings | None = None,
        *,
        model_search_root: Path | None = None,
    ) -> None:
        self.settings = settings or OcrSettings()
        # The thread budget covers OpenCV's image work too, so N processes of N/cores threads each
        # do not oversubscribe the CPU (OpenCV would otherwise use every core in each process).
        cv2.setNumThreads(self.settings.threads)
        cache = self.settings.cache_dir
        configure_paddle_environment(cache)
        self.prepared: PreparedModels = prepare_models(cache, model_search_root, self.settings.line_reader)
        with quiet_paddle():
            import paddleocr  # heavy; imported only once the models are known to be there

            self._paddleocr = paddleocr
            rec = paddleocr.TextRecognition(
                model_name=self.prepared.rec_name,
                model_dir=str(self.prepared.path("rec")),
                device="cpu",
                engine="onnxruntime",
                engine_config={"intra_op_num_threads": self.settings.threads, "inter_op_num_threads": 1},
            )
        self.recogniser = Recogniser(rec, self.settings.rec_batch_pixels, second_opinion=self.second_opinion)
        self._second: Recogniser | None = None
        self._table_model: Any = None
        self._used: set[str] = {"rec"}
        """models this engine has loaded"""
        self._reading_used: set[str] = {"rec"}
        """models the submission being read has needed (its provenance names these alone)"""

    @property
    def models(self) -> dict[str, str]:
        """The models this engine has used so far, with their wheels' versions, and the runtimes."""
        return self._versions(self._used)

    def _versions(self, keys: set[str]) -> dict[str, str]:
        runtimes = ["paddleocr", "onnxruntime"] + (["paddlepaddle"] if keys - {"rec"} else [])
        return {key: self.prepared.version(key) for key in sorted(keys)} | self.prepared.runtimes(runtimes)

    def _common(self) -> dict[str, Any]:
        # Many line widths → many tensor shapes; a bigger oneDNN cache keeps them all compiled.
        return {
            "device": "cpu",
            "enable_mkldnn": True,
            "cpu_threads": self.settings.threads,
            "mkldnn_cache_capacity": 64,
        }

    def second_opinion(self) -> Recogniser:
        """PP-OCRv4 mobile, loaded the first time a line needs a second opinion (most pages never do)."""
        if self._second is None:
            with quiet_paddle():
                model = self._paddleocr.TextRecognition(
                    model_name=SECOND_REC_NAME,
                    model_dir=str(self.prepared.path("second_rec")),
                    **self._common(),
                )
            self._second = Recogniser(model, self.settings.rec_batch_pixels)
        self._used.add("second_rec")
        self._reading_used.add("second_rec")
        return self._second

    def table_model(self) -> Any:
        """SLANet_plus, loaded on first need (most forms are fully ruled and never need it)."""
        if self._table_model is None:
            with quiet_paddle():
                self._table_model = self._paddleocr.TableStructureRecognition(
                    model_name=TABLE_NAME, model_dir=str(self.prepared.path("table")), **self._common()
                )
        self._used.add("table")
        self._reading_used.add("table")
        return self._table_model

    def read(self, data: bytes, source: str | None = None) -> PageTables:
        """Read a submission (PDF, PNG, JPEG or TIFF bytes); InputRejected if it cannot be read."""
        return self._read(data, source, keep_images=False).tables

    def read_with_images(self, data: bytes, source: str | None = None) -> SubmissionRead:
        """`read`, and each page's upright grey image as read (scaled down, PNG) for a reviewer."""
        return self._read(data, source, keep_images=True)

    def _read(self, data: bytes, source: str | None, keep_images: bool) -> SubmissionRead:
        watch = Stopwatch()
        self._reading_used = {"rec"}
        with watch.stage("open"):
            document = open_document(
                data, self.settings.dpi, self.settings.max_pages, self.settings.max_pixels
            )
        pages: list[Page] = []
        images: list[PageImage] = []
        rendered = document.pages()
        for number in range(1, document.page_count + 1):
            page_watch = Stopwatch()
            with page_watch.stage("decode"):
                bgr, dpi = next(rendered)
            page, upright = self._read_upright(bgr, dpi, number, page_watch)
            del bgr
            if keep_images:  # encoded at once: one page's pixels at a time stay in memory
                with page_watch.stage("page_image"):
                    images.append(PageImage(number, page_png(upright, dpi)))
                page.timings = page_watch.rounded()
            del upright
            pages.append(page)
            for name, value in page.timings.items():
                watch.seconds[name] = watch.seconds.get(name, 0.0) + value
        total = sum(watch.seconds.values())
        timings = {**watch.rounded(), "total": round(total, 4)}
        log.info("read %s: %d page(s) in %.2fs", source or "submission", len(pages), total)
        tables = PageTables(
            sha256=submission_id_for(data),
            source=source,
            pages=pages,
            models=self._versions(self._reading_used),
            timings=timings,
        )
        return SubmissionRead(tables, images)

    def read_image(self, bgr: np.ndarray, dpi: int, number: int = 1, watch: Stopwatch | None = None) -> Page:
        """Read one page image (BGR or grey uint8), turned upright first if it was scanned turned."""
        return self._read_upright(bgr, dpi, number, watch)[0]

    def _read_upright(
        self, bgr: np.ndarray, dpi: int, number: int, watch: Stopwatch | None = None
    ) -> tuple[Page, np.ndarray]:
        """The page read, and the cleaned, upright grey image its coordinates are pixels of."""
        watch = watch or Stopwatch()
        with watch.stage("clean"):
            clean = clean_page(bgr, dpi)
        with watch.stage("grid"):
            rulings = ruling_masks(clean.ink, dpi)
        with watch.stage("seal"):
            clean, rulings, _ = without_seals(clean, rulings, dpi)
        with watch.stage("dewarp"):
            clean, rulings = dewarp(clean, rulings, dpi)
        with watch.stage("orient"):
            quarter_turns = 1 if is_sideways(clean.ink, rulings.both, dpi) else 0
        if quarter_turns:
            clean, rulings = turn(clean, 1), None
        layout = self._layout(clean, dpi, watch, rulings)
        with watch.stage("recognise"):
            readings = self.recogniser.read(layout.crops)
        with watch.stage("orient"):
            upside_down = is_upside_down(self.recogniser, layout.crops, readings)
        if upside_down:  # rare: lay the page out again the right way up and read it again
            quarter_turns += 2
            layout = self._layout(turn(clean, 2), dpi, watch)
            with watch.stage("recognise"):
                readings = self.recogniser.read(layout.crops)
        if quarter_turns:
            log.info(
                "page %d was scanned turned %d° counter-clockwise; read upright", number, 90 * quarter_turns
            )
        with watch.stage("recognise"):
            readings = self._without_faint_blobs(layout, readings)
        with watch.stage("assemble"):
            tables, free = assemble(layout.grids, layout.lines, with_dashes(readings, layout.dashes))
        height, width = layout.clean.grey.shape
        page = Page(
            number=number,
            width=width,
            height=height,
            dpi=dpi,
            skew_degrees=layout.clean.skew_degrees,
            tables=tables,
            free_lines=free,
            timings=watch.rounded(),
        )
        return page, layout.clean.grey

    def _layout(
        self, clean: CleanPage, dpi: int, watch: Stopwatch, rulings: Rulings | None = None
    ) -> PageLayout:
        """Grid, text lines and their crops of a cleaned, upright page (nothing recognised yet)."""
        with watch.stage("grid"):
            rulings = rulings or ruling_masks(clean.ink, dpi)
            grids = find_grids(rulings, dpi)
        with watch.stage("lines"):
            table_rulings = rulings.of_tables(grids)
            blobs = find_blobs(clean.ink, table_rulings, dpi)
        if not grids and self.settings.use_slanet:
            with watch.stage("slanet"):
                grids = self._slanet_grids(clean, blobs, dpi)
        with watch.stage("lines"):
            lines = lines_by_region(blobs, grids, clean.grey.shape, dpi)
            darkness = {
                cell: rows_darkness(rows, blobs, clean.grey, lines.line_height)
                for cell, rows in lines.cells.items()
            }
            page_print = page_print_darkness(darkness.values())
            for cell, rows in lines.cells.items():
                lines.cells[cell] = without_faint_rows(rows, darkness[cell], page_print)
            text = without_rulings(clean.grey, table_rulings)
            _over_faint_print(lines, grids, blobs, text)
            pieces = _flatten(lines)
            dashes = [lone_dash(piece, blobs, lines.line_height) for piece in pieces]
            crops = [
                crop_line(text, blobs, p, lines.line_height)
                for p, d in zip(pieces, dashes, strict=True)
                if not d
            ]
        return PageLayout(clean, grids, lines, dashes, crops, blobs, text)

    def _without_faint_blobs(self, layout: PageLayout, readings: list[Reading]) -> list[Reading]:
        """Lines that read as nothing, read again without the blobs far fainter than their darkest
        (`without_faint_blobs`); a sure new reading is kept, and the line keeps only the blobs it was
        read from."""
        pieces = layout.read_pieces()
        again = [
            (index, narrowed)
            for index, (piece, reading) in enumerate(zip(pieces, readings, strict=True))
            if not reading.text.strip()
            and (narrowed := without_faint_blobs(piece, layout.blobs, layout.clean.grey)) is not None
        ]
        if not again:
            return readings
        height = layout.lines.line_height
        crops = [crop_line(layout.text, layout.blobs, line, height) for _, line in again]
        readings = list(readings)
        for (index, line), reading in zip(again, self.recogniser.read(crops), strict=True):
            if reading.text.strip() and reading.confidence >= SURE_REREAD:
                readings[index] = reading
                pieces[index].box, pieces[index].labels = line.box, line.labels
        return readings

    def _slanet_grids(self, clean: CleanPage, blobs: Blobs, dpi: int) -> list[Grid]:
        region = tabular_block(blobs)
        if region is None:
            return []
        grid = grid_from_slanet(self.table_model(), clean.grey, region)
        return [grid] if grid is not None else []


def _over_faint_print(lines: PageLines, grids: list[Grid], blobs: Blobs, text: np.ndarray) -> None:
    """Each cell's lines of print widened over print beside them that the ink map left out
    (`over_faint_print`); two pieces of a row that this brings as near as the pieces of one line are
    one piece (18 and .00 of a 180.00 whose 80 the ink map lost). Lines shorter than half a line of
    print (a dash, a dot) stay as found."""
    for (t, c), rows in lines.cells.items():
        boxes = [piece.box for row in rows for piece in row]
        bounds = grids[t].cells[c].bbox
        for index, row in enumerate(rows):
            widened = [
                over_faint_print(piece, blobs, text, bounds, [b for b in boxes if b != piece.box])
                if piece.height >= lines.line_height / 2
                else piece
                for piece in row
            ]
            rows[index] = joined_where_widened(row, widened)


def without_rulings(grey: np.ndarray, rulings: np.ndarray) -> np.ndarray:
    """The grey page with the rulings (and their soft edges) turned to paper, for cropping text."""
    widened = cv2.dilate(rulings, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
    return np.where(widened > 0, np.uint8(255), grey)


def tabular_block(blobs: Blobs) -> Box | None:
    """The box around rows that look like a table (3+ rows split into 2+ pieces), or None."""
    everything = np.arange(1, len(blobs.boxes))
    rows = [split_wide_gaps(row, blobs.boxes) for row in group_lines(blobs, everything)]
    tabular = [row for row in rows if len(row) >= 2]
    if len(tabular) < 3:
        return None
    boxes = np.array([piece.box for row in tabular for piece in row])
    pad = 10
    return (
        max(0, int(boxes[:, 0].min()) - pad),
        max(0, int(boxes[:, 1].min()) - pad),
        min(blobs.labels.shape[1], int(boxes[:, 2].max()) + pad),
        min(blobs.labels.shape[0], int(boxes[:, 3].max()) + pad),
    )


RegionLines = dict[tuple[int, int], list[list[LineBox]]]


@dataclass
class PageLines:
    cells: RegionLines
    """rows of pieces for every non-empty cell, keyed (table index, cell index)"""
    free: list[list[LineBox]]
    """rows of pieces outside every table"""
    line_height: float
    """the page's typical line height in pixels"""


@dataclass
class PageLayout:
    """Everything found on a page before recognition: its grids, text lines and their crops."""

    clean: CleanPage
    grids: list[Grid]
    lines: PageLines
    dashes: list[bool]
    """per piece (in `_flatten` order): a lone dash, recognised by shape and never cropped"""
    crops: list[np.ndarray]
    """grey crops of the pieces that are not dashes, in the same order"""
    blobs: Blobs
    text: np.ndarray
    """the grey page the crops are cut from (rulings whitened)"""

    def read_pieces(self) -> list[LineBox]:
        """The pieces that are read (not dashes), in the order of `crops`."""
        return [piece for piece, dash in zip(_flatten(self.lines), self.dashes, strict=True) if not dash]


def lines_by_region(blobs: Blobs, grids: list[Grid], shape: tuple[int, ...], dpi: int) -> PageLines:
    """Text lines of every non-empty cell and of the free text; cells with only specks get none."""
    region_map = np.full(shape[:2], OUTSIDE, dtype=np.int32)
    keys: list[tuple[int, int]] = []
    for t, grid in enumerate(grids):
        for c, cell in enumerate(grid.cells):
            x0, y0, x1, y1 = cell.bbox
            region_map[y0:y1, x0:x1] = len(keys)
            keys.append((t, c))
    regions = blob_regions(blobs, region_map)
    order = np.argsort(regions, kind="stable")
    sorted_regions = regions[order]
    rows_of: dict[int, list[LineBox]] = {}
    for region in np.unique(sorted_regions):
        if region >= OUTSIDE:
            lo, hi = np.searchsorted(sorted_regions, [region, region + 1])
            rows = group_lines(blobs, order[lo:hi])
            if rows:
                rows_of[int(region)] = rows
    line_height = typical_line_height([row for rows in rows_of.values() for row in rows], dpi)
    pieces = {
        region: [
            kept
            for row in split_tall_rows(merge_split_characters(rows, line_height), blobs, line_height)
            if not is_speck(row, line_height) and (kept := _text_pieces(row, blobs, line_height))
        ]
        for region, rows in rows_of.items()
    }
    free = pieces.pop(OUTSIDE, [])
    return PageLines({keys[region]: rows for region, rows in pieces.items()}, free, line_height)


def _text_pieces(row: LineBox, blobs: Blobs, line_height: float) -> list[LineBox]:
    """The row's pieces of text. A speck a wide gap away from the print of its row (what is left of a
    faded seal beyond a unit's name) is no piece of text: read alone, it would become a character."""
    return [piece for piece in split_wide_gaps(row, blobs.boxes) if not is_speck(piece, line_height)]


def typical_line_height(rows: list[LineBox], dpi: int) -> float:
    """Median height of rows of several blobs (a line of print), or ~10 pt at `dpi` if none."""
    heights = [row.height for row in rows if len(row.labels) >= 3]
    return float(np.median(heights)) if heights else dpi * 0.14


def _flatten(lines: PageLines) -> list[LineBox]:
    pieces = [piece for rows in lines.cells.values() for row in rows for piece in row]
    return pieces + [piece for row in lines.free for piece in row]


def with_dashes(readings: list[Reading], dashes: list[bool]) -> list[Reading]:
    """Merge the model's readings with the lone dashes recognised by shape, back in piece order."""
    stream = iter(readings)
    return [DASH if dash else next(stream) for dash in dashes]


def join_pieces(texts: list[str]) -> str:
    """CJK lines join with nothing; a space only between two Latin letters or digits."""
    joined = ""
    for text in texts:
        text = text.strip()
        if (
            joined
            and text
            and joined[-1].isascii()
            and joined[-1].isalpha()
            and text[0].isascii()
            and text[0].isalpha()
        ):
            joined += " "
        joined += text
    return joined


def _text_lines(
    rows: list[list[LineBox]], readings: Iterator[Reading], in_cell: bool = False
) -> list[TextLine]:
    lines, dashes = [], []
    for row in rows:
        for piece in row:
            reading = next(readings)
            if reading.text.strip():
                confidence = min(1.0, max(0.0, reading.confidence))
                lines.append(TextLine(text=reading.text.strip(), confidence=confidence, box=piece.box))
                dashes.append(reading is DASH)
    return _without_stray_dashes(lines, dashes) if in_cell else lines


def _without_stray_dashes(lines: list[TextLine], dashes: list[bool]) -> list[TextLine]:
    """A cell's lines less the lone dashes on a row of their own beside its text. A dash is the forms'
    "not applicable" and stands alone in its cell; a flat speck above or below the text (a clump of a
    1-bit scan's dither, a seal's dots) has a dash's shape but no dash's place."""
    text = [line for line, dash in zip(lines, dashes, strict=True) if not dash]
    if not text:
        return lines

    def beside_text(line: TextLine) -> bool:
        middle = (line.box[1] + line.box[3]) / 2
        return any(other.box[1] <= middle <= other.box[3] for other in text)

    return [line for line, dash in zip(lines, dashes, strict=True) if not dash or beside_text(line)]


def assemble(
    grids: list[Grid], lines: PageLines, readings: list[Reading]
) -> tuple[list[Table], list[TextLine]]:
    """Readings (in `_flatten` order) back into cells and free lines."""
    stream = iter(readings)
    read_cells = {key: _text_lines(rows, stream, in_cell=True) for key, rows in lines.cells.items()}
    free = _text_lines(lines.free, stream)
    tables = []
    for t, grid in enumerate(grids):
        cells = []
        for c, cell in enumerate(grid.cells):
            lines = read_cells.get((t, c), [])
            cells.append(
                Cell(
                    row=cell.row,
                    col=cell.col,
                    rowspan=cell.rowspan,
                    colspan=cell.colspan,
                    bbox=cell.bbox,
                    text=join_pieces([line.text for line in lines]),
                    confidence=min((line.confidence for line in lines), default=None),
                    lines=lines,
                )
            )
        tables.append(
            Table(
                bbox=grid.bbox, n_rows=grid.n_rows, n_cols=grid.n_cols, structure=grid.structure, cells=cells
            )
        )
    return tables, free


__all__ = ["OcrEngine"]
