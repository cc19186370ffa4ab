"""``import glow_tts.fonts.register`` registers the bundled Hangul font with matplotlib:
the one-line form for notebooks and walkthroughs (see :func:`glow_tts.fonts.register_hangul_font`)."""

from glow_tts.fonts import register_hangul_font

register_hangul_font()
