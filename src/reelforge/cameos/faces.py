"""Face detection with five landmarks: MTCNN (Zhang et al. 2016) on the weights that ship
inside the `facenet-pytorch` package (MIT).

facenet_pytorch itself is never imported: it imports torchvision, which reelforge does not
install. We find its data folder, load the three small networks' state dicts into our own
modules (same layer names, so the keys match) and run the cascade here:

1. Pyramid. The frame is scaled so that the smallest face we look for is 12 px, then by
   0.709 per level until the shorter side is under 12 px.
2. P-Net, fully convolutional over each level: a face probability and a box correction
   per 12 × 12 window (stride 2). Windows over the first threshold become boxes, NMS per
   level (IoU 0.5) and across levels (0.7), corrected and squared.
3. R-Net on each candidate resized to 24 × 24: rejects most, corrects the rest; NMS 0.7.
4. O-Net on 48 × 48 crops: a last probability, a box correction and five landmarks
   (the eyes, the nose tip, the mouth's corners); NMS by the smaller box's area (0.7).

Inputs are RGB uint8 frames; boxes and landmarks come back in the frame's pixels. The
networks run on the CPU in float32 and take a few milliseconds for a 320 × 240 frame.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reelforge.errors import ConfigError

THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net face probabilities
PYRAMID_FACTOR = 0.709


@dataclass(frozen=True)
class Face:
    """One detected face. box: (x0, y0, x1, y1) px; landmarks: (5, 2) px as (x, y) for the
    image-left eye, the image-right eye, the nose tip, the image-left and the image-right
    mouth corner (image-left: the smaller x, whatever way the person faces)."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


# ---------------------------------------------------------------------------------------
# The three networks (layer names match facenet-pytorch's state dicts).


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)  # face / not
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)  # box correction

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), F.softmax(self.conv4_1(x), dim=1)  # (B, 4, h, w), (B, 2, h, w)


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x))  # (B, 64, 3, 3)
        # The original (Caffe) weights flatten in (W, H, C) order.
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense5_2(x), F.softmax(self.dense5_1(x), dim=1)  # (B, 4), (B, 2)


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)  # landmarks: 5 x then 5 y, in the box's units

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x))  # (B, 128, 3, 3)
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), F.softmax(self.dense6_1(x), dim=1)


def _weights_folder() -> Path:
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "facenet-pytorch is not installed: its MTCNN weights are needed for cameo "
            "verification (pip install --no-deps facenet-pytorch==2.6.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


_NETS: tuple[PNet, RNet, ONet] | None = None
_LOCK = threading.Lock()


def _networks() -> tuple[PNet, RNet, ONet]:
    global _NETS
    with _LOCK:
        if _NETS is None:
            folder = _weights_folder()
            nets = (PNet(), RNet(), ONet())
            for net, name in zip(nets, ("pnet", "rnet", "onet"), strict=True):
                state = torch.load(folder / f"{name}.pt", map_location="cpu", weights_only=True)
                net.load_state_dict(state)
                net.eval()
            _NETS = nets
        return _NETS


# ---------------------------------------------------------------------------------------
# The cascade.


def detect_faces(
    rgb: np.ndarray, min_face_px: float = 20.0, max_face_px: float | None = None
) -> list[Face]:
    """Every face of at least `min_face_px` (and, roughly, at most `max_face_px`) in the
    (H, W, 3) uint8 RGB frame, best first."""
    pnet, rnet, onet = _networks()
    height, width = rgb.shape[:2]
    # (H, W, 3) float32 in about [-1, 1]; resizing is done with OpenCV's area filter, which
    # is what the networks were trained with and ten times faster than torch's on a CPU.
    image = (rgb.astype(np.float32) - 127.5) * 0.0078125
    with torch.inference_mode():
        boxes = _propose(pnet, image, min_face_px, max_face_px)  # (N, 5): x0 y0 x1 y1 score
        if len(boxes):
            boxes = _refine(rnet, image, boxes, 24)
        if not len(boxes):
            return []
        return _finish(onet, image, boxes, width, height)


