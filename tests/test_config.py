"""Settings: one table that the README documents and the environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import SETTINGS, load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_documented_in_the_readme(setting):
    assert f"`{setting.env}`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.strip().splitlines()[-1] in readme


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("KB_PORT", "9001")
    monkeypatch.setenv("KB_NO_SAMPLE", "1")
    settings = load_settings()
    assert settings["port"] == 9001 and settings["no_sample"] is True


def test_explicit_overrides_win_over_environment(monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", "/from/env")
    assert load_settings({"data_dir": "/explicit"})["data_dir"] == "/explicit"


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("KB_PORT", "eighty")
    with pytest.raises(ValueError, match="KB_PORT"):
        load_settings()


def test_an_unknown_inference_path_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("KB_INFERENCE", "int4")
    with pytest.raises(ValueError, match=r"KB_INFERENCE: expected one of auto, .*onnx-int8"):
        load_settings()
