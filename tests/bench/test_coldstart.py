"""The cold-start harness measures what it says (no timing asserted): every function, ours and the baseline,
in fresh interpreters against the stand-ins, each split into every phase, making the same requests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import coldstart
from bench.common import save_json
from bench.report import render


@pytest.fixture(scope="module")
def one_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("coldstart")
    every = coldstart.VARIANTS + coldstart.EXTRA_VARIANTS
    section = coldstart.run(quick=True, out_dir=out, work_dir=out / "work", repeats=1, variants=every)
    return section, out


def test_every_function_is_measured_for_ours_and_the_baseline_with_every_phase(one_round: tuple[Any, Path]) -> None:
    section, _out = one_round
    runs, summary = section.data["runs"], section.data["summary"]
    assert set(runs) == set(coldstart.FUNCTIONS)
    for name in coldstart.FUNCTIONS:
        assert set(runs[name]) == set(coldstart.VARIANTS + coldstart.EXTRA_VARIANTS)
        for variant in runs[name]:
            (record,) = runs[name][variant]
            assert set(record["cold_phases"]) == set(coldstart.PHASES)
            assert set(record["init_phases"]) == set(coldstart.PHASES)
            assert len(record["aws_calls"]) == coldstart.INVOCATIONS
            row = summary[name][variant]
            # init + first is their sum, and the phases add up to it (the harness's own time left out).
            assert row["cold"] == pytest.approx(row["init"] + row["first"])
            assert sum(row["cold_phases"].values()) == pytest.approx(row["cold"], rel=1e-6)
            assert row["init"] > 0 and row["first"] > 0 and row["warm"] > 0 and row["steady"] > 0


def test_ours_and_the_baseline_make_the_same_requests(one_round: tuple[Any, Path]) -> None:
    """The same DynamoDB operations and SQL statements per invocation (but the REST user lookup ours remembers),
    the same posts in all (ours posts through ``http.client``, so only the stand-in counts them). A frame that
    opens a new rate-limit window costs either side a second UpdateItem, and the two runs cross a window's start
    at different invocations, so the extra one is not counted."""
    runs = one_round[0].data["runs"]
    for name in coldstart.FUNCTIONS:
        (ours,), (base,) = runs[name]["ours"], runs[name]["baseline"]

        def dynamodb(record: dict[str, Any], windowed: bool = name == "message") -> list[Counter[str]]:
            counts = [Counter(c for c in calls if c.startswith("dynamodb.")) for calls in record["aws_calls"]]
            for count in counts if windowed else []:  # one UpdateItem counts the frame, a second opens a window
                count["dynamodb.UpdateItem"] = min(count["dynamodb.UpdateItem"], 1)
            return counts

        assert dynamodb(ours) == dynamodb(base), name
        assert ours["sql"][0] == base["sql"][0], name
        # After its first, ours' REST container skips the lookup of the user it found (USER_CHECK_SECONDS).
        fewer = [1 if name == "rest" else 0] * (coldstart.INVOCATIONS - 1)
        assert [b - o for o, b in zip(ours["sql"][1:], base["sql"][1:], strict=True)] == fewer, name
        assert ours["posts_per_invocation"] == base["posts_per_invocation"], name


def test_both_sides_read_their_secrets_from_secrets_manager_once_per_container(one_round: tuple[Any, Path]) -> None:
    """As configured in AWS: the database secret is read on a cold start by both sides (the baseline at module scope,
    ours on first use), the token key by ours where it checks tokens, and no warm invocation reads one again."""
    runs = one_round[0].data["runs"]
    reads = {"connect": 2, "message": 1, "disconnect": 0, "rest": 2}  # ours: the token key and the database's
    for name in coldstart.FUNCTIONS:
        for variant in ("ours", "baseline"):
            (record,) = runs[name][variant]
            cold = [*record["init_aws_calls"], *record["aws_calls"][0]].count("secretsmanager.GetSecretValue")
            expected = reads[name] if variant == "ours" else min(reads[name], 1)
            assert cold == expected, (name, variant)
            assert all("secretsmanager.GetSecretValue" not in calls for calls in record["aws_calls"][1:]), name


def test_the_database_stand_in_lets_the_app_role_in_only_over_verified_tls_with_its_password(tmp_path: Path) -> None:
    """``chat_app`` connects through the TLS front with the secret's password and the CA bundle, encrypted; without
    TLS, with a wrong password or against another CA it is refused, as RDS Proxy refuses it."""
    import psycopg

    from tests.infra.certificates import make_authority, write_bundle

    with coldstart.postgres(tmp_path / "pg") as database:
        secret = database.app_secret
        good = {
            "host": secret["host"],
            "port": secret["port"],
            "dbname": secret["dbname"],
            "user": secret["username"],
            "password": secret["password"],
            "sslrootcert": str(database.ca_bundle),
            "connect_timeout": 5,
        }
        with psycopg.connect(**good, sslmode="verify-full") as conn:
            row = conn.execute("SELECT current_user, count(*) FROM users").fetchone()
            encrypted = conn.pgconn.ssl_in_use
        assert row == ("chat_app", 0) and encrypted
        other_ca = write_bundle(tmp_path / "other-ca.pem", make_authority("somebody else's CA"))
        refusals = [
            {**good, "sslmode": "disable"},
            {**good, "sslmode": "verify-full", "password": secret["password"] + "x"},
            {**good, "sslmode": "verify-full", "sslrootcert": str(other_ca)},
        ]
        for settings in refusals:
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(**settings).close()


def test_targets_table_and_plot_reach_the_report(one_round: tuple[Any, Path]) -> None:
    """Three targets per function (init + first, warm, steady warm), the plot and every row reach the report."""
    section, out = one_round
    assert len(section.targets) == 3 * len(coldstart.FUNCTIONS)
    assert all(t.measured.endswith("x") for t in section.targets)
    assert (out / "coldstart.png").stat().st_size > 0
    save_json(out / "data" / "coldstart.json", {**section.to_json(), "mode": "quick", "machine": {}})
    report = render(out).read_text()
    assert "## 3. Cold start" in report
    for name in coldstart.FUNCTIONS:
        assert f"| `{name}` ours |" in report and f"| `{name}` baseline |" in report
    for label in coldstart.PHASE_LABELS.values():
        assert label in report
    for variant in coldstart.EXTRA_VARIANTS:
        assert f"| `rest` {coldstart.VARIANT_LABELS[variant]} |" in report


def test_each_verdict_states_what_the_chosen_libraries_cost_against_the_budget(one_round: tuple[Any, Path]) -> None:
    """The baselines load neither pydantic nor Powertools, ours both; each function's line gives their imports
    against the 25% of the baseline's cold start that the target allows."""
    section, _out = one_round
    summary = section.data["summary"]
    for name in coldstart.FUNCTIONS:
        ours, base = summary[name]["ours"], summary[name]["baseline"]
        assert base["chosen_libraries"] == 0
        assert ours["chosen_libraries"] > 0
        budget = (coldstart.TARGET_COLD - 1) * base["cold"]
        expected = f"alone costs {ours['chosen_libraries']:.0f} ms of the {budget:.0f} the target allows"
        assert expected in section.markdown, name


