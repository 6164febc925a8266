"""Chat text for the benchmarks: sentences from a Zipf-weighted topic vocabulary mixed with filler
words, so that some words are in a large share of the messages and some in a few hundred, and the
search queries the benchmarks time."""

from __future__ import annotations

import random

# Topic words people chat about; position in the list sets the Zipf frequency (first = most common).
WORDS = """
python data model function error code file table query database server request response user
test value list string number time image network memory cache index search page client session
design project budget meeting report customer market price product team strategy contract
recipe garden travel flight hotel museum history poem novel music guitar piano painting camera
physics chemistry biology protein enzyme molecule energy planet orbit galaxy telescope comet
kubernetes docker terraform ansible nginx postgres redis celery django flask fastapi react vue
mortgage pension insurance invoice taxation dividend inflation recession currency bitcoin
marathon cycling swimming yoga nutrition vitamin allergy vaccine diagnosis symptom therapy
volcano glacier monsoon tornado earthquake hurricane drought wildfire tsunami avalanche
sonnet haiku limerick ballad opera symphony sonata fugue concerto madrigal
quasar pulsar nebula supernova magnetar exoplanet asteroid meteorite aurora eclipse
""".split()  # noqa: SIM905 - a word list reads better as text
FILLER = (  # noqa: SIM905
    "the a of to and in is it that for on with as be this are by can you how what why when "
    "please explain show me about tell would could should example step first then also more"
).split()
QUERIES = [
    ("common word", "python"),
    ("common word", "error"),
    ("common word", "database"),
    ("medium word", "recipe"),
    ("medium word", "telescope"),
    ("rare word", "quasar"),
    ("rare word", "madrigal"),
    ("two words", "python error"),
    ("two words", "docker nginx"),
    ("phrase", '"data model"'),
    ("or", "comet or asteroid"),
    ("exclusion", "python -django"),
]


def sentence(rng: random.Random, weights: list[float], length: int) -> str:
    """`length` words, about one in five a topic word (Zipf-weighted), the rest everyday filler."""
    topics = max(1, length // 5)
    words = rng.choices(WORDS, weights=weights, k=topics) + rng.choices(FILLER, k=length - topics)
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


def zipf_weights() -> list[float]:
    """The weights of WORDS for `sentence` (first = most common)."""
    return [1 / (rank + 10) for rank in range(len(WORDS))]
