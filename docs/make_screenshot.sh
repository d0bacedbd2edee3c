#!/usr/bin/env bash
# The README's screenshot, from a real run of the command as a new user meets it: napari-histeq
# on a 1600x1000 virtual screen with fresh napari settings presses Equalize, waits for the plots
# and saves the whole window. Run from the repository root: bash docs/make_screenshot.sh
set -euo pipefail
settings=$(mktemp -d)
trap 'rm -rf "$settings"' EXIT
NAPARI_CONFIG="$settings/napari.yaml" xvfb-run -a -s "-screen 0 1600x1000x24" \
    napari-histeq --screenshot docs/viewer.png
echo "wrote docs/viewer.png"
