"""Moderation of user text: operator-edited term lists by category, the checks every text surface runs, and
the append-only log of their decisions."""
