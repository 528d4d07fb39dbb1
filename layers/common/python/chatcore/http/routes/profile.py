"""``/profile`` and ``/users/{username}``: the caller's own profile and other users' public ones."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from chatcore.http.models import DeleteAccountRequest, ProfileOut, ProfileUpdate, UserOut
from chatcore.http.routing import (
    BEARER,
    CONFLICT,
    FORBIDDEN,
    NO_CONTENT,
    NOT_FOUND,
    OK,
    UNAUTHORIZED,
    area_router,
    caller,
    documented,
    no_content,
    services,
)
from chatcore.http.views import profile_view

router = area_router()


@router.get("/profile", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["profile"])
def get_profile() -> ProfileOut:
    """The caller's profile."""
    return profile_view(services(router).profiles.own(caller(router)))


@router.patch("/profile", security=BEARER, responses=documented(OK, UNAUTHORIZED, CONFLICT), tags=["profile"])
def update_profile(body: ProfileUpdate) -> ProfileOut:
    """Change nickname, avatar or email; a field left out stays, ``null`` clears it; 409 for a nickname that is
    (or folds to) another user's username."""
    identity = caller(router)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return profile_view(services(router).profiles.update(identity, changes))


@router.get("/users/<username>", security=BEARER, responses=documented(OK, UNAUTHORIZED, NOT_FOUND), tags=["profile"])
def get_user(username: str) -> UserOut:
    """Another user's public profile."""
    caller(router)  # only signed-in users look people up
    user = services(router).profiles.by_username(username)
    return UserOut(id=user.id, username=user.username, nickname=user.nickname, avatar=user.avatar)


@router.delete(
    "/profile",
    status_code=204,
    security=BEARER,
    responses=documented(NO_CONTENT, UNAUTHORIZED, FORBIDDEN),
    tags=["profile"],
)
def delete_account(body: DeleteAccountRequest) -> Response[None]:
    """Delete the caller's account (the password confirms it); its open connections are closed at once."""
    services(router).accounts.delete_account(caller(router), body.password)
    return no_content()
