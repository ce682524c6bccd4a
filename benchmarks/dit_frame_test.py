"""Issue 23 part 5, the CPU frame test: can a small model in the chosen representation (pixels
at 64x112, 8x8 patches), conditioned on the plan's tokens and trained for about an hour on
two cores, draw the plan's colours and kinds on single held-out frames?

1. Render: random training scenes (`data.random_scene`, the dit's own prompt stream) through
   the rules planner and the sim at 256x448, `--frames-per-clip` frames at random times of
   each, shrunk (area) to 64x112. Held-out scenes come from another seed. Cached in
   `--cache` (rendering is skipped when the cache holds the same request).
2. Train `FrameDiT` (engines/dit/frame_model.py) for `--minutes`, clean-frame prediction
   with the velocity loss, plan and tokens dropped at random; an EMA of the weights is
   what is judged.
3. Judge each held-out frame with the eval's object detector (eval/objects.py, after the
   eval's face finder masks characters) at the eval's reading size, 360x640 (cubic
   upscale), for each object group of a colour the detector knows: is the colour there,
   and is that colour's main shape the group's kind. Peers measured in the same run with
   the same judge: the ceiling (the sim's own frame at 64x112), the training frames' mean
   (a model that ignores the plan and draws the average scene), noise, and the model's
   frame judged against another held-out plan (what matching the plan by chance scores).

The test passes (decided before the run, written in docs/DIT.md) when, for both the colour
and the kind, the model keeps at least half of the ceiling's rate and its 95 % bootstrap
interval lies above the mismatched peer's, and it draws at most one colour per frame that
neither the plan nor the ceiling's frame shows (saturated noise shows every colour).

With `--object-weight W` the training loss weighs each target frame's small saturated
regions (its objects, and shirts) 1 + W times (a training-time weight read from the sim's
frames, disclosed in docs/DIT.md; sampling never sees it).

    .venv/bin/python benchmarks/dit_frame_test.py [--minutes 60] [--train-clips 3000]
        [--heldout 128] [--object-weight 0] [--no-write]

Writes benchmarks/results/dit_frame_test.json, docs/img/dit-frame-test.jpg and the marked
section of docs/DIT.md (with --object-weight: dit_frame_test_objects.json,
dit-frame-test-objects.jpg and a section of its own).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from benchmark_doc import write_section
from reelforge.engines.dit.frame_model import FrameConfig, FrameDiT, frame_loss, sample_frames
from reelforge.engines.dit.plan_tokens import encode_plan, stack_plans
from reelforge.eval.characters import find_faces
from reelforge.eval.objects import MAX_AREA_FRACTION, MIN_VALUE, PALETTE_HUES, detect

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "DIT.md"


@dataclass(frozen=True)
class Outputs:
    """Where a run writes: the plain run, or (with --object-weight) its own files and
    section, so that both results stay side by side."""

    results: Path
    image: Path
    begin: str
    end: str

    @classmethod
    def of(cls, object_weight: float) -> Outputs:
        name, label = ("", "") if object_weight <= 0 else ("-objects", ", objects weighted")
        return cls(
            ROOT / "benchmarks" / "results" / f"dit_frame_test{name.replace('-', '_')}.json",
            ROOT / "docs" / "img" / f"dit-frame-test{name}.jpg",
            f"<!-- dit frame test{label}: begin -->",
            f"<!-- dit frame test{label}: end -->",
        )


RENDER_SIZE, RENDER_FPS, RENDER_SECONDS = "256x448", 12, 2.0
READING = (360, 640)  # the eval reads 720x1280 clips at half size (reader.read_clip)
TRAIN_SEED, HELDOUT_SEED = 23_5, 23_6
KEEP_SHARE = 0.5  # of the ceiling's rate, the pass line
MAX_UNASKED = 1.0  # colours per frame that neither the plan nor the ceiling shows (noise: 4+)


@dataclass
class Scenes:
    frames: np.ndarray  # uint8 (N, H, W, 3)
    plans: list[dict[str, Any]]  # ScenePlan.model_dump() per frame
    prompts: list[str]


def render_clip(
    args: tuple[int, int, int, int, int],
) -> tuple[list[np.ndarray], dict[str, Any], str]:
    """Frames of training scene `index` of `seed` at random times, shrunk to width x height."""
    from reelforge.engines.dit.data import random_scene
    from reelforge.engines.sim import SimEngine
    from reelforge.settings import Settings

    seed, index, per_clip, width, height = args
    settings = Settings(recaption_llm_url=None)
    rng = np.random.default_rng([seed, index])
    prompt, plan, _caption = random_scene(rng, settings)
    clip = SimEngine(settings).generate(
        plan, seconds=RENDER_SECONDS, size=RENDER_SIZE, fps=RENDER_FPS,
        seed=int(rng.integers(2**31)),
    )  # fmt: skip
    frames = np.asarray(clip.frames)
    picks = rng.choice(len(frames), size=min(per_clip, len(frames)), replace=False)
    small = [cv2.resize(frames[i], (width, height), interpolation=cv2.INTER_AREA) for i in picks]
    return small, plan.model_dump(mode="json"), prompt


def render(seed: int, clips: int, per_clip: int, cfg: FrameConfig, cache: Path) -> Scenes:
    path = cache / f"scenes-{seed}-{clips}x{per_clip}-{cfg.width}x{cfg.height}.npz"
    if path.exists():
        stored = np.load(path, allow_pickle=False)
        meta = json.loads(str(stored["meta"]))
        return Scenes(stored["frames"], meta["plans"], meta["prompts"])
    started = time.perf_counter()
    frames: list[np.ndarray] = []
    plans: list[dict[str, Any]] = []
    prompts: list[str] = []
    jobs = [(seed, i, per_clip, cfg.width, cfg.height) for i in range(clips)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        for done, (small, plan, prompt) in enumerate(pool.map(render_clip, jobs, chunksize=8), 1):
            frames.extend(small)
            plans.extend([plan] * len(small))
            prompts.extend([prompt] * len(small))
            if done % 200 == 0 or done == clips:
                print(f"render seed {seed}: {done}/{clips} clips "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)  # fmt: skip
    scenes = Scenes(np.stack(frames), plans, prompts)
    cache.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"plans": plans, "prompts": prompts})
    np.savez(path.with_suffix(".tmp.npz"), frames=scenes.frames, meta=np.array(meta))
    path.with_suffix(".tmp.npz").rename(path)
    return scenes


def object_weights(frames: np.ndarray, weight: float) -> np.ndarray:
    """(N, 1, H, W) float32 training-time loss weights: 1 + `weight` on the small saturated
    regions of each target frame (the objects, and shirts), grown by a pixel to take in
    their edges. Read from the training frames only; nothing of it reaches sampling."""
    out = np.ones((len(frames), 1, *frames.shape[1:3]), np.float32)
    if weight <= 0:
        return out
    max_area = MAX_AREA_FRACTION * frames.shape[1] * frames.shape[2]
    grow = np.ones((3, 3), np.uint8)
    for i, frame in enumerate(frames):
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        chromatic = ((hsv[..., 1] >= 100) & (hsv[..., 2] >= MIN_VALUE)).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(chromatic, connectivity=8)
        small = np.zeros(n, bool)
        small[1:] = stats[1:, cv2.CC_STAT_AREA] <= max_area
        mask = cv2.dilate(small[labels].astype(np.uint8), grow)
        out[i, 0] += weight * mask
    return out


def encoded(plans: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    from reelforge.types import ScenePlan

    return stack_plans([encode_plan(ScenePlan.model_validate(p)) for p in plans])


def to_model(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_pixels(frames: torch.Tensor) -> np.ndarray:
    return frames.add(1.0).mul(127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


# ---------------------------------------------------------------------------------------
# Training


def train(
    cfg: FrameConfig,
    scenes: Scenes,
    minutes: float,
    batch: int,
    lr: float,
    seed: int,
    object_weight: float = 0.0,
) -> tuple[FrameDiT, dict[str, Any]]:
    torch.manual_seed(seed)
    model = FrameDiT(cfg)
    ema = FrameDiT(cfg)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    frames = to_model(scenes.frames)
    plans = encoded(scenes.plans)
    # Only a weighted run holds a weight per pixel (12,000 frames: 340 MB of float32).
    weights = (
        torch.from_numpy(object_weights(scenes.frames, object_weight))
        if object_weight > 0
        else None
    )
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    deadline = started + 60 * minutes
    losses: list[float] = []
    step = 0
    while time.perf_counter() < deadline:
        pick = torch.randint(len(frames), (batch,), generator=generator)
        warm = min(1.0, (step + 1) / 200)
        for group in optimiser.param_groups:
            group["lr"] = lr * warm
        loss = frame_loss(
            model,
            frames[pick],
            {k: v[pick] for k, v in plans.items()},
            generator,
            weights=weights[pick] if weights is not None else None,
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        losses.append(float(loss.detach()))
        step += 1
        if step % 100 == 0:
            elapsed = time.perf_counter() - started
            print(f"step {step}: loss {np.mean(losses[-100:]):.4f} ({elapsed:.0f} s, "
                  f"{step * batch / elapsed:.1f} frames/s)", file=sys.stderr)  # fmt: skip
    elapsed = time.perf_counter() - started
    curve = [round(float(np.mean(losses[i : i + 100])), 4) for i in range(0, len(losses), 100)]
    return ema, {
        "steps": step,
        "batch": batch,
        "seconds": round(elapsed),
        "frames_per_s": round(step * batch / elapsed, 1),
        "loss_per_100_steps": curve,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


# ---------------------------------------------------------------------------------------
# Judging


def seen_in(frame: np.ndarray) -> dict[str, list[str]]:
    """colour → the kinds of the objects of that colour the eval's detector finds in a
    64x112 frame read at the eval's size, characters masked as the eval masks them."""
    big = cv2.resize(frame, READING, interpolation=cv2.INTER_CUBIC)
    exclude = [face.body_box() for face in find_faces(big[None])]
    found: dict[str, list[str]] = {}
    for d in detect(big, exclude):
        found.setdefault(d.color, []).append(d.kind)
    return found


