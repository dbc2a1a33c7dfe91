"""RangedReader: seekable streaming over ranged reads, without a server."""

from __future__ import annotations

import io

from headwater.connectors.object_stream import ranged_file

DATA = bytes(range(256)) * 40_000  # ~10 MB


def test_reads_seeks_and_only_streams_what_is_asked():
    opened: list[int] = []
    pulled = [0]

    def open_at(offset: int):
        opened.append(offset)
        for start in range(offset, len(DATA), 65_536):
            piece = DATA[start : start + 65_536]
            pulled[0] += len(piece)
            yield piece

    with ranged_file(len(DATA), open_at) as f:
        assert f.read(10) == DATA[:10]
        f.seek(-8, io.SEEK_END)
        assert f.read() == DATA[-8:]
        f.seek(5_000_000)
        assert f.read(100) == DATA[5_000_000:5_000_100]
        f.seek(0)
        assert f.read() == DATA
    assert opened == [0, len(DATA) - 8, 5_000_000, 0]
    # the partial reads pulled about one buffer each, not the whole object
    assert pulled[0] < 2 * len(DATA) + 4 * (1 << 20)
