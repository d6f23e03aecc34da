from services.runtime.errors import InvalidMessage


class ParseError(InvalidMessage):
    """The payload is not a document this parser understands; the reason says why."""
