"""Password hashing: salted, verifiable, never containing the password."""

from __future__ import annotations

import pytest
from chatcore.passwords import hash_password, verify_password


def test_password_verifies_and_a_wrong_one_fails() -> None:
    """The right password verifies against its hash; a wrong or differently-cased one does not."""
    stored = hash_password("correct horse battery")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


def test_hashes_are_salted_and_never_contain_the_password() -> None:
    """Hashing one password twice gives two different hashes that both verify; no clear text is kept."""
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert first != second
    assert verify_password("s3cret-pass", first) and verify_password("s3cret-pass", second)
    assert "s3cret-pass" not in first
    assert first.startswith("scrypt$")


def test_unicode_passwords_round_trip() -> None:
    """Non-ASCII passwords verify, and a visually similar one does not."""
    stored = hash_password("pässwörd-🔑")
    assert verify_password("pässwörd-🔑", stored)
    assert not verify_password("passwörd-🔑", stored)


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param("", id="empty"),
        pytest.param("plain-text-password", id="no-fields"),
        pytest.param("bcrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5", id="other-scheme"),
        pytest.param("scrypt$abc$8$1$c2FsdA==$a2V5", id="n-not-number"),
        pytest.param("scrypt$16384$8$1$not base64!$a2V5", id="bad-salt"),
        pytest.param("scrypt$16384$8$1$c2FsdA==$%%%", id="bad-key"),
        pytest.param("scrypt$1000$8$1$c2FsdA==$a2V5", id="n-not-power-of-two"),
        pytest.param("scrypt$16384$8$0$c2FsdA==$a2V5", id="p-zero"),
        pytest.param("scrypt$-16384$8$1$c2FsdA==$a2V5", id="n-negative"),
        pytest.param("scrypt$1073741824$8$1$c2FsdA==$a2V5", id="n-too-much-memory"),
        pytest.param(f"scrypt${2**70}$8$1$c2FsdA==$a2V5", id="n-overflows"),
        pytest.param("scrypt$16384$8$1$c2FsdA==$a2V5$extra", id="extra-field"),
    ],
)
def test_malformed_stored_hash_gives_false(stored: str) -> None:
    """A corrupt or foreign stored hash never verifies and never raises."""
    assert verify_password("anything", stored) is False
