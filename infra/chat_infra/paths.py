"""Where the deployed code lives in the repository."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_SOURCE_DIR = REPO_ROOT / "layers" / "common"
MIGRATIONS_DIR = LAYER_SOURCE_DIR / "python" / "chatcore" / "postgres" / "migrations"
WEB_DIR = REPO_ROOT / "web"
