"""Writes the JSON Schema of each topic model to ``schemas/json/``, and the subscription API's
OpenAPI document to ``schemas/openapi.yaml``."""

import json
from pathlib import Path

from schemas import openapi
from schemas.topics import ALL

SCHEMA_DIR = Path(__file__).parent / "json"


def rendered() -> dict[str, str]:
    """File name → JSON Schema text for every topic model, as the models produce it now."""
    out: dict[str, str] = {}
    for spec in ALL:
        schema = spec.model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://newswire.invalid/schemas/{spec.name}.schema.json"
        schema["x-kafka-topic"] = spec.name
        schema["x-kafka-key"] = spec.key_doc
        out[f"{spec.name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    written.append(openapi.write())
    return written
