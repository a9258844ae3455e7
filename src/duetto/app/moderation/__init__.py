"""Moderation of user text: operator-edited term lists by category, the checks every text surface runs, and
the append-only log of their decisions.

`check_text` is what a surface calls (it logs); `public_figure_match` answers whether text names a listed
public figure. Edit the lists with `duetto moderation` or the /mod/moderation page.
"""

from duetto.app.moderation.check import (
    Decision,
    ModerationRefused,
    check_text,
    evaluate,
    public_figure_match,
    require_allowed,
)

__all__ = ["Decision", "ModerationRefused", "check_text", "evaluate", "public_figure_match", "require_allowed"]
