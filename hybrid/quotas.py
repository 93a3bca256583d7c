"""The global resource quota (Qdrant 1.20's GET/PUT /quotas, lib/shard/src/quota/).

Memory and disk are node-wide, so their limits are set once per data folder, not per
collection: `QuotaConfig` is persisted (checked) in `<path>/quota.json` and read on open; an
in-memory client keeps it in RAM. While `enabled`, an update that consumes memory or disk
(upserts, vector and payload changes, creating a payload index or a vector name; not deletes)
is refused with 507 "Insufficient storage" once the process's resident memory reaches
`max_resident_memory_percent` of the memory available to it (the cgroup limit when one
applies), or the file system of the data folder is filled to `max_disk_usage_percent`.

As in Qdrant: a tripped limit holds until usage falls `release_margin_percent` (default 5)
below it, so a node resting on its limit does not flip in and out of service; a reading below
its limit is reused for 5 s (measuring costs a syscall), one at or above is never reused, so
freed room lets writes through at once; a new config forgets the old verdicts.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import msgspec

from hybrid import models as m
from hybrid.errors import DataDamaged, InsufficientStorage, InvalidValue
from hybrid.storage.files import read_checked, write_checked

FILE = "quota.json"
DEFAULT_RELEASE_MARGIN = 5
MEASUREMENT_TTL = 5.0  # seconds a reading below its limit stays usable

Percent = Annotated[int, msgspec.Meta(ge=1, le=100)]


class QuotaConfig(m.Model):
    enabled: bool = False
    max_resident_memory_percent: Optional[Percent] = None
    max_disk_usage_percent: Optional[Percent] = None
    release_margin_percent: Optional[Annotated[int, msgspec.Meta(ge=0, le=100)]] = None


class QuotaUsage(m.Model, omit_defaults=False):
    resident_memory_percent: Optional[int] = None
    disk_usage_percent: Optional[int] = None


class QuotaExceeded(m.Model, omit_defaults=False):
    resident_memory: Optional[bool] = None
    disk_usage: Optional[bool] = None


class QuotaStatus(m.Model):
    config: QuotaConfig
    usage: QuotaUsage


def percent_of(used: int, total: int) -> Optional[int]:
    """`used` as a whole percentage of `total`, rounded down, at most 100; None for no total."""
    return None if total <= 0 else min(used * 100 // total, 100)


def resident_memory_percent() -> Optional[int]:
    """This process's resident memory over the memory available to it (Linux; else None)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page
    except (OSError, ValueError, IndexError):
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return percent_of(pages * page, total)


def disk_usage_percent(path: Optional[Path]) -> Optional[int]:
    """Used space of the file system holding `path` (None: nothing on disk to measure)."""
    if path is None:
        return None
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return percent_of(usage.total - usage.free, usage.total)


class Meter:
    """The last reading of one resource, reused for MEASUREMENT_TTL while below its limit."""

    def __init__(self, measure: Callable[[], Optional[int]]) -> None:
        self.measure = measure
        self.last: Optional[tuple[float, Optional[int]]] = None
        self.lock = threading.Lock()  # under a burst one request measures, the others reuse it

    def read(self, limit: Optional[int]) -> Optional[int]:
        with self.lock:
            now = time.monotonic()
            if self.last is not None and now - self.last[0] < MEASUREMENT_TTL:
                value = self.last[1]
                if value is None or limit is None or value < limit:
                    return value
            value = self.measure()
            self.last = (now, value)
            return value


