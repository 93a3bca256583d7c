"""Snapshots of collections, of shards (a collection's one shard here) and full snapshots (every
collection and alias): create, list, download, delete, recover from a file, a URL or an upload."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from time import perf_counter
from functools import partial
from typing import Annotated, Callable, Optional

from litestar import Router, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.background_tasks import BackgroundTask
from litestar.params import JSONBody, MultipartBody, PathParameter
from litestar.response import File

from api import schemas as s
from api.auth import READ, WRITE, access
from api.responses import Envelope, ok
from api.routes.params import CollectionName, PathName, QueryText, Rt, Wait
from api.runtime import Runtime
from hybrid import models as m
from hybrid.errors import ValidationError
from hybrid.snapshots import delete_file

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
async def get_snapshot(rt: Rt, collection_name: CollectionName, snapshot_name: PathName) -> File:
    path = await rt.call(rt.client.snapshot_file, rt.resolve(collection_name), snapshot_name)
    return File(path=path, filename=snapshot_name, media_type="application/octet-stream")


@delete(f"{SNAPSHOTS}/{{snapshot_name:str}}", opt=access(WRITE), tags=TAGS, summary="Delete a snapshot",
        status_code=200)
async def delete_snapshot(rt: Rt, collection_name: CollectionName, snapshot_name: PathName,
                          wait: Wait = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.delete_snapshot, rt.resolve(collection_name), snapshot_name), t0)


@put(f"{SNAPSHOTS}/recover", opt=access(WRITE), tags=TAGS, summary="Recover from a snapshot file", status_code=200)
async def recover_from_snapshot(rt: Rt, collection_name: CollectionName, data: JSONBody[s.SnapshotRecover],
                           wait: Wait = None) -> Envelope[bool]:
    """`location`: a `file://` URL (or path) of a snapshot inside the server's snapshots folder, or
    an http(s) URL to download it from (`api_key` is sent as its `api-key` header)."""
    t0 = perf_counter()
    done = await rt.call(rt.client.recover_snapshot, collection_name, data.location, api_key=data.api_key,
                         checksum=data.checksum)
    return ok(done, t0)


def _restore_upload(restore: Callable[[Path], None], rt: Runtime, upload: UploadFile) -> bool:
    """Copy the upload to a file beside the snapshots, restore from it, remove it."""
    staging = rt.client.snapshots_path / ".uploads"
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging, suffix=".snapshot")
    try:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1 << 20)
        restore(Path(name))
    finally:
        Path(name).unlink(missing_ok=True)
    return True


@post(f"{SNAPSHOTS}/upload", opt=access(WRITE), tags=TAGS, summary="Recover from an uploaded snapshot",
      status_code=200)
async def recover_from_uploaded_snapshot(rt: Rt, collection_name: CollectionName,
                          data: MultipartBody[dict[str, UploadFile]],
                          wait: Wait = None, priority: QueryText = None,
                          checksum: QueryText = None) -> Envelope[bool]:
    """Multipart form with the snapshot file in the field `snapshot`."""
    t0 = perf_counter()
    restore = partial(rt.client.restore_snapshot, collection_name, checksum=checksum)
    return ok(await _upload(rt, data, restore), t0)


async def _upload(rt: Runtime, data: dict[str, UploadFile], restore: Callable[[Path], None]) -> bool:
    upload = data.get("snapshot")
    if not isinstance(upload, UploadFile):
        raise ValidationError("snapshot", "send the snapshot file as the multipart field `snapshot`")
    try:
        return await rt.call(_restore_upload, restore, rt, upload)
    finally:
        await upload.close()


SHARD = "/collections/{collection_name:str}/shards/{shard_id:int}"
ShardId = Annotated[int, PathParameter(ge=0, description="Id of the shard (0: a collection's one shard here)")]


@post(f"{SHARD}/snapshots", opt=access(WRITE), tags=TAGS, summary="Create a shard snapshot", status_code=200)
async def create_shard_snapshot(rt: Rt, collection_name: CollectionName, shard_id: ShardId,
                                wait: Wait = None) -> Envelope[m.SnapshotDescription]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.create_shard_snapshot, rt.resolve(collection_name), shard_id), t0)


@get(f"{SHARD}/snapshots", opt=access(READ), tags=TAGS, summary="List shard snapshots")
async def list_shard_snapshots(rt: Rt, collection_name: CollectionName,
                               shard_id: ShardId) -> Envelope[list[m.SnapshotDescription]]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.list_shard_snapshots, rt.resolve(collection_name), shard_id), t0)


@get(f"{SHARD}/snapshots/{{snapshot_name:str}}", opt=access(READ), tags=TAGS, summary="Download a shard snapshot")
async def get_shard_snapshot(rt: Rt, collection_name: CollectionName, shard_id: ShardId,
                             snapshot_name: PathName) -> File:
    path = await rt.call(rt.client.shard_snapshot_file, rt.resolve(collection_name), shard_id, snapshot_name)
    return File(path=path, filename=snapshot_name, media_type="application/octet-stream")


@delete(f"{SHARD}/snapshots/{{snapshot_name:str}}", opt=access(WRITE), tags=TAGS, summary="Delete a shard snapshot",
        status_code=200)
async def delete_shard_snapshot(rt: Rt, collection_name: CollectionName, shard_id: ShardId, snapshot_name: PathName,
                                wait: Wait = None) -> Envelope[bool]:
    t0 = perf_counter()
    name = rt.resolve(collection_name)
    return ok(await rt.call(rt.client.delete_shard_snapshot, name, shard_id, snapshot_name), t0)


@get(f"{SHARD}/snapshot", opt=access(READ), tags=TAGS, summary="Snapshot a shard and download it at once")
async def stream_shard_snapshot(rt: Rt, collection_name: CollectionName, shard_id: ShardId) -> File:
    """The snapshot is written, sent, and removed once sent (it is never listed)."""
    path = await rt.call(rt.client.stream_shard_snapshot, rt.resolve(collection_name), shard_id)
    return File(path=path, filename=path.name, media_type="application/octet-stream",
                background=BackgroundTask(delete_file, path))


@put(f"{SHARD}/snapshots/recover", opt=access(WRITE), tags=TAGS, summary="Recover a shard from a snapshot",
     status_code=200)
async def recover_shard_from_snapshot(rt: Rt, collection_name: CollectionName, shard_id: ShardId,
                                      data: JSONBody[s.SnapshotRecover], wait: Wait = None) -> Envelope[bool]:
    t0 = perf_counter()
    done = await rt.call(rt.client.recover_shard_snapshot, rt.resolve(collection_name), shard_id, data.location,
                         api_key=data.api_key, checksum=data.checksum)
    return ok(done, t0)


@post(f"{SHARD}/snapshots/upload", opt=access(WRITE), tags=TAGS, summary="Recover a shard from an upload",
      status_code=200)
async def recover_shard_from_uploaded_snapshot(rt: Rt, collection_name: CollectionName, shard_id: ShardId,
                                               data: MultipartBody[dict[str, UploadFile]], wait: Wait = None,
                                               priority: QueryText = None,
                                               checksum: QueryText = None) -> Envelope[bool]:
    """Multipart form with the snapshot file in the field `snapshot`."""
    t0 = perf_counter()
    restore = partial(rt.client.restore_shard_snapshot, rt.resolve(collection_name), shard_id, checksum=checksum)
    return ok(await _upload(rt, data, restore), t0)


@post("/snapshots", opt=access(WRITE), tags=TAGS, summary="Snapshot every collection and alias", status_code=200)
async def create_full_snapshot(rt: Rt, wait: Wait = None) -> Envelope[m.SnapshotDescription]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.create_full_snapshot), t0)


@get("/snapshots", opt=access(READ), tags=TAGS, summary="List full snapshots")
async def list_full_snapshots(rt: Rt) -> Envelope[list[m.SnapshotDescription]]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.list_full_snapshots), t0)


@get("/snapshots/{snapshot_name:str}", opt=access(READ), tags=TAGS, summary="Download a full snapshot")
async def get_full_snapshot(rt: Rt, snapshot_name: PathName) -> File:
    path = await rt.call(rt.client.full_snapshot_file, snapshot_name)
    return File(path=path, filename=snapshot_name, media_type="application/octet-stream")


@delete("/snapshots/{snapshot_name:str}", opt=access(WRITE), tags=TAGS, summary="Delete a full snapshot",
        status_code=200)
async def delete_full_snapshot(rt: Rt, snapshot_name: PathName, wait: Wait = None) -> Envelope[bool]:
    t0 = perf_counter()
    return ok(await rt.call(rt.client.delete_full_snapshot, snapshot_name), t0)


def router(max_upload_bytes: int) -> Router:
    """The snapshot routes; uploads get their own body size limit."""
    uploads = Router("/", route_handlers=[recover_from_uploaded_snapshot, recover_shard_from_uploaded_snapshot],
                     request_max_body_size=max_upload_bytes)
    return Router("/", route_handlers=[
        create_snapshot, list_snapshots, get_snapshot, delete_snapshot, recover_from_snapshot,
        create_shard_snapshot, list_shard_snapshots, get_shard_snapshot, delete_shard_snapshot, stream_shard_snapshot,
        recover_shard_from_snapshot, create_full_snapshot, list_full_snapshots, get_full_snapshot,
        delete_full_snapshot, uploads])
