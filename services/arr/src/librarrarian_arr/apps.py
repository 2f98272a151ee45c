"""What differs between Sonarr, Radarr and Lidarr for what we ask of them: the API's prefix, what the owner of a
file is called (a series, a movie, an artist) and how it is named in their resources and commands. Pure.

Every operation used here is in the apps' OpenAPI documents (``../shared/specs``): ``GET system/status``,
``GET series|movie|artist``, ``GET rename``, ``GET wanted/cutoff``, ``GET qualityprofile``,
``GET trackfile`` (Lidarr), ``POST command`` and ``GET command/{id}``. The documents describe a command's
resource but not each command's own fields; those (``seriesId``, ``files``, …) are the apps' command classes'
(``RenameFilesCommand``, ``RescanSeriesCommand``, …), sent by name like their own web pages send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from librarrarian_contracts import ArrApp


@dataclass(frozen=True)
class AppApi:
    app: ArrApp
    name: str  # as the app calls itself in system/status's appName
    prefix: str
    items: str  # the resource that owns files: series, movie, artist
    item_id: str  # the owner's id in queries, resources and commands: seriesId, movieId, artistId
    title: str  # the owner's display name field
    file_id: str  # a rename resource's file id field

    def path(self, tail: str) -> str:
        return f"{self.prefix}/{tail}"

    def rename_files(self, item_id: int, file_ids: list[int]) -> dict[str, Any]:
        return {"name": "RenameFiles", self.item_id: item_id, "files": file_ids}

    def rescan(self, item_id: int, item_path: str) -> dict[str, Any]:
        """Have the app look at the owner's files again (new codec, new size, a new extension)."""
        if self.app is ArrApp.SONARR:
            return {"name": "RescanSeries", "seriesId": item_id}
        if self.app is ArrApp.RADARR:
            return {"name": "RescanMovie", "movieId": item_id}
        return {"name": "RescanFolders", "folders": [item_path], "artistIds": [item_id]}

    def cutoff_params(self, page: int, page_size: int) -> dict[str, str | int]:
        params: dict[str, str | int] = {"page": page, "pageSize": page_size, "monitored": "true"}
        if self.app is ArrApp.SONARR:
            params |= {"includeSeries": "true", "includeEpisodeFile": "true"}
        elif self.app is ArrApp.LIDARR:
            params |= {"includeArtist": "true"}
        return params


APPS: dict[ArrApp, AppApi] = {
    ArrApp.SONARR: AppApi(ArrApp.SONARR, "Sonarr", "/api/v3", "series", "seriesId", "title", "episodeFileId"),
    ArrApp.RADARR: AppApi(ArrApp.RADARR, "Radarr", "/api/v3", "movie", "movieId", "title", "movieFileId"),
    ArrApp.LIDARR: AppApi(
        ArrApp.LIDARR, "Lidarr", "/api/v1", "artist", "artistId", "artistName", "trackFileId"
    ),
}


def join(folder: str, relative: str) -> str:
    """An owner's folder and a path the app gives relative to it (its rename preview's), with the folder's
    own separator (a Windows server's backslashes)."""
    separator = "\\" if "\\" in folder else "/"
    return folder.rstrip("\\/") + separator + relative.replace("/" if separator == "\\" else "\\", separator)


def within(path: str, folder: str) -> bool:
    """Whether the app's ``path`` lies in the app's ``folder`` (whole components; a Windows path whatever its
    case)."""
    path, folder = path.replace("\\", "/"), folder.replace("\\", "/").rstrip("/")
    if len(folder) >= 2 and folder[1] == ":":
        path, folder = path.lower(), folder.lower()
    return bool(folder) and path.startswith(folder + "/")


def owner_of(path: str, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The series, movie or artist whose folder holds ``path`` (the app's own view of both), the deepest
    when folders nest; None when no folder does."""
    holding = [i for i in items if isinstance(i.get("path"), str) and within(path, i["path"])]
    return max(holding, key=lambda i: len(i["path"]), default=None)


def quality_name(file: dict[str, Any] | None) -> str:
    quality = ((file or {}).get("quality") or {}).get("quality") or {}
    return str(quality.get("name") or "")


def cutoff_name(profile: dict[str, Any] | None) -> str:
    """The name of the quality (or group) a profile's ``cutoff`` points at."""
    if not profile:
        return ""
    cutoff = profile.get("cutoff")
    for item in profile.get("items") or ():
        quality = item.get("quality") or {}
        if item.get("id") == cutoff and item.get("name"):
            return str(item["name"])
        if quality.get("id") == cutoff:
            return str(quality.get("name") or "")
    return ""
