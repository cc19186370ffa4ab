"""The Hangul font the project ships: NanumGothic (SIL Open Font License 1.1, see OFL.txt).

matplotlib's own fonts have no Hangul, so Korean labels would come out as boxes.
:func:`register_hangul_font` adds the bundled TTF to matplotlib's font manager and makes it
the default family; the walkthroughs, the demo's figures and the book build use it.
"""

from __future__ import annotations

from pathlib import Path

FONT_FAMILY = "NanumGothic"
FONT_PATH = Path(__file__).resolve().parent / "NanumGothic.ttf"


def register_hangul_font() -> str:
    """Register NanumGothic with matplotlib and use it for all text; returns the family name.

    Glyphs NanumGothic lacks fall back to DejaVu Sans (matplotlib's default). The minus sign
    is drawn as a hyphen, since NanumGothic has no U+2212. Calling it again is harmless.
    """
    import matplotlib
    from matplotlib import font_manager

    if FONT_FAMILY not in {entry.name for entry in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(FONT_PATH))
    matplotlib.rcParams["font.family"] = [FONT_FAMILY, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return FONT_FAMILY
