"""The subscriber console's static files (``services/notify/console/``), served by the API.

No build step and no CDN: plain HTML, CSS and one ES module, shipped inside the package, so
the console works offline and is exactly what the tests drive. The files hold no data; every
call they make goes to ``/v1`` with the key the user typed (kept in the tab's session
storage, sent as a header, never in a URL).
"""

from pathlib import Path

from aiohttp import web

CONSOLE_DIR = Path(__file__).parent / "console"
# The pages load only their own files and call only their own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def _asset(name: str) -> web.Response:
    path = CONSOLE_DIR / name
    content_type = _TYPES.get(path.suffix)
    if content_type is None or not path.is_file() or path.parent != CONSOLE_DIR:
        raise web.HTTPNotFound()
    return web.Response(
        body=path.read_bytes(),
        content_type=content_type,
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


async def _index(_: web.Request) -> web.Response:
    return _asset("index.html")


async def _file(request: web.Request) -> web.Response:
    return _asset(request.match_info["name"])


def add_console_routes(app: web.Application) -> None:
    app.router.add_get("/", _index)
    app.router.add_get(r"/console/{name:[a-z0-9_-]+\.(?:js|css|svg)}", _file)
