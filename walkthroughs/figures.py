"""Drawing helpers for the walkthroughs: each function draws one figure from data that
the walkthrough computed, so the page's cell shows what is drawn, not how.

Not a walkthrough (the harness collects only ``NN_slug.py``); the walkthroughs import it
as ``figures`` (their working directory is ``walkthroughs/``). Labels are English.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch


def _box(ax, x, y, w, h, text, color="#dbe8f5", fontsize=8):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color,
                                ec="0.3", lw=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="0.3", style="-|>", lw=0.8):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9,
                                 color=color, lw=lw))


def rank_layout(reports: list[dict], endpoint: str):
    """Nodes, global and local ranks and the rendezvous of a torchrun job.

    ``reports``: one dict per process as ``glow_tts.distributed.probe`` writes it, with
    ``env`` holding torchrun's ``RANK``, ``LOCAL_RANK``, ``GROUP_RANK``; ``endpoint`` is
    the ``--rdzv-endpoint``.
    """
    nodes: dict[int, list[dict]] = {}
    for r in reports:
        nodes.setdefault(int(r["env"]["GROUP_RANK"]), []).append(r)
    per_node = max(len(v) for v in nodes.values())
    width = 2.6 * per_node + 0.6
    fig, ax = plt.subplots(figsize=(2.9 * len(nodes) * per_node / 2 + 1.5, 3.4))
    _box(ax, len(nodes) * width / 2 - 1.6, 3.1, 3.2, 0.6,
         f"rendezvous (c10d store)\n{endpoint}", color="#f7e3c4")
    for n, (node, members) in enumerate(sorted(nodes.items())):
        x0 = n * width
        ax.add_patch(FancyBboxPatch((x0 + 0.1, 0.1), width - 0.3, 2.3,
                                    boxstyle="round,pad=0.02", fc="0.96", ec="0.5"))
        ax.text(x0 + 0.25, 2.2, f"node {node} (GROUP_RANK={node})", fontsize=8, va="top")
        for k, r in enumerate(sorted(members, key=lambda r: int(r["env"]["LOCAL_RANK"]))):
            x = x0 + 0.3 + k * 2.6
            _box(ax, x, 0.35, 2.3, 1.3,
                 f"global rank {r['env']['RANK']}\nlocal rank {r['env']['LOCAL_RANK']}\n"
                 f"pid {r['pid']}")
            _arrow(ax, (x + 1.15, 1.7), (len(nodes) * width / 2, 3.05), color="#b07020",
                   style="<|-|>")
    ax.text(len(nodes) * width / 2, -0.2,
            f"world size {len(reports)} = {len(nodes)} nodes x {per_node} processes;  "
            "global rank = GROUP_RANK x processes per node + LOCAL_RANK",
            ha="center", va="top", fontsize=8)
    ax.set(xlim=(-0.1, len(nodes) * width), ylim=(-0.5, 3.9))
    ax.axis("off")
    plt.tight_layout()
    plt.show()
    return fig
