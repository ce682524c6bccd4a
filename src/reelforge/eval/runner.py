"""`reelforge eval`: generate every prompt of a suite with an engine, measure each clip,
and write a JSON report and a Markdown summary with plots of the error distributions.

With cameos, every prompt with a character is generated with the cameo of a random
likeness (`random_likeness(np.random.default_rng(index))`, cameos/draw.py): the sim casts
it into the plan, a learned engine gets its portrait and voice; the clip is checked for
the look of the character it draws (eval/identity.py).

An everyday suite (suite.EverydayPrompt rows: things of the asset library, people and
verbs) is judged by eval/everyday.py as well: whether each thing is drawn, and whether
each verb is acted out; its summary adds the median share of things drawn and the mean
share of verbs realised.

Each prompt is appended to `rows.jsonl` in the output directory as soon as it is
measured, so an interrupted run loses at most the prompt it was on: `resume=True` reads
that file back and generates only the prompts not in it (a prompt's seed is its index,
so the scenes are the ones an uninterrupted run makes; the invisible watermark's payload
is fresh per file, in any run)."""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelforge import pipeline
from reelforge.assets.catalogue import Catalogue, load_catalogue
from reelforge.assets.install import default_assets_dir
from reelforge.cameos.draw import likeness_reference, random_likeness
from reelforge.deployment import Deployment
from reelforge.engines import get_engine
from reelforge.engines.dit.references import CameoReference
from reelforge.errors import InvalidRequest
from reelforge.eval.everyday import judge_everyday, reading_scale
from reelforge.eval.metrics import (
    ClipMetrics,
    Expected,
    Seen,
    evaluate_clip,
    evaluate_reading,
    faithfulness,
    observe,
    physics,
)
from reelforge.eval.peers import PEERS, faithfulness_against_peers, peer_clip
from reelforge.eval.reader import read_clip
from reelforge.eval.suite import EverydayPrompt, SuitePrompt
from reelforge.files import write_atomic
from reelforge.media import encode_mp4
from reelforge.safety import ContentPolicyViolation
from reelforge.settings import Settings
from reelforge.types import Request


@dataclass(frozen=True)
class EvalOptions:
    engine: str
    seconds: float = 4.0
    size: str = "720x1280"
    fps: int = 24
    keep_clips: bool = False
    cameos: bool = False  # give prompts with characters a cameo and check its identity

    def request(self, prompt: str, seed: int, engine: str | None = None) -> Request:
        """The request for one prompt of the run (`engine`: another than the run's)."""
        return Request(
            prompt=prompt,
            seconds=self.seconds,
            size=self.size,
            fps=self.fps,
            seed=seed,
            engine=engine or self.engine,
        )


def expected_of(prompt: SuitePrompt) -> Expected:
    return Expected(
        objects=tuple((o.kind, o.color, o.count) for o in prompt.objects),
        characters=prompt.characters,
        dialogue=bool(prompt.dialogue),
    )


Prompt = SuitePrompt | EverydayPrompt