def _child(spec: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-P", str(coldstart.CHILD)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_child_reports_init_and_each_invocation_by_phase(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "probe.py").write_text(
        "import json\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps(event)}\n"
    )
    spec = {"name": "probe", "folder": str(tmp_path / "fn"), "module": "probe", "layer": str(tmp_path)}
    report = _child({**spec, "events": [{"n": 1}, {"n": 2}]}, tmp_path)
    assert set(report["init"]["phases"]) == set(coldstart.PHASES)
    assert [i["status"] for i in report["invocations"]] == [200, 200]
    assert all(set(i["phases"]) == set(coldstart.PHASES) for i in report["invocations"])


def test_the_child_hides_what_lambda_would_not_have(tmp_path: Path) -> None:
    """A site-packages module outside the layer and the runtime is refused (here: pytest itself)."""
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "probe.py").write_text(
        "def handler(event, context):\n"
        "    try:\n        import pytest  # noqa\n    except ModuleNotFoundError:\n"
        "        return {'statusCode': 200, 'body': 'refused'}\n"
        "    return {'statusCode': 500, 'body': 'imported'}\n"
    )
    spec = {"name": "probe", "folder": str(tmp_path / "fn"), "module": "probe", "layer": str(tmp_path), "events": [{}]}
    report = _child({**spec, "importable": ["boto3"], "site_packages": coldstart._site_packages()}, tmp_path)
    assert report["invocations"][0]["body"] == "refused"
    assert "pytest" in report["refused"]


