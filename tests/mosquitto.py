"""A Mosquitto broker of the test's own on a free loopback port (never the machine's shared one), which a
test can stop and start again on the same port."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support import free_port

MOSQUITTO = Path("/usr/sbin/mosquitto")


class Mosquitto:
    def __init__(self, folder: Path) -> None:
        assert MOSQUITTO.exists(), (
            "mosquitto is missing: run scripts/ensure-system.sh (Debian package mosquitto)"
        )
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.log = folder / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"mosquitto exited: {self.log.read_text()[-500:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen on {self.port} within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
