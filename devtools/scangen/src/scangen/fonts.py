"""CJK font lookup: which font file a family maps to, loaded at a pixel size."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont


class FontFamily(StrEnum):
    sans = "sans"
    serif = "serif"
    wqy = "wqy"


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int  # face inside a .ttc collection


# Index 2 of the Noto CJK collections is the Simplified Chinese face (JP is 0).
_REGULAR: dict[FontFamily, FontFile] = {
    FontFamily.sans: FontFile(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    FontFamily.serif: FontFile(Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),
    FontFamily.wqy: FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
}
_BOLD: dict[FontFamily, FontFile] = {
    FontFamily.sans: FontFile(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"), 2),
    FontFamily.serif: FontFile(Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"), 2),
}
_PACKAGES = {
    FontFamily.sans: "fonts-noto-cjk",
    FontFamily.serif: "fonts-noto-cjk",
    FontFamily.wqy: "fonts-wqy-zenhei",
}


class FontMissingError(FileNotFoundError):
    """The CJK font file for a family is not installed."""


def font_file(family: FontFamily | str, bold: bool = False) -> FontFile:
    """The font file for `family`; bold falls back to regular where no bold face exists."""
    family = FontFamily(family)
    chosen = _BOLD.get(family) if bold else None
    if chosen is None or not chosen.path.exists():
        chosen = _REGULAR[family]
    if not chosen.path.exists():
        raise FontMissingError(
            f"CJK font for {family.value!r} not found at {chosen.path}; "
            f"install it with: apt-get update && apt-get install -y {_PACKAGES[family]}"
        )
    return chosen


def has_bold_face(family: FontFamily | str) -> bool:
    face = _BOLD.get(FontFamily(family))
    return face is not None and face.path.exists()


@lru_cache(maxsize=64)
def load_font(family: FontFamily | str, size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    chosen = font_file(family, bold)
    return ImageFont.truetype(str(chosen.path), size_px, index=chosen.index)
