"""Missing-data masks for inpainting: a square hole, random boxes and free-form brush strokes.

Every hole operator sets `maps["mask"]` (float32, 1 = known, 0 = missing; multiplied into a mask already
there) and sets the image to 0 inside the holes. Sizes are in voxels of the grid the operator is applied to.
Holes are drawn in the plane of the first two axes; on a 3D volume (X, Y, Z) the same 2D hole cuts every
slice along Z unless the operator's 3D option (`depth` / `volumetric`) is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrigan.physics.base import Degraded, OperatorBase, seed_of

HOLE_KINDS = ("square", "boxes", "brush")


class _Hole(OperatorBase):
    """Shared plumbing: subclasses return a boolean array, True where data goes missing."""

    def _missing(self, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def apply(self, state: Degraded) -> Degraded:
        image = state.image
        if image.ndim not in (2, 3):
            raise ValueError(f"holes need a 2D or 3D image, got shape {image.shape}")
        missing = self._missing(tuple(image.shape))
        known = (~missing).astype(np.float32)
        maps = dict(state.maps)
        if "mask" in maps:
            known = known * maps["mask"].astype(np.float32)
        maps["mask"] = known
        return self.advance(
            state,
            np.where(known > 0, image, 0).astype(np.float32),
            maps=maps,
            missing_fraction=float(1.0 - known.mean()),
        )


def _extend(plane: np.ndarray, shape: tuple[int, ...], slab: tuple[int, int] | None = None) -> np.ndarray:
    """A 2D hole pattern as a mask of `shape`: through every slice, or only slices [slab[0], slab[1])."""
    if len(shape) == 2:
        return plane
    missing = np.zeros(shape, dtype=bool)
    start, stop = (0, shape[2]) if slab is None else slab
    missing[:, :, start:stop] = plane[:, :, None]
    return missing


@dataclass
class SquareHole(_Hole):
    """One square hole of `size` x `size` voxels in the plane of the first two axes.

    The hole covers indices [c - size // 2, c - size // 2 + size) along each in-plane axis, clipped to the
    image, where c is the centre (default: shape // 2).

    Args:
        size: side length in voxels.
        center: (row, column) or, for 3D with `depth`, (x, y, z) centre; None: the image centre.
        depth: 3D only: make a cube-like hole `depth` slices thick around the centre's z; None: every slice.
    """

    size: int = 32
    center: tuple[int, ...] | None = None
    depth: int | None = None
    name = "square_hole"

    def _missing(self, shape: tuple[int, ...]) -> np.ndarray:
        center = tuple(self.center) if self.center is not None else tuple(n // 2 for n in shape)
        plane = np.zeros(shape[:2], dtype=bool)
        starts = [max(0, int(center[axis]) - self.size // 2) for axis in (0, 1)]
        stops = [max(0, int(center[axis]) - self.size // 2 + self.size) for axis in (0, 1)]
        plane[starts[0] : stops[0], starts[1] : stops[1]] = True
        slab = None
        if len(shape) == 3 and self.depth is not None:
            z = int(center[2]) if len(center) > 2 else shape[2] // 2
            slab = (max(0, z - self.depth // 2), max(0, z - self.depth // 2 + self.depth))
        return _extend(plane, shape, slab)


@dataclass
class RandomBoxes(_Hole):
    """`n` axis-aligned rectangular holes with sides drawn from [min_size, max_size] (may overlap).

    Args:
        n: number of boxes.
        min_size: smallest side in voxels.
        max_size: largest side in voxels (clipped to the image).
        seed: seed of the positions and sizes.
        volumetric: 3D only: boxes also have a random extent along Z; False: every box cuts all slices.
    """

    n: int = 3
    min_size: int = 8
    max_size: int = 32
    seed: int = 0
    volumetric: bool = False
    name = "random_boxes"

    def _missing(self, shape: tuple[int, ...]) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        box_axes = len(shape) if (self.volumetric and len(shape) == 3) else 2
        missing = np.zeros(shape[:box_axes], dtype=bool)
        for _ in range(self.n):
            box = []
            for axis in range(box_axes):
                high = min(self.max_size, shape[axis])
                side = int(rng.integers(min(self.min_size, high), high + 1))
                start = int(rng.integers(0, shape[axis] - side + 1))
                box.append(slice(start, start + side))
            missing[tuple(box)] = True
        return missing if missing.ndim == len(shape) else _extend(missing, shape)


@dataclass
class BrushStrokes(_Hole):
    """Free-form strokes like the irregular masks of partial-convolution / DeepFill inpainting.

    Each stroke is a random walk of 4-10 thick line segments with round joints (drawn with OpenCV): it starts
    at a random point, turns by up to +-60 degrees between segments (turning back at the border), segments
    are 5-25 % of the smaller in-plane side long, and its width is drawn from [max_width / 3, max_width].

    Args:
        n_strokes: number of strokes.
        max_width: largest stroke width in voxels.
        seed: seed of the strokes.
        volumetric: 3D only: each stroke cuts a random slab of consecutive slices; False: every slice.
    """

    n_strokes: int = 4
    max_width: int = 12
    seed: int = 0
    volumetric: bool = False
    name = "brush_strokes"

    def _missing(self, shape: tuple[int, ...]) -> np.ndarray:
        import cv2

        rng = np.random.default_rng(self.seed)
        rows, columns = shape[:2]
        side = min(rows, columns)
        missing = np.zeros(shape, dtype=bool)
        for _ in range(self.n_strokes):
            canvas = np.zeros((rows, columns), dtype=np.uint8)
            width = int(rng.integers(max(1, self.max_width // 3), max(1, self.max_width) + 1))
            point = np.array([rng.uniform(0, columns), rng.uniform(0, rows)])  # OpenCV wants (x=column, y=row)
            angle = rng.uniform(0, 2 * np.pi)
            for _segment in range(int(rng.integers(4, 11))):
                angle += rng.uniform(-np.pi / 3, np.pi / 3)
                length = rng.uniform(0.05, 0.25) * side
                end = point + length * np.array([np.cos(angle), np.sin(angle)])
                if not (0 <= end[0] < columns and 0 <= end[1] < rows):  # turn back rather than run along a border
                    angle += np.pi
                    end = point + length * np.array([np.cos(angle), np.sin(angle)])
                end = np.clip(end, [0, 0], [columns - 1, rows - 1])
                start_xy, end_xy = tuple(int(v) for v in np.round(point)), tuple(int(v) for v in np.round(end))
                cv2.line(canvas, start_xy, end_xy, 1, thickness=width, lineType=cv2.LINE_8)
                cv2.circle(canvas, end_xy, max(1, width // 2), 1, thickness=-1)
                point = end
            stroke = canvas.astype(bool)
            if len(shape) == 3:
                slab = None
                if self.volumetric:
                    depth = int(rng.integers(1, shape[2] + 1))
                    start = int(rng.integers(0, shape[2] - depth + 1))
                    slab = (start, start + depth)
                stroke = _extend(stroke, shape, slab)
            missing |= stroke
        return missing


@dataclass
class RandomHole:
    """Sampler: one hole operator of a kind drawn uniformly from `kinds`, its parameters from the ranges.

    Square holes are centred (the classic context-encoder setting); boxes and strokes are placed at random.

    Args:
        kinds: kinds to choose from ("square", "boxes", "brush").
        square_size: (low, high) side of the square.
        n_boxes: (low, high) number of boxes.
        box_size: (min_size, max_size) of the boxes.
        n_strokes: (low, high) number of strokes.
        max_width: (low, high) of the strokes' largest width.
        volumetric: 3D holes instead of holes through every slice.
    """

    kinds: tuple[str, ...] = HOLE_KINDS
    square_size: tuple[int, int] = (16, 48)
    n_boxes: tuple[int, int] = (1, 4)
    box_size: tuple[int, int] = (8, 32)
    n_strokes: tuple[int, int] = (1, 6)
    max_width: tuple[int, int] = (6, 16)
    volumetric: bool = False

    def sample(self, rng: np.random.Generator) -> SquareHole | RandomBoxes | BrushStrokes:
        """Draw one deterministic hole operator."""
        kind = str(self.kinds[int(rng.integers(len(self.kinds)))])
        if kind == "square":
            size = int(rng.integers(self.square_size[0], self.square_size[1] + 1))
            return SquareHole(size=size, depth=size if self.volumetric else None)
        if kind == "boxes":
            n = int(rng.integers(self.n_boxes[0], self.n_boxes[1] + 1))
            return RandomBoxes(
                n=n, min_size=self.box_size[0], max_size=self.box_size[1], seed=seed_of(rng), volumetric=self.volumetric
            )
        if kind == "brush":
            n = int(rng.integers(self.n_strokes[0], self.n_strokes[1] + 1))
            width = int(rng.integers(self.max_width[0], self.max_width[1] + 1))
            return BrushStrokes(n_strokes=n, max_width=width, seed=seed_of(rng), volumetric=self.volumetric)
        raise ValueError(f"unknown hole kind {kind!r}; expected one of {HOLE_KINDS}")