def run_suite(
    prompts: Sequence[Prompt],
    options: EvalOptions,
    out_dir: Path,
    settings: Settings,
    progress: Callable[[int, int, str], None] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Generate and evaluate each prompt; return (and write) the report. Clips are made
    without the visible watermark: the judge measures the engine, and a mark drifting over
    an object would be measured as the engine's fault (the invisible marks and the C2PA
    signature are still there)."""
    settings = settings.model_copy(update={"visible_watermark": False})
    clips_dir = out_dir / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    settings_of_run: dict[str, Any] = {
        "engine": options.engine,
        "seconds": options.seconds,
        "size": options.size,
        "fps": options.fps,
        "cameos": options.cameos,
    }
    everyday = any(isinstance(p, EverydayPrompt) for p in prompts)
    if everyday:  # only then: a core run's rows file stays resumable as it was
        settings_of_run["suite"] = "everyday"
    catalogue = load_catalogue(default_assets_dir()) if everyday else None
    done = _done_before(out_dir / ROWS, settings_of_run, prompts, resume)
    log = _RowLog(out_dir / ROWS, settings_of_run, [p.id for p in prompts], list(done.values()))
    rows: list[dict[str, Any]] = []
    blocked: list[dict[str, str]] = []  # prompts the content policy refused
    takes_cameos = options.cameos and get_engine(options.engine, settings).capabilities.cameos
    deployment = Deployment(settings)  # one policy engine and registry for the whole run
    for index, prompt in enumerate(prompts):
        if progress:
            progress(index, len(prompts), prompt.id)
        if prompt.id in done:  # measured by an earlier run of this one
            entry = done[prompt.id]
            if "row" in entry:
                rows.append(entry["row"])
            else:
                blocked.append(entry["blocked"])
            continue
        started = time.perf_counter()
        path = clips_dir / f"{prompt.id}.mp4"
        request = options.request(prompt.prompt, index)
        characters = prompt.people if isinstance(prompt, EverydayPrompt) else prompt.characters
        cameo = _cameo_for(index) if options.cameos and characters >= 1 else None
        t0 = time.perf_counter()
        try:
            # An engine that cannot take cameos makes the clip without one; its clip is
            # still checked, and is expected not to show the cameo's character.
            cameos = (cameo,) if cameo is not None and takes_cameos else ()
            pipeline.generate(request, path, deployment=deployment, cameos=cameos)
        except ContentPolicyViolation as error:  # reported, not measured; the run goes on
            blocked.append({"id": prompt.id, "prompt": prompt.prompt, "reason": str(error)})
            log.add(prompt, {"blocked": blocked[-1]}, time.perf_counter() - started)
            continue
        generate_s = time.perf_counter() - t0
        rows.append(
            {
                "id": prompt.id,
                "prompt": prompt.prompt,
                "tags": list(prompt.tags),
                "generate_s": generate_s,
                **_measure(path, prompt, cameo, catalogue),
            }
        )
        if not options.keep_clips:
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
        log.add(prompt, {"row": rows[-1]}, time.perf_counter() - started)
    if progress:
        progress(len(prompts), len(prompts), "done")
    against = _against_peers(prompts, rows, options, out_dir, deployment) if not everyday else {}
    summary = summarize(rows, options.fps, against.get("ceiling_flight_segments"))
    if against:
        summary["against_peers"] = against
    report = {
        **settings_of_run,
        "prompts": len(prompts),
        "engine_takes_cameos": takes_cameos if options.cameos else None,
        "wall_s": log.spent_s,  # generating and measuring, over all the runs of a resumed one
        "summary": summary,
        "clips": rows,
        "blocked": blocked,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=_json_default))
    plots = write_plots(rows, out_dir)
    (out_dir / "summary.md").write_text(markdown_summary(report, plots))
    return report


ROWS = "rows.jsonl"  # a header line, then one line per measured (or refused) prompt


def _against_peers(
    prompts: Sequence[Prompt],
    rows: list[dict[str, Any]],
    options: EvalOptions,
    out_dir: Path,
    deployment: Deployment,
) -> dict[str, Any]:
    """Faithfulness of the peers (eval/peers.py: blank, noise, and the ceiling's clip of
    another prompt) and of the ceiling on the same prompts, at the run's size and length,
    next to the engine's, with intervals; and how many free flights the ceiling's clips
    show, for the physics gate. A weak engine's score reads against what a clip that
    ignores its prompt scores, and against the best its representation allows. All of
    them here also check for colours nobody asked for (and the ceiling's clip of the
    prompt does not show), so the engine's number can sit below its plain faithfulness."""
    expected = {p.id: expected_of(p) for p in prompts if isinstance(p, SuitePrompt)}
    measured = {
        row["id"]: Seen.from_detections(row["detections"])
        for row in rows
        if row["id"] in expected and row["faithfulness"].get("score") is not None
    }
    if not measured:
        return {}
    ceiling_seen, ceiling_flights, ceiling_of = _ceiling(
        prompts, rows, measured, options, out_dir, deployment
    )
    ids = [p.id for p in prompts if p.id in measured and p.id in ceiling_seen]
    if not ids:
        return {}
    # The colours each prompt's ceiling shows besides the asked ones (scenery) are no
    # fault; any other colour is one nobody asked for.
    scene = {i: frozenset(c for c, _ in ceiling_seen[i].counts) for i in ids}

    def score(seen: Seen, i: str) -> float:
        return float(faithfulness(seen, expected[i], scene[i])["score"])

    engine = {i: score(measured[i], i) for i in ids}
    peer_scores: dict[str, dict[str, float]] = {}
    for kind in PEERS:
        path = out_dir / "clips" / f"peer-{kind}.mp4"
        peer_clip(kind, path, options.size, options.seconds, options.fps)
        seen = Seen.of(observe(read_clip(path)))
        path.unlink(missing_ok=True)
        peer_scores[kind] = {i: score(seen, i) for i in ids}
    if len(ids) >= 2:  # each prompt judged on the ceiling's clip of the next one
        peer_scores["mismatched"] = {
            i: score(ceiling_seen[ids[(k + 1) % len(ids)]], i) for k, i in enumerate(ids)
        }
    ceiling = {i: score(ceiling_seen[i], i) for i in ids}
    report = faithfulness_against_peers(engine, peer_scores, ceiling)
    report["ceiling_is"] = ceiling_of
    report["ceiling_flight_segments"] = ceiling_flights
    return report


