"""Usage exports users already have (API.md "Usage sources"): one adapter per source, a
registry that recognises a file by its CSV header or JSON keys, and a streamed reader."""

from netra.usage.sources.reader import UsageStream
from netra.usage.sources.registry import SOURCE_NAMES, SOURCES

__all__ = ["SOURCES", "SOURCE_NAMES", "UsageStream"]
