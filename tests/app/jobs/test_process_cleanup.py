"""A test that starts `duetto serve` and then fails (a timeout under load, say) still stops it and its worker:
the `processes` fixture's finaliser runs whatever the outcome. Checked by running such a test in a pytest
of its own and looking for its processes afterwards."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.app.servers import wait_until
from tests.conftest import REPO_ROOT

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def test_a_failing_test_leaves_no_server_or_worker_running(pytester: pytest.Pytester, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pids = tmp_path / "pids"
    pytester.makepyfile(test_inner=textwrap.dedent(f"""
        from pathlib import Path

        from tests.app.conftest import processes
        from tests.app.jobs.test_worker_death import worker_pid
        from tests.app.servers import ProcessServer, embedded_settings, free_port, settings_env, wait_until


        def test_times_out_while_its_server_runs(processes, tmp_path):
            settings = embedded_settings(tmp_path, tmp_path / "models", embedded_worker="process")
            port = free_port()
            server = ProcessServer(["serve", "--port", str(port)], settings_env(settings), tmp_path / "log").start()
            processes.append(server)
            server.wait_http(f"http://127.0.0.1:{{port}}")
            worker = wait_until(lambda: worker_pid(server.proc.pid), timeout=300, what="the worker")
            Path({str(pids)!r}).write_text(f"{{server.proc.pid}} {{worker}}")
            raise AssertionError("timed out waiting for denoising")  # as a slow machine would
    """))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", "no:xdist", timeout=600)
    result.assert_outcomes(failed=1)
    server, worker = (int(pid) for pid in pids.read_text().split())
    # Stopped by the finaliser: gone by the time the inner pytest exited (the deadline only ends a hang).
    wait_until(lambda: not alive(server) and not alive(worker), timeout=60, what="the server and its worker to stop")
