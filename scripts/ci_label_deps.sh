#!/usr/bin/env bash
# System packages for the MONAI Label tests (tests/label): a real Orthanc PACS with its DICOMweb plugin.
# The tests start Orthanc themselves on 127.0.0.1 with their own configuration in a temporary folder; the
# Debian service that the package installs is not needed and is stopped and disabled when systemd runs it.
# Usage (as root, or through sudo): bash scripts/ci_label_deps.sh
set -euo pipefail

if command -v Orthanc >/dev/null 2>&1 && [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
    echo "orthanc and orthanc-dicomweb already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101 keeps dpkg from starting the packaged service while it installs.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    CREATED_POLICY=1
fi
$SUDO apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb
if [ "$CREATED_POLICY" = "1" ]; then $SUDO rm -f "$POLICY"; fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now orthanc >/dev/null 2>&1 || true
fi
echo "installed: $(Orthanc --version 2>/dev/null | head -n 1)"
