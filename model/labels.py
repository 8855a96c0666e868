"""The seven FER2013 emotions, in label order, with one colour each for every chart."""

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Colours chosen to stay distinguishable for the common colour-vision deficiencies
# (Okabe-Ito palette plus grey for neutral), so that charts never rely on red/green alone.
COLOURS = {
    "angry": "#D55E00",
    "disgust": "#009E73",
    "fear": "#CC79A7",
    "happy": "#E69F00",
    "sad": "#0072B2",
    "surprise": "#56B4E9",
    "neutral": "#8C8C8C",
}

INDEX = {name: i for i, name in enumerate(EMOTIONS)}
