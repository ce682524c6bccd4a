"""An optional external moderation endpoint speaking OpenAI's /v1/moderations.

    POST {url}/v1/moderations  {"input": text[, "model": model]}
    -> {"results": [{"flagged": bool,
                     "categories": {name: bool}, "category_scores": {name: float}}]}

Its categories map onto ours; plain "violence" is not mapped, because a video generator
must allow boxing matches and action films, and only "violence/graphic" is in the policy.
Any failure (connection, timeout, HTTP error, malformed answer) is a `ModerationError`;
whether that blocks is the policy's decision (`PolicyConfig.moderation_fail_closed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.safety.decision import (
    HATE_HARASSMENT,
    ILLICIT_EXTREMISM,
    SELF_HARM,
    SEXUAL,
    SEXUAL_MINORS,
    VIOLENCE_GRAPHIC,
)

__all__ = ["ModerationClient", "ModerationError", "ModerationResult"]

EXTERNAL_CATEGORIES = {
    "sexual": SEXUAL,
    "sexual/minors": SEXUAL_MINORS,
    "violence/graphic": VIOLENCE_GRAPHIC,
    "self-harm": SELF_HARM,
    "self-harm/intent": SELF_HARM,
    "self-harm/instructions": SELF_HARM,
    "hate": HATE_HARASSMENT,
    "hate/threatening": HATE_HARASSMENT,
    "harassment": HATE_HARASSMENT,
    "harassment/threatening": HATE_HARASSMENT,
    "illicit": ILLICIT_EXTREMISM,
    "illicit/violent": ILLICIT_EXTREMISM,
}


class ModerationError(Exception):
    """The endpoint could not give an answer."""


@dataclass(frozen=True)
class ModerationResult:
    flagged: tuple[str, ...]  # our categories, from the endpoint's flagged categories
    scores: dict[str, float]  # the endpoint's own category names and scores


def moderations_url(base: str) -> str:
    base = base.rstrip("/")
    return base + ("/moderations" if base.endswith("/v1") else "/v1/moderations")


class ModerationClient:
    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = moderations_url(url)
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        import httpx  # here: only a configured endpoint needs it (0.1 s to import)

        self._client = httpx.Client(timeout=timeout_s, headers=headers)

    def close(self) -> None:
        self._client.close()

    def check(self, text: str) -> ModerationResult:
        import httpx

        body: dict[str, str] = {"input": text}
        if self.model:
            body["model"] = self.model
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            result = response.json()["results"][0]
            categories = result.get("categories", {})
            scores = {str(k): float(v) for k, v in result.get("category_scores", {}).items()}
        except httpx.HTTPError as exc:
            raise ModerationError(f"{self.url}: {exc!r}") from exc
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ModerationError(f"{self.url}: malformed answer ({exc!r})") from exc
        flagged = sorted(
            {EXTERNAL_CATEGORIES[name] for name, hit in categories.items()
             if hit and name in EXTERNAL_CATEGORIES}
        )  # fmt: skip
        return ModerationResult(tuple(flagged), scores)