def _ceiling(
    prompts: Sequence[Prompt],
    rows: list[dict[str, Any]],
    measured: dict[str, Seen],
    options: EvalOptions,
    out_dir: Path,
    deployment: Deployment,
) -> tuple[dict[str, Seen], int, str]:
    """What the ceiling's clips show (prompt id → Seen), their free flights in all, and
    what the ceiling is. The sim's representation is its own output, so its rows are its
    ceiling; another engine's is the sim's clip of the same request, through the engine's
    own representation when it has a `represent` (the dit: its codecs)."""
    if options.engine == "sim":  # what the engine's clips show is the ceiling's
        flights = sum(int(row["physics"]["flight_segments"]) for row in rows)
        return dict(measured), flights, "the sim's own clips"
    # An engine that can say what its representation keeps of a clip (the dit: its video
    # VAE at its native size and its audio codec) has the sim's clips through it.
    represent = getattr(get_engine(options.engine, deployment.settings), "represent", None)
    seen, flights = {}, 0
    for index, prompt in enumerate(prompts):
        if prompt.id not in measured:
            continue
        path = out_dir / "clips" / f"ceiling-{prompt.id}.mp4"
        request = options.request(prompt.prompt, index, engine="sim")
        try:
            pipeline.generate(request, path, deployment=deployment)
        except ContentPolicyViolation:
            continue
        if represent is not None:
            clip = read_clip(path, scale=1)
            frames, audio = represent(clip.frames, clip.audio, clip.sample_rate)
            encode_mp4(path, frames, audio, options.fps, clip.sample_rate)
        observed = observe(read_clip(path))
        seen[prompt.id] = Seen.of(observed)
        flights += int(physics(observed)["flight_segments"])
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
    ceiling_is = f"the sim's clips of the same requests at {options.size}"
    if represent is not None:
        ceiling_is += f", through the {options.engine} engine's representation"
    return seen, flights, ceiling_is


def _measure(
    path: Path, prompt: Prompt, cameo: CameoReference | None, catalogue: Catalogue | None
) -> dict[str, Any]:
    """The clip's metrics; an everyday prompt's also under "everyday"."""
    cameo_image = cameo.image if cameo is not None else None
    if not isinstance(prompt, EverydayPrompt):
        return evaluate_clip(path, expected_of(prompt), cameo_image).to_dict()
    assert catalogue is not None, "an everyday run loads the asset library first"
    started = time.perf_counter()
    reading = read_clip(path)
    read_s = time.perf_counter() - started
    metrics = evaluate_reading(reading, None, cameo_image)
    # The things' search wants frames about 640 px tall; the other metrics, half size.
    scale = reading_scale(reading.height)
    things_reading = reading if scale == reading.scale else read_clip(path, scale=scale)
    judgement = judge_everyday(things_reading, prompt, catalogue)
    metrics.timings_s = {
        "read_s": read_s,
        "everyday_s": judgement.timings_s["total_s"],
        "total_s": time.perf_counter() - started,
    }
    return {**metrics.to_dict(), "everyday": judgement.to_dict()}


