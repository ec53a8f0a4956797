"""The typefaces of government documents: families, their faces, where the font files are.

Four families as Chinese forms are set: 宋体/明体 (song), 仿宋 (fangsong), 楷体 (kai) and 黑体 (hei),
each with several faces from Debian packages. One face per family is kept for held-out draws only
(`Face.heldout`), so a reading tuned on development draws is measured on faces it never saw.

A face that lacks a glyph falls back, character by character, to the faces named in its `fallback`
(another face of the same family, or the nearest family where the family has no second face): a
scan never shows tofu.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont


class Family(StrEnum):
    song = "song"  # 宋体 / 明体
    fangsong = "fangsong"  # 仿宋
    kai = "kai"  # 楷体
    hei = "hei"  # 黑体


@dataclass(frozen=True)
class FontFile:
    """One face of a font file: fontconfig's family and style name, the Debian path and package."""

    name: str  # fontconfig family name, e.g. "AR PL UMing CN"
    style: str
    path: Path
    index: int  # face inside a .ttc collection
    package: str


@dataclass(frozen=True)
class Face:
    """A typeface as the generator draws it: regular and bold files, fallbacks for missing glyphs."""

    key: str
    family: Family
    regular: FontFile
    bold: FontFile | None = None  # None: bold is drawn by thickening the strokes
    fallback: tuple[str, ...] = ()  # keys of faces that supply missing glyphs, in order
    heldout: bool = False


_NOTO = Path("/usr/share/fonts/opentype/noto")
_TRUETYPE = Path("/usr/share/fonts/truetype")


def _noto(style: str, kind: str, package: str = "fonts-noto-cjk") -> FontFile:
    # Index 2 of the Noto CJK collections is the Simplified Chinese face (JP is 0).
    weight = "" if style in ("Regular", "Bold") else f" {style}"
    return FontFile(f"Noto {kind} CJK SC{weight}", style, _NOTO / f"Noto{kind}CJK-{style}.ttc", 2, package)


NOTO_SANS_BOLD = _noto("Bold", "Sans")
NOTO_SERIF_BOLD = _noto("Bold", "Serif")
UMING = FontFile("AR PL UMing CN", "Light", _TRUETYPE / "arphic/uming.ttc", 0, "fonts-arphic-uming")
SUNGTI_GB = FontFile(
    "AR PL SungtiL GB", "Regular", _TRUETYPE / "arphic-gbsn00lp/gbsn00lp.ttf", 0, "fonts-arphic-gbsn00lp"
)
CWTEX_FANGSONG = FontFile("cwTeXFangSong", "Medium", _TRUETYPE / "cwtex/cwfs.ttf", 0, "fonts-cwtex-fs")
CWTEX_HEI_BOLD = FontFile("cwTeXHeiBold", "Medium", _TRUETYPE / "cwtex/cwheib.ttf", 0, "fonts-cwtex-heib")
UKAI = FontFile("AR PL UKai CN", "Book", _TRUETYPE / "arphic/ukai.ttc", 0, "fonts-arphic-ukai")
KAITI_GB = FontFile(
    "AR PL KaitiM GB", "Regular", _TRUETYPE / "arphic-gkai00mp/gkai00mp.ttf", 0, "fonts-arphic-gkai00mp"
)
_WENKAI = _TRUETYPE / "lxgw-wenkai"
WENKAI = FontFile("LXGW WenKai", "Regular", _WENKAI / "LXGWWenKai-Regular.ttf", 0, "fonts-lxgw-wenkai")
WENKAI_LIGHT = FontFile(
    "LXGW WenKai Light", "Light", _WENKAI / "LXGWWenKai-Light.ttf", 0, "fonts-lxgw-wenkai"
)
WENKAI_BOLD = FontFile("LXGW WenKai", "Bold", _WENKAI / "LXGWWenKai-Bold.ttf", 0, "fonts-lxgw-wenkai")
ZENHEI = FontFile("WenQuanYi Zen Hei", "Regular", _TRUETYPE / "wqy/wqy-zenhei.ttc", 0, "fonts-wqy-zenhei")
MICROHEI = FontFile(
    "WenQuanYi Micro Hei", "Regular", _TRUETYPE / "wqy/wqy-microhei.ttc", 0, "fonts-wqy-microhei"
)

