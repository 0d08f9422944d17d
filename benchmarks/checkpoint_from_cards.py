"""Write a training checkpoint that holds shipped models' weights, for `mrigan train --init-from`.

    .venv/bin/python benchmarks/checkpoint_from_cards.py generator=models/cyclegan_t1_t2.json \
        generator_ba=models/cyclegan_t2_t1.json -o runs/tr/shipped-cyclegan-pair.pt

Each MODULE=CARD gives a recipe's module (a CycleGAN's `generator`: A -> B, `generator_ba`: B -> A) the
weights of a shipped card (its sha256 checked on load). A shipped card holds a run's evaluation (EMA) weights
and no discriminator, so the fine-tuning run starts its discriminators fresh and its EMA from these weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mrigan.checkpoint import load_model
from mrigan.engine.state import CHECKPOINT_FORMAT


def checkpoint_from_cards(cards: dict[str, Path]) -> dict:
    """A checkpoint (step 0, no optimizer state) whose `modules` are the cards' weights."""
    modules = {}
    for name, card in cards.items():
        module, _ = load_model(card)
        modules[name] = module.state_dict()
    return {"format": CHECKPOINT_FORMAT, "loop": {"step": 0}, "modules": modules, "ema": {},
            "source_cards": {name: str(card) for name, card in cards.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="+", metavar="MODULE=CARD")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    cards = {}
    for item in args.modules:
        name, _, card = item.partition("=")
        if not card:
            parser.error(f"{item!r}: expected MODULE=CARD")
        cards[name] = Path(card)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial")
    torch.save(checkpoint_from_cards(cards), partial)
    partial.replace(args.out)
    print(f"{args.out}: modules {sorted(cards)} from {', '.join(str(c) for c in cards.values())}")


if __name__ == "__main__":
    main()
