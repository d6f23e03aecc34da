"""Payload parsers. Pure functions: bytes in, a parsed document or a ParseError out."""

from services.ingest.parse.document import ParsedDocument
from services.ingest.parse.errors import ParseError
from services.ingest.parse.text_layout import parse_text_layout

__all__ = ["ParseError", "ParsedDocument", "parse_text_layout"]
