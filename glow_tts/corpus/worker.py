"""A child process that speaks sentences for :func:`glow_tts.corpus.build_corpus`.

Why a separate process: eSpeak NG keeps some synthesis state in C statics from one
utterance to the next, so the samples of a sentence depend on everything the engine spoke
before in that process. A freshly started interpreter that speaks the corpus in file order
always produces the same bytes, whatever the calling program (a notebook, a test run, the
demo) synthesized earlier.

Why not ``multiprocessing``: its "spawn" start method re-imports the caller's main script
in the child, which breaks scripts without an ``if __name__ == "__main__"`` guard, and
"fork" would copy the caller's (possibly used) engine. A plain ``python -m`` child has
neither problem.

Protocol, one request at a time: the parent writes one JSON line
``{"text": ..., "sampling_rate": ...}`` to stdin; the child answers on stdout with a
4-byte little-endian sample count followed by that many little-endian int16 samples.
End of stdin ends the child.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np


def serve(requests, replies) -> None:
    """Answer requests from the text stream ``requests`` on the binary stream ``replies``."""
    from glow_tts.corpus.build import synthesize_sentence

    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        samples = synthesize_sentence(request["text"], request["sampling_rate"])
        replies.write(struct.pack("<I", len(samples)))
        replies.write(samples.astype("<i2", copy=False).tobytes())
        replies.flush()


class FreshSpeaker:
    """Context manager around one worker process::

        with FreshSpeaker() as speaker:
            samples = speaker.speak("안녕하세요.", 22050)   # int16 [T]
    """

    def __enter__(self) -> "FreshSpeaker":
        import glow_tts

        # Make the child find this very package even when it is not installed.
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(glow_tts.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glow_tts.corpus.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )
        return self

    def speak(self, text: str, sampling_rate: int) -> np.ndarray:
        request = json.dumps({"text": text, "sampling_rate": sampling_rate}, ensure_ascii=False)
        try:
            self.process.stdin.write(request.encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the child died; reported below
        header = self.process.stdout.read(4)
        if len(header) != 4:
            from glow_tts.corpus.build import CorpusError

            code = self.process.wait()
            raise CorpusError(
                f"the eSpeak worker process exited (status {code}) while speaking {text!r}; "
                "its error message is printed above"
            )
        (n_samples,) = struct.unpack("<I", header)
        data = self.process.stdout.read(2 * n_samples)
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

    def __exit__(self, *exc_info) -> None:
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


if __name__ == "__main__":
    import io

    serve(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8"), sys.stdout.buffer)
