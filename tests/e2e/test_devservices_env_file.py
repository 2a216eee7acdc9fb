"""``python -m devservices up --env-file F`` removes F when it stops, and git ignores
``.services.env`` (the README's name for it)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ignoring_sigint() -> None:
    # What a shell does to a job started with `&` when job control is off (a script).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("signum", "as_background_job"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGINT", "SIGINT-to-a-background-job"],
)
def test_env_file_is_deleted_when_devservices_stops(
    tmp_path: Path, signum: signal.Signals, as_background_job: bool
) -> None:
    env_file = tmp_path / ".services.env"
    # No Kafka and no PostgreSQL: only the env file's life is under test, and the shared
    # services already run (a test must not start private ones without need).
    command = ["up", "--no-kafka", "--no-postgres", "--env-file", str(env_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "devservices", *command],
        preexec_fn=_ignoring_sigint if as_background_job else None,  # noqa: PLW1509
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the env file was never written"
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "devservices: stopped" in err
    assert not env_file.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


def test_services_env_is_ignored_by_git() -> None:
    git = shutil.which("git")
    assert git, "git is needed to ask which files it ignores"
    done = subprocess.run(
        [git, "check-ignore", "--no-index", "-q", ".services.env"], cwd=ROOT, check=False
    )
    assert done.returncode == 0, ".services.env is not in .gitignore"
