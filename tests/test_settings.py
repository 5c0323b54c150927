"""Settings: environment names from the design, an optional TOML file, masked tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonoharvest.settings import Settings


def test_defaults_match_the_design():
    s = Settings()
    assert s.home == Path("warehouse")
    assert s.zenodo_url == "https://zenodo.org"
    assert s.github_url == "https://api.github.com"
    assert s.hf_url == "https://huggingface.co"
    assert s.kaggle_url == "https://api.kaggle.com"
    assert s.db_path == Path("warehouse/sonoharvest.duckdb")
    assert s.exports_dir == Path("warehouse/exports")


def test_environment_variables_named_in_the_design(monkeypatch, tmp_path):
    env = {
        "SONOHARVEST_HOME": str(tmp_path), "SONOHARVEST_ZENODO_URL": "https://sandbox.zenodo.org",
        "SONOHARVEST_GITHUB_URL": "https://ghe.example.org/api/v3",
        "SONOHARVEST_HF_URL": "http://127.0.0.1:9000", "SONOHARVEST_KAGGLE_URL": "http://k.test",
        "ZENODO_TOKEN": "zen-secret", "GITHUB_TOKEN": "ghp-secret", "HF_TOKEN": "hf-secret",
        "KAGGLE_USERNAME": "ann", "KAGGLE_KEY": "kag-secret",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert s.home == tmp_path and s.zenodo_url == "https://sandbox.zenodo.org"
    assert s.github_url.startswith("https://ghe.") and s.kaggle_username == "ann"
    assert sorted(s.secrets()) == ["ghp-secret", "hf-secret", "kag-secret", "zen-secret"]


def test_the_shell_home_variable_is_not_the_warehouse_home(monkeypatch):
    monkeypatch.setenv("HOME", "/root")
    assert Settings().home == Path("warehouse")


def test_toml_file_is_read_and_environment_wins(monkeypatch, tmp_path):
    cfg = tmp_path / "conf.toml"
    cfg.write_text('home = "/data/sono"\ncontact = "curator@example.org"\nhttp_max_attempts = 7\n')
    monkeypatch.setenv("SONOHARVEST_CONFIG", str(cfg))
    s = Settings()
    assert s.home == Path("/data/sono") and s.contact == "curator@example.org"
    assert s.http_max_attempts == 7
    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path))
    assert Settings().home == tmp_path


def test_local_sonoharvest_toml_is_picked_up(tmp_path):
    (tmp_path / "sonoharvest.toml").write_text('contact = "local@example.org"\n')
    assert Settings().contact == "local@example.org"   # conftest chdirs into tmp_path


def test_missing_named_config_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SONOHARVEST_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="SONOHARVEST_CONFIG points to"):
        Settings()


def test_masked_never_shows_a_token(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_verysecretvalue")
    shown = Settings().masked()
    assert shown["github_token"] == "*** (set)" and shown["hf_token"] is None
    assert "ghp_verysecretvalue" not in repr(shown)
    assert "ghp_verysecretvalue" not in repr(Settings())
