"""Another program's database that happens to use a table name of ours (`sessions`, `markers`...) is
refused by name and left byte for byte as it was (no WAL switch, no table, no column), while logs of
every Moodlog version, new paths and empty files still become or stay logs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest

from capture.log import SCHEMA_VERSION, LogError, open_log
from capture_helpers import ROOT, background, db_rows, write_video

MOODLOG_V1_SESSIONS = ("CREATE TABLE sessions (id INTEGER PRIMARY KEY, device TEXT, started_at FLOAT, ended_at FLOAT, "
                       "updated_at FLOAT, model TEXT, detector TEXT, host TEXT, pid INTEGER, status TEXT, "
                       "frames_read INTEGER DEFAULT 0, frames_analysed INTEGER DEFAULT 0, faces INTEGER DEFAULT 0, "
                       "fps FLOAT)")

# Each: the statements that make another program's database, and what the refusal must say.
FOREIGN = {
    "a sessions table of its own": (
        ["CREATE TABLE sessions (id INTEGER PRIMARY KEY, foo TEXT)", "INSERT INTO sessions (foo) VALUES ('keep me')"],
        "another program's database (tables: sessions), its sessions table lacks Moodlog's columns device, "
        "started_at, ended_at, updated_at, model, detector, host, pid, status, fps"),
    "a sessions table and our schema version": (
        ["CREATE TABLE sessions (id INTEGER PRIMARY KEY, foo TEXT)", f"PRAGMA user_version = {SCHEMA_VERSION}"],
        "another program's database (tables: sessions), its sessions table lacks Moodlog's columns device"),
    "a markers table but no sessions": (
        ["CREATE TABLE markers (id INTEGER PRIMARY KEY, name TEXT)", "CREATE TABLE notes (body TEXT)"],
        "another program's database (tables: markers, notes), it has no Moodlog sessions table"),
    "our sessions but its own detections": (
        [MOODLOG_V1_SESSIONS, "CREATE TABLE detections (id INTEGER PRIMARY KEY, body TEXT)"],
        "another program's database (tables: detections, sessions), its detections table lacks Moodlog's "
        "columns session_id, ts"),
}


def make_database(path, statements) -> None:
    with closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def folder_contents(folder) -> list[tuple[str, bytes | None]]:
    """Every file of the folder with its bytes: a journal or WAL file left behind shows too."""
    return sorted((p.name, p.read_bytes() if p.is_file() else None) for p in folder.iterdir())


def journal_mode(path) -> str:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]


@pytest.mark.parametrize("kind", FOREIGN)
def test_another_programs_database_with_a_table_named_like_ours_is_refused_untouched(tmp_path, kind):
    statements, reason = FOREIGN[kind]
    path = tmp_path / "other.db"
    make_database(path, statements)
    before = folder_contents(tmp_path)
    with pytest.raises(LogError) as refused:
        open_log(path)
    assert f"cannot use {path} as the Moodlog log: " in str(refused.value) and reason in str(refused.value)
    assert folder_contents(tmp_path) == before and journal_mode(path) == "delete"


def test_another_programs_database_with_a_leftover_wal_is_refused_and_its_files_left_as_they_were(tmp_path):
    """Found in review: the refusal's read-write connection folded the other program's WAL into its
    file when it closed (no row lost, but the file rewritten and its -wal and -shm deleted)."""
    path = tmp_path / "hotwal.db"
    writer = ("import os, sqlite3, sys\n"
              "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=wal')\n"
              "c.execute('CREATE TABLE sessions (id INTEGER PRIMARY KEY, foo TEXT)')\n"
              "c.execute(\"INSERT INTO sessions (foo) VALUES ('theirs')\"); c.commit(); os._exit(0)\n")
    subprocess.run([sys.executable, "-c", writer, str(path)], check=True, timeout=60)   # exits without closing
    before = folder_contents(tmp_path)
    assert {name for name, _ in before} == {"hotwal.db", "hotwal.db-wal", "hotwal.db-shm"}
    with pytest.raises(LogError, match="another program's database"):
        open_log(path)
    after = folder_contents(tmp_path)
    # The -shm is SQLite's shared index of the WAL, in which every reader takes a read mark: only the
    # database and its WAL, the data, must be as they were.
    assert [entry for entry in after if not entry[0].endswith("-shm")] == \
           [entry for entry in before if not entry[0].endswith("-shm")]
    assert [name for name, _ in after] == [name for name, _ in before]


@pytest.mark.parametrize("command", ["upgrade", "start"])
def test_the_cli_refuses_another_programs_sessions_table_with_exit_2_and_leaves_it_as_it_was(tmp_path, command):
    """The report this comes from: `upgrade` and `start` said "no such column: device" and left the
    file switched to WAL (byte 19 of its header changed)."""
    folder = tmp_path / "x"
    folder.mkdir()
    path = folder / "other.db"
    make_database(path, FOREIGN["a sessions table of its own"][0])
    before = folder_contents(folder)
    if command == "start":
        video = write_video(tmp_path / "room.avi", [background(i) for i in range(5)])
        arguments = ["start", str(video), "--db", str(path), "--quiet"]
    else:
        arguments = ["upgrade", "--db", str(path)]
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), *arguments], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert (f"error: cannot use {path} as the Moodlog log: it is another program's database (tables: sessions), "
            "its sessions table lacks Moodlog's columns device") in done.stderr
    assert "no such column" not in done.stderr
    assert folder_contents(folder) == before and journal_mode(path) == "delete"


def test_an_empty_file_and_a_new_path_become_logs(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for path in (empty, tmp_path / "new.db"):
        open_log(path).close()
        assert db_rows(path, "PRAGMA user_version")[0][0] == SCHEMA_VERSION and journal_mode(path) == "wal"
        assert db_rows(path, "SELECT count(*) FROM sessions")[0][0] == 0


def test_a_version_1_log_with_a_table_of_the_users_own_is_still_upgraded(tmp_path):
    """Tables we do not know beside ours (an analyst's notes, sqlite_stat1 after ANALYZE) do not make a
    log foreign: only our own tables without our columns do."""
    path = tmp_path / "old.db"
    make_database(path, [MOODLOG_V1_SESSIONS, "INSERT INTO sessions (device, started_at, ended_at, status) "
                         "VALUES ('0', 1, 2, 'stopped')", "CREATE TABLE notes (body TEXT)", "ANALYZE",
                         "PRAGMA user_version = 1"])
    open_log(path).close()
    session, = db_rows(path, "SELECT * FROM sessions")
    assert session["device"] == "0" and session["kind"] == "live" and session["faces_unclassified"] == 0
    assert db_rows(path, "PRAGMA user_version")[0][0] == SCHEMA_VERSION


def test_the_dashboard_only_reads_another_programs_sessions_table(tmp_path):
    from dashboard.queries import describe

    path = tmp_path / "other.db"
    make_database(path, FOREIGN["a sessions table of its own"][0])
    before = folder_contents(tmp_path)
    status = describe(path)
    assert status.state == "not-moodlog" and str(path) in status.message
    assert folder_contents(tmp_path) == before and journal_mode(path) == "delete"
