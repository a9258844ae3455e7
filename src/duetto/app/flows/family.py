"""A linked parent changing a teen's controls: the controls themselves (wellbeing) and what they no longer
allow narrowed at once, in one transaction — characters wider than the new ceiling come down to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from duetto.app.characters import permissions
from duetto.app.db.models import TeenControls
from duetto.app.wellbeing import family, teens


def set_teen_controls(*, session: Session, parent_id: str, teen_id: str, change: teens.ControlsChange) -> TeenControls:
    """Committed; NotFound unless `parent_id` is the teen's linked parent."""
    controls = family.set_controls(session=session, parent_id=parent_id, teen_id=teen_id, change=change)
    permissions.narrow_to(session=session, owner_id=teen_id, level=controls.character_level)
    session.commit()
    return controls
