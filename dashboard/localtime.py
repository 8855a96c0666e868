"""The server's local clock: UTC offsets, daylight-saving changes, buckets and labels on local time.

"Local" is the zone of the dashboard process (the TZ variable, else the system zone), read through
`time.localtime` as `datetime.fromtimestamp` reads it, so the charts and the CSV agree with every
other local time the server prints. Times stay UTC epoch seconds everywhere else; only here are
they turned into wall-clock readings.

Why it looks like this:
- A local hour or day is not a fixed number of seconds since the epoch: in a +05:30 zone local
  hours start at :30 UTC, and when daylight saving ends the local day has 25 hours and the hour
  01:00-02:00 happens twice. So a bucket edge is an instant where the local clock reads a
  multiple of the bucket size (see `LocalBuckets`), found per stretch of one UTC offset.
- Offsets are found by sampling `time.localtime`, which needs no zone name (TZ may be a POSIX
  rule such as EST5EDT or absent) and follows the very rules Python's own conversions follow.
"""

from __future__ import annotations

import bisect
import datetime
import math
import time
from dataclasses import dataclass

# Zones change their UTC offset at most about twice a year, never twice within six hours.
SAMPLE_SECONDS = 6 * 3600


def utc_offset(ts: float) -> int:
    """Seconds east of UTC of the local zone at the instant `ts` (-14400 in New York in summer)."""
    return time.localtime(ts).tm_gmtoff


def iso(ts: float, timespec: str = "seconds") -> str:
    """Local ISO 8601 text with the UTC offset of that instant, e.g. 2025-11-02T01:30:00-05:00."""
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).astimezone().isoformat(timespec=timespec)


def utc_iso(ts: float) -> str:
    """ISO 8601 text of a UTC instant in whole seconds, e.g. 2025-11-02T06:30:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def label(ts: float, form: str) -> str:
    """`time.strftime` of the local time at `ts` (%Z gives the zone's abbreviation then, EDT or EST)."""
    return time.strftime(form, time.localtime(ts))


@dataclass(frozen=True)
class Stretch:
    """[start, end) in UTC seconds during which the local zone keeps one UTC offset (seconds)."""
    start: float
    end: float
    offset: int


def offset_stretches(start: float, end: float) -> list[Stretch]:
    """[start, end) cut where the local UTC offset changes, oldest first, never empty.

    The changes are found to the second by bisection between samples SAMPLE_SECONDS apart.
    """
    start, end = math.floor(start), max(math.ceil(end), math.floor(start) + 1)
    stretches, stretch_start, offset = [], start, utc_offset(start)
    sample = start
    while sample < end - 1:
        following = min(sample + SAMPLE_SECONDS, end - 1)
        if utc_offset(following) == offset:
            sample = following
            continue
        change = _first_change(sample, following, offset)
        stretches.append(Stretch(stretch_start, change, offset))
        stretch_start, offset, sample = change, utc_offset(change), change
    stretches.append(Stretch(stretch_start, end, offset))
    return stretches


def _first_change(before: int, after: int, offset: int) -> int:
    """The first second in (before, after] whose offset is not `offset` (`after`'s is not)."""
    while after - before > 1:
        middle = (before + after) // 2
        if utc_offset(middle) == offset:
            before = middle
        else:
            after = middle
    return after


class LocalBuckets:
    """Buckets of `size` seconds on the local clock around [start, end).

    A bucket begins where the local clock reads a multiple of `size` (counted from local
    midnight, as every size used divides a day), or where a change of offset makes the clock
    jump past such a reading. So hourly buckets start at local :00 in a +05:30 zone, a local day
    across a daylight-saving change is 23 or 25 hours, and the repeated 01:00 hour of the autumn
    change is a bucket of its own (its start reads 01:00 again), while a two-hour bucket there
    holds three real hours. Sizes under a minute are the UTC ones, as every offset in use is a
    whole number of minutes.
    """

    def __init__(self, size: int, start: float, end: float):
        self.size = size
        margin = 2 * size + SAMPLE_SECONDS  # room for the bucket around `start` and the one after `end`
        self.stretches = offset_stretches(start - margin, end + margin)
        self._starts = [stretch.start for stretch in self.stretches]

    def within(self, start: float, end: float) -> list[Stretch]:
        """The stretches of one offset that overlap [start, end), cut to it."""
        return [Stretch(max(s.start, start), min(s.end, end), s.offset)
                for s in self.stretches if s.start < end and s.end > start]

    def natural_start(self, ts: float, offset: int) -> int:
        """The last instant at or before `ts` where a clock `offset` seconds east of UTC read a
        multiple of the size (what SQL computes per row of a stretch)."""
        return math.floor((ts + offset) / self.size) * self.size - offset

    def floor(self, ts: float) -> int:
        """The start of the bucket holding the instant `ts`."""
        index = self._stretch_index(ts)
        stretch = self.stretches[index]
        candidate = self.natural_start(ts, stretch.offset)
        if candidate >= stretch.start or index == 0:
            return candidate
        if self._is_edge(index):
            return stretch.start
        return self.floor(stretch.start - 1)

    def start_of(self, natural: int, stretch: Stretch) -> int:
        """The bucket start of rows whose natural start within `stretch` is `natural`: itself,
        unless the bucket began before the stretch did (then the clock changed inside it)."""
        return natural if natural >= stretch.start else self.floor(stretch.start)

    def following(self, bucket_start: float) -> int:
        """The start of the next bucket, i.e. the end of the one starting at `bucket_start`."""
        index = self._stretch_index(bucket_start)
        stretch = self.stretches[index]
        candidate = self.natural_start(bucket_start, stretch.offset) + self.size
        if candidate < stretch.end or index == len(self.stretches) - 1:
            return candidate
        if self._is_edge(index + 1):
            return self.stretches[index + 1].start
        return self.following(self.stretches[index + 1].start)

    def ceil(self, ts: float) -> int:
        """`ts` when a bucket starts there, else the start of the next bucket."""
        start = self.floor(ts)
        return start if start == ts else self.following(start)

    def edges(self, start: float, end: float) -> list[int]:
        """Every bucket start in [start, end], oldest first."""
        edges, edge = [], self.ceil(start)
        while edge <= end:
            edges.append(edge)
            edge = self.following(edge)
        return edges

    def offsets(self, start: float, end: float) -> set[int]:
        return {stretch.offset for stretch in self.within(start, end)}

    def _stretch_index(self, ts: float) -> int:
        return max(0, bisect.bisect_right(self._starts, ts) - 1)

    def _is_edge(self, index: int) -> bool:
        """Whether a bucket starts where stretch `index` begins: the clock reads a multiple of
        the size there, or jumped over one (a different bucket number on each side)."""
        change, after = self.stretches[index].start, self.stretches[index].offset
        before = self.stretches[index - 1].offset
        if (change + after) % self.size == 0:
            return True
        return math.floor((change + before - 0.5) / self.size) != math.floor((change + after) / self.size)
