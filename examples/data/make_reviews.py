"""Generate `reviews.tsv`: short synthetic product reviews labelled by sentiment.

    python examples/data/make_reviews.py        # rewrites reviews.tsv (same seed, same file)

Sentences are assembled from templates and small vocabularies with a fixed seed. They
are made to be learnable but not trivially: negation flips a word's polarity ("not
great"), mixed reviews praise one aspect and criticise another with the verdict in a
later clause, neutral reviews reuse the same product and aspect words, and 6% of the
labels are deliberately wrong, as in real crowd-labelled data.
"""

import random
from pathlib import Path

SEED = 20261128
ROWS = 4000
LABEL_NOISE = 0.06
OUT = Path(__file__).with_name("reviews.tsv")

# fmt: off  (vocabularies read best as paragraphs)
PRODUCTS = [
    "headphones",
    "laptop",
    "phone",
    "blender",
    "kettle",
    "backpack",
    "camera",
    "monitor",
    "keyboard",
    "mouse",
    "charger",
    "speaker",
    "jacket",
    "desk lamp",
    "coffee maker",
    "vacuum",
    "router",
    "smartwatch",
    "tent",
    "water bottle",
    "printer",
    "tablet",
]
ASPECTS = [
    "battery",
    "sound",
    "screen",
    "build quality",
    "price",
    "design",
    "delivery",
    "fit",
    "setup",
    "customer service",
    "packaging",
    "materials",
    "performance",
    "noise level",
    "instructions",
    "warranty",
    "size",
    "weight",
]
POSITIVE = [
    "great",
    "excellent",
    "fantastic",
    "solid",
    "reliable",
    "impressive",
    "sturdy",
    "lovely",
    "superb",
    "smooth",
    "comfortable",
    "brilliant",
    "decent",
    "good",
]
NEGATIVE = [
    "terrible",
    "awful",
    "flimsy",
    "disappointing",
    "poor",
    "cheap",
    "noisy",
    "useless",
    "broken",
    "slow",
    "frustrating",
    "mediocre",
    "bad",
    "faulty",
]
NEUTRAL = [
    "average",
    "standard",
    "typical",
    "ordinary",
    "as described",
    "fine",
    "okay",
    "unremarkable",
    "expected",
    "normal",
]
INTENSIFIERS = ["", "", "", "really ", "very ", "quite ", "pretty ", "extremely ", "rather "]
VERDICT_POS = [
    "would buy again",
    "highly recommend it",
    "worth every penny",
    "five stars",
    "very happy with it",
    "my family loves it",
    "exceeded my expectations",
]
VERDICT_NEG = [
    "returning it",
    "want my money back",
    "would not recommend",
    "one star",
    "stopped working after a week",
    "regret buying it",
    "avoid this one",
]
VERDICT_NEU = [
    "it does the job",
    "nothing special",
    "no complaints but no praise either",
    "three stars",
    "it is what it is",
    "about what you would expect for the price",
    "still deciding whether to keep it",
]
# fmt: on


def polar_phrase(rng, polarity):
    """A phrase of the given polarity, sometimes built by negating the opposite one."""
    if polarity == "positive":
        if rng.random() < 0.2:
            return "not " + rng.choice(NEGATIVE)
        return rng.choice(INTENSIFIERS) + rng.choice(POSITIVE)
    if polarity == "negative":
        if rng.random() < 0.25:
            return "not " + rng.choice(["very ", "that ", ""]) + rng.choice(POSITIVE)
        return rng.choice(INTENSIFIERS) + rng.choice(NEGATIVE)
    return rng.choice(NEUTRAL)


def verdict(rng, label):
    return rng.choice({"positive": VERDICT_POS, "negative": VERDICT_NEG}.get(label, VERDICT_NEU))


def review(rng, label):
    product, aspect = rng.choice(PRODUCTS), rng.choice(ASPECTS)
    other = rng.choice([a for a in ASPECTS if a != aspect])
    form = rng.random()
    if form < 0.35:
        return f"the {aspect} of this {product} is {polar_phrase(rng, label)}"
    if form < 0.55:
        return f"{polar_phrase(rng, label)} {product}, {verdict(rng, label)}"
    if form < 0.75 and label != "neutral":
        opposite = "negative" if label == "positive" else "positive"
        # The first clause misleads; the verdict after "but" decides.
        return (
            f"the {other} is {polar_phrase(rng, opposite)} but the {aspect} is "
            f"{polar_phrase(rng, label)}, {verdict(rng, label)}"
        )
    if form < 0.9:
        return (
            f"bought this {product} last month. the {aspect} is {polar_phrase(rng, label)} "
            f"and the {other} is {polar_phrase(rng, label)}"
        )
    return f"{verdict(rng, label)}. {product} with {polar_phrase(rng, label)} {aspect}"


def main():
    rng = random.Random(SEED)
    labels = ["negative", "neutral", "positive"]
    rows = []
    for _ in range(ROWS):
        label = rng.choice(labels)
        text = review(rng, label)
        if rng.random() < LABEL_NOISE:
            label = rng.choice([other for other in labels if other != label])
        rows.append(f"{label}\t{text}\n")
    OUT.write_text("".join(rows), encoding="utf-8")
    print(f"wrote {len(rows)} reviews to {OUT}")


if __name__ == "__main__":
    main()
