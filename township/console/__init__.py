"""The township staff console: server-rendered pages under `/console` (see `mount_console`)."""

from __future__ import annotations

from township.console.mount import mount_console

__all__ = ["mount_console"]
