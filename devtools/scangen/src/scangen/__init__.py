"""Scans of 财政项目支出绩效自评表 forms as they arrive, with exact ground truth.

pages = scan_forms([form], quality="office", seed=1)          # every choice drawn from the seed
pages = scan_forms([form], "poor", seed=1, font="song", mode="bw", seal_at="figures")
write_pdf(pages, "scan.pdf"); write_truth(pages, "truth.json", [form])
"""

from .compare import count_fields, field_differences, leaf_values
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
    degrade_page,
    degrade_pages,
)
from .fixtures import REAL_FORMS, load_fixture, real_forms
from .fonts import FACES, Face, Family, FontMissingError, faces_of, load_font
from .geometry import map_points
from .layout import STANDARD, LayoutStyle, format_amount, page_geometry, wrap_text
from .look import QUALITIES, Look, ScanMode, SealInk, SealPlace, Split, classic_look, degradations, draw_look
from .output import document_truth, write_pdf, write_png, write_tiff, write_truth
from .render import RenderOptions, ScanPage, render_form, render_forms
from .scan import scan_forms, scan_with_look
from .seal import SealShape
from .truth import CellTruth, DocumentTruth, PageTruth, TextLineTruth
from .typeface import Typeface, typeface
from .variants import execution_rate, funding_score, grade_for, random_form

__all__ = [
    "FACES",
    "QUALITIES",
    "REAL_FORMS",
    "STANDARD",
    "Bilevel",
    "Blur",
    "CellTruth",
    "Degradation",
    "DocumentTruth",
    "EdgeShadow",
    "Face",
    "Family",
    "FontMissingError",
    "GaussianNoise",
    "Greyscale",
    "Jpeg",
    "LayoutStyle",
    "Look",
    "PageCurl",
    "PageTruth",
    "PaperTint",
    "Perspective",
    "RenderOptions",
    "ScanMode",
    "ScanPage",
    "Seal",
    "SealInk",
    "SealPlace",
    "SealShape",
    "Signature",
    "Skew",
    "Specks",
    "Split",
    "TextLineTruth",
    "Typeface",
    "UnevenLight",
    "classic_look",
    "count_fields",
    "degradations",
    "degrade_page",
    "degrade_pages",
    "document_truth",
    "draw_look",
    "execution_rate",
    "faces_of",
    "field_differences",
    "format_amount",
    "funding_score",
    "grade_for",
    "leaf_values",
    "load_fixture",
    "load_font",
    "map_points",
    "page_geometry",
    "random_form",
    "real_forms",
    "render_form",
    "render_forms",
    "scan_forms",
    "scan_with_look",
    "typeface",
    "wrap_text",
    "write_pdf",
    "write_png",
    "write_tiff",
    "write_truth",
]