def _done_before(
    path: Path, settings_of_run: dict[str, Any], prompts: Sequence[Prompt], resume: bool
) -> dict[str, dict[str, Any]]:
    """What an earlier run in `path` measured, by prompt id, when `resume`: every entry but
    those of prompts whose text has changed (kept even where this run does not ask for
    them, so resuming a part of a run loses nothing). Without `resume`, an unfinished
    earlier run is refused rather than overwritten (a finished one is replaced). A line
    cut short by a crash is skipped: its prompt is done again."""
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    try:
        header = json.loads(lines[0])
        before, planned = header["settings"], header["prompts"]
    except (IndexError, ValueError, KeyError, TypeError):
        before, planned = None, []
    entries: dict[str, dict[str, Any]] = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and isinstance(entry.get("row") or entry.get("blocked"), dict)
        ):
            entries[entry["id"]] = entry
    if not resume:
        unfinished = [key for key in planned if key not in entries]
        if before is not None and unfinished:
            raise InvalidRequest(
                f"out {str(path.parent)!r} holds an unfinished eval ({len(entries)} of "
                f"{len(planned)} prompts done); pass --resume to continue it, or choose "
                "another --out",
                param="resume",
            )
        return {}
    if before is None:
        raise InvalidRequest(
            f"resume: {str(path)!r} is not the rows file of a `reelforge eval` run",
            param="resume",
        )
    changed = [key for key in settings_of_run if before.get(key) != settings_of_run[key]]
    if changed:
        was = ", ".join(f"{key} {before.get(key)!r}" for key in changed)
        raise InvalidRequest(
            f"resume: the run in {str(path.parent)!r} was made with {was}; "
            "resume it with the same options, or choose another --out",
            param="resume",
        )
    texts = {prompt.id: prompt.prompt for prompt in prompts}
    return {
        key: entry
        for key, entry in entries.items()
        if key not in texts or entry.get("prompt") == texts[key]
    }


class _RowLog:
    """`rows.jsonl`: replaced at the start by the header and the entries kept from an
    earlier run (atomically, so a crash there loses nothing), then appended to and flushed
    one prompt at a time."""

    def __init__(
        self,
        path: Path,
        settings_of_run: dict[str, Any],
        prompt_ids: list[str],
        kept: list[dict[str, Any]],
    ) -> None:
        self.path = path
        self.spent_s = sum(float(entry.get("spent_s", 0.0)) for entry in kept)
        records = [{"settings": settings_of_run, "prompts": prompt_ids}, *kept]
        write_atomic(path, "".join(_line(record) for record in records).encode())

    def add(self, prompt: Prompt, entry: dict[str, Any], spent_s: float) -> None:
        self.spent_s += spent_s
        with self.path.open("a") as file:
            file.write(
                _line({"id": prompt.id, "prompt": prompt.prompt, "spent_s": spent_s, **entry})
            )


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, default=_json_default) + "\n"


def _cameo_for(index: int) -> CameoReference:
    """The cameo of suite prompt `index`: a random likeness (as a verification take
    measures one), the same on every run; its reference portrait is the character the
    likeness draws."""
    likeness = random_likeness(np.random.default_rng(index))
    return likeness_reference(likeness, handle=f"cameo{index}")


# The judge's gates (issue 23): a metric's median alone flatters a clip whose events are
# few or wrong. Thresholds at about three quarters of the sim's reference (docs/EVAL.md:
# F1 0.61, onset precision 0.57, median 15.7 ms, flicker 0.01, frozen 0.32).
AV_MIN_F1 = 0.45
AV_MIN_PRECISION = 0.45
AV_MAX_MEDIAN_MS = 25.0
MAX_FLICKER = 1.0  # luma levels in static regions
MAX_FROZEN = 0.6  # share of frames identical to the one before
MIN_FLIGHT_SHARE = 0.5  # of the ceiling's free flights, for physics to count


