"""The node's private scratch folders (a quality search's samples, a segment's video, a source fetched from the
transfer store): a process killed (SIGKILL) with one half written has it removed at the next start, and
nothing planted under a look-alike name (a symlink to someone's folder) is followed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from librarrarian_encoder import scratch


@pytest.mark.parametrize("kind", scratch.KINDS)
def test_a_killed_process_leaves_nothing_for_long(tmp_path: Path, kind: str) -> None:
    script = (
        "import sys, tempfile, time\n"
        "tempfile.tempdir = sys.argv[1]\n"
        "from librarrarian_encoder import scratch\n"
        "with scratch.folder(sys.argv[2]) as path:\n"
        "    (path / 'half-written.mkv').write_bytes(b'x' * 65536)\n"
        "    print(path, flush=True)\n"
        "    time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), kind], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        left = Path(child.stdout.readline().strip())
        assert left.name.startswith(f"{kind}{child.pid}-") and (left / "half-written.mkv").exists()
        child.send_signal(signal.SIGKILL)
    victim = tmp_path / "someone"
    victim.mkdir()
    (victim / "keep.mkv").write_bytes(b"precious")
    planted = tmp_path / f"{kind}{child.pid}-planted"
    planted.symlink_to(victim)
    mine = tmp_path / f"{kind}{os.getpid()}-alive"
    mine.mkdir()  # a live process's folder stays

    assert scratch.remove_leftovers(tmp_path) == 1  # what the encoder calls at start
    assert not left.exists() and mine.exists() and planted.is_symlink()
    assert (victim / "keep.mkv").read_bytes() == b"precious"
