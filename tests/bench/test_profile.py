"""The profile benchmark finds the processes it samples and reads py-spy's stacks right (no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench import common, profile

COLLAPSED = """\
process 12 (python);<module> (worker.py:10);handle (handler.py:5);post (fanout.py:40) 6
process 12 (python);<module> (worker.py:10);handle (handler.py:5);parse (protocol.py:7) 3
process 12 (python);<module> (worker.py:10);idle (worker.py:20) 1
not a stack line
"""


def test_hot_functions_rank_by_running_share_and_give_the_share_on_the_stack() -> None:
    """post runs in 6 of 10 samples, parse in 3, idle in 1; handle is on 9 of 10 stacks but never runs."""
    hot = profile.hot_functions(COLLAPSED)
    assert [frame for frame, _, _ in hot[:3]] == ["post (fanout.py:40)", "parse (protocol.py:7)", "idle (worker.py:20)"]
    shares = {frame: (share, leaf) for frame, share, leaf in hot}
    assert shares["post (fanout.py:40)"] == (0.6, 0.6)
    assert shares["handle (handler.py:5)"] == (0.9, 0.0)
    assert shares["<module> (worker.py:10)"] == (1.0, 0.0)


def test_container_pids_are_the_stacks_own_workers_of_that_function(tmp_path: Path) -> None:
    """A worker child of ours for functions/message is found; one for functions/rest is not; nor is another's."""
    code = tmp_path / "functions"
    argv = [sys.executable, "-c", "import sys; sys.stdin.read()", "-m", "chat_local.worker", "--code-dir"]
    children = [subprocess.Popen([*argv, str(code / name)], stdin=subprocess.PIPE) for name in ("message", "rest")]
    try:
        found = profile.container_pids("message", os.getpid())
        assert found == [children[0].pid]
        assert profile.container_pids("message", children[1].pid) == []  # not that process's child
        assert common.cpu_ticks(children[0].pid) >= 0 and common.parent_pid(children[0].pid) == os.getpid()
    finally:
        for child in children:
            child.kill()
            child.wait()


def test_quick_mode_skips_profiling_and_says_so(tmp_path: Path) -> None:
    """--quick writes a section that says it did not profile, instead of starting a stack."""
    section = profile.run(quick=True, out_dir=tmp_path, work_dir=tmp_path / "work")
    assert section.name == "profile" and "not run with --quick" in section.markdown
    assert list(tmp_path.glob("*.svg")) == []
