"""The one base class of every error a user can cause and fix.

A bad config key, a missing or unreadable file, a filelist line, text with a character
the frontend cannot read, a checkpoint that does not fit the model: each is raised as a
subclass of :class:`GlowTTSError` where it is found, with a message that names the file,
line, key or value and says what to do. The command line (``python -m glow_tts``) prints
such an error as one line and exits with status 2; anything else is a bug and keeps its
traceback.

This module is plain Python (no torch), so ``glow_tts.text`` can use it too.
"""


class GlowTTSError(Exception):
    """An error the user caused and can fix; its message is the whole report."""
