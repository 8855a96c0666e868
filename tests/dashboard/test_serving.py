"""Serving safety: loopback by default, credentials beyond it, basic auth, the model report files."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import report
from dashboard.auth import AuthError, BasicAuth, is_loopback, parse_credentials
from dashboard.app import make_server

ROOT = Path(__file__).resolve().parents[2]


def call(app, authorization: str | None = None) -> str:
    statuses = []
    environ = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    body = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    return statuses[0] + " " + body.decode()


def test_basic_auth_guards_every_request():
    inner = lambda environ, start_response: (start_response("200 OK", []), [b"inside"])[1]  # noqa: E731
    guarded = BasicAuth(inner, "ana", "s3cret")
    good = "Basic " + base64.b64encode(b"ana:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"ana:guess").decode()
    assert call(guarded).startswith("401")
    assert call(guarded, bad).startswith("401")
    assert call(guarded, "Basic é").startswith("401")
    assert call(guarded, good) == "200 OK inside"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False)])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_credentials_must_have_both_parts():
    assert parse_credentials("ana:pa:ss") == ("ana", "pa:ss")
    for bad in ("ana", ":pass", "ana:", ""):
        with pytest.raises(AuthError):
            parse_credentials(bad)


def test_binding_beyond_loopback_needs_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("MOODLOG_DASHBOARD_AUTH", raising=False)
    with pytest.raises(AuthError, match="--auth USER:PASS"):
        make_server(tmp_path / "log.db", host="0.0.0.0", port=0)


def test_cli_refuses_an_exposed_dashboard_without_credentials(tmp_path):
    result = subprocess.run([sys.executable, "app.py", "dashboard", "--host", "0.0.0.0", "--db",
                             str(tmp_path / "log.db")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 2
    assert "error: binding 0.0.0.0" in result.stderr


def test_model_report_links_existing_plots_and_marks_missing_ones(tmp_path):
    (tmp_path / "REPORT.md").write_text(
        "# Model report\n\n## validation\n\n| emotion | images | recall | precision | F1 |\n|---|---:|---:|---:|---:|\n"
        "| happy | 9 | 0.100 | 0.2 | 0.3 |\n\n## test\n\n| emotion | images | recall | precision | F1 |\n"
        "|---|---:|---:|---:|---:|\n| angry | 491 | 0.512 | 0.5 | 0.5 |\n| happy | 879 | 0.812 | 0.8 | 0.8 |\n\n"
        "![confusion matrix](confusion.png)\n\n![training curves](curves.png)\n")
    (tmp_path / "confusion.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "metrics.json").write_text('{"test": {"accuracy": 0.61, "macro_f1": 0.55}}')
    found = report.read_report(tmp_path, tmp_path / "moodnet.keras")
    assert "![confusion matrix](/model-files/confusion.png)" in found.markdown
    assert "curves.png not written yet" in found.markdown
    assert found.metrics["test"]["accuracy"] == 0.61 and found.images == ["confusion.png"]
    assert found.model_size is None
    assert found.recall == {"angry": 0.512, "happy": 0.812}


def test_model_report_absent_is_none(tmp_path):
    found = report.read_report(tmp_path, tmp_path / "moodnet.keras")
    assert found.markdown is None and found.metrics == {} and found.images == []
