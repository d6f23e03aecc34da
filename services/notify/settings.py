from pathlib import Path

from pydantic import Field

from services.runtime.settings import HttpSettings, RuntimeSettings

DEFAULT_SUBSCRIPTIONS = Path(__file__).parent / "data" / "subscriptions.yaml"


class NotifySettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9103)
    subscriptions_path: Path = Field(
        default=DEFAULT_SUBSCRIPTIONS, description="Subscriptions file (YAML or JSON)."
    )
