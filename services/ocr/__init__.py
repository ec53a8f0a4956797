"""OCR service: scanned 绩效自评表 pages in, ruled tables of recognised cells out (`PageTables`)."""

from services.ocr.html import tables_to_html
from services.ocr.inputs import InputRejected
from services.ocr.models import ModelMissing
from services.ocr.reader import OcrEngine
from services.ocr.settings import OcrSettings

__all__ = [
    "InputRejected",
    "ModelMissing",
    "OcrEngine",
    "OcrSettings",
    "tables_to_html",
]