FACES: dict[str, Face] = {
    face.key: face
    for face in (
        # 宋体: thin horizontals, the most common face of government documents.
        Face("uming", Family.song, UMING, NOTO_SERIF_BOLD),
        Face("noto-serif", Family.song, _noto("Regular", "Serif"), NOTO_SERIF_BOLD),
        Face(
            "noto-serif-light", Family.song, _noto("Light", "Serif", "fonts-noto-cjk-extra"), NOTO_SERIF_BOLD
        ),
        Face("sungti-gb", Family.song, SUNGTI_GB, NOTO_SERIF_BOLD, heldout=True),
        # 仿宋: Debian has one face, cwTeX's, drawn for traditional Chinese: about a third of the
        # forms' simplified characters come from a Song face (a different one for held-out draws).
        Face("cwtex-fangsong", Family.fangsong, CWTEX_FANGSONG, None, ("uming",)),
        Face("cwtex-fangsong-gb", Family.fangsong, CWTEX_FANGSONG, None, ("sungti-gb",), heldout=True),
        # 楷体
        Face("ukai", Family.kai, UKAI, WENKAI_BOLD),
        Face("lxgw-wenkai", Family.kai, WENKAI, WENKAI_BOLD),
        Face("lxgw-wenkai-light", Family.kai, WENKAI_LIGHT, WENKAI_BOLD),
        Face("kaiti-gb", Family.kai, KAITI_GB, None, heldout=True),
        # 黑体: cwTeX's bold Hei is WenQuanYi's bold, Noto Sans Bold filling what it lacks.
        Face("noto-sans", Family.hei, _noto("Regular", "Sans"), NOTO_SANS_BOLD),
        Face("wqy-zenhei", Family.hei, ZENHEI, CWTEX_HEI_BOLD, ("noto-sans",)),
        Face(
            "noto-sans-light", Family.hei, _noto("DemiLight", "Sans", "fonts-noto-cjk-extra"), NOTO_SANS_BOLD
        ),
        Face("wqy-microhei", Family.hei, MICROHEI, None, heldout=True),
    )
}


def faces_of(family: Family | str, heldout: bool) -> list[Face]:
    """The faces a development (heldout=False) or held-out draw picks from, in a fixed order."""
    return [f for f in FACES.values() if f.family == Family(family) and f.heldout == heldout]


def face_named(key: str) -> Face:
    try:
        return FACES[key]
    except KeyError:
        raise ValueError(f"unknown face {key!r}; choose one of {', '.join(FACES)}") from None


class FontMissingError(FileNotFoundError):
    """The font file of a face is not installed."""


def locate(font: FontFile) -> tuple[Path, int]:
    """The installed file and face index: the Debian path, else wherever fontconfig has it."""
    if font.path.exists():
        return font.path, font.index
    found = _fontconfig(font.name, font.style)
    if found is None:
        raise FontMissingError(
            f"font {font.name!r} ({font.style}) not found at {font.path} nor by fontconfig; "
            f"install it with: apt-get update && apt-get install -y {font.package}"
        )
    return found


@lru_cache(maxsize=64)
def _fontconfig(name: str, style: str) -> tuple[Path, int] | None:
    try:
        listed = subprocess.run(
            ["fc-list", f":family={name}:style={style}", "file", "index"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except FileNotFoundError:  # no fontconfig on this machine: only the Debian paths count
        return None
    for line in sorted(listed.splitlines()):
        file, _, index = line.partition(": :index=")
        if file and index.strip().isdigit():
            return Path(file.rstrip(":")), int(index)
    return None


@lru_cache(maxsize=256)
def load_font_file(font: FontFile, size_px: int) -> ImageFont.FreeTypeFont:
    path, index = locate(font)
    return ImageFont.truetype(str(path), size_px, index=index)


@lru_cache(maxsize=64)
def coverage(font: FontFile) -> frozenset[int]:
    """The code points the face has a glyph for (its cmap)."""
    path, index = locate(font)
    with TTFont(path, fontNumber=index, lazy=True) as opened:
        return frozenset(opened.getBestCmap())


def load_font(face: str, size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The face's own font at `size_px` (bold file where it has one), without fallbacks."""
    chosen = face_named(face)
    font = chosen.bold if bold and chosen.bold is not None else chosen.regular
    return load_font_file(font, size_px)
