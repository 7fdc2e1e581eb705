#!/usr/bin/env bash
# System (Debian/Ubuntu) packages the test suite uses; called by .ci/run before the tests.
# dcm2niix: an independent DICOM -> NIfTI converter, used by tests/io/test_dcm2niix.py to check our DICOM
# geometry; dicom3tools (dciodvfy): validates the DICOM we write (CT demo series, DICOM SEG).
# The tests skip cleanly when a tool is missing.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if ! command -v dcm2niix >/dev/null 2>&1 || ! command -v dciodvfy >/dev/null 2>&1; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends dcm2niix dicom3tools
fi
dcm2niix -v | head -n 1 || true
