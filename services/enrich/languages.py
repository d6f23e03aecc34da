"""Language packs: per-language vocabulary for the taxonomy and the gazetteer. Pure.

One YAML file per language in ``services/enrich/data/lang/<code>.yaml`` gives, in that
language, a rule for each taxonomy topic (the same query language as the English rules) and
extra aliases for countries and curated entities. A pack applies to the articles ingest
detected in its language: its topic rules are evaluated next to the English ones, its aliases
are looked for beside the language-neutral ones. Keeping a language's words out of the
others' articles is what lets German ``Island`` (Iceland) or Italian ``Ciad`` be aliases
without tagging English text.
"""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

SUPPORTED_LANGUAGES = ("en", "de", "fr", "es", "it", "pl", "uk", "ru")


class LanguagePack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1, as ingest detects it.")
    topics: dict[str, str] = Field(default_factory=dict, description="Topic id → rule.")
    countries: dict[str, list[str]] = Field(
        default_factory=dict, description="ISO 3166-1 alpha-2 → aliases in this language."
    )
    entities: dict[str, list[str]] = Field(
        default_factory=dict, description="Curated entity id → aliases in this language."
    )
    not_names: list[str] = Field(
        default_factory=list,
        description="Aliases (of any entity, from any source) not looked for in this "
        "language's articles: names that are ordinary words here (Spanish 'reunión' is a "
        "meeting, not Réunion; Italian 'Monaco' is Munich).",
    )


def load_packs(folder: Path | None) -> dict[str, LanguagePack]:
    """Every ``<code>.yaml`` in ``folder`` by language code; none when there is no folder."""
    if folder is None or not folder.is_dir():
        return {}
    packs: dict[str, LanguagePack] = {}
    for path in sorted(folder.glob("*.yaml")):
        pack = LanguagePack.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        if pack.language != path.stem:
            raise ValueError(f"{path}: says language {pack.language!r}, named {path.stem!r}")
        packs[pack.language] = pack
    return packs


def default_folder(data_file: Path) -> Path:
    """Where packs live for a taxonomy or gazetteer file: ``lang/`` beside it."""
    return data_file.parent / "lang"
