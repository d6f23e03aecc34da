"""The subscription API's OpenAPI 3.1 document, built from the pydantic models in
``schemas/subscription.py`` (so the two cannot drift) and written to ``schemas/openapi.yaml``
by ``newswire schemas export``; a test fails when the committed file is stale, and another
validates real responses of the running API against it."""

from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from schemas.delivery import DELIVERY_API_MODELS
from schemas.subscription import API_MODELS, EVENT_ID, POSITIONS_ID, SUBSCRIPTION_ID

OPENAPI_PATH = Path(__file__).parent / "openapi.yaml"

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_ERRORS = {
    "400": (
        "Malformed JSON, a bad query (`position` names the character), bad query parameters "
        "(limit, cursor, subscription) or a Last-Event-ID this stream never sent"
    ),
    "401": "Missing or unknown API key",
    "404": "No such subscription for this key (another key's subscriptions are not found either)",
    "409": (
        "The state forbids it: the per-key limit reached, streaming not enabled, no webhook to test"
    ),
    "412": "If-Match names another version than the current one",
    "413": "The body is larger than the limit",
    "415": "The body is not application/json",
    "422": (
        "The body fails validation (`errors` lists each problem), the webhook URL is refused, "
        "or an Idempotency-Key is reused with another body"
    ),
    "429": "Too many open streams",
    "503": (
        "The broker did not confirm the write in time. It may still take effect: retry a "
        "create with the same Idempotency-Key. (A test event's 503: it was sent, its record "
        "was not confirmed.)"
    ),
}


def _errors(*codes: str) -> dict[str, Any]:
    return {c: {"$ref": f"#/components/responses/E{c}"} for c in ("401", *codes)}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The ETag ("<version>") you read; the change is refused (412) if it moved on.',
    "schema": {"type": "string"},
}
_SUBSCRIPTION_FILTER = {
    "name": "subscription",
    "in": "query",
    "required": False,
    "description": "Only this subscription's alerts",
    "schema": {"type": "string", "pattern": SUBSCRIPTION_ID},
}
_ETAG = {"ETag": {"description": '"<version>"', "schema": {"type": "string"}}}


