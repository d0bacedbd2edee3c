"""Screenshots for the docs, from real runs on a virtual screen (run under ``xvfb-run -s "-screen 0 1280x800x24"``).

``screenshots/own-window.png``: ``napari-histeq`` as it first opens, after pressing Equalize.
``screenshots/plugins-menu.png``: plain napari with both widgets added as the Plugins menu adds them.
Each run gets a napari settings file of its own, so a user's saved layout changes nothing.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "screenshots"

PLUGINS_MENU = "import sys; from napari_histeq._napari.window import plugins_menu_view; plugins_menu_view(sys.argv[1])"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as settings:
        runs = [
            [sys.executable, "-m", "napari_histeq", "--screenshot", str(OUT / "own-window.png")],
            [sys.executable, "-c", PLUGINS_MENU, str(OUT / "plugins-menu.png")],
        ]
        for number, command in enumerate(runs):
            env = {**os.environ, "NAPARI_CONFIG": str(Path(settings) / f"napari-{number}.yaml")}
            subprocess.run(command, check=True, env=env)
    print(f"wrote {', '.join(str(path) for path in sorted(OUT.glob('*.png')))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
