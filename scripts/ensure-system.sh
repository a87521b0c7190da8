#!/usr/bin/env bash
# Make sure the system parts the tests use are here: Chromium (Debian package), ClamAV's daemon and tools
# (the tests start their own clamd), libmagic, libarchive (RAR attachments are listed through it),
# PostgreSQL running, and for exports the Pango libraries and DejaVu fonts WeasyPrint draws PDFs with,
# and pdftotext (poppler-utils) the tests read PDFs back with.
# Installs what is missing; fails saying what is missing when it cannot. It never skips silently.
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list >/dev/null 2>&1 || need_apt+=(fontconfig)
[ -x /usr/sbin/clamd ] || need_apt+=(clamav-daemon)
command -v sigtool >/dev/null 2>&1 || need_apt+=(clamav)
ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1 ' || need_apt+=(libmagic1)
ldconfig -p 2>/dev/null | grep -q 'libarchive\.so\.13 ' || need_apt+=(libarchive13)  # libarchive-c loads it
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # appeals: signatures checked against openssl cms
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)
[ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)  # minesafe ingestion tests start their own broker
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: need root (or sudo) to apt-get install ${need_apt[*]}" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_ready; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432: starting it"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  pg_ready || { echo "error: PostgreSQL is needed at 127.0.0.1:5432 (trust auth) and could not be started" >&2; exit 1; }
fi
echo "system parts ready: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), $(clamd --version 2>/dev/null | cut -d/ -f1), PostgreSQL on 5432, pdftotext, Pango, DejaVu fonts, $(/usr/sbin/mosquitto -h 2>/dev/null | head -1)"
