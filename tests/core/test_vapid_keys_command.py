"""``tocsin notify vapid-keys`` makes the key pair for Web Push: the private key in a file only its owner
reads, the public key (what browsers subscribe with) on standard output; an existing file is kept."""

from __future__ import annotations

import base64
import stat

from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.core.outbox.transports.push import load_vapid_key, public_key_of


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_the_pair_is_written_and_the_public_key_printed(tmp_path):
    target = tmp_path / "vapid.pem"
    done = run("notify", "vapid-keys", "--out", str(target))
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    public = done.stdout.strip().splitlines()[-1]
    assert public == public_key_of(load_vapid_key(target.read_text()))
    raw = base64.urlsafe_b64decode(public + "=" * (-len(public) % 4))
    assert len(raw) == 65 and raw[0] == 4  # an uncompressed P-256 point
    assert "TOCSIN_VAPID_PRIVATE_KEY_FILE" in done.output


def test_an_existing_key_file_is_never_overwritten(tmp_path):
    target = tmp_path / "vapid.pem"
    target.write_text("keep me")
    done = run("notify", "vapid-keys", "--out", str(target))
    assert done.exit_code == 2 and "exists" in done.output
    assert target.read_text() == "keep me"
