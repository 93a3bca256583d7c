"""Collection snapshots: create, list, download, delete, recover from a file or an upload."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Optional

from litestar import Router, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import JSONBody, MultipartBody
from litestar.response import File

from api import schemas as s
from api.auth import READ, WRITE, access
from api.responses import Envelope, ok
from api.routes.params import CollectionName, PathName, QueryText, Rt, Wait
from api.runtime import Runtime
from hybrid import models as m
from hybrid.errors import ValidationError

TAGS = ["Snapshots"]
SNAPSHOTS = "/collections/{collection_name:str}/snapshots"


@post(SNAPSHOTS, opt=access(WRITE), tags=TAGS, summary="Create a snapshot", status_code=200)
async def create_snapshot(rt: Rt, collection_name: CollectionName,
                          wait: Wait = None) -> Envelope[m.SnapshotDescription]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.create_snapshot, rt.resolve(collection_name)), t0)


@get(SNAPSHOTS, opt=access(READ), tags=TAGS, summary="List snapshots")
async def list_snapshots(rt: Rt, collection_name: CollectionName) -> Envelope[list[m.SnapshotDescription]]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.list_snapshots, rt.resolve(collection_name)), t0)


@get(f"{SNAPSHOTS}/{{snapshot_name:str}}", opt=access(READ), tags=TAGS, summary="Download a snapshot")
async def download_snapshot(rt: Rt, collection_name: CollectionName, snapshot_name: PathName) -> File:
    path = await rt.call(rt.client.snapshot_file, rt.resolve(collection_name), snapshot_name)
    return File(path=path, filename=snapshot_name, media_type="application/octet-stream")


@delete(f"{SNAPSHOTS}/{{snapshot_name:str}}", opt=access(WRITE), tags=TAGS, summary="Delete a snapshot",
        status_code=200)
async def delete_snapshot(rt: Rt, collection_name: CollectionName, snapshot_name: PathName,
                          wait: Wait = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.delete_snapshot, rt.resolve(collection_name), snapshot_name), t0)


@put(f"{SNAPSHOTS}/recover", opt=access(WRITE), tags=TAGS, summary="Recover from a snapshot file", status_code=200)
async def recover_snapshot(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SnapshotRecover],
                           wait: Wait = None) -> Envelope[bool]:
    """`location`: a `file://` URL (or path) of a snapshot inside the server's snapshots folder."""
    t0 = perf_counter()
    done = await rt.call(rt.client.recover_snapshot, collection_name, data.location, checksum=data.checksum)
    return ok(done, t0)


def _restore_upload(rt: Runtime, collection_name: str, upload: UploadFile, checksum: Optional[str]) -> bool:
    staging = rt.client.snapshots_path / ".uploads"
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging, suffix=".snapshot")
    try:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1 << 20)
        rt.client.restore_snapshot(collection_name, Path(name), checksum)
    finally:
        Path(name).unlink(missing_ok=True)
    return True


@post(f"{SNAPSHOTS}/upload", opt=access(WRITE), tags=TAGS, summary="Recover from an uploaded snapshot",
      status_code=200)
async def upload_snapshot(rt: Rt, collection_name: CollectionName,
                          data: MultipartBody[dict[str, UploadFile]],
                          wait: Wait = None, priority: QueryText = None,
                          checksum: QueryText = None) -> Envelope[bool]:
    """Multipart form with the snapshot file in the field `snapshot`."""
    t0 = perf_counter()
    upload = data.get("snapshot")
    if not isinstance(upload, UploadFile):
        raise ValidationError("snapshot", "send the snapshot file as the multipart field `snapshot`")
    try:
        done = await rt.call(_restore_upload, rt, collection_name, upload, checksum)
    finally:
        await upload.close()
    return ok(done, t0)


def router(max_upload_bytes: int) -> Router:
    """The snapshot routes; uploads get their own body size limit."""
    return Router("/", route_handlers=[create_snapshot, list_snapshots, download_snapshot, delete_snapshot,
                                       recover_snapshot, Router("/", route_handlers=[upload_snapshot],
                                                                request_max_body_size=max_upload_bytes)])
