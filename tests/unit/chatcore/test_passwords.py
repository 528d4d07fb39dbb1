"""Password hashing: argon2id with OWASP's parameters, salted, verifiable, never containing the password;
legacy scrypt hashes verify and are marked for rehashing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import PasswordHasher, extract_parameters
from chatcore import passwords
from chatcore.passwords import hash_password, legacy_scrypt_hash, needs_rehash, verify_password

from tests.helpers.cold import LAYER


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
    assert first.startswith("$argon2id$")


def test_new_hashes_are_argon2id_with_owasp_parameters() -> None:
    """A new hash is argon2id with at least OWASP's minimum: 19 MiB of memory, 2 iterations, 1 lane."""
    parameters = extract_parameters(hash_password("correct horse battery"))
    assert parameters.type.name == "ID"
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19 * 1024, 2, 1)
    assert parameters.salt_len >= 16 and parameters.hash_len >= 32


def test_legacy_scrypt_hashes_still_verify_and_need_a_rehash() -> None:
    """A scrypt hash from before argon2id verifies the right password only, and is marked for rehashing."""
    legacy = legacy_scrypt_hash("correct horse battery")
    assert legacy.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", legacy)
    assert not verify_password("correct horse batterY", legacy)
    assert needs_rehash(legacy)


def test_current_argon2id_hashes_need_no_rehash_but_weaker_ones_do() -> None:
    """A hash with today's parameters is kept; an argon2id hash with lower costs is replaced at the next login."""
    assert not needs_rehash(hash_password("correct horse battery"))
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("correct horse battery")
    assert verify_password("correct horse battery", weaker)
    assert needs_rehash(weaker)
    assert needs_rehash("not a hash at all")


def test_unknown_users_cost_one_argon2id_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in check for an unknown user is one argon2id verification with the current parameters."""
    checked: list[str] = []
    real = passwords._verify_argon2

    def counting(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(passwords, "_verify_argon2", counting)
    passwords.burn_password_check("some password")
    assert len(checked) == 1
    assert not needs_rehash(checked[0])  # argon2id, today's parameters: the same work as a real user's check


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
        pytest.param("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$not-base64!", id="argon2-bad-hash"),
        pytest.param("$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5", id="argon2-missing-p"),
        pytest.param("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5", id="argon2-4-gib"),
        pytest.param("$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5", id="argon2-t-1000"),
        pytest.param("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5", id="argon2i-not-id"),
    ],
)
def test_malformed_stored_hash_gives_false(stored: str) -> None:
    """A corrupt or foreign stored hash never verifies and never raises."""
    assert verify_password("anything", stored) is False


def test_argon2_is_loaded_by_the_first_password_check_not_by_the_import() -> None:
    """A cold REST container serving a route without passwords never imports argon2; the first hash loads it."""
    probe = (
        "import sys; from chatcore import passwords; before = 'argon2' in sys.modules; "
        "passwords.hash_password('correct horse'); print(before, 'argon2' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(LAYER)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]
