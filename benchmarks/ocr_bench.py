"""OCR service vs plain `PaddleOCR.predict` on one dense generated page: time, accuracy, memory.

    python -m benchmarks.ocr_bench [--dpi 200] [--threads 2] [--form tests/fixtures/forms/form_08.json]
        [--quality office] [--runs 3] [--reader small|tiny]

Plain PaddleOCR runs PP-OCRv4 mobile det/rec (the service's second-opinion reader); the service runs
its own line finding and PP-OCRv6 (`--reader`). Both use the same CPU threads and are warmed up on the
page before timing. Accuracy is the fraction of the page's truth cells whose text is found
exactly (NFKC, spaces removed): for the service in the cell at the truth's grid position, for
PaddleOCR anywhere among its recognised lines (joined per truth cell by box overlap).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from scangen import PageTruth, scan_forms
from scangen.fixtures import FIXTURES, load_fixture
from services.ocr import OcrEngine, OcrSettings
from services.ocr.models import DET_NAME, LINE_READERS, SECOND_REC_NAME, mirror_detector


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "")


def densest_page(form_path: Path, quality: str, dpi: int) -> tuple[np.ndarray, PageTruth]:
    pages = scan_forms([load_fixture(form_path).form], quality=quality, dpi=dpi, seed=1, classic=True)
    page = max(pages, key=lambda p: sum(len(c.text) for c in p.truth.cells))
    return np.ascontiguousarray(np.asarray(page.image.convert("RGB"))[:, :, ::-1]), page.truth


def timed(run: Any, runs: int) -> tuple[float, Any]:
    run()  # warm-up: first calls pay for oneDNN kernel creation
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def service_accuracy(page: Any, truth: PageTruth) -> float:
    cells = {(c.row, c.col): c.text for table in page.tables for c in table.cells}
    hits = sum(norm(cells.get((c.row, c.col), "")) == norm(c.text) for c in truth.cells if c.text)
    return hits / max(1, sum(1 for c in truth.cells if c.text))


def paddle_accuracy(result: Any, truth: PageTruth, skew: float, shape: tuple[int, int]) -> float:
    """Lines whose centre (mapped back through the skew) falls in a truth cell, joined top-down."""
    texts, boxes = result["rec_texts"], np.asarray(result["rec_boxes"]).reshape(-1, 4)
    centre = np.array([shape[1] / 2, shape[0] / 2])
    angle = np.radians(skew)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (boxes[:, :2] + boxes[:, 2:]) / 2 - centre
    straight = points @ rotation.T + centre  # undo the scan's counter-clockwise turn (y down)
    hits = 0
    wanted = [c for c in truth.cells if c.text]
    for cell in wanted:
        x0, y0, x1, y1 = cell.bbox
        inside = [
            i for i, (x, y) in enumerate(straight) if x0 <= x <= x1 and y0 <= y <= y1 and texts[i].strip()
        ]
        inside.sort(key=lambda i: (round(straight[i][1] / 15), straight[i][0]))
        hits += norm("".join(texts[i] for i in inside)) == norm(cell.text)
    return hits / max(1, len(wanted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--form", type=Path, default=FIXTURES / "forms" / "form_08.json")
    parser.add_argument("--quality", default="office", choices=["clean", "office", "poor"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reader", default="small", choices=sorted(LINE_READERS), help="line reader")
    args = parser.parse_args()

    image, truth = densest_page(args.form, args.quality, args.dpi)
    skew = next((d["angle"] for d in truth.degradations if d["kind"] == "Skew"), 0.0)
    print(
        f"page: {args.form.name} p{truth.page} {image.shape[1]}x{image.shape[0]} @ {args.dpi} dpi, "
        f"{args.quality}, {len(truth.cells)} cells, skew {skew:+.2f}°"
    )

    engine = OcrEngine(OcrSettings(dpi=args.dpi, threads=args.threads, line_reader=args.reader))
    service_time, page = timed(lambda: engine.read_image(image, args.dpi), args.runs)

    import paddleocr  # after the engine has set PaddleX's environment

    prepared = engine.prepared
    ocr = paddleocr.PaddleOCR(
        text_detection_model_name=DET_NAME,
        text_detection_model_dir=str(mirror_detector(prepared.cache_dir)),
        text_recognition_model_name=SECOND_REC_NAME,
        text_recognition_model_dir=str(prepared.path("second_rec")),
        use_doc_orientation_classify=False,
        use_doc_unwarping=False,
        use_textline_orientation=False,
        text_recognition_batch_size=8,
        device="cpu",
        enable_mkldnn=True,
        cpu_threads=args.threads,
    )
    paddle_time, result = timed(lambda: ocr.predict(image)[0], args.runs)

    service_acc = service_accuracy(page, truth)
    paddle_acc = paddle_accuracy(result, truth, skew, image.shape[:2])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"service : {service_time:6.2f} s  cells exact {service_acc:6.1%}  stages {page.timings}")
    print(
        f"paddle  : {paddle_time:6.2f} s  cells exact {paddle_acc:6.1%}  ({len(result['rec_texts'])} lines)"
    )
    print(f"ratio   : {service_time / paddle_time:6.2f}  (goal ≤ 0.5)")
    print(f"peak RSS: {peak:6.0f} MB (both pipelines loaded)")


if __name__ == "__main__":
    main()
