"""The runner's emitter: line splitting, contiguous seq, capped artifacts with banner and warning."""

from __future__ import annotations

import io

from p2n import events
from p2n_runner import emitter as emitter_mod


def make(tmp_path, max_bytes=1024 * 1024):
    out = io.BytesIO()
    em = emitter_mod.Emitter(
        run_id="r",
        events_path=tmp_path / "events.jsonl",
        logs_path=tmp_path / "logs.txt",
        max_bytes=max_bytes,
        out=out,
    )
    return em, out


def parsed(out):
    return [events.parse_line(line) for line in out.getvalue().splitlines()]


def test_stream_text_is_split_into_lines_as_it_arrives(tmp_path):
    em, out = make(tmp_path)
    em.stream_text("stdout", "one\ntw")
    assert [e.data.text for e in parsed(out)] == ["one"]
    em.stream_text("stdout", "o\r\nthree\rfour")
    em.stream_text("stderr", "err")
    em.flush_partial()
    em.close()
    lines = [(e.data.stream, e.data.text) for e in parsed(out)]
    assert lines == [
        ("stdout", "one"),
        ("stdout", "two"),
        ("stdout", "three"),
        ("stdout", "four"),
        ("stderr", "err"),
    ]
    assert (tmp_path / "logs.txt").read_text() == "one\ntwo\nthree\nfour\nerr\n"


def test_caps_truncate_with_banner_and_keep_seq_contiguous(tmp_path):
    em, out = make(tmp_path, max_bytes=64 * 1024)
    em.stage("run_start")
    for index in range(2000):
        em.stream_text("stdout", f"{index:04d} {'z' * 100}\n")
    em.stage("run_complete", exit_code=0)
    em.close()
    emitted = parsed(out)
    assert [e.seq for e in emitted] == list(range(len(emitted)))
    assert emitted[-1].data.stage == "run_complete"
    warnings = [e for e in emitted if isinstance(e, events.LogLine) and e.data.code == "E_ARTIFACT_TOO_LARGE"]
    assert warnings
    assert {w.data.level for w in warnings} == {"warning"}
    assert (tmp_path / "events.jsonl").stat().st_size <= 64 * 1024
    assert (tmp_path / "logs.txt").stat().st_size <= 64 * 1024 + 200
    assert "logs.txt truncated" in (tmp_path / "logs.txt").read_text().splitlines()[-1]
    assert em.dropped_bytes > 0
    assert em.truncated


def test_one_huge_line_is_emitted_in_bounded_pieces(tmp_path):
    em, out = make(tmp_path, max_bytes=10 * 1024 * 1024)
    em.stream_text("stdout", "x" * 200_000)
    em.flush_partial()
    em.close()
    assert max(len(e.data.text) for e in parsed(out)) <= 64 * 1024
    assert sum(len(e.data.text) for e in parsed(out)) == 200_000
