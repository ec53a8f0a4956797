"""Scanned-form generator: render 财政项目支出绩效自评表 forms to page images with ground truth.

pages = scan_forms([form], quality="office", dpi=200, seed=1)
write_pdf(pages, "scan.pdf"); write_truth(pages, "truth.json", [form])
"""

from .degrade import (
    PRESETS,
    Blur,
    Degradation,
    GaussianNoise,
    Jpeg,
    RedSeal,
    Signature,
    Skew,
    Specks,
    UnevenLight,
    degrade_page,
    degrade_pages,
    preset,
)
from .fonts import FontFamily, FontMissingError, font_file, load_font
from .layout import format_amount, page_geometry, wrap_text
from .output import document_truth, write_pdf, write_png, write_tiff, write_truth
from .render import RenderOptions, ScanPage, render_form, render_forms
from .scan import scan_forms
from .truth import CellTruth, DocumentTruth, PageTruth, TextLineTruth
from .variants import execution_rate, funding_score, grade_for, random_form

__all__ = [
    "PRESETS",
    "Blur",
    "CellTruth",
    "Degradation",
    "DocumentTruth",
    "FontFamily",
    "FontMissingError",
    "GaussianNoise",
    "Jpeg",
    "PageTruth",
    "RedSeal",
    "RenderOptions",
    "ScanPage",
    "Signature",
    "Skew",
    "Specks",
    "TextLineTruth",
    "UnevenLight",
    "degrade_page",
    "degrade_pages",
    "document_truth",
    "execution_rate",
    "font_file",
    "format_amount",
    "funding_score",
    "grade_for",
    "load_font",
    "page_geometry",
    "preset",
    "random_form",
    "render_form",
    "render_forms",
    "scan_forms",
    "wrap_text",
    "write_pdf",
    "write_png",
    "write_tiff",
    "write_truth",
]
