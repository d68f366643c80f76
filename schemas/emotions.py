"""The four emotion classes, in the order every classifier output uses (PAPER.md section 1).

The Avro enum ``io.moodstream.Emotion`` lists the same symbols; a test keeps the two equal.
"""

from __future__ import annotations

__all__ = ["EMOTIONS"]

#: Valence/arousal quadrants, in class order.
EMOTIONS: tuple[str, ...] = ("sad", "happy", "angry", "calm")
