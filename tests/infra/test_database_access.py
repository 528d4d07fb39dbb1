"""How the deployed functions reach PostgreSQL: verified TLS only, and as chat_app unless they migrate.

A PostgreSQL of its own sits behind a TLS front (as the database sits behind RDS Proxy) whose certificate,
for ``localhost`` only, a test CA signed; chat_app logs in with its password (SCRAM). Secrets live in moto.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from chat_local.postgres import EmbeddedPostgres
from chatcore.composition import APP_ROLE, build_store, database_conninfo
from chatcore.postgres.migrate import migration_files
from chatcore.settings import ConfigurationError, Settings

from tests.helpers.handlers import context, load_handler
from tests.infra.certificates import issue_server_certificate, make_authority, write_bundle
from tests.infra.tls_front import TlsFront
from tests.unit.chatcore.postgres.conftest import HASH

#: The backend behind the TLS front: chat_app by password (SCRAM), the superuser by trust, as on RDS's side.
_HBA = """\
host all chat_app 127.0.0.1/32 scram-sha-256
host all postgres 127.0.0.1/32 trust
"""


@dataclass(frozen=True)
class TlsServer:
    server: EmbeddedPostgres
    front: TlsFront
    ca_bundle: Path
    """The test CA that signed the front's certificate."""
    other_ca_bundle: Path
    """A CA that signed nothing the front presents."""

    @property
    def port(self) -> int:
        """Where clients connect: the TLS front."""
        return self.front.port


@pytest.fixture(scope="module")
def tls_server(tmp_root: Path) -> Iterator[TlsServer]:
    """PostgreSQL behind a TLS front (certificate for localhost only); chat_app admitted by password."""
    folder = tmp_root / "pg-tls"
    server = EmbeddedPostgres(folder / "data", database="postgres", durable=False)
    server.start()
    server.stop()
    (server.data_dir / "pg_hba.conf").write_text(_HBA)
    server.start()
    authority = make_authority("chat test database CA")
    cert, key = issue_server_certificate(authority, "localhost", folder)
    assert server.port is not None
    front = TlsFront(server.port, cert, key).start()
    yield TlsServer(
        server=server,
        front=front,
        ca_bundle=write_bundle(folder / "ca.pem", authority),
        other_ca_bundle=write_bundle(folder / "other-ca.pem", make_authority("somebody else's CA")),
    )
    front.stop()
    server.stop()


_databases = iter(range(10**6))


@pytest.fixture
def database(tls_server: TlsServer) -> str:
    """A new, empty database on the TLS server."""
    name = f"tls_{next(_databases)}"
    tls_server.server.create_database(name)
    return name


def _put_secret(values: dict[str, Any]) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.create_secret(Name=f"db-{next(_databases)}", SecretString=json.dumps(values))["ARN"]


def _rds_style_secret(tls_server: TlsServer, database: str, username: str, password: str, **extra: Any) -> str:
    """A secret shaped like the ones the stack generates (host and port as RDS writes them)."""
    values = {"username": username, "password": password, "host": "localhost", "port": tls_server.port}
    return _put_secret({**values, "dbname": database, "engine": "postgres", **extra})


def _session(conninfo: str) -> tuple[str, bool]:
    """Who the session is, and whether libpq's side of it is encrypted."""
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        encrypted = conn.pgconn.ssl_in_use
    assert row is not None
    return str(row[0]), encrypted


# ---------------------------------------------------------------- verify-full


def test_the_secret_path_verifies_the_server_and_connects_over_tls(
    aws: None, tls_server: TlsServer, database: str
) -> None:
    """With the CA bundle the conninfo asks for verify-full with that bundle, and the session is encrypted."""
    arn = _rds_style_secret(tls_server, database, "postgres", "unused")
    conninfo = database_conninfo(Settings(database_secret_arn=arn, database_ca_bundle=str(tls_server.ca_bundle)))
    parameters = psycopg.conninfo.conninfo_to_dict(conninfo)
    assert parameters["sslmode"] == "verify-full"
    assert parameters["sslrootcert"] == str(tls_server.ca_bundle)
    assert _session(conninfo) == ("postgres", True)


