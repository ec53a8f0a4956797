"""Where a point of the printed page lands in the scan: skew, perspective and curl.

Each map is written once, as a forward map of points (printed page → scan). Images are warped with
the inverse of the same map, so the truth's boxes and the ink move together exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

Points = np.ndarray  # (n, 2) float64, x and y in pixels


def rotate_points(points: Points, angle: float, size: tuple[int, int]) -> Points:
    """Pillow's `Image.rotate(angle)`: counter-clockwise degrees about the page centre."""
    w, h = size
    cx, cy = w / 2, h / 2
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    dx, dy = points[:, 0] - cx, points[:, 1] - cy
    return np.stack([cx + dx * cos + dy * sin, cy - dx * sin + dy * cos], axis=1)


def homography(corners_to: Sequence[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    """The 3×3 map taking the page's corners (TL, TR, BR, BL) to `corners_to`."""
    w, h = size
    source = np.array([(0, 0), (w, 0), (w, h), (0, h)], dtype=np.float32)
    return cv2.getPerspectiveTransform(source, np.array(corners_to, dtype=np.float32))


def project_points(points: Points, matrix: Sequence[Sequence[float]]) -> Points:
    h = np.asarray(matrix, dtype=np.float64)
    ones = np.ones((len(points), 1))
    mapped = np.hstack([points, ones]) @ h.T
    return mapped[:, :2] / mapped[:, 2:3]


@dataclass(frozen=True)
class Curl:
    """A page not flat on the glass, lifted along its binding edge.

    Near the edge the paper rises off the glass: what is printed there is pulled towards the edge
    (foreshortened) and drawn in towards the middle of the edge, so rulings that run across the edge
    bend; a gentle wave over the whole sheet bows the rulings that run along it. All three fade
    smoothly, so the map stays one-to-one.
    """

    edge: str  # "left", "right", "top" or "bottom": where the binding (or the lifted side) is
    pull: float  # pixels the edge itself moves towards the outside
    squeeze: float  # pixels the edge's ends move towards its middle
    wave: float  # pixels the sheet bows in its middle
    reach: float  # pixels over which the lift fades (1/e)

    def displacement(self, points: Points, size: tuple[int, int]) -> Points:
        w, h = size
        x, y = points[:, 0], points[:, 1]
        # across: distance from the binding edge; along: -1..1 along it; sign: outward direction.
        if self.edge in ("left", "right"):
            across = x if self.edge == "left" else w - x
            along = (y - h / 2) / (h / 2)
            length = w
        else:
            across = y if self.edge == "top" else h - y
            along = (x - w / 2) / (w / 2)
            length = h
        lift = np.exp(-np.clip(across, 0, None) / self.reach)
        towards_edge = -self.pull * lift - self.wave * np.sin(np.pi * np.clip(across / length, 0, 1))
        towards_middle = -self.squeeze * lift * along
        if self.edge == "left":
            return np.stack([towards_edge, towards_middle], axis=1)
        if self.edge == "right":
            return np.stack([-towards_edge, towards_middle], axis=1)
        if self.edge == "top":
            return np.stack([towards_middle, towards_edge], axis=1)
        return np.stack([towards_middle, -towards_edge], axis=1)

    def forward(self, points: Points, size: tuple[int, int]) -> Points:
        return points + self.displacement(points, size)

    def warp(self, pixels: np.ndarray, fill: Any) -> np.ndarray:
        """The page image as the curl shows it (each scan pixel sampled where the map sends it from)."""
        h, w = pixels.shape[:2]
        step = 8  # the field is smooth: invert it on a coarse grid and interpolate
        gy, gx = np.mgrid[0 : h + step : step, 0 : w + step : step].astype(np.float64)
        target = np.stack([gx.ravel(), gy.ravel()], axis=1)
        source = target.copy()
        for _ in range(12):  # fixed point of s = t - d(s); d is a contraction here
            source = target - self.displacement(source, (w, h))
        coarse_x = source[:, 0].reshape(gx.shape).astype(np.float32)
        coarse_y = source[:, 1].reshape(gx.shape).astype(np.float32)
        # Grid point k sits at pixel k*step: sample the coarse maps there, corners aligned.
        at_x, at_y = np.meshgrid(np.arange(w, dtype=np.float32) / step, np.arange(h, dtype=np.float32) / step)
        map_x = cv2.remap(coarse_x, at_x, at_y, interpolation=cv2.INTER_LINEAR)
        map_y = cv2.remap(coarse_y, at_x, at_y, interpolation=cv2.INTER_LINEAR)
        return cv2.remap(
            pixels,
            map_x,
            map_y,
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=fill,
        )


def map_points(degradations: Sequence[dict[str, Any]], points: Points, size: tuple[int, int]) -> Points:
    """Points of the printed page where they are in the scan, through each geometric step applied."""
    mapped = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    for done in degradations:
        kind = done["kind"]
        if kind == "Skew":
            mapped = rotate_points(mapped, done["angle"], size)
        elif kind == "Perspective":
            mapped = project_points(mapped, done["matrix"])
        elif kind == "PageCurl":
            curl = Curl(done["edge"], done["pull"], done["squeeze"], done["wave"], done["reach"])
            mapped = curl.forward(mapped, size)
    return mapped