class QuotaManager:
    """The quota config of one data folder (or of an in-memory client) and its enforcement."""

    RESOURCES = (("max_resident_memory_percent", "Resident memory usage", "total memory"),
                 ("max_disk_usage_percent", "Disk usage", "total capacity"))

    def __init__(self, root: Optional[Path]) -> None:
        self.root = root
        self.config = QuotaConfig()
        if root is not None and (root / FILE).exists():
            try:
                self.config = msgspec.json.decode(read_checked(root / FILE), type=QuotaConfig)
            except msgspec.ValidationError as exc:  # a quota we cannot honour is not "no limits"
                raise DataDamaged(root / FILE, f"not a valid quota config: {exc}") from None
        self.meters = {"max_resident_memory_percent": Meter(resident_memory_percent),
                       "max_disk_usage_percent": Meter(lambda: disk_usage_percent(root))}
        self.tripped = {name: False for name in self.meters}
        self.lock = threading.Lock()

    def set_config(self, config: QuotaConfig) -> None:
        """Persist, then enforce (a crash can lose the update, never apply an unsaved one)."""
        with self.lock:
            if self.root is not None:
                write_checked(self.root / FILE, msgspec.json.encode(config))
            self.config = config
            self.tripped = {name: False for name in self.meters}  # new limits: old verdicts say nothing

    def usage(self) -> QuotaUsage:
        return QuotaUsage(self.meters["max_resident_memory_percent"].read(None),
                          self.meters["max_disk_usage_percent"].read(None))

    def check_update(self) -> None:
        """Refuse (507) an update that consumes memory or disk while a limit is reached."""
        refusal = self._judge()[1]
        if refusal is not None:
            raise InsufficientStorage(refusal)

    def exceeded(self) -> QuotaExceeded:
        """Which enforced limit the node is refusing writes over (None: not enforced or not measurable)."""
        verdicts = self._judge()[0]
        return QuotaExceeded(verdicts["max_resident_memory_percent"], verdicts["max_disk_usage_percent"])

    def _judge(self) -> tuple[dict[str, Optional[bool]], Optional[str]]:
        """Each resource's verdict (kept for the release margin) and the refusal of the first over."""
        config = self.config
        verdicts: dict[str, Optional[bool]] = dict.fromkeys(self.meters)
        if not config.enabled:
            return verdicts, None
        margin = DEFAULT_RELEASE_MARGIN if config.release_margin_percent is None else config.release_margin_percent
        refusal = None
        with self.lock:
            for field, description, total in self.RESOURCES:  # both judged: each verdict is kept
                limit = getattr(config, field)
                threshold = limit if limit is None or not self.tripped[field] else max(limit - margin, 1)
                used = self.meters[field].read(threshold) if limit is not None else None
                self.tripped[field] = used is not None and used >= threshold
                verdicts[field] = None if used is None else self.tripped[field]
                if self.tripped[field] and refusal is None:
                    refusal = _refusal(field, description, total, used, limit, threshold)
        return verdicts, refusal


def _refusal(field: str, description: str, total: str, used: int, limit: int, threshold: int) -> str:
    if used >= limit:
        condition = f"{description} is at {used}% of {total}, exceeding the configured limit of {limit}%"
    else:
        condition = (f"{description} is at {used}% of {total}. It reached the configured limit of {limit}% "
                     f"and has to fall below {threshold}% before this node takes writes again")
    what = "memory" if field.startswith("max_resident") else "disk"
    return (f"{condition}. Help: Reduce {what} usage (e.g. delete points or drop collections), "
            f"or raise `{field}` in the global quota config.")


class QuotasMixin:
    """Client methods named after Qdrant's operations (qdrant-client 1.20 has only the REST API:
    `client.http.quotas_api.get_quotas()` / `update_quotas(quota_config=...)`)."""

    quota: QuotaManager  # made when the client opens its data folder

    def get_quotas(self) -> QuotaStatus:
        """The quota config in effect and this node's usage it is measured against."""
        return QuotaStatus(self.quota.config, self.quota.usage())

    def update_quotas(self, quota_config: Any = None, wait: bool = False) -> bool:
        """Replace the quota config (persisted with the data folder)."""
        data = m.to_builtins(quota_config) if quota_config is not None else {}
        try:
            config = msgspec.convert(data, QuotaConfig, strict=False)
        except msgspec.ValidationError as exc:
            text, _, at = str(exc).partition(" - at `$")
            raise InvalidValue(at.rstrip("`").lstrip(".") or "quota_config", text) from None
        self.quota.set_config(config)
        return True
