"""The bundled Hangul font: shipped with its licence, registered with matplotlib, and used."""

import warnings

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from glow_tts.fonts import FONT_FAMILY, FONT_PATH, register_hangul_font


def draw(text):
    fig = Figure()
    FigureCanvasAgg(fig)
    fig.text(0.1, 0.5, text)
    fig.canvas.draw()


def test_font_and_its_licence_are_shipped():
    assert FONT_PATH.is_file() and FONT_PATH.stat().st_size > 1_000_000
    licence = (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE" in licence and "NAVER" in licence


def test_registered_font_draws_hangul_without_missing_glyphs():
    saved = matplotlib.rcParams.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")            # "Glyph ... missing from font(s)" fails
            assert register_hangul_font() == FONT_FAMILY
            register_hangul_font()                     # again: harmless
            found = font_manager.findfont(font_manager.FontProperties(family=FONT_FAMILY),
                                          fallback_to_default=False)
            assert found == str(FONT_PATH)
            draw("한국어 음성 합성 -1")
        assert sum(entry.name == FONT_FAMILY and entry.fname == str(FONT_PATH)
                   for entry in font_manager.fontManager.ttflist) == 1
    finally:
        matplotlib.rcParams.update(saved)
