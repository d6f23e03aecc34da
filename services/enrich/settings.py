from pathlib import Path

from pydantic import Field

from services.runtime.settings import HttpSettings, RuntimeSettings

DEFAULT_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
DEFAULT_GAZETTEER = Path(__file__).parent / "data" / "gazetteer.yaml"


class EnrichSettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9102)
    taxonomy_path: Path = Field(default=DEFAULT_TAXONOMY, description="Topic rules (YAML).")
    story_window_hours: float = Field(
        default=72, gt=0, description="An article joins stories seen within this window."
    )
    # A row (an article's content-word hashes, their set and its LSH entries) measured ~9 KB
    # at 51 words: 50,000 rows ~430 MiB, inside deploy/k8s/enrich.yaml's 768 MiB limit with
    # the models. Without a cap, a burst inside the window would grow memory without bound.
    story_max_articles: int = Field(
        default=50_000,
        ge=1,
        description="Articles the story table keeps in memory; beyond, the oldest are dropped.",
    )
    story_threshold: float = Field(
        default=0.18, gt=0, le=1, description="Estimated Jaccard of content words to join."
    )

    @property
    def story_window_ms(self) -> int:
        return int(self.story_window_hours * 3600 * 1000)

    sentiment_model: str = Field(
        default="multilingual",
        description="A built-in model name or 'package.module:factory' (sentiment.load_model).",
    )
    gazetteer_path: Path = Field(
        default=DEFAULT_GAZETTEER, description="Curated entities and aliases (YAML)."
    )
