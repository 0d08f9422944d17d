"""Trained translation models with the baselines' call shape, so the bench's translate and field suites can score them.

`run_suite("translate", models=[TranslationModelMethod.from_path("runs/cyclegan-t1-t2")])` runs a CycleGAN
beside the identity and histogram-matching rows. A model card (task "translate") names its source and target
domains; `supports()` is True only for the cases of its direction, so a T1w -> T2w model is skipped in the
T2w -> T1w case and in the field suite. Both generators of a CycleGAN run (`generator.json`: A -> B,
`generator_ba.json`: B -> A), given as the run folder or as the two cards, also run the round trips F(G(a)) and
G(F(b)) and seed 003's reconstructions F(a) and G(b) (each generator given an image already in its target contrast).

A generator runs as it ran in validation (the card's "inference" entry): "slices" pads each whole axial slice
with zeros, centred, to a square whose side is a multiple of 2 ** depth (as `PairedTranslationDataset` pads
validation slices) and crops back; "patches" runs the card's grid of patches and blends the overlaps
(`mrigan.data.translation.stitch`, Hann window by default). Inputs are the bench's images, already in [0, 1]
by robust min-max as in training; outputs are the generator's [0, 1], scored as they are. A card with
"flip_average" in its "inference" entry averages the generator over in-plane flips (`mrigan.nn.FlipAverage`), as
`mrigan enhance` runs it; `translation_methods` then adds the same model in one pass as a row of its own.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from mrigan.physics.base import Degraded

DOMAIN_KEYS = ("contrast", "sequence", "field_t", "voxel_scale")
"""What makes two domains the same for `supports()` (the SNR may differ: noise is not a direction)."""


def domain_key(domain: dict[str, Any]) -> tuple:
    """(contrast, sequence, field_t, voxel_scale) of a domain dict (a card's "source" or "target")."""
    from mrigan.data.translation import DomainConfig

    defaults = DomainConfig()
    return tuple(
        float(domain.get(key, getattr(defaults, key))) if key in ("field_t", "voxel_scale")
        else str(domain.get(key, getattr(defaults, key)))
        for key in DOMAIN_KEYS
    )


class TranslationModelMethod:
    """`method(degraded) -> translated image` for one or two `translate` model cards.

    Args:
        card: the model card (`.json`), its weights, or a shipped model name.
        inverse: optional card of the opposite direction from the same run (CycleGAN's generator_ba); with it
            the round trips F(G(a)) and G(F(b)) can be scored too.
        name: table name; default the training config's name, else the run folder's.
        device: where to run ("auto": CUDA when available).
        batch_size: slices or patches per forward pass.
        flip_average: average each generator over in-plane flips (None: as each card's inference entry says).

    Raises:
        InputError: not a translation generator's card, or an `inverse` that does not go the other way.
    """

    task = "translate"
    per = "volume"
    slow = False

    def __init__(self, card: str | Path, *, inverse: str | Path | None = None, name: str | None = None,
                 device: str = "auto", batch_size: int = 16, flip_average: bool | None = None) -> None:
        from mrigan.inference.enhancer import resolve_device

        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.flip_average = flip_average
        self.directions: list[tuple[Any, dict[str, Any]]] = [self._load(card)]
        if inverse is not None:
            self.add_inverse(inverse)
        card_name = self.card.get("name")  # a shipped model's own; a run exports "generator" / "generator_ba"
        if card_name in ("generator", "generator_ba"):
            card_name = self.card.get("config", {}).get("name")
        self.name = name or str(card_name or Path(card).parent.parent.name)

    @classmethod
    def from_path(cls, path: str | Path, **kwargs: Any) -> TranslationModelMethod:
        """A card, weights or shipped name; or a run folder (or its best/ or final/ folder) whose generator.json
        and, where exported, generator_ba.json are loaded together (best/ before final/)."""
        from mrigan.errors import InputError
        from mrigan.models_catalog import resolve_model

        folder = Path(path).expanduser()
        if not folder.is_dir():
            return cls(resolve_model(path), **kwargs)
        for candidate in (folder / "best", folder / "final", folder):
            if (candidate / "generator.json").is_file():
                inverse = candidate / "generator_ba.json"
                return cls(candidate / "generator.json", inverse=inverse if inverse.is_file() else None, **kwargs)
        raise InputError(folder, "no generator.json in it, nor in its best/ or final/ folder")

    @property
    def card(self) -> dict[str, Any]:
        """The first (A -> B) generator's card."""
        return self.directions[0][1]

    def _load(self, card: str | Path) -> tuple[Any, dict[str, Any]]:
        from mrigan.checkpoint import load_model
        from mrigan.errors import InputError

        generator, loaded = load_model(card, device=self.device)
        if loaded.get("task") != "translate" or not isinstance(loaded.get("source"), dict) \
                or not isinstance(loaded.get("target"), dict):
            raise InputError(card, f"not a translation generator (task {loaded.get('task')!r}, no source / target "
                                   "domains); give a run's generator.json or generator_ba.json")
        return generator, loaded

    def is_inverse(self, other: TranslationModelMethod) -> bool:
        """True when `other` is one generator going the other way, trained by the same recipe (its config's name).

        The two may come from different runs of that recipe (each direction's best checkpoint, as shipped)."""
        if len(self.directions) != 1 or len(other.directions) != 1:
            return False
        mine, theirs = self.card, other.card
        return (domain_key(mine["source"]) == domain_key(theirs["target"])
                and domain_key(mine["target"]) == domain_key(theirs["source"])
                and (mine.get("config") or {}).get("name") == (theirs.get("config") or {}).get("name"))

    def add_inverse(self, inverse: str | Path | TranslationModelMethod) -> None:
        """Add the opposite direction (a card, or a loaded one-direction method)."""
        from mrigan.errors import InputError

        loaded = inverse.directions[0] if isinstance(inverse, TranslationModelMethod) else self._load(inverse)
        if len(self.directions) != 1:
            raise InputError(str(inverse), f"{self.name} already has its inverse generator")
        if (domain_key(loaded[1]["source"]), domain_key(loaded[1]["target"])) != \
                (domain_key(self.card["target"]), domain_key(self.card["source"])):
            raise InputError(str(inverse), f"goes {loaded[1].get('translation')}, not the inverse of "
                                           f"{self.card.get('translation')}")
        self.directions.append(loaded)

    def available(self) -> str | None:
        """None: a loaded model can always run."""
        return None

    def chain(self, degraded: Degraded) -> list[tuple[Any, dict[str, Any]]] | None:
        """The generators that take the case's input domain, through its "via" domains, to its target; None if none.

        The case is the last "translate" entry of `degraded.params` (source, target, via: domain dicts); its
        "generators" (pairs of domain dicts), when given, name the generators to run instead.
        """
        case = next((p for p in reversed(degraded.params) if p.get("op") == "translate"), None)
        if case is None:
            return None
        steps = [domain_key(d) for d in (case["source"], *case.get("via", ()), case["target"])]
        ways = list(zip(steps[:-1], steps[1:], strict=True))
        if case.get("generators"):
            ways = [(domain_key(start), domain_key(stop)) for start, stop in case["generators"]]
        chain = []
        for start, stop in ways:
            found = next(((generator, card) for generator, card in self.directions
                          if (domain_key(card["source"]), domain_key(card["target"])) == (start, stop)), None)
            if found is None:
                return None
            chain.append(found)
        return chain

    def supports(self, degraded: Degraded) -> bool:
        """True when the model's generators go the case's way (and a 3D patch fits in the volume)."""
        chain = self.chain(degraded)
        if not chain:
            return False
        shape = np.shape(degraded.image)
        for _, card in chain:
            settings = _inference(card)
            if settings["mode"] == "patches" and any(n < p for n, p in zip(shape, settings["patch"], strict=False)):
                return False
        return True

    def __call__(self, degraded: Degraded) -> np.ndarray:
        """Translate `degraded.image` (X, Y, Z) in [0, 1] along the case's chain of generators."""
        chain = self.chain(degraded)
        if not chain:
            raise ValueError(f"{self.name} does not translate this case ({degraded.params[-1]})")
        image = np.asarray(degraded.image, dtype=np.float32)
        for generator, card in chain:
            image = self.run(generator, card, image)
        return image

    def grid(self, overlap_mode: str | None = None):
        """The patch grid of a one-step "patches" model (None for a slice model)."""
        from mrigan.data.translation import PatchGrid

        settings = _inference(self.card)
        if settings["mode"] != "patches":
            return None
        return PatchGrid(tuple(settings["patch"]), settings["stride"], overlap_mode or settings["overlap_mode"])

    def stitched(self, degraded: Degraded, overlap_mode: str) -> np.ndarray | None:
        """The one-step translation of a "patches" model blended with another `overlap_mode`; None otherwise."""
        chain = self.chain(degraded)
        if not chain or len(chain) != 1 or _inference(chain[0][1])["mode"] != "patches":
            return None
        return self.run(*chain[0], np.asarray(degraded.image, dtype=np.float32), overlap_mode=overlap_mode)

    def run(self, generator, card: dict[str, Any], volume: np.ndarray, *, overlap_mode: str | None = None
            ) -> np.ndarray:
        """One generator over an (X, Y, Z) volume, as its card says (whole slices or a blended patch grid)."""
        import torch

        from mrigan.data.translation import PatchGrid, stitch
        from mrigan.nn.layers import FlipAverage

        settings = _inference(card)
        if self.flips(card):
            generator = FlipAverage(generator)
        with torch.inference_mode():
            if settings["mode"] == "patches":
                grid = PatchGrid(tuple(settings["patch"]), settings["stride"],
                                 overlap_mode or settings["overlap_mode"])
                return stitch(np.array(volume, dtype=np.float32), generator, grid, batch_size=self.batch_size,
                              device=str(self.device))
            multiple = int(settings.get("multiple") or 1)
            side = int(np.ceil(max(volume.shape[:2]) / multiple) * multiple)
            pads = [((side - n) // 2, side - n - (side - n) // 2) for n in volume.shape[:2]]
            crop = tuple(slice(before, before + n) for (before, _), n in zip(pads, volume.shape[:2], strict=True))
            output = np.empty(volume.shape, dtype=np.float32)
            for begin in range(0, volume.shape[-1], self.batch_size):
                batch = np.moveaxis(volume[..., begin : begin + self.batch_size], -1, 0)[:, None]
                batch = np.pad(batch, [(0, 0), (0, 0), *pads]).astype(np.float32)
                result = generator(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()[:, 0]
                output[..., begin : begin + batch.shape[0]] = np.moveaxis(result[(slice(None), *crop)], 0, -1)
            return output

    def flips(self, card: dict[str, Any]) -> bool:
        """Whether a generator of this method runs averaged over in-plane flips."""
        return bool(_inference(card).get("flip_average", False) if self.flip_average is None else self.flip_average)

    def __repr__(self) -> str:
        ways = ", ".join(str(card.get("translation")) for _, card in self.directions)
        return f"TranslationModelMethod(name={self.name!r}, {ways})"


def _inference(card: dict[str, Any]) -> dict[str, Any]:
    """The card's "inference" entry with defaults (older cards: the config's stitch settings)."""
    settings = dict(card.get("inference") or {})
    if not settings:
        config = card.get("config") or {}
        stitch = dict(config.get("stitch") or {"mode": "slices"})
        settings = {"mode": stitch.get("mode", "patches"), "multiple": 1}
        if settings["mode"] == "patches":
            settings["patch"] = list((config.get("data") or {}).get("patch") or [64, 64])
            settings.update(stride=stitch.get("stride", 20), overlap_mode=stitch.get("overlap_mode", "hann"))
    if settings.get("mode") == "patches":
        settings.setdefault("stride", 20)
        settings.setdefault("overlap_mode", "hann")
    return settings


def translation_methods(models: list[str | Path], **kwargs: Any) -> list[TranslationModelMethod]:
    """Load models for the translate / field suites; two one-direction cards of one run become one method.

    Args:
        models: cards, weights, shipped names or run folders (a run folder brings both CycleGAN generators).
        **kwargs: passed to `TranslationModelMethod`.
    """
    methods: list[TranslationModelMethod] = []
    for model in models:
        method = TranslationModelMethod.from_path(model, **kwargs)
        partner = next((m for m in methods if m.is_inverse(method)), None)
        if partner is not None:
            partner.add_inverse(method)
        else:
            methods.append(method)
    for method in list(methods):  # a flip-averaged model also in one pass, side by side
        if method.flip_average is None and any(method.flips(card) for _, card in method.directions):
            one_pass = copy.copy(method)
            one_pass.flip_average, one_pass.name = False, f"{method.name} (one pass)"
            methods.insert(methods.index(method) + 1, one_pass)
    return methods
