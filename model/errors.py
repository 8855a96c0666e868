"""Named errors of the recognition core, turned into one-line messages by app.py."""


class MoodlogError(ValueError):
    """Base of every error the CLI reports as a one-line message instead of a traceback."""


class DatasetError(MoodlogError):
    """The training or evaluation data is missing or malformed."""


class ImageError(MoodlogError):
    """An image could not be read: not an image, truncated, or too large to decode safely."""


class ModelFileError(MoodlogError):
    """A model file is missing or is not a Moodlog model."""


class NoFaceFound(MoodlogError):
    """The detector found no face in an image where one was required."""