def summarize(
    rows: list[dict[str, Any]], fps: float, ceiling_flights: int | None = None
) -> dict[str, Any]:
    """Suite-level numbers: events are pooled across clips, scores are averaged; and the
    gates (`gates`), each with what it needs and why it failed. Physics counts only when
    the clips show at least half the free flights the ceiling's do (`ceiling_flights`;
    unknown: counted)."""

    def values(section: str, key: str) -> list[float]:
        out = []
        for row in rows:
            value = row.get(section, {}).get(key)
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                out.append(float(value))
        return out

    errors = [e for row in rows for e in row["av_sync"].get("errors_ms", [])]
    matched_recall = sum(
        (row["av_sync"].get("recall") or 0) * row["av_sync"]["visual_contacts"] for row in rows
    )
    matched_precision = sum(
        (row["av_sync"].get("precision") or 0) * row["av_sync"]["audio_onsets"]
        for row in rows
        if row["av_sync"].get("precision") is not None
    )
    visual = sum(row["av_sync"]["visual_contacts"] for row in rows)
    onsets = sum(
        row["av_sync"]["audio_onsets"]
        for row in rows
        if row["av_sync"].get("precision") is not None
    )
    precision = matched_precision / onsets if onsets else None
    recall = matched_recall / visual if visual else None
    frame_ms = 1000.0 / fps
    bounces = sum(row["physics"]["bounces"] for row in rows)
    gains = sum(
        (row["physics"]["energy_gain_fraction"] or 0) * row["physics"]["bounces"] for row in rows
    )

    def mean(xs: list[float]) -> float | None:
        return statistics.fmean(xs) if xs else None

    def median(xs: list[float]) -> float | None:
        return statistics.median(xs) if xs else None

    cameo_found = [float(row["cameo"]["found"]) for row in rows if row.get("cameo")]
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    av_median = median([abs(e) for e in errors])
    flights = sum(int(row["physics"].get("flight_segments") or 0) for row in rows)
    flicker, frozen = (
        mean(values("temporal", "flicker")),
        mean(values("temporal", "frozen_fraction")),
    )
    physics_counts = ceiling_flights is None or flights >= MIN_FLIGHT_SHARE * ceiling_flights
    gates = {
        "av_sync": _gate(
            f"F1 >= {AV_MIN_F1}, onset precision >= {AV_MIN_PRECISION}, "
            f"median <= {AV_MAX_MEDIAN_MS:g} ms",
            [
                ("F1", f1, f1 is not None and f1 >= AV_MIN_F1),
                (
                    "onset precision",
                    precision,
                    precision is not None and precision >= AV_MIN_PRECISION,
                ),
                ("median ms", av_median, av_median is not None and av_median <= AV_MAX_MEDIAN_MS),
            ],
        ),
        "temporal": _gate(
            f"flicker <= {MAX_FLICKER:g} levels, frozen frames <= {MAX_FROZEN:g}",
            [
                ("flicker", flicker, flicker is not None and flicker <= MAX_FLICKER),
                ("frozen", frozen, frozen is not None and frozen <= MAX_FROZEN),
            ],
        ),
        "physics": _gate(
            f"free flights >= {MIN_FLIGHT_SHARE:g} x the ceiling's",
            [("flights", flights, physics_counts)],
        )
        | {"ceiling_flights": ceiling_flights},
    }

    return {
        "faithfulness": mean(values("faithfulness", "score")),
        "av_sync_median_abs_ms": median([abs(e) for e in errors]),
        "av_sync_within_one_frame": (
            float(np.mean(np.array(errors) <= frame_ms)) if errors else None
        ),
        "av_sync_precision": precision,
        "av_sync_recall": recall,
        "av_sync_f1": f1,
        "visual_contacts": visual,
        "lip_sync_correlation": mean(values("lip_sync", "correlation")),
        "lip_sync_lag_ms": median(values("lip_sync", "lag_ms")),
        # Physics only from clips that show enough flights to read it from.
        "flight_residual_px": (
            median(values("physics", "flight_residual_px")) if physics_counts else None
        ),
        "energy_gain_fraction": gains / bounces if bounces and physics_counts else None,
        "flicker": flicker,
        "frozen_fraction": frozen,
        "clipping_fraction": max(values("audio", "clipping_fraction"), default=None),
        "silence_ratio": mean(values("audio", "silence_ratio")),
        "cameo_identity": mean(cameo_found),  # share of cameo clips showing the character
        "cameo_clips": len(cameo_found),
        "eval_s_per_clip": mean([row["timings_s"]["total_s"] for row in rows]),
        "generate_s_per_clip": mean([row["generate_s"] for row in rows]),
        "gates": gates,
        **everyday_summary(rows),
    }


def _gate(needs: str, parts: list[tuple[str, float | int | None, bool]]) -> dict[str, Any]:
    failed = [
        f"{name} {'unmeasured' if value is None else f'{value:.3g}'}"
        for name, value, ok in parts
        if not ok
    ]
    return {"pass": not failed, "needs": needs, "failed": failed}


