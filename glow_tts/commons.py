"""Small tensor helpers shared by the model, the losses and the training loop."""

from __future__ import annotations


def intersperse(seq: list, item) -> list:
    """``[a, b, c] -> [item, a, item, b, item, c, item]`` (the ``add_blank`` layout).

    A sequence of length n becomes 2n + 1 long: every symbol sits between two blanks.
    """
    result = [item] * (len(seq) * 2 + 1)
    result[1::2] = seq
    return result
