"""How well `reelforge.media.transcribe` hears speech: word error rate on the sim's speech.

Each line below is put in a prompt ('A woman says "..."'), the recaptioner plans it (the
voice it picks for the speaker: espeak-ng voice, variant, pitch and rate, as the sim would
speak it), and the sim's speech synthesiser says it. The utterance is transcribed and
scored against the line: WER = (substitutions + deletions + insertions) / words.

    .venv/bin/python benchmarks/transcribe_wer.py              # 36 lines, ~2 min on 2 cores
    .venv/bin/python benchmarks/transcribe_wer.py --no-write

Writes benchmarks/results/transcribe_wer.json and its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from benchmark_doc import write_section
from reelforge.engines.sim.speech import synthesize
from reelforge.media.transcribe import transcribe, word_error_rate
from reelforge.recaption import recaption
from reelforge.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "transcribe_wer.json"
BEGIN = "<!-- transcribe_wer benchmark: begin -->"
END = "<!-- transcribe_wer benchmark: end -->"
SPEAKERS = ("A woman", "A man", "A little girl", "An old man", "A boy", "A robot")
LINES = (
    "Hello there, how are you today?",
    "I think we should go to the park.",
    "Watch out for the red ball!",
    "The weather is lovely this morning.",
    "Can you pass me the blue cup please?",
    "We are going to be late for school.",
    "I have never seen a dog that big.",
    "Let's meet at the station at noon.",
    "My favourite colour is green.",
    "Please close the door behind you.",
    "The train leaves in ten minutes.",
    "Do you want to play a game?",
    "It is too cold to swim today.",
    "I left my keys in the kitchen.",
    "Thank you for coming to my party.",
    "Where did you put the map?",
    "The cake is ready, come and eat.",
    "We need more paint for the fence.",
    "Turn left at the big red house.",
    "I can hear the birds singing.",
    "This box is heavier than it looks.",
    "Good night, sleep well.",
    "The music is far too loud.",
    "Look at all the stars tonight.",
    "Can I borrow your pencil?",
    "The shop opens at nine tomorrow.",
    "I love the sound of the rain.",
    "Put the books back on the shelf.",
    "Who wants a cup of hot tea?",
    "The cat is sleeping on the chair.",
    "We won the game last night!",
    "Don't forget to water the plants.",
    "Is this the way to the beach?",
    "The bus is always late on Mondays.",
    "I will call you after lunch.",
    "Everybody sit down and listen.",
)


def measure(settings: Settings) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(LINES):
        prompt = f'{SPEAKERS[i % len(SPEAKERS)]} says "{line}"'
        plan, _ = recaption(prompt, seed=i, settings=settings)
        speaker = next(c for c in plan.characters if c.lines)
        spoken = speaker.lines[0].text
        utterance = synthesize(spoken, speaker.voice)
        t0 = time.perf_counter()
        heard = " ".join(s.text for s in transcribe(utterance.audio, utterance.sample_rate))
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "line": spoken,
                "voice": speaker.voice.model_dump(),
                "heard": heard,
                "wer": round(word_error_rate(spoken, heard), 4),
                "audio_s": round(utterance.duration_s, 3),
                "transcribe_s": round(seconds, 3),
            }
        )
        print(f"{rows[-1]['wer']:.2f}  {speaker.voice.espeak_voice:<9} {spoken!r} -> {heard!r}")
    rates = [float(r["wer"]) for r in rows]
    audio_s = sum(float(r["audio_s"]) for r in rows)
    compute_s = sum(float(r["transcribe_s"]) for r in rows)
    by_voice: dict[str, list[float]] = {}
    for row, rate in zip(rows, rates, strict=True):
        by_voice.setdefault(row["voice"]["espeak_voice"], []).append(rate)
    return {
        "lines": len(rows),
        "wer_median": round(statistics.median(rates), 3),
        "wer_mean": round(statistics.fmean(rates), 3),
        "perfect_lines": sum(rate == 0 for rate in rates),
        "wer_by_voice": {v: round(statistics.fmean(r), 3) for v, r in sorted(by_voice.items())},
        "audio_s": round(audio_s, 1),
        "transcribe_s": round(compute_s, 1),
        "real_time_factor": round(compute_s / audio_s, 2),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    voices = ", ".join(f"{v} {w:.2f}" for v, w in result["wer_by_voice"].items())
    return "\n".join(
        [
            BEGIN,
            "### Transcripts of learned engines' speech: PocketSphinx on the sim's voices",
            "",
            "`benchmarks/transcribe_wer.py`: each line spoken by the voice the recaptioner "
            "picks for its speaker (6 kinds of speaker), transcribed by "
            "`reelforge.media.transcribe` (PocketSphinx 5, bundled en-us model and "
            "language model), scored by word error rate.",
            "",
            "| lines | WER median | WER mean | lines heard exactly | audio | transcribing "
            "| real-time factor |",
            "|---|---|---|---|---|---|---|",
            f"| {result['lines']} | {result['wer_median']:.2f} | {result['wer_mean']:.2f} | "
            f"{result['perfect_lines']} | {result['audio_s']} s | {result['transcribe_s']} s | "
            f"{result['real_time_factor']} |",
            "",
            f"WER by voice: {voices}.",
            "",
            "Poor: the median line loses most of its words. PocketSphinx's acoustic model "
            "was trained on human speech and hears "
            "espeak-ng's formant voices badly, so most lines come back with a few words "
            "right and the rest replaced by similar-sounding ones. The transcript handed to "
            "the clip check is a coarse net (a blunt word said clearly may be caught; a "
            "sentence's meaning is not), not a record of what was said. Learned engines' "
            "more natural speech may be heard better; not measured (no such clips here). "
            "Times on the shared 2-core development machine, with other work running.",
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    result = measure(load_settings())
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        write_section(BEGIN, END, table(result))


if __name__ == "__main__":
    main()
