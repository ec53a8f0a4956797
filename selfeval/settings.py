"""All configuration in one typed object, read from `SELFEVAL_*` environment variables.

Every setting is documented in the README's configuration table; the names there are the field
names upper-cased with the `SELFEVAL_` prefix.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SELFEVAL_", extra="ignore")

    home: Path = Field(Path("var"), description="where the embedded defaults keep their data")
    log_format: str = Field("console", description="'console' for people, 'json' for log collectors")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")


@lru_cache
def get_settings() -> Settings:
    return Settings()
