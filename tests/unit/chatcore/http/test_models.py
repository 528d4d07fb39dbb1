"""chatcore.http.models: the REST bodies, whose validators and serializers are built on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[4] / "layers" / "common" / "python"

# In a fresh interpreter (a cold container): which models are built after the import, and after one is used.
_COLD = """
import json
from pydantic import BaseModel
from chatcore.http import models

def built():
    return sorted(
        name for name, value in vars(models).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__pydantic_complete__
    )

after_import = built()
models.LoginRequest.model_validate({"username": "alice", "password": "correct horse"})
print(json.dumps({"after_import": after_import, "after_login": built(), "all": len(
    [v for v in vars(models).values() if isinstance(v, type) and issubclass(v, BaseModel)]
)}))
"""


def test_a_cold_container_builds_only_the_models_it_uses() -> None:
    """Importing the models builds none of them; validating a login body builds that model alone."""
    done = subprocess.run(
        [sys.executable, "-c", _COLD],
        env={"PYTHONPATH": str(LAYER), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["all"] > 30
    assert report["after_import"] == []
    assert report["after_login"] == ["LoginRequest"]