def test_quick_runs_ours_and_the_baseline_only_and_the_full_run_adds_what_aws_adds() -> None:
    assert coldstart.VARIANTS == ("ours", "baseline")
    assert set(coldstart.VERSUS) <= set(coldstart.VARIANTS + coldstart.EXTRA_VARIANTS)
    assert all(v in coldstart.VARIANT_LABELS for v in coldstart.VARIANTS + coldstart.EXTRA_VARIANTS)


def _isolated(tmp_path: Path) -> coldstart.Interpreter:
    """An interpreter like the full run's: a layer folder and a runtime folder, each with one module."""
    layer, runtime = tmp_path / "layer", tmp_path / "runtime"
    for folder, module in ((layer, "from_layer"), (runtime, "from_runtime")):
        folder.mkdir()
        (folder / f"{module}.py").write_text(f"WHERE = {module!r}\n")
    return coldstart.Interpreter(sys.executable, {"ours": layer, "baseline": layer}, runtime, "isolated")


def test_the_runtimes_python_sees_the_function_the_layer_and_the_runtime_and_nothing_installed(
    tmp_path: Path,
) -> None:
    """As in Lambda: the function imports from its layer and the runtime's boto3 folder; this environment's
    site-packages (here: pytest) are not on the path at all."""
    interpreter = _isolated(tmp_path)
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "probe.py").write_text(
        "import from_layer, from_runtime\n\n"
        "def handler(event, context):\n"
        "    try:\n        import pytest  # noqa\n    except ModuleNotFoundError:\n"
        "        return {'statusCode': 200, 'body': from_layer.WHERE + ' ' + from_runtime.WHERE}\n"
        "    return {'statusCode': 500, 'body': 'imported'}\n"
    )
    child = coldstart.Child({"PATH": "/usr/bin:/bin"}, coldstart.ManagementStub(), [], {}, interpreter)
    spec = {
        "name": "probe",
        "folder": str(tmp_path / "fn"),
        "module": "probe",
        "layer": str(interpreter.layers["ours"]),
        "runtime": str(interpreter.runtime),
        "events": [{}],
    }
    _wall, report, _posts = child.run(spec)
    assert [(i["status"], i["body"]) for i in report["invocations"]] == [(200, "from_layer from_runtime")]


def test_without_bytecode_the_runtimes_python_compiles_the_whole_layer_and_the_function(tmp_path: Path) -> None:
    """The full run's *no .pyc* rows compile every module of the side's layer and folder from source; the runtime's
    boto3 stays compiled, and nothing is filtered (the path itself holds only what Lambda has)."""
    interpreter = _isolated(tmp_path)
    child = coldstart.Child({}, coldstart.ManagementStub(), ["boto3"], {}, interpreter)
    spec = child.spec("connect", "ours-nopyc", [])
    layer = str(interpreter.layers["ours"])
    assert spec["compile_from_source"] == [layer + "/", str(coldstart.FUNCTIONS_DIR / "connect") + "/"]
    assert (spec["layer"], spec["runtime"]) == (layer, str(interpreter.runtime))
    assert (spec["importable"], spec["site_packages"]) == ([], [])


def test_the_runtimes_python_is_used_only_when_every_layer_was_built(tmp_path: Path) -> None:
    """Without the runtime's Python or one of the builds (a quick run, no index), the children run this Python."""
    site = tmp_path / "python"
    ours = coldstart.BuiltLayer(site, [], "built", sys.executable)
    other = coldstart.BuiltLayer(site, [], "built")
    found = coldstart.lambda_interpreter({"ours": ours, "baseline": other, "runtime": other})
    assert found is not None and found.isolated and found.python == sys.executable
    assert found.layers == {"ours": site, "baseline": site}
    assert coldstart.lambda_interpreter({"ours": ours, "baseline": other, "runtime": None}) is None
    compiled_by_none = coldstart.BuiltLayer(site, [], "built")
    assert coldstart.lambda_interpreter({"ours": compiled_by_none, "baseline": other, "runtime": other}) is None
    assert not coldstart.local_interpreter().isolated
