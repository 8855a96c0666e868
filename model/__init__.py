"""Moodlog's recognition core: faces in, emotion probabilities out. Imports nothing from capture/ or dashboard/."""