def document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "serialization") for m in (*API_MODELS, *DELIVERY_API_MODELS)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs["$defs"]
    paths: dict[str, Any] = {
        "/v1/subscriptions": {
            "post": {
                "operationId": "createSubscription",
                "summary": "Create a subscription; the webhook secret is returned only here",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "A retry with the same key (and the same body) gets the first "
                            "attempt's answer instead of a second subscription"
                        ),
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    }
                ],
                "requestBody": {"required": True, "content": _json("SubscriptionCreate")},
                "responses": {
                    "201": {
                        "description": "Created (written to news.subscriptions, acknowledged)",
                        "headers": {
                            **_ETAG,
                            "Location": {"schema": {"type": "string"}},
                        },
                        "content": _json("SubscriptionCreated"),
                    },
                    **_errors("400", "409", "413", "415", "422", "503"),
                },
            },
            "get": {
                "operationId": "listSubscriptions",
                "summary": "This key's subscriptions by id, a page at a time",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "description": "next_cursor of the previous page",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {"description": "A page", "content": _json("SubscriptionPage")},
                    **_errors("400"),
                },
            },
        },
        "/v1/subscriptions/{id}": {
            "parameters": [_ID],
            "get": {
                "operationId": "getSubscription",
                "responses": {
                    "200": {
                        "description": "The subscription (no secret)",
                        "headers": _ETAG,
                        "content": _json("SubscriptionView"),
                    },
                    **_errors("404"),
                },
            },
            "patch": {
                "operationId": "updateSubscription",
                "summary": "Replace the given fields; webhook: null removes the webhook",
                "parameters": [_IF_MATCH],
                "requestBody": {"required": True, "content": _json("SubscriptionPatch")},
                "responses": {
                    "200": {
                        "description": "Updated; webhook_secret is set only when the server "
                        "generated one for a newly added webhook",
                        "headers": _ETAG,
                        "content": _json("SubscriptionCreated"),
                    },
                    **_errors("400", "404", "412", "413", "415", "422", "503"),
                },
            },
            "delete": {
                "operationId": "deleteSubscription",
                "parameters": [_IF_MATCH],
                "responses": {
                    "204": {"description": "Deleted (a tombstone on news.subscriptions)"},
                    **_errors("404", "412", "503"),
                },
            },
        },
        "/v1/subscriptions/{id}/test": {
            "parameters": [_ID],
            "post": {
                "operationId": "testSubscription",
                "summary": "Dry run against the last articles this worker matched, explained",
                "responses": {
                    "200": {
                        "description": "Matches, newest first",
                        "content": _json("DryRunResult"),
                    },
                    **_errors("404"),
                },
            },
        },
        "/v1/stream": {
            "get": {
                "operationId": "streamAlerts",
                "summary": "Server-Sent Events: the subscription's alerts from news.alerts",
                "description": (
                    "Each event: `id: <partition>:<offset>`, `event: alert`, `data: <Alert JSON>`"
                    " (schemas/json/news.alerts.schema.json). Send `Last-Event-ID` to resume "
                    "after that event; without it the stream starts at the newest alert. "
                    "Comment lines (`: heartbeat`) keep the connection alive."
                ),
                "parameters": [
                    {
                        "name": "subscription",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": SUBSCRIPTION_ID},
                    },
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": EVENT_ID},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An event stream that stays open",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors("400", "404", "409", "429"),
                },
            },
        },
        # --- the console's calls (services/notify/console/) -----------------------------------
        "/v1/preview": {
            "post": {
                "operationId": "previewQuery",
                "summary": "Dry run of a query not saved yet against the recent articles",
                "description": (
                    "The console's live preview. A query that does not parse is a 400 whose "
                    "`position` names the character."
                ),
                "requestBody": {"required": True, "content": _json("PreviewRequest")},
                "responses": {
                    "200": {
                        "description": "Matches, newest first",
                        "content": _json("DryRunResult"),
                    },
                    **_errors("400", "413", "415", "422"),
                },
            },
        },
        "/v1/alerts": {
            "get": {
                "operationId": "recentAlerts",
                "summary": "This key's most recent alerts (all its subscriptions, or one)",
                "description": (
                    "Reads the newest records of news.alerts. A notify process runs at most "
                    "NEWSWIRE_API__MAX_ALERT_READS (4) such reads at once, all keys together; "
                    "beyond, 429 with Retry-After."
                ),
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 5000},
                    },
                    _SUBSCRIPTION_FILTER,
                ],
                "responses": {
                    "200": {"description": "Newest first", "content": _json("AlertsPage")},
                    **_errors("400", "404", "429", "503"),
                },
            },
        },
        "/v1/alerts/stream": {
            "get": {
                "operationId": "streamAllAlerts",
                "summary": "Server-Sent Events: this key's alerts after a resume point",
                "description": (
                    "Each event: `id: <next offset per partition>`, `event: alert`, "
                    "`data: <Alert JSON>`. Send the last id received, or the `resume_id` of "
                    "GET /v1/alerts, as `Last-Event-ID`: the stream continues exactly after it. "
                    "Without it the stream starts at the newest alert."
                ),
                "parameters": [
                    _SUBSCRIPTION_FILTER,
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "pattern": POSITIONS_ID},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An event stream that stays open",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors("400", "404", "429"),
                },
            },
        },
    }
    paths.update(_delivery_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "newswire subscriptions",
            "version": "1",
            "description": (
                "Subscriptions to the news stream, stored in the compacted Kafka topic "
                "news.subscriptions. Errors are RFC 9457 problem details."
            ),
        },
        "servers": [
            {
                "url": "http://{host}:{port}",
                "variables": {
                    "host": {"default": "127.0.0.1"},
                    "port": {"default": "9113", "description": "NEWSWIRE_API__PORT"},
                },
            }
        ],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (newswire apikey new): nwk_<key id>.<secret>",
                }
            },
            "schemas": schemas,
            "responses": {
                f"E{code}": {"description": text, "content": _PROBLEM}
                for code, text in _ERRORS.items()
            },
        },
    }


def _delivery_paths() -> dict[str, Any]:
    """The console's Delivery page (services/notify/api.py, schemas/delivery.py)."""
    return {
        "/v1/subscriptions/{id}/deliveries": {
            "parameters": [_ID],
            "get": {
                "operationId": "subscriptionDeliveries",
                "summary": "The webhook's last attempts (newest first) and the next retry",
                "description": (
                    "Up to 20 delivery attempts and 20 test events, kept for 3 days after "
                    "the last one in the compacted topic news.alerts.attempts."
                ),
                "responses": {
                    "200": {
                        "description": "The attempts, newest first",
                        "content": _json("DeliveryHistory"),
                    },
                    **_errors("404"),
                },
            },
        },
        "/v1/subscriptions/{id}/webhook/test": {
            "parameters": [_ID],
            "post": {
                "operationId": "sendTestEvent",
                "summary": "Send one signed test event to the webhook now (no retry)",
                "description": (
                    'Body `{"type": "newswire.test", "subscription_id": ..., "sent_at": ...}`, '
                    "webhook-id `test_<hex>`, signed with the subscription's secret, through "
                    "delivery's SSRF guard, timeouts and size caps, whatever the subscription's "
                    "status. The attempt is recorded (verdict test) before the answer; a "
                    "receiver's error is a 200 too, with its status or error in the body. "
                    "Each API key may send a few a minute (NEWSWIRE_API__WEBHOOK_TESTS_PER_MINUTE, "
                    "default 6, bursts of 3, per notify process); more answer 429 with "
                    "Retry-After."
                ),
                "responses": {
                    "200": {
                        "description": "The attempt, as recorded",
                        "content": _json("DeliveryAttempt"),
                    },
                    **_errors("404", "409", "429", "503"),
                },
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Repeats shared parts instead of writing YAML anchors, which many readers mishandle."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def rendered() -> str:
    return yaml.dump(document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write(path: Path = OPENAPI_PATH) -> Path:
    path.write_text(rendered(), encoding="utf-8")
    return path
