"""Profiles, followers and following, finding people, and follow / block / restrict buttons."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from duetto.app.api.deps import SessionDep
from duetto.app.core.errors import NotFound
from duetto.app.db.models import Account
from duetto.app.social import discovery, graph
from duetto.app.social import posts as posts_service
from duetto.app.users import accounts
from duetto.app.users.handles import normalize_handle
from duetto.app.web.deps import AccountDep, Csrf, ViewerDep, render, safe_next, wants_json
from duetto.app.wellbeing import safety

router = APIRouter(include_in_schema=False)


def _profile(session: SessionDep, handle: str, viewer_id: str | None) -> Account:
    """The profile's account; someone who blocked the viewer shows as not found (blocks hide both ways)."""
    account = accounts.get_account(session=session, handle=handle)
    if account is None or (viewer_id and graph.relation(session=session, viewer_id=viewer_id,
                                                        other_id=account.user_id).blocked_by):
        raise NotFound(f"No one here goes by @{normalize_handle(handle)}.")
    return account


@router.get("/people")
def find_people(request: Request, session: SessionDep, viewer: ViewerDep, q: str = "") -> Response:
    """Search by handle or name, and people you may know."""
    found = discovery.search(session=session, viewer_id=viewer.user_id, query=q)
    suggested = discovery.suggestions(session=session, viewer_id=viewer.user_id) if viewer.user_id else []
    return render(request, "people_search.html", {"q": q[:discovery.MAX_QUERY], "found": found,
                                                  "suggested": suggested}, session=session)


@router.get("/@{handle}")
def profile(request: Request, handle: str, session: SessionDep, viewer: ViewerDep) -> Response:
    account = _profile(session, handle, viewer.user_id)
    relation = graph.relation(session=session, viewer_id=viewer.user_id, other_id=account.user_id)
    found = [] if relation.blocking else posts_service.user_posts(session=session, user_id=account.user_id)
    context = {
        "account": account, "relation": relation,
        # Counted as the grid and the follower lists below show them to this viewer.
        "counts": graph.counts(session=session, user_id=account.user_id, viewer_id=viewer.user_id,
                               posts=0 if relation.blocking else posts_service.visible_post_count(
                                   session=session, user_id=account.user_id, viewer_id=viewer.user_id,
                                   include_held=viewer.is_admin)),
        "cards": posts_service.cards(session=session, posts=found, viewer_id=viewer.user_id,
                                     include_held=viewer.is_admin),
        "is_me": viewer.user_id == account.user_id,
        "restricted": bool(viewer.user_id) and safety.is_restricted(session=session, user_id=viewer.user_id,
                                                                    other_id=account.user_id),
    }
    return render(request, "profile.html", context, session=session)


@router.get("/@{handle}/{direction}")
def people_list(request: Request, handle: str, direction: str, session: SessionDep, viewer: ViewerDep) -> Response:
    if direction not in ("followers", "following"):
        raise NotFound("There is no page here.")
    account = _profile(session, handle, viewer.user_id)
    hidden = graph.blocked_ids(session=session, viewer_id=viewer.user_id) if viewer.user_id else set()
    listed = [a for a in graph.people(session=session, user_id=account.user_id, direction=direction)
              if a.user_id not in hidden]
    mutuals = graph.mutual_ids(session=session, user_id=viewer.user_id) if viewer.user_id else set()
    return render(request, "people.html", {"account": account, "direction": direction, "people": listed,
                                           "mutuals": mutuals}, session=session)


def _act(request: Request, handle: str, session: SessionDep, me: Account, action: str) -> Response:
    other = accounts.get_account(session=session, handle=handle)
    if other is None:
        raise NotFound(f"No one here goes by @{normalize_handle(handle)}.")
    {"follow": graph.follow, "unfollow": graph.unfollow, "block": graph.block, "unblock": graph.unblock,
     "restrict": safety.restrict, "unrestrict": safety.unrestrict}[action](
        session=session, viewer_id=me.user_id, other_id=other.user_id)
    if wants_json(request):
        relation = graph.relation(session=session, viewer_id=me.user_id, other_id=other.user_id)
        return JSONResponse({"following": relation.following, "mutual": relation.mutual,
                             "blocking": relation.blocking})
    return RedirectResponse(safe_next(request.query_params.get("next"), f"/@{other.handle}"), status_code=303)


@router.post("/@{handle}/follow", dependencies=[Csrf])
def follow(request: Request, handle: str, session: SessionDep, account: AccountDep) -> Response:
    return _act(request, handle, session, account, "follow")


@router.post("/@{handle}/unfollow", dependencies=[Csrf])
def unfollow(request: Request, handle: str, session: SessionDep, account: AccountDep) -> Response:
    return _act(request, handle, session, account, "unfollow")


@router.post("/@{handle}/block", dependencies=[Csrf])
def block(request: Request, handle: str, session: SessionDep, account: AccountDep) -> Response:
    return _act(request, handle, session, account, "block")


@router.post("/@{handle}/unblock", dependencies=[Csrf])
def unblock(request: Request, handle: str, session: SessionDep, account: AccountDep) -> Response:
    return _act(request, handle, session, account, "unblock")


@router.post("/@{handle}/restrict", dependencies=[Csrf])
def restrict(request: Request, handle: str, session: SessionDep, account: AccountDep) -> Response:
    return _act(request, handle, session, account, "restrict")


@router.post("/@{handle}/unrestrict", dependencies=[Csrf])
def unrestrict(request: Request, handle: str, session: SessionDep, account: AccountDep) -> Response:
    return _act(request, handle, session, account, "unrestrict")
