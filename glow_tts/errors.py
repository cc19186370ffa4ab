"""The one base class of every error a user can cause and fix.

A bad config key, a missing or unreadable file, a filelist line, text with a character
the frontend cannot read, a checkpoint that does not fit the model: each is raised as a
subclass of :class:`GlowTTSError` where it is found, with a message that names the file,
line, key or value and says what to do. The command line (``python -m glow_tts``) prints
such an error as one line and exits with status 2; anything else is a bug and keeps its
traceback.

:func:`read_text_lines` is the one reader of the text files a user hands in (filelists,
KSS transcripts, configs, ``synthesize --file``), so a file saved in another encoding is
reported the same way everywhere. This module is plain Python (no torch), so
``glow_tts.text`` can use it too.
"""


class GlowTTSError(Exception):
    """An error the user caused and can fix; its message is the whole report."""


class TextEncodingError(GlowTTSError, ValueError):
    """A text file (filelist, transcript, config, lines to synthesize) is not UTF-8."""


def read_text_lines(path: str) -> list[str]:
    """The lines of a UTF-8 text file (a BOM is tolerated), without their line ends.

    Line ``i`` of the result is line ``i + 1`` of the file (``\r\n``, ``\r`` and ``\n``
    all end a line). A byte that is not UTF-8 (for example a Korean file saved as EUC-KR
    or CP949) raises :class:`TextEncodingError` naming the file and line, instead of a
    ``UnicodeDecodeError`` that names neither.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise TextEncodingError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save it as UTF-8, "
            f"e.g. iconv -f CP949 -t UTF-8 {path} > utf8.txt") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines
