"""Browsing the media paths' folders, under ``/api/v1/media/folders``: how the Options page lets a user pick
library folders instead of typing them. The rules that keep it inside the media paths are in
``folder_tree``."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from .. import folder_tree
from ..access import ADMIN
from .dependencies import MediaPaths

router = APIRouter(tags=["settings"])


class SubfolderOut(BaseModel):
    name: str
    path: str = Field(description="where the folder really is (a symlink's target), inside the media paths")


class FolderListingOut(BaseModel):
    path: str | None = Field(description="the folder listed; null: the media paths themselves")
    parent: str | None = Field(description="the folder above, when it is inside the media paths")
    folders: list[SubfolderOut]
    truncated: bool = Field(description=f"more than {folder_tree.LIMIT} subfolders: the first ones by name")


@router.get(
    "/media/folders",
    dependencies=ADMIN,  # it shows the file tree
    response_model=FolderListingOut,
    summary="The subfolders of a folder inside the media paths",
    description=(
        "Without `path`: the media paths. With it: that folder's subfolders (dot folders left out, at most "
        f"{folder_tree.LIMIT}). The path must be absolute, without NUL or `..`, and really lie inside "
        "MEDIA_PATHS (symlinks are followed only where they stay inside): otherwise 400. A folder that does "
        "not exist or cannot be read: 404."
    ),
)
async def list_folders(
    media_paths: MediaPaths,
    path: Annotated[str | None, Query(max_length=4096, description="an absolute folder")] = None,
) -> dict[str, Any]:
    if path is None:
        return dataclasses.asdict(folder_tree.top(media_paths))
    try:
        listing = await asyncio.to_thread(folder_tree.subfolders, path, media_paths)
    except folder_tree.Refused as error:
        raise HTTPException(400, str(error)) from None
    except folder_tree.Unlistable as error:
        raise HTTPException(404, error.strerror or "cannot list it") from None
    return dataclasses.asdict(listing)