def asked(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(colour, kind) of each object group whose colour the detector can see."""
    return [(o["color"], o["kind"]) for o in plan["objects"] if o["color"] in PALETTE_HUES]


def judge(frame: np.ndarray, plan: dict[str, Any], scene: set[str]) -> dict[str, Any]:
    found = seen_in(frame)
    groups = asked(plan)
    colours = [c in found for c, _ in groups]
    # The colour's main shape; a tie goes to the first kind in alphabetical order (the two
    # recorded runs broke ties by set order, which varies between processes).
    kinds = [c in found and max(sorted(set(found[c])), key=found[c].count) == k for c, k in groups]
    unasked = sorted(c for c in found if c not in {c for c, _ in groups} | scene)
    return {"colour": colours, "kind": kinds, "unasked": unasked}


def rate(rows: list[dict[str, Any]], key: str, rng: np.random.Generator) -> dict[str, float]:
    """Mean over object groups, with a 95 % bootstrap interval over frames."""
    per_frame = [r[key] for r in rows if r[key]]
    hits = np.array([sum(v) for v in per_frame], float)
    sizes = np.array([len(v) for v in per_frame], float)
    draws = rng.integers(len(per_frame), size=(2000, len(per_frame)))
    boot = hits[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    return {
        "rate": round(float(hits.sum() / sizes.sum()), 3),
        "low": round(float(np.quantile(boot, 0.025)), 3),
        "high": round(float(np.quantile(boot, 0.975)), 3),
    }


def evaluate(
    model: FrameDiT, heldout: Scenes, train_mean: np.ndarray, steps: int, guidance: float
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    n = len(heldout.frames)
    plans = encoded(heldout.plans)
    drawn = []
    generator = torch.Generator().manual_seed(0)
    for start in range(0, n, 16):
        part = {k: v[start : start + 16] for k, v in plans.items()}
        drawn.append(
            to_pixels(sample_frames(model, part, generator, steps=steps, guidance=guidance))
        )
    model_frames = np.concatenate(drawn)
    noise = np.random.default_rng(0).integers(0, 256, heldout.frames.shape, dtype=np.uint8)
    blank = np.broadcast_to(train_mean, heldout.frames.shape)
    peers = {"sim at 64x112 (ceiling)": heldout.frames, "model": model_frames,
             "training mean": blank, "noise": noise}  # fmt: skip
    # The colours the ceiling's frame shows besides the asked ones (foliage, a shirt) are
    # the scene's: a peer is not blamed for them.
    scenes = [
        set(seen_in(f)) - {c for c, _ in asked(p)}
        for f, p in zip(heldout.frames, heldout.plans, strict=True)
    ]
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, frames in peers.items():
        rows[name] = [judge(frames[i], heldout.plans[i], scenes[i]) for i in range(n)]
    rows["model, judged against another plan"] = [
        judge(model_frames[i], heldout.plans[(i + 1) % n], scenes[(i + 1) % n]) for i in range(n)
    ]
    rng = np.random.default_rng(0)
    table = {
        name: {
            "colour": rate(found, "colour", rng),
            "kind": rate(found, "kind", rng),
            "unasked_per_frame": round(float(np.mean([len(r["unasked"]) for r in found])), 2),
        }
        for name, found in rows.items()
    }
    return table, {"model": model_frames}


def verdict(table: dict[str, Any]) -> dict[str, Any]:
    ceiling, model = table["sim at 64x112 (ceiling)"], table["model"]
    chance = table["model, judged against another plan"]
    checks = {}
    for key in ("colour", "kind"):
        share = model[key]["rate"] / max(ceiling[key]["rate"], 1e-9)
        checks[key] = {
            "share_of_ceiling": round(share, 3),
            "above_chance": model[key]["low"] > chance[key]["high"],
            "ok": share >= KEEP_SHARE and model[key]["low"] > chance[key]["high"],
        }
    clean = model["unasked_per_frame"] <= MAX_UNASKED
    return {
        "passed": clean and all(c["ok"] for c in checks.values()),
        "checks": checks,
        "unasked_ok": clean,
    }


def contact_sheet(heldout: Scenes, model_frames: np.ndarray, count: int = 12) -> np.ndarray:
    """Pairs (sim's frame | the model's) of the first `count` held-out plans, at 2x."""
    tiles = []
    for i in range(min(count, len(model_frames))):
        pair = np.concatenate(
            [
                heldout.frames[i],
                np.full((heldout.frames.shape[1], 2, 3), 255, np.uint8),
                model_frames[i],
            ],
            axis=1,
        )
        tiles.append(
            cv2.resize(
                pair, (pair.shape[1] * 2, pair.shape[0] * 2), interpolation=cv2.INTER_NEAREST
            )
        )
    gap = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
    rows = []
    per_row = 6
    for r in range(0, len(tiles), per_row):
        row = tiles[r : r + per_row]
        row += [np.full_like(tiles[0], 255)] * (per_row - len(row))
        rows.append(np.concatenate([x for t in row for x in (t, gap)][:-1], axis=1))
    sheet = np.concatenate(
        [x for r in rows for x in (r, np.full((8, r.shape[1], 3), 255, np.uint8))][:-1], axis=0
    )
    return sheet


def doc_section(result: dict[str, Any], args: argparse.Namespace, out: Outputs) -> str:
    t = result["training"]
    weighted = f" --object-weight {args.object_weight:g}" if args.object_weight > 0 else ""
    lines = [
        out.begin,
        f"`benchmarks/dit_frame_test.py --minutes {args.minutes:g} --train-clips "
        f"{args.train_clips} --heldout {args.heldout}{weighted}`: "
        f"{t['parameters'] / 1e6:.1f} M parameters, "
        f"{t['steps']} steps of {t['batch']} frames in {t['seconds'] / 60:.0f} min on this "
        f"machine's two cores ({t['frames_per_s']} frames/s), {result['train_frames']} "
        f"training frames from {args.train_clips} scenes; {args.heldout} held-out scenes, one "
        f"frame each; {args.steps} sampling steps, guidance {args.guidance:g}. Rates over the "
        "held-out object groups of a colour the detector knows, with 95 % bootstrap "
        "intervals over frames; unasked: colours per frame that neither the plan nor the "
        "ceiling's frame shows.",
        "",
        "| frames judged | colour drawn | colour's main shape is the kind "
        "| unasked colours per frame |",
        "|---|---|---|---|",
    ]
    for name, row in result["table"].items():
        c, k = row["colour"], row["kind"]
        lines.append(
            f"| {name} | {c['rate']} ({c['low']}-{c['high']}) "
            f"| {k['rate']} ({k['low']}-{k['high']}) | {row['unasked_per_frame']} |"
        )
    v = result["verdict"]
    words = {True: "yes", False: "no"}
    lines += [
        "",
        f"Pass line: at least {KEEP_SHARE:.0%} of the ceiling's rate and above chance, for "
        "colour and for kind, and few colours nobody asked for. Colour: "
        f"{v['checks']['colour']['share_of_ceiling']:.0%} of the ceiling, above chance "
        f"{words[v['checks']['colour']['above_chance']]}; kind: "
        f"{v['checks']['kind']['share_of_ceiling']:.0%}, above chance "
        f"{words[v['checks']['kind']['above_chance']]}; unasked colours at most "
        f"{MAX_UNASKED:g} per frame: {words[v['unasked_ok']]}. **The test "
        f"{'passed' if v['passed'] else 'failed'}.**",
        "",
        "![held-out plans: the sim's frame (left of each pair) and the model's]"
        f"(img/{out.image.name})",
        out.end,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--train-clips", type=int, default=3000)
    parser.add_argument("--frames-per-clip", type=int, default=4)
    parser.add_argument("--heldout", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--dim", type=int, default=192)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--steps", type=int, default=40, help="sampling steps")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument(
        "--object-weight",
        type=float,
        default=0.0,
        help="extra training loss weight on the target frames' small saturated regions",
    )
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "reelforge-frame-test"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if (
        args.minutes <= 0
        or args.train_clips < 1
        or args.heldout < 2
        or args.frames_per_clip < 1
        or args.object_weight < 0
    ):
        parser.error(
            "--minutes must be > 0, --train-clips ≥ 1, --heldout ≥ 2, --frames-per-clip ≥ 1, "
            "--object-weight ≥ 0"
        )
    torch.set_num_threads(2)
    cfg = FrameConfig(dim=args.dim, depth=args.depth, heads=max(1, args.dim // 64))

    training = render(TRAIN_SEED, args.train_clips, args.frames_per_clip, cfg, args.cache)
    heldout = render(HELDOUT_SEED, args.heldout, 1, cfg, args.cache)
    model, log = train(
        cfg, training, args.minutes, args.batch, args.lr, seed=0, object_weight=args.object_weight
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"config": cfg.as_dict(), "state": model.state_dict()}, args.cache / "frame-model.pt"
    )
    train_mean = training.frames.mean(axis=0).round().astype(np.uint8)
    table, drawn = evaluate(model, heldout, train_mean, args.steps, args.guidance)
    result = {
        "config": cfg.as_dict(),
        "object_weight": args.object_weight,
        "training": log,
        "train_frames": len(training.frames),
        "table": table,
        "verdict": verdict(table),
        "heldout_prompts": heldout.prompts,
    }
    out = Outputs.of(args.object_weight)
    section = doc_section(result, args, out)
    print(section)
    if not args.no_write:
        out.results.write_text(json.dumps(result, indent=1) + "\n")
        cv2.imwrite(
            str(out.image),
            cv2.cvtColor(contact_sheet(heldout, drawn["model"]), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 88],
        )
        write_section(out.begin, out.end, section, doc=DOC)


if __name__ == "__main__":
    main()
