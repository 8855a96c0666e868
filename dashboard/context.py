"""What the pages need from the app that serves them: its log path, its model and its recognizer.

Pages read these from the Flask app of the current request rather than from module globals,
so the page modules stay free of configuration and `create_app` alone decides it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import flask

_LOCK = threading.Lock()


def db_path() -> Path:
    """The log this dashboard reads."""
    return flask.current_app.config["MOODLOG_DB"]


def model_path() -> Path:
    """The model that uploads are recognised with; its folder holds its report."""
    return flask.current_app.config["MOODLOG_MODEL"]


def build_recognizer(model: Path):
    """The Recognizer for uploaded photos: `model`, and the detector measured best on photos."""
    from model.classifier import EmotionClassifier
    from model.faces import PHOTO_DETECTOR
    from model.recognizer import Recognizer

    return Recognizer(EmotionClassifier(model), detector=PHOTO_DETECTOR)


def recognizer():
    """The app's Recognizer, built on first use (loading TensorFlow takes seconds)."""
    return get_recognizer(flask.current_app)


def get_recognizer(server: flask.Flask):
    """Build the app's Recognizer once, even when two uploads arrive together."""
    with _LOCK:
        if server.extensions.get("moodlog_recognizer") is None:
            server.extensions["moodlog_recognizer"] = build_recognizer(server.config["MOODLOG_MODEL"])
        return server.extensions["moodlog_recognizer"]


def preload_recognizer(server: flask.Flask) -> None:
    """Start building the Recognizer in the background, once, so the first upload does not wait."""
    with _LOCK:
        if server.extensions.get("moodlog_recognizer") is not None or server.extensions.get("moodlog_loading"):
            return
        server.extensions["moodlog_loading"] = True
    threading.Thread(target=get_recognizer, args=(server,), daemon=True, name="load-model").start()
