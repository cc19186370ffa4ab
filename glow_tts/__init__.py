"""Glow-TTS, annotated: a modern PyTorch Glow-TTS trained on Korean.

Module names follow the original repository (jaywalnut310/glow-tts) so the two can be
read side by side; see the book's map chapter for what moved where.
"""

__version__ = "0.1.0"
