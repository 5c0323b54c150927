"""One Settings object, built from the environment and an optional TOML config file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _config_file() -> Path | None:
    """The TOML file named by SONOHARVEST_CONFIG, else ./sonoharvest.toml if present."""
    named = os.environ.get("SONOHARVEST_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(
                f"SONOHARVEST_CONFIG points to {path}, which does not exist; "
                "create it or unset the variable."
            )
        return path
    local = Path("sonoharvest.toml")
    return local if local.is_file() else None


def _env(name: str, *more: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(name, *more))


class Settings(BaseSettings):
    """Effective configuration. Environment variables win over the config file."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, case_sensitive=True
    )

    home: Path = Field(
        default=Path("warehouse"), validation_alias=AliasChoices("SONOHARVEST_HOME")
    )
    rubrics_dir: Path = Field(
        default=REPO_ROOT / "rubrics",
        validation_alias=AliasChoices("SONOHARVEST_RUBRICS"),
    )
    contact: str | None = _env("SONOHARVEST_CONTACT")

    zenodo_url: str = Field(
        default="https://zenodo.org",
        validation_alias=AliasChoices("SONOHARVEST_ZENODO_URL"),
    )
    github_url: str = Field(
        default="https://api.github.com",
        validation_alias=AliasChoices("SONOHARVEST_GITHUB_URL"),
    )
    hf_url: str = Field(
        default="https://huggingface.co",
        validation_alias=AliasChoices("SONOHARVEST_HF_URL"),
    )
    hf_datasets_server_url: str = Field(
        default="https://datasets-server.huggingface.co",
        validation_alias=AliasChoices("SONOHARVEST_HF_DATASETS_SERVER_URL"),
    )
    kaggle_url: str = Field(
        default="https://api.kaggle.com",
        validation_alias=AliasChoices("SONOHARVEST_KAGGLE_URL"),
    )
    datacite_url: str = Field(
        default="https://api.datacite.org",
        validation_alias=AliasChoices("SONOHARVEST_DATACITE_URL"),
    )
    figshare_url: str = Field(
        default="https://api.figshare.com",
        validation_alias=AliasChoices("SONOHARVEST_FIGSHARE_URL"),
    )
    figshare_stats_url: str = Field(
        default="https://stats.figshare.com",
        validation_alias=AliasChoices("SONOHARVEST_FIGSHARE_STATS_URL"),
    )
    grandchallenge_url: str = Field(
        default="https://grand-challenge.org",
        validation_alias=AliasChoices("SONOHARVEST_GRANDCHALLENGE_URL"),
    )

    zenodo_token: SecretStr | None = _env("ZENODO_TOKEN")
    github_token: SecretStr | None = _env("GITHUB_TOKEN")
    hf_token: SecretStr | None = _env("HF_TOKEN")
    kaggle_api_token: SecretStr | None = _env("KAGGLE_API_TOKEN")
    kaggle_username: str | None = _env("KAGGLE_USERNAME")
    kaggle_key: SecretStr | None = _env("KAGGLE_KEY")
    figshare_token: SecretStr | None = _env("FIGSHARE_TOKEN")

    http_timeout: float = Field(
        default=30.0, validation_alias=AliasChoices("SONOHARVEST_HTTP_TIMEOUT")
    )
    http_max_attempts: int = Field(
        default=5,
        ge=1,
        validation_alias=AliasChoices("SONOHARVEST_HTTP_MAX_ATTEMPTS"),
    )
    http_max_wait: float = Field(
        default=300.0,
        validation_alias=AliasChoices("SONOHARVEST_HTTP_MAX_WAIT"),
        description="Longest single wait (s) for a rate-limit reset before giving up.",
    )
    links_per_host_per_minute: float = Field(
        default=30.0, gt=0,
        validation_alias=AliasChoices("SONOHARVEST_LINKS_PER_HOST_PER_MINUTE"),
        description="Link checking: requests per minute to any one host.",
    )
    allow_private_links: bool = Field(
        default=False,
        validation_alias=AliasChoices("SONOHARVEST_ALLOW_PRIVATE_LINKS"),
        description="Let the link checker visit private, loopback and link-local addresses.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def db_path(self) -> Path:
        return self.home / "sonoharvest.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    def secrets(self) -> list[str]:
        """Every configured secret value, for redaction."""
        values = [self.zenodo_token, self.github_token, self.hf_token,
                  self.kaggle_api_token, self.kaggle_key, self.figshare_token]
        return [v.get_secret_value() for v in values if v and v.get_secret_value()]

    def masked(self) -> dict[str, Any]:
        """The effective settings with every token masked, for display."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "*** (set)"
            shown[name] = str(value) if isinstance(value, Path) else value
        shown["config_file"] = str(_config_file()) if _config_file() else None
        return shown
