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
    found = report.read_report(tmp_path / "moodnet.keras")
    assert "![confusion matrix](/model-files/confusion.png)" in found.markdown
    assert "curves.png not written yet" in found.markdown
    assert found.metrics["test"]["accuracy"] == 0.61 and found.images == ["confusion.png"]
    assert found.model_size is None
    assert found.recall == {"angry": 0.512, "happy": 0.812}


def test_model_report_absent_is_none(tmp_path):
    found = report.read_report(tmp_path / "moodnet.keras")
    assert found.markdown is None and found.metrics == {} and found.images == []


def test_a_model_given_to_the_dashboard_recognises_uploads_and_is_reported(tmp_path, model_copy, face_photos):
    """`dashboard --model`: uploads go through that model (the shipped model's copy gives the shipped
    model's probabilities) and the model page names it."""
    import base64

    import numpy as np

    from dashboard.context import get_recognizer
    from dashboard.uploads import analyse
    from model.recognizer import Recognizer

    server = make_server(tmp_path / "log.db", port=0, model=model_copy)
    try:
        app = server.dash_app.server
        recognizer = get_recognizer(app)
        assert recognizer.classifier.path == model_copy
        photo = sorted((face_photos / "cfd" / "happy").glob("*.jpg"))[0]
        contents = "data:image/jpeg;base64," + base64.b64encode(photo.read_bytes()).decode()
        ours = analyse(recognizer, contents, photo.name).faces
        shipped = analyse(Recognizer(detector=recognizer.detector_name), contents, photo.name).faces
        assert len(ours) == len(shipped) > 0 and ours[0]["probabilities"]
        for mine, theirs in zip(ours, shipped):
            assert np.allclose(list(mine["probabilities"].values()), list(theirs["probabilities"].values()), atol=1e-6)
        page = next(page for page in dash_pages() if page["path"] == "/model")
        with app.test_request_context("/model"):
            assert str(model_copy) in str(page["layout"]())
    finally:
        server.close()


def test_cli_refuses_a_dashboard_model_that_is_not_there(tmp_path):
    result = subprocess.run([sys.executable, "app.py", "dashboard", "--db", str(tmp_path / "log.db"), "--port", "0",
                             "--model", str(tmp_path / "absent.keras")], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "absent.keras" in result.stderr and "Traceback" not in result.stderr


def dash_pages():
    import dash

    return dash.page_registry.values()
