"""The committed OpenAPI document is what the models produce, and a valid OpenAPI 3.1."""

from openapi_spec_validator import validate

from schemas.openapi import OPENAPI_PATH, document, rendered


def test_committed_openapi_is_current() -> None:
    """Fails when an API model changed without `newswire schemas export`."""
    assert OPENAPI_PATH.read_text(encoding="utf-8") == rendered(), (
        "schemas/openapi.yaml is stale: run newswire schemas export"
    )


def test_is_a_valid_openapi_31_document() -> None:
    validate(document())  # raises on any violation of the OpenAPI 3.1 schema
