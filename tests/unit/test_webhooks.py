"""Standard Webhooks signing, checked against the spec's published vector and the independent
``standardwebhooks`` package."""

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.notify.webhooks import (
    InvalidSecret,
    digest_id,
    generate_secret,
    secret_key,
    sign,
    signed_headers,
)

# The test vector every Standard Webhooks / Svix library checks (libraries' sign tests and
# the spec's "Testing" notes): secret, id, timestamp and body -> this exact signature.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class TestSigning:
    """Signatures are v1 HMAC-SHA256 over id.timestamp.body, base64, as the spec says."""

    def test_published_vector(self) -> None:
        assert sign(secret_key(VECTOR_SECRET), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == (
            VECTOR_SIGNATURE
        )

    def test_the_reference_library_signs_the_vector_the_same(self) -> None:
        when = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC)
        theirs = Webhook(VECTOR_SECRET).sign(VECTOR_ID, when, VECTOR_BODY.decode())
        assert theirs == VECTOR_SIGNATURE

    def test_reference_verifier_accepts_our_headers(self) -> None:
        secret = generate_secret()
        body = b'{"alert_id":"0123456789abcdef0123456789abcdef","title":"Gr\xc3\xbc\xc3\x9fe"}'
        headers = signed_headers(secret, "0123456789abcdef0123456789abcdef", int(time.time()), body)
        assert Webhook(secret).verify(body, headers) == {
            "alert_id": "0123456789abcdef0123456789abcdef",
            "title": "Grüße",
        }
        assert headers["content-type"] == "application/json"

    def test_reference_verifier_rejects_a_changed_body_or_other_secret(self) -> None:
        secret = generate_secret()
        headers = signed_headers(secret, "abc", int(time.time()), b'{"a":1}')
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(b'{"a":2}', headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(generate_secret()).verify(b'{"a":1}', headers)

    def test_timestamp_is_part_of_the_signature(self) -> None:
        key = secret_key(VECTOR_SECRET)
        assert sign(key, "id", 1, b"{}") != sign(key, "id", 2, b"{}")

    def test_ids_with_dots_are_refused(self) -> None:
        with pytest.raises(ValueError, match="must not contain"):
            sign(secret_key(VECTOR_SECRET), "a.b", 1, b"{}")


class TestSecrets:
    """Secrets are whsec_ + base64 of 24..64 random bytes; malformed ones are refused."""

    def test_generated_secret_shape(self) -> None:
        secret = generate_secret()
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret[6:])) == 32
        assert generate_secret() != secret

    @pytest.mark.parametrize(
        "bad",
        [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
            "whsec_not base64!",
            "whsec_" + base64.b64encode(b"short").decode(),
            "whsec_" + base64.b64encode(bytes(65)).decode(),
        ],
    )
    def test_malformed_secrets(self, bad: str) -> None:
        with pytest.raises(InvalidSecret):
            secret_key(bad)


def test_digest_id_depends_on_members_and_order() -> None:
    a, b = "a" * 32, "b" * 32
    assert digest_id([a, b]) == digest_id([a, b])
    assert digest_id([a, b]) != digest_id([b, a])
    assert digest_id([a, b]).startswith("dg_")
    assert len(digest_id([a])) == 35
    assert "." not in digest_id([a, b])