def everyday_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The everyday suite's numbers (empty for a core run): median over prompts of the
    share of things drawn, mean share of verbs realised, and the counts behind them."""
    judged = [row["everyday"] for row in rows if row.get("everyday")]
    if not judged:
        return {}
    drawn = [j["things_drawn"] for j in judged if j["things_drawn"] is not None]
    realised = [j["verbs_realised"] for j in judged if j["verbs_realised"] is not None]
    things = [t for j in judged for t in j["things"]]
    actions = [a for j in judged for a in j["actions"]]
    checkable = [a for a in actions if a["realised"] is not None]
    return {
        "things_drawn_median": statistics.median(drawn) if drawn else None,
        "things_drawn_mean": statistics.fmean(drawn) if drawn else None,
        "verbs_realised_mean": statistics.fmean(realised) if realised else None,
        "everyday_prompts": len(judged),
        "things": len(things),
        "things_drawn": sum(1 for t in things if t["drawn"]),
        "actions": len(actions),
        "actions_checkable": len(checkable),
        "actions_realised": sum(1 for a in checkable if a["realised"]),
        "people_expected": sum(j["people_expected"] for j in judged),
        "prompts_with_people_seen": sum(
            1 for j in judged if j["people_expected"] and j["people_seen"] >= j["people_expected"]
        ),
        "prompts_with_people": sum(1 for j in judged if j["people_expected"]),
        "everyday_s_per_clip": statistics.fmean(
            [row["timings_s"]["everyday_s"] for row in rows if "everyday_s" in row["timings_s"]]
        ),
    }


def write_plots(rows: list[dict[str, Any]], out_dir: Path) -> list[str]:
    """The error distributions as PNGs in `out_dir`, and their names; none without the
    `bench` extra (matplotlib), which the summary then says."""
    if importlib.util.find_spec("matplotlib") is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        "av_sync_errors_ms": (
            [e for r in rows for e in r["av_sync"].get("errors_ms", [])],
            "|onset − contact| (ms)",
        ),
        "faithfulness": (
            [
                r["faithfulness"]["score"]
                for r in rows
                if r["faithfulness"].get("score") is not None
            ],
            "faithfulness score",
        ),
        "lip_sync_correlation": (
            [
                r["lip_sync"]["correlation"]
                for r in rows
                if r["lip_sync"].get("correlation") is not None
            ],
            "peak correlation, mouth opening vs speech envelope",
        ),
        "flight_residual_px": (
            [
                r["physics"]["flight_residual_px"]
                for r in rows
                if r["physics"].get("flight_residual_px") is not None
                and not math.isnan(r["physics"]["flight_residual_px"])
            ],
            "free-flight residual (px)",
        ),
    }
    names = []
    for name, (data, label) in series.items():
        if not data:
            continue
        figure, axis = plt.subplots(figsize=(5, 3))
        axis.hist(data, bins=30, color="#3b6fb6")
        axis.set_xlabel(label)
        axis.set_ylabel("count")
        figure.tight_layout()
        figure.savefig(out_dir / f"{name}.png", dpi=100)
        plt.close(figure)
        names.append(name)
    return names


def _peer_lines(peers: dict[str, Any], fmt: Callable[..., str]) -> list[str]:
    """The summary's rows for the peers: what a clip that ignores its prompt scores."""
    if not peers:
        return []

    def with_ci(entry: dict[str, Any]) -> str:
        low, high = entry["ci95"]
        return f"{fmt(entry['mean'])} ({fmt(low)}-{fmt(high)})"

    margin = peers["margin_over_best_peer"]
    names = [name for name in ("blank", "noise", "mismatched") if name in peers]
    lines = [
        f"| faithfulness of the peers on the same prompts: {' / '.join(names)} "
        f"(95 % interval) | {' / '.join(with_ci(peers[name]) for name in names)} |",
        f"| faithfulness over the best peer ({margin['peer']}), prompt by prompt | "
        f"{with_ci(margin)} |",
    ]
    if "ceiling" in peers:
        lines += [
            f"| faithfulness of the ceiling ({peers['ceiling_is']}) | "
            f"{with_ci(peers['ceiling'])} |",
            "| faithfulness relative to the peers: 0 = best peer, 1 = ceiling | "
            f"{with_ci(peers['relative_to_peers'])} |",
        ]
    return lines