def test_a_server_certificate_from_another_ca_is_refused(aws: None, tls_server: TlsServer, database: str) -> None:
    """A server whose certificate the bundle's CAs did not sign is not connected to (a stand-in server)."""
    arn = _rds_style_secret(tls_server, database, "postgres", "unused")
    settings = Settings(database_secret_arn=arn, database_ca_bundle=str(tls_server.other_ca_bundle))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _session(database_conninfo(settings))


def test_a_certificate_for_another_host_name_is_refused(aws: None, tls_server: TlsServer, database: str) -> None:
    """The right CA is not enough: the certificate must name the host connected to (verify-full, not verify-ca)."""
    arn = _rds_style_secret(tls_server, database, "postgres", "unused")
    settings = Settings(
        database_secret_arn=arn, database_host="127.0.0.1", database_ca_bundle=str(tls_server.ca_bundle)
    )
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        _session(database_conninfo(settings))


@pytest.mark.parametrize("bundle", [None, "/opt/certs/not-there.pem"])
def test_no_ca_bundle_means_no_connection(aws: None, bundle: str | None) -> None:
    """Without a readable CA bundle the secret path refuses outright, naming the setting."""
    arn = _put_secret({"username": "u", "password": "p", "host": "db.example.com", "port": 5432})
    with pytest.raises(ConfigurationError, match="DATABASE_CA_BUNDLE"):
        database_conninfo(Settings(database_secret_arn=arn, database_ca_bundle=bundle))


# ---------------------------------------------------------------- the application role in AWS


def test_migrate_lets_chat_app_log_in_with_its_secret_and_the_functions_connect_as_it(
    aws: None, tls_server: TlsServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migrate handler (master secret) migrates, then sets chat_app's password from the app secret; a
    function given only the app secret then works as chat_app over verified TLS, and a wrong password fails."""
    ca = str(tls_server.ca_bundle)
    master = _rds_style_secret(tls_server, database, "postgres", "unused")
    password = 'it\'s a "quoted" pa$$word; DROP ROLE postgres; --'
    app = _rds_style_secret(tls_server, database, APP_ROLE, password)
    for name, value in {
        "DATABASE_SECRET_ARN": master,
        "APP_DATABASE_SECRET_ARN": app,
        "DATABASE_CA_BUNDLE": ca,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    result = load_handler("migrate").handler({}, context("migrate"))

    assert result == {"applied": [name for name, _sql in migration_files()]}
    store = build_store(Settings(database_secret_arn=app, database_ca_bundle=ca))
    alice = store.create_user("alice", HASH)
    assert store.get_user(alice.id) == alice
    with store._db.connection() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
    wrong = _rds_style_secret(tls_server, database, APP_ROLE, "not the password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _session(database_conninfo(Settings(database_secret_arn=wrong, database_ca_bundle=ca)))
    # Only the SCRAM verifier reached the server, never the password itself.
    with psycopg.connect(tls_server.server.url_for(database)) as admin:
        stored = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (APP_ROLE,)).fetchone()
    assert stored is not None and str(stored[0]).startswith("SCRAM-SHA-256$") and password not in str(stored[0])


def test_an_app_secret_for_another_user_fails_the_migration(
    aws: None, tls_server: TlsServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app secret must name chat_app (the role the migrations create): anything else fails the deploy step."""
    monkeypatch.setenv("DATABASE_SECRET_ARN", _rds_style_secret(tls_server, database, "postgres", "unused"))
    monkeypatch.setenv("APP_DATABASE_SECRET_ARN", _rds_style_secret(tls_server, database, "postgres", "x"))
    monkeypatch.setenv("DATABASE_CA_BUNDLE", str(tls_server.ca_bundle))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match=APP_ROLE):
        load_handler("migrate").handler({}, context("migrate"))
