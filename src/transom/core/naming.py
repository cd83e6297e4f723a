"""Readable generated run names, like `brave-otter`."""

from __future__ import annotations

import random

__all__ = ["generate_run_name"]

_ADJECTIVES = (
    "amber", "ancient", "bold", "brave", "bright", "calm", "clever", "cosmic", "crimson", "daring",
    "eager", "fancy", "fearless", "gentle", "golden", "grand", "happy", "hidden", "humble",
    "jolly", "keen", "lively", "lucky", "mellow", "merry", "mighty", "misty", "nimble", "noble",
    "patient", "polite", "proud", "quick", "quiet", "rapid", "royal", "rustic", "shiny", "silent",
    "silver", "smooth", "snowy", "solid", "spry", "steady", "swift", "tidy", "vivid", "wise", "witty",
)
_NOUNS = (
    "badger", "beaver", "bison", "cheetah", "condor", "coyote", "crane", "dolphin", "eagle",
    "falcon", "ferret", "finch", "fox", "gazelle", "gecko", "heron", "ibis", "jackal", "jaguar",
    "koala", "lemur", "leopard", "lynx", "marmot", "marten", "moose", "newt", "ocelot", "orca",
    "osprey", "otter", "owl", "panda", "pelican", "puffin", "quail", "raven", "robin", "salmon",
    "seal", "sparrow", "stork", "swan", "tapir", "tiger", "toucan", "turtle", "walrus", "wolf",
    "wren",
)


def generate_run_name(rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}"
