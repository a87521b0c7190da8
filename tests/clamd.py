"""A real clamd for the tests: its own configuration, Unix socket and signature database in a temporary
folder. No machine here reaches ClamAV's mirror (freshclam cannot run), so the database holds one
signature: the MD5 of the EICAR test file, made with ``sigtool --md5`` as ClamAV's docs describe.

Registered for every test by ``pytest_plugins`` in tests/conftest.py: the ``settings`` fixture points
at ``clamd_socket``; a test that uploads asks for the ``clamd`` fixture, which starts the daemon once per
test process and stops it at the end. Import only ``EICAR`` and ``ClamdServer``, never the fixtures.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tocsin.core.files import Clamd

# The EICAR anti-virus test file (https://www.eicar.org), put together here so that this source file is
# not itself flagged by a scanner on a developer's machine.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!" + b"$H+H*"
SIGNATURE = "Tocsin-Test-EICAR"
STREAM_MAX = "20M"  # above the largest upload the tests allow (TOCSIN_FILES_MAX_BYTES, 10 MB)
START_DEADLINE = 60.0


class ClamdServer:
    """clamd on a Unix socket of ``folder``, with the EICAR hash signature as its whole database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "clamd.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        """Write the database and configuration, start clamd and wait until it answers PING."""
        for tool in ("clamd", "sigtool"):
            if shutil.which(tool, path="/usr/sbin:/usr/bin") is None:
                pytest.fail(f"{tool} is missing: run scripts/ensure-system.sh (Debian clamav-daemon, clamav)")
        signatures = self.folder / "db"
        signatures.mkdir(parents=True, exist_ok=True)
        sample = self.folder / SIGNATURE
        sample.write_bytes(EICAR)
        made = subprocess.run(["sigtool", "--md5", str(sample)], capture_output=True, text=True, check=True)
        (signatures / "tocsin-test.hdb").write_text(made.stdout)
        sample.unlink()
        config = self.folder / "clamd.conf"
        config.write_text(
            f"DatabaseDirectory {signatures}\n"
            f"LocalSocket {self.socket}\n"
            f"PidFile {self.folder / 'clamd.pid'}\n"
            f"LogFile {self.folder / 'clamd.log'}\n"
            "Foreground yes\n"
            f"StreamMaxLength {STREAM_MAX}\n"
            "SelfCheck 0\n"
        )
        self.process = subprocess.Popen(
            ["/usr/sbin/clamd", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = Clamd(self.address, timeout=5)
        deadline = time.monotonic() + START_DEADLINE
        while not client.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.folder / "clamd.log").read_text() if (self.folder / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not answer PING within {START_DEADLINE} s:\n{log[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this test process's clamd listens (started only by tests that ask for ``clamd``)."""
    return tmp_path_factory.getbasetemp() / "clamd" / "clamd.sock"


@pytest.fixture(scope="session")
def clamd(clamd_socket: Path) -> Iterator[ClamdServer]:
    """A running clamd that knows the EICAR test file, shared by the tests of this process."""
    server = ClamdServer(clamd_socket.parent)
    server.start()
    yield server
    server.stop()
