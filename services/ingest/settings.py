from pydantic import Field

from services.runtime.settings import HttpSettings, RuntimeSettings


class IngestSettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9101)
    source_timezone: str = Field(
        default="UTC",
        description="IANA zone naive timestamps in payloads are read in (e.g. Europe/London).",
    )