def _gate_lines(gates: dict[str, Any]) -> list[str]:
    return [
        f"| gate: {name} ({gate['needs']}) | "
        + ("pass" if gate["pass"] else "**fail**: " + ", ".join(gate["failed"]))
        + " |"
        for name, gate in gates.items()
    ]


def markdown_summary(report: dict[str, Any], plots: list[str]) -> str:
    s = report["summary"]

    def fmt(value: Any, spec: str = ".3f") -> str:
        return "n/a" if value is None else format(value, spec)

    lines = [
        f"# Evaluation: engine `{report['engine']}`",
        "",
        f"{report['prompts']} prompts, {report['seconds']:g} s at {report['size']}, "
        f"{report['fps']} fps; {report['wall_s']:.0f} s in all."
        + (
            f" {len(report['blocked'])} refused by the content policy (in report.json)."
            if report.get("blocked")
            else ""
        ),
        "",
        "| metric | value |",
        "|---|---|",
        "| prompt faithfulness (mean fraction of requested attributes) | "
        f"{fmt(s['faithfulness'])} |",
        *_peer_lines(s.get("against_peers") or {}, fmt),
        f"| AV sync: median \\|onset − contact\\| | {fmt(s['av_sync_median_abs_ms'], '.1f')} ms |",
        "| AV sync: contacts with an onset within ±1 frame | "
        f"{fmt(s['av_sync_within_one_frame'])} |",
        f"| AV sync: event precision / recall / F1 at ±1 frame | {fmt(s['av_sync_precision'])} / "
        f"{fmt(s['av_sync_recall'])} / {fmt(s['av_sync_f1'])} |",
        f"| lip sync: mean peak correlation | {fmt(s['lip_sync_correlation'])} |",
        f"| lip sync: median lag | {fmt(s['lip_sync_lag_ms'], '.1f')} ms |",
        f"| physics: median free-flight residual | {fmt(s['flight_residual_px'], '.2f')} px |",
        f"| physics: bounces that gain energy | {fmt(s['energy_gain_fraction'])} |",
        f"| temporal: flicker in static regions | {fmt(s['flicker'], '.4f')} levels |",
        f"| temporal: frozen frames | {fmt(s['frozen_fraction'])} |",
        f"| audio: worst clipping fraction | {fmt(s['clipping_fraction'], '.5f')} |",
        f"| audio: silence ratio | {fmt(s['silence_ratio'])} |",
        *_gate_lines(s.get("gates") or {}),
    ]
    if report.get("cameos"):
        lines.append(
            "| cameo identity: clips showing the cameo's character | "
            f"{fmt(s['cameo_identity'])} of {s['cameo_clips']} |"
        )
    if s.get("everyday_prompts"):
        lines += [
            "| everyday: things drawn (median over prompts of the share drawn) | "
            f"{fmt(s['things_drawn_median'])} (mean {fmt(s['things_drawn_mean'])}; "
            f"{s['things_drawn']} of {s['things']} things) |",
            "| everyday: verbs realised (mean over prompts of the share of checkable ones) | "
            f"{fmt(s['verbs_realised_mean'])} ({s['actions_realised']} of "
            f"{s['actions_checkable']} checkable; {s['actions']} actions) |",
            "| everyday: prompts with their people seen | "
            f"{s['prompts_with_people_seen']} of {s['prompts_with_people']} |",
            f"| everyday: judging time per clip | {fmt(s['everyday_s_per_clip'], '.2f')} s |",
        ]
    lines += [f"| evaluation time per clip | {fmt(s['eval_s_per_clip'], '.2f')} s |", ""]
    if report.get("cameos") and not report.get("engine_takes_cameos"):
        lines += [
            f"Engine `{report['engine']}` cannot take cameos: its cameo clips were made "
            "without them, so they are not expected to show the cameo's character.",
            "",
        ]
    lines += [f"![{name}]({name}.png)" for name in plots] or [
        "No plots: matplotlib (reelforge's `bench` extra) is not installed."
    ]
    return "\n".join(lines) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, ClipMetrics):
        return value.to_dict()
    return str(value)
