"""The use cases behind the HTTP API, as one bundle the REST function builds once per container."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from chatcore.service.accounts import AccountService
    from chatcore.service.attachments import AttachmentService
    from chatcore.service.directory import DirectoryService
    from chatcore.service.profiles import ProfileService
    from chatcore.service.rooms import RoomService
    from chatcore.service.search import SearchService
    from chatcore.service.tags import TagService


class ApiServices(NamedTuple):
    """What the routes call; handed to each request through the resolver's context."""

    accounts: AccountService
    profiles: ProfileService
    rooms: RoomService
    tags: TagService
    directory: DirectoryService
    search: SearchService
    attachments: AttachmentService
