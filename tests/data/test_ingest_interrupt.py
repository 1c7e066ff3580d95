"""An ingest interrupted mid-decode publishes nothing DVC could cache; a re-run starts clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from helpers.ingest_inputs import folder_params, make_folder, run_ingest

from traindev.data.sources import decode, parallel
from traindev.data.sources.problems import BadInputError
from traindev.data.store import read_store

LAYOUT = {"d": {"a": 6, "b": 6}}


def test_exception_mid_decode_leaves_no_output_and_a_rerun_succeeds(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "f", LAYOUT)
    real = decode.decode_image
    calls = []

    def interrupted(path, spec):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt  # Ctrl-C half-way through the folder
        return real(path, spec)

    monkeypatch.setattr(decode, "decode_image", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_ingest(tmp_path, folder_params(root))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no store, staging or report

    monkeypatch.setattr(decode, "decode_image", real)
    run_ingest(tmp_path, folder_params(root))
    assert len(read_store(tmp_path / "ingested").manifest) == 12


def test_hard_kill_mid_decode_keeps_the_old_store_and_the_rerun_clears_the_leftovers(tmp_path):
    root = make_folder(tmp_path / "f", LAYOUT)
    run_ingest(tmp_path, folder_params(root, image_size=(4, 4)))  # an earlier, good store
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from traindev.data.sources import decode
        from traindev.stages import ingest
        from traindev.config import IngestParams

        real, calls = decode.decode_image, []
        def killed(path, spec):
            calls.append(path)
            if len(calls) == 5:
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup code gets to run
            return real(path, spec)
        decode.decode_image = killed
        params = IngestParams(source="folder", root={str(root)!r}, image_size=(8, 8), workers=1)
        ingest.run(params, Path({str(tmp_path / "ingested")!r}), Path({str(tmp_path)!r}) / "r")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr

    assert read_store(tmp_path / "ingested").pixels.shape[1:] == (4, 4, 3)  # old one, whole
    leftovers = list(tmp_path.glob(".ingested.*.tmp"))
    assert len(leftovers) == 1  # hidden staging directory, not the DVC output path

    run_ingest(tmp_path, folder_params(root))
    assert read_store(tmp_path / "ingested").pixels.shape[1:] == (8, 8, 3)
    assert not list(tmp_path.glob(".ingested.*"))


def _dying_worker(task):
    os._exit(1)  # what the OOM killer or a crash in a C decoder looks like from outside


def test_a_decoding_process_that_dies_is_an_error_not_a_hang(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "f", LAYOUT)
    monkeypatch.setattr(parallel, "decode_chunk", _dying_worker)
    with pytest.raises(BadInputError, match="a decoding process died"):
        run_ingest(tmp_path, folder_params(root, workers=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
