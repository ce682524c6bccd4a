"""Judge a clip against a row of the everyday suite: are its things drawn, are its people
there, and do they act out its verbs. From the decoded frames and audio only.

1. Things: the drawings each thing accepts are searched for (eval/assets.py), recoloured
   when the row states a colour. A thing is drawn when one of its drawings is seen, and
   as many of them at once as the row asks for, up to MAX_JUDGED_COUNT (the search counts
   small crowds; it does not count a flock).
2. People: faces (eval/characters.py) against the row's number of people, kept apart
   from the things (a person is a character the engine draws, not a drawing of the
   library).
3. Actions (eval/actions.py): each verb checked on the things' tracks, the faces and the
   audio onsets; `None` when it cannot be checked from pixels and sound.

`things_drawn` is the share of the row's things drawn; `verbs_realised` the share of the
checkable actions realised. Either is None when the row has none.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from reelforge.assets.catalogue import Catalogue
from reelforge.eval.actions import Scene, check_action, faces_of, floor_line
from reelforge.eval.assets import ThingFound, ThingQuery, find_things
from reelforge.eval.characters import find_faces
from reelforge.eval.onsets import onset_times
from reelforge.eval.reader import Reading
from reelforge.eval.suite import EverydayPrompt
from reelforge.recaption.vocabulary import COLOR_ALIASES, COLORS, RGB

MAX_JUDGED_COUNT = 4
SAMPLES_PER_S = 8  # frames searched per second of video (every 3rd at 24 fps)
# The search wants frames about this tall (things 20 px and up): a 720x1280 clip read at
# half size. `reading_scale` says how to read a clip for it.
SEARCH_FRAME_HEIGHT = 640


@dataclass
class EverydayJudgement:
    things_drawn: float | None  # share of the row's things drawn
    verbs_realised: float | None  # share of the checkable actions realised
    people_expected: int
    people_seen: int
    things: list[dict[str, object]] = field(default_factory=list)
    actions: list[dict[str, object]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def reading_scale(height_px: int) -> int:
    """The reader's downscale that gives frames about SEARCH_FRAME_HEIGHT tall."""
    return max(1, round(height_px / SEARCH_FRAME_HEIGHT))


def queries_of(row: EverydayPrompt, catalogue: Catalogue) -> list[ThingQuery]:
    """One search per thing of the row, for the drawings the library has (a suite written
    against another version of the library may name others: see `unknown_assets`)."""
    return [
        ThingQuery(
            thing.noun,
            tuple(catalogue[a] for a in thing.assets if a in catalogue),
            colours_of(thing.noun, thing.color),
        )
        for thing in row.things
    ]


def unknown_assets(row: EverydayPrompt, catalogue: Catalogue) -> dict[str, list[str]]:
    """Per thing noun, the drawings the row names that the asset library lacks."""
    return {
        thing.noun: missing
        for thing in row.things
        if (missing := [a for a in thing.assets if a not in catalogue])
    }


def colours_of(noun: str, color: str | None) -> tuple[RGB | None, ...]:
    """The colours a thing may be drawn in: the stated one; else as drawn, or in a colour
    its noun names ("golden retriever": an engine may well draw the dog gold)."""
    if color is not None:
        return (COLORS[color],)
    named = [COLOR_ALIASES.get(word, word) for word in noun.replace("-", " ").split()]
    return (None, *(COLORS[name] for name in dict.fromkeys(named) if name in COLORS))


def judge_everyday(
    reading: Reading, row: EverydayPrompt, catalogue: Catalogue
) -> EverydayJudgement:
    started = time.perf_counter()
    # 1. Things.
    stride = max(1, round(reading.fps / SAMPLES_PER_S))
    found = find_things(
        reading.frames, queries_of(row, catalogue), scale=reading.scale, frame_stride=stride
    )
    by_noun: dict[str, ThingFound] = {f.noun: f for f in found}
    things_s = time.perf_counter() - started
    unknown = unknown_assets(row, catalogue)
    things = []
    for thing, result in zip(row.things, found, strict=True):
        needed = min(thing.count, MAX_JUDGED_COUNT)
        things.append(
            {
                "noun": thing.noun,
                "color": thing.color,
                "count": thing.count,
                "judged_count": needed,
                "drawn": result.count >= needed,
                **result.to_dict(),
                "assets_unknown": unknown.get(thing.noun, []),
            }
        )
    # 2. People.
    faces = find_faces(reading.frames)
    # 3. Actions.
    scene = Scene(
        width=reading.width,
        height=reading.height,
        fps=reading.fps,
        onsets_s=onset_times(reading.audio, reading.sample_rate),  # none if silent
        faces_xy=faces_of(faces, reading.scale),
        floor_y=floor_line(reading.frames, reading.scale),
    )
    actions = [
        check_action(a.behaviour, a.verb, a.subject, a.object, by_noun, scene).to_dict()
        for a in row.actions
    ]
    checkable = [a["realised"] for a in actions if a["realised"] is not None]
    return EverydayJudgement(
        things_drawn=(sum(bool(t["drawn"]) for t in things) / len(things) if things else None),
        verbs_realised=sum(bool(r) for r in checkable) / len(checkable) if checkable else None,
        people_expected=row.people,
        people_seen=len(faces),
        things=things,
        actions=actions,
        timings_s={"things_s": things_s, "total_s": time.perf_counter() - started},
    )
