"""Korean speech from eSpeak NG, called through ctypes.

The PyPI package ``espeakng-loader`` ships ``libespeak-ng`` (1.52) together with its data
folder (which holds ``ko_dict``), so no system package is needed. We drive the C API
directly:

1. ``espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, DONT_EXIT)``: synchronous
   mode hands the samples to a callback instead of playing them; it returns the engine's
   sample rate (22,050 Hz).
2. ``espeak_SetSynthCallback(cb)``: ``cb(short *wav, int n, espeak_EVENT *events)`` gets
   int16 samples chunk by chunk; returning 0 means "keep going".
3. ``espeak_SetVoiceByName("ko")``, a fixed rate and pitch.
4. ``espeak_Synth(text, size, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL)`` then
   ``espeak_Synchronize()``.

The library keeps global state, so there is one engine per process (:func:`get_engine`).
Part of that state carries over from one utterance to the next (the pitch-flutter index
and the glottal waveform phase sit in C statics that not even ``espeak_Initialize``
resets), so the same text spoken twice in one process differs in the last bits. The
sequence is deterministic, though: a fresh process that speaks the same texts in the same
order produces identical samples, which is how ``build_corpus`` stays byte-identical.

Known limits of the Korean voice: digits are always read as Sino-Korean numbers (so we
synthesize the *expanded* column, where numbers are spelled out), Latin letters switch to
an English voice, and there are no nasalisation or tensing rules. The speech is robotic;
for teaching alignment that is fine.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np
from glow_tts.errors import GlowTTSError

ESPEAK_SAMPLE_RATE = 22050  # what libespeak-ng produces; checked at start-up

# Constants from speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000  # return an error code instead of calling exit()
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1   # words per minute, default 175
ESPEAK_PITCH = 3  # 0-100, default 50
EE_OK = 0

# A fixed speaking rate and pitch (eSpeak's defaults, set explicitly so a change of defaults in
# a later libespeak-ng cannot silently change the corpus).
DEFAULT_RATE_WPM = 175
DEFAULT_PITCH = 50

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(GlowTTSError, RuntimeError):
    """eSpeak NG could not be loaded or refused a request."""


class EspeakKorean:
    """One initialised eSpeak NG engine with the Korean voice selected.

    Use :func:`get_engine` rather than constructing it: libespeak-ng is a process-wide
    singleton and initialising it twice in one process is not supported.
    """

    def __init__(self, rate_wpm: int = DEFAULT_RATE_WPM, pitch: int = DEFAULT_PITCH):
        try:
            import espeakng_loader
        except ImportError as e:  # pragma: no cover - it is in requirements.txt
            raise EspeakError(
                "the corpus needs the PyPI package espeakng-loader "
                "(pip install -r requirements.txt)"
            ) from e
        library_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as e:
            raise EspeakError(f"cannot load libespeak-ng from {library_path}: {e}") from e

        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int

        sample_rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode("utf-8"), ESPEAK_INITIALIZE_DONT_EXIT
        )
        if sample_rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (code {sample_rate}) with data at {data_path}")
        self.sample_rate = sample_rate
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()  # the engine and self._chunks are shared state

        # Keep a reference to the callback object: if it were garbage-collected, the
        # C library would call freed memory.
        def on_samples(wav, n_samples, events):
            if n_samples > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
            return 0

        self._callback = _SYNTH_CALLBACK(on_samples)
        lib.espeak_SetSynthCallback(self._callback)
        if lib.espeak_SetVoiceByName(b"ko") != EE_OK:
            raise EspeakError(f"eSpeak NG has no Korean voice 'ko' in {data_path}")
        lib.espeak_SetParameter(ESPEAK_RATE, rate_wpm, 0)
        lib.espeak_SetParameter(ESPEAK_PITCH, pitch, 0)

    def synthesize(self, text: str) -> np.ndarray:
        """Speak ``text`` (UTF-8, Hangul) and return int16 samples ``[T]`` at
        ``self.sample_rate`` Hz, untrimmed (eSpeak leaves some silence at the end)."""
        if not text.strip():
            raise ValueError("cannot synthesize empty text")
        encoded = text.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks = []
            code = self._lib.espeak_Synth(
                encoded, len(encoded), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None
            )
            if code != EE_OK:
                raise EspeakError(f"espeak_Synth failed (code {code}) for text {text!r}")
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if not chunks:
            raise EspeakError(f"eSpeak NG produced no audio for {text!r}")
        return np.concatenate(chunks).astype(np.int16, copy=False)


_ENGINE: EspeakKorean | None = None


def get_engine() -> EspeakKorean:
    """The process's eSpeak NG engine, created on first use (about 20 ms)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = EspeakKorean()
        if _ENGINE.sample_rate != ESPEAK_SAMPLE_RATE:  # pragma: no cover - a different build
            raise EspeakError(
                f"libespeak-ng runs at {_ENGINE.sample_rate} Hz, expected {ESPEAK_SAMPLE_RATE}"
            )
    return _ENGINE


def synthesize(text: str) -> np.ndarray:
    """int16 samples ``[T]`` at 22,050 Hz for Korean ``text`` (see :class:`EspeakKorean`)."""
    return get_engine().synthesize(text)