def _propose(
    pnet: PNet, image: np.ndarray, min_face_px: float, max_face_px: float | None
) -> np.ndarray:
    height, width = image.shape[:2]
    scale = 12.0 / min_face_px
    smallest_scale = 12.0 / max_face_px if max_face_px else 0.0
    candidates = []
    while min(height, width) * scale >= 12 and scale >= smallest_scale:
        size = (int(width * scale + 1), int(height * scale + 1))
        level = cv2.resize(image, size, interpolation=cv2.INTER_AREA)  # (h, w, 3)
        correction, probability = pnet(torch.from_numpy(level).permute(2, 0, 1)[None])
        face = probability[0, 1].numpy()  # (h, w)
        ys, xs = np.nonzero(face >= THRESHOLDS[0])
        if len(ys):
            # Each output cell is a 12 px window at stride 2 of this level.
            x0 = np.floor((2 * xs + 1) / scale)
            y0 = np.floor((2 * ys + 1) / scale)
            x1 = np.floor((2 * xs + 12) / scale)
            y1 = np.floor((2 * ys + 12) / scale)
            reg = correction[0].numpy()[:, ys, xs].T  # (n, 4)
            level_boxes = np.stack([x0, y0, x1, y1, face[ys, xs]], axis=1)
            keep = _nms(level_boxes, 0.5, "union")
            candidates.append(np.concatenate([level_boxes[keep], reg[keep]], axis=1))
        scale *= PYRAMID_FACTOR
    if not candidates:
        return np.zeros((0, 5))
    found = np.concatenate(candidates)
    found = found[_nms(found[:, :5], 0.7, "union")]
    return _square(_apply_correction(found[:, :5], found[:, 5:9]))


def _refine(rnet: RNet, image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    correction, probability = rnet(_crops(image, boxes, size))
    score = probability[:, 1].numpy()
    passed = score > THRESHOLDS[1]
    boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
    reg = correction.numpy()[passed]
    keep = _nms(boxes, 0.7, "union")
    return _square(_apply_correction(boxes[keep], reg[keep]))


def _finish(
    onet: ONet, image: np.ndarray, boxes: np.ndarray, width: int, height: int
) -> list[Face]:
    correction, points, probability = onet(_crops(image, boxes, 48))
    score = probability[:, 1].numpy()
    passed = score > THRESHOLDS[2]
    boxes = np.concatenate([boxes[passed, :4], score[passed, None]], axis=1)
    points = points.numpy()[passed]  # (n, 10): x0..x4 then y0..y4, fractions of the box
    box_w = boxes[:, 2] - boxes[:, 0] + 1
    box_h = boxes[:, 3] - boxes[:, 1] + 1
    xs = boxes[:, 0:1] + box_w[:, None] * points[:, :5] - 1
    ys = boxes[:, 1:2] + box_h[:, None] * points[:, 5:] - 1
    landmarks = np.stack([xs, ys], axis=2)  # (n, 5, 2)
    boxes = _apply_correction(boxes, correction.numpy()[passed])
    keep = _nms(boxes, 0.7, "min")
    faces = []
    for index in keep:
        x0, y0, x1, y1, face_score = boxes[index]
        faces.append(
            Face(
                box=(max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)),
                score=float(face_score),
                landmarks=landmarks[index].astype(np.float64),
            )
        )
    return faces


def _crops(image: np.ndarray, boxes: np.ndarray, size: int) -> torch.Tensor:
    """Each box cut from the image (clipped to it) and resized to size × size: (N, 3, s, s)."""
    height, width = image.shape[:2]
    crops = np.zeros((len(boxes), size, size, 3), np.float32)
    for index, (x0, y0, x1, y1) in enumerate(boxes[:, :4].astype(int)):
        left, top = min(max(x0 - 1, 0), width - 1), min(max(y0 - 1, 0), height - 1)
        right, bottom = min(max(x1, left + 1), width), min(max(y1, top + 1), height)
        crops[index] = cv2.resize(
            image[top:bottom, left:right], (size, size), interpolation=cv2.INTER_AREA
        )
    return torch.from_numpy(crops).permute(0, 3, 1, 2)


def _apply_correction(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Boxes moved by the network's corrections, given in units of the box's size."""
    box_w = boxes[:, 2] - boxes[:, 0] + 1
    box_h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0] += reg[:, 0] * box_w
    out[:, 1] += reg[:, 1] * box_h
    out[:, 2] += reg[:, 2] * box_w
    out[:, 3] += reg[:, 3] * box_h
    return out


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares about their centres (the next network's input is square)."""
    out = boxes.copy()
    box_w = boxes[:, 2] - boxes[:, 0]
    box_h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(box_w, box_h)
    out[:, 0] = boxes[:, 0] + box_w / 2 - side / 2
    out[:, 1] = boxes[:, 1] + box_h / 2 - side / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _nms(boxes: np.ndarray, threshold: float, overlap: str) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first.
    overlap "union" is IoU; "min" divides by the smaller area (drops boxes inside others)."""
    if not len(boxes):
        return np.zeros(0, dtype=int)
    x0, y0, x1, y1, score = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(score)[::-1]
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(best)
        inter_w = np.maximum(
            0.0, np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest]) + 1
        )
        inter_h = np.maximum(
            0.0, np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest]) + 1
        )
        inter = inter_w * inter_h
        if overlap == "min":
            ratio = inter / np.minimum(area[best], area[rest])
        else:
            ratio = inter / (area[best] + area[rest] - inter)
        order = rest[ratio <= threshold]
    return np.array(keep, dtype=int)
