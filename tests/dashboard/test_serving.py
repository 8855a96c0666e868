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
    assert call(guarded, "basic " + good.split()[1]) == "200 OK inside"    # the scheme is case-insensitive
    assert call(guarded, "Bearer " + good.split()[1]).startswith("401")


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


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The real dashboard server (waitress) on loopback without a login, with its own teach folder."""
    from dashboard.app import serve_in_background

    monkeypatch.delenv("MOODLOG_DASHBOARD_AUTH", raising=False)
    monkeypatch.setenv("MOODLOG_TEACH_DIR", str(tmp_path / "teach"))
    server = serve_in_background(tmp_path / "log.db", port=0)
    yield server, server.effective_port
    server.close()


def http(port: int, path: str, host: str | None = None, body: bytes | None = None) -> tuple[int, str]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
    response = connection.getresponse()
    answer = response.status, response.read().decode(errors="replace")
    connection.close()
    return answer


def dash_callback(port: int, first_input: str, input_values: list, state_values: list, label: str | None = None):
    """Call a page's callback as the browser does, found in /_dash-dependencies by its first input's id
    (or a pattern-matching id's type, its MATCH filled with `label`): (HTTP status, body)."""
    import json

    def concrete(ident: str):
        if not ident.startswith("{"):
            return ident
        return {key: (label if value == ["MATCH"] else value) for key, value in json.loads(ident).items()}

    def key(spec) -> str:
        ident = spec["id"]
        return (json.dumps(ident, separators=(",", ":"), sort_keys=True) if isinstance(ident, dict) else ident) + \
            "." + spec["property"]

    dependencies = json.loads(http(port, "/_dash-dependencies")[1])
    dependency = next(d for d in dependencies if d["inputs"][0]["id"] == first_input
                      or f'"type":"{first_input}"' in d["inputs"][0]["id"])
    parts = dependency["output"][2:-2].split("...") if dependency["output"].startswith("..") else [dependency["output"]]
    outputs = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        outputs.append({"id": concrete(ident), "property": prop.split("@")[0]})
    inputs = [{"id": concrete(i["id"]), "property": i["property"], "value": v}
              for i, v in zip(dependency["inputs"], input_values)]
    state = [{"id": concrete(s["id"]), "property": s["property"], "value": v}
             for s, v in zip(dependency["state"], state_values)]
    body = {"output": dependency["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs, "state": state, "changedPropIds": [key(inputs[0])]}
    return http(port, "/_dash-update-component", body=json.dumps(body).encode())


def test_a_loopback_dashboard_answers_only_to_loopback_names(served):
    """Found in review: a page that points its own domain at 127.0.0.1 (DNS rebinding) could read the
    log; its requests carry that domain as Host."""
    _, port = served
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert http(port, "/", host)[0] == 200, host
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.nip.io:{port}"):
        status, text = http(port, "/history/export.csv", host)
        assert status == 403 and "answers only at 127.0.0.1, localhost or [::1]" in text, host


def test_a_request_over_the_limit_is_refused_before_its_body_is_read(served):
    """Found in review: a 200 MB body was spooled to a temporary file before the 413. Now waitress
    answers from the Content-Length alone, with 10 bytes of the body sent."""
    import socket

    _, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"POST /_dash-update-component HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n".encode() + b"{" * 10)
        answer = connection.recv(200).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413")


def test_the_teach_page_loads_only_a_model_it_taught(served, tmp_path):
    """Found in review: the model path came from the browser's store, so any request could make the
    Recognize page serve another model file, and the errors told whether a file existed anywhere."""
    server, port = served
    before = server.dash_app.server.config["MOODLOG_MODEL"]
    outside = ROOT / "model" / "weights" / "fast" / "moodnet.keras"
    (tmp_path / "teach" / "models" / "x").mkdir(parents=True)
    for path in (str(outside), "/etc/shadow", "/nonexistent/x.keras", str(tmp_path / "teach" / "models" / "x" / "no.keras"),
                 str(tmp_path / "teach" / "models" / ".." / ".." / "log.db"), "bad\x00.keras", 42):
        status, text = dash_callback(port, "teach-use", [1], [path])
        assert status == 200 and "That is not a model taught on this page" in text, (path, text[:300])
        assert "no model file" not in text and "not a Keras model" not in text
    assert server.dash_app.server.config["MOODLOG_MODEL"] == before


@pytest.mark.parametrize("drop", [{"foo": 1}, "string", {"contents": "x"}, {"contents": [1, 2]},
                                  {"contents": ["data:,"], "names": "a.jpg"}])
def test_a_malformed_teach_drop_is_a_message_not_a_server_error(served, drop):
    _, port = served
    status, text = dash_callback(port, "teach-drop", [drop], [], label="smile")
    assert status == 200 and "This drop is not a list of files" in text, text[:300]
