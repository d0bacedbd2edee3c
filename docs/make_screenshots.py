"""Screenshots for the docs, from real runs on a virtual screen (run under ``xvfb-run -s "-screen 0 1280x800x24"``).

``screenshots/own-window.png``: ``napari-histeq`` as it first opens, after pressing Equalize.
``screenshots/plugins-menu.png``: plain napari with both widgets added as the Plugins menu adds them.
``screenshots/plugins-menu-default.png``: the same in napari's own first window (about 1090x630), not resized.
``screenshots/ct-phantom.png``: the CT phantom's middle slice as stored, through a CT window, equalised,
and through CLAHE with regions of 30 mm (matplotlib, no window needed).
Each run gets a napari settings file of its own, so a user's saved layout changes nothing.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "screenshots"

PLUGINS_MENU = ("import sys; from napari_histeq._napari.window import plugins_menu_view; "
                "plugins_menu_view(sys.argv[1], window=sys.argv[2])")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as settings:
        runs = [
            [sys.executable, "-m", "napari_histeq", "--screenshot", str(OUT / "own-window.png")],
            [sys.executable, "-c", PLUGINS_MENU, str(OUT / "plugins-menu.png"), "screen"],
            [sys.executable, "-c", PLUGINS_MENU, str(OUT / "plugins-menu-default.png"), "default"],
        ]
        for number, command in enumerate(runs):
            env = {**os.environ, "NAPARI_CONFIG": str(Path(settings) / f"napari-{number}.yaml")}
            subprocess.run(command, check=True, env=env)
    ct_figure(OUT / "ct-phantom.png")
    print(f"wrote {', '.join(str(path) for path in sorted(OUT.glob('*.png')))}")
    return 0


def ct_figure(path: Path) -> None:
    """The CT phantom's middle slice: as stored, the abdomen window, equalised, CLAHE in millimetres."""
    from matplotlib.figure import Figure

    import napari_histeq as nh

    ct = nh.ct_phantom()
    middle = ct.shape[0] // 2
    panels = [
        ("stored Hounsfield units", ct[middle]),
        ("window: abdomen (50, 400)", nh.stretch_contrast(ct, window="abdomen", out_range=(0, 255))[middle]),
        ("equalised (whole volume)", nh.equalize(ct)[middle]),
        ("CLAHE, regions of 30 mm, clip 0.05", nh.equalize_adapthist(ct, kernel_size_mm=30, clip_limit=0.05,
                                                                    spacing=nh.CT_PHANTOM_SPACING)[middle]),
    ]
    figure = Figure(figsize=(12, 3.4))
    for ax, (title, image) in zip(figure.subplots(1, 4), panels):
        ax.imshow(image, cmap="gray", aspect=nh.CT_PHANTOM_SPACING[1] / nh.CT_PHANTOM_SPACING[2])
        ax.set_title(title, fontsize="small")
        ax.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
