"""Moodlog's recognition core: faces in, emotion probabilities out. Imports nothing from capture/ or dashboard/.

    from model import EmotionClassifier, Recognizer
    probabilities = EmotionClassifier().predict(crops)     # (N, 7) float32, rows sum to 1
    faces = Recognizer().recognize(image_bgr)               # list[Face]: box, status, emotion, probabilities
"""

from model.classifier import EmotionClassifier
from model.labels import EMOTIONS
from model.recognizer import Face, FaceFinder, Recognizer

__all__ = ["EMOTIONS", "EmotionClassifier", "Face", "FaceFinder", "Recognizer"]
