"""The baselines' PostgreSQL connection, opened as the AWS samples open one to RDS Proxy: the credentials from
the database's Secrets Manager secret, TLS with the server's certificate verified against the CA bundle.

The same secret and the same checks as ``chatcore.composition.database_conninfo`` (``DATABASE_SECRET_ARN``,
``DATABASE_HOST``, ``DATABASE_CA_BUNDLE``), so both sides pay the same Secrets Manager request, TLS handshake and
SCRAM login.
"""

from __future__ import annotations

import json
import os

import boto3
import psycopg


def connect() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection as ``chat_app``, from the secret ``DATABASE_SECRET_ARN`` names."""
    secrets = boto3.client("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId=os.environ["DATABASE_SECRET_ARN"])["SecretString"])
    return psycopg.connect(
        host=os.environ.get("DATABASE_HOST", secret["host"]),
        port=secret["port"],
        dbname=os.environ.get("DATABASE_NAME", secret["dbname"]),
        user=secret["username"],
        password=secret["password"],
        sslmode="verify-full",
        sslrootcert=os.environ["DATABASE_CA_BUNDLE"],
        autocommit=True,
    )
