from pathlib import Path

from pydantic import Field

from services.runtime.settings import HttpSettings, RuntimeSettings

DEFAULT_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
DEFAULT_GAZETTEER = Path(__file__).parent / "data" / "gazetteer.yaml"


class EnrichSettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9102)
    taxonomy_path: Path = Field(default=DEFAULT_TAXONOMY, description="Topic rules (YAML).")
    gazetteer_path: Path = Field(
        default=DEFAULT_GAZETTEER, description="Curated entities and aliases (YAML)."
    )
