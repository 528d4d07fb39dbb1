"""CDK entry point: ``npx aws-cdk@2 synth`` / ``deploy`` run this (see cdk.json and infra/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script (python infra/app.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.chat_infra.app_factory import build_app


def main() -> None:
    app, _stack = build_app()
    app.synth()


if __name__ == "__main__":
    main()
