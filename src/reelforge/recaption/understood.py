"""What the planner understood of a prompt, said plainly: what is drawn, what stands in for
what, and what was left out. The CLI prints it as one line after the clip's path; the
sidecar and the API's video object carry it as a dict (`"plan"`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from reelforge.types import ScenePlan


@dataclass(frozen=True)
class Understood:
    drew: list[str]  # "🐕 dog ×2 (run)", "3 red balls", "a girl"
    stood_in: list[str]  # "golden retriever → 🐕 dog"
    left_out: list[str]  # nouns nothing stands for
    setting: str
    nothing: bool  # no thing, shape or person was understood
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"drew: {', '.join(self.drew) if self.drew else 'nothing named'}"]
        if self.stood_in:
            parts.append(f"stood in: {', '.join(self.stood_in)}")
        if self.left_out:
            parts.append(f"left out: {', '.join(self.left_out)}")
        parts.append(f"in: {self.setting}")
        return " · ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "summary": self.line()}


def understood(plan: ScenePlan) -> Understood:
    drew: list[str] = []
    stood_in: list[str] = []
    for thing in plan.things:
        count = f" ×{thing.count}" if thing.count > 1 else ""
        colour = f"{thing.color} " if thing.color else ""
        acting = f" ({thing.behaviour})" if thing.behaviour != "idle" else ""
        drew.append(f"{thing.emoji} {colour}{thing.label}{count}{acting}")
        if thing.noun not in (thing.label, thing.asset.replace("-", " ")):
            how = {"translation": ", translated", "meaning": f", by meaning {thing.similarity:.2f}"}
            stood_in.append(
                f"{thing.noun} → {thing.emoji} {thing.label}{how.get(thing.matched_by, '')}"
            )
    for obj in plan.objects:
        plural = "s" if obj.count > 1 else ""
        if obj.asset is not None:  # "basketball": the 🏀 drawing on a bouncing ball
            colour = f"{obj.color} " if obj.tinted else ""
            drew.append(f"{obj.count} {obj.emoji} {colour}{obj.label}{plural}")
            if obj.noun and obj.noun not in (obj.label, obj.asset.replace("-", " ")):
                stood_in.append(f"{obj.noun} → {obj.emoji} {obj.label}")
            continue
        drew.append(f"{obj.count} {obj.color} {obj.kind}{plural}")
        if obj.noun and obj.noun != obj.kind:
            stood_in.append(f"{obj.noun} → {obj.color} {obj.kind}")
    for character in plan.characters:
        doing = f" ({character.action})" if character.action != "idle" else ""
        drew.append(f"{character.kind} {character.name}{doing}")
    setting = plan.setting.description or plan.setting.kind
    return Understood(
        drew=drew,
        stood_in=stood_in,
        left_out=list(plan.left_out),
        setting=", ".join(
            [setting, plan.lighting.time_of_day]
            + ([weather] if (weather := plan.setting.weather) not in ("clear", setting) else [])
        ),
        nothing=not (plan.things or plan.objects or plan.characters),
        notes=list(plan.notes),
    )
