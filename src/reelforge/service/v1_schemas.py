"""The /v1 routes' requests and the /v1/videos responses as typed models.

Requests (`VideoCreate`, `VideoRemix`, `VideoEdit`, `VideoExtension`, and the uploads
`CharacterCreate` and `VerifyUpload`): the one check of a body's fields, whether it came
as JSON or as a form (multipart, as the SDK sends it; videos._fields turns either into a
dict). `parse_body` validates that dict and turns the
first problem into OpenAI's 400 naming the field; the routes declare the models as their
request bodies (`request_body`), both media types, so /docs and the contract test see
them. Fields the models do not name are ignored, as OpenAI's API does.

Responses: OpenAI's Video object (with reelforge's `plan` beside its fields), the list
page and the deletion; characters, models (with reelforge's engine and capabilities) and
the provenance report. The routes build plain dicts (videos.video_public, which an
Idempotency-Key replay also renders); FastAPI checks each against these models and
publishes them in the OpenAPI document, so clients and the contract test
(tests/e2e/test_contract.py) see the exact shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError
from starlette.datastructures import UploadFile

from reelforge.service.errors import APIError
from reelforge.social.cameos import MAX_CAST
from reelforge.types import API_SIZES, MAX_PROMPT_CHARS

__all__ = [
    "ALLOWED_SECONDS",
    "DEFAULT_MODEL",
    "CharacterCreate",
    "CharacterDeleted",
    "CharacterList",
    "CharacterPublic",
    "ModelList",
    "ModelPublic",
    "VerificationPublic",
    "VerifyUpload",
    "VideoCreate",
    "VideoDeleted",
    "VideoEdit",
    "VideoError",
    "VideoExtension",
    "VideoList",
    "VideoPublic",
    "VideoRemix",
    "parse_body",
    "request_body",
    "request_schemas",
]

ALLOWED_SECONDS = ("4", "8", "12", "16", "20")
DEFAULT_MODEL = "sora-2"
# The codes our own checks give (pydantic's own error types become invalid_value).
_CODES = frozenset({"invalid_value", "too_many_characters"})


# -- requests --------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _invalid(message: str, code: str = "invalid_value") -> PydanticCustomError:
    return PydanticCustomError(code, message)


def _prompt(value: str) -> str:
    if not value.strip():
        raise _invalid("prompt is required and must not be empty")
    if len(value) > MAX_PROMPT_CHARS:
        raise _invalid(f"prompt must be at most {MAX_PROMPT_CHARS} characters, got {len(value)}")
    return value


def _seconds_as_text(value: Any) -> Any:
    """The SDK sends "4"; a JSON client may send 4."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _seconds(value: str) -> str:
    if value not in ALLOWED_SECONDS:
        raise _invalid(f"seconds must be one of {', '.join(ALLOWED_SECONDS)}, got {value!r}")
    return value


def _size(value: str) -> str:
    if value not in API_SIZES:
        raise _invalid(f"size must be one of {', '.join(API_SIZES)}, got {value!r}")
    return value


def _character_list(value: Any) -> Any:
    """None, "" or [] is none; one value is a list of one; a plain id is {"id": id}."""
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else [value]
    return [{"id": each} if isinstance(each, str) else each for each in items]


def _characters(refs: list[Reference]) -> list[Reference]:
    if len(refs) > MAX_CAST:
        raise _invalid(
            f"characters: at most {MAX_CAST} in one video, got {len(refs)}", "too_many_characters"
        )
    ids = [ref.id for ref in refs]
    twice = [i for i in dict.fromkeys(ids) if ids.count(i) > 1]
    if twice:
        raise _invalid(f"characters: {twice[0]} is listed twice")
    return refs


def _an_id(value: str) -> str:
    if not value.strip():
        raise _invalid('an id must not be empty: {"id": "..."}')
    return value.strip()


class Reference(BaseModel):
    """{"id": ...} of a video or a character."""

    id: Annotated[str, AfterValidator(_an_id)] = Field(max_length=64)


def _url_of(value: Any) -> Any:
    """{"url": ...}, as chat messages spell an image_url, is its url."""
    return value.get("url") if isinstance(value, dict) else value


class InputReference(BaseModel):
    image_url: Annotated[str, BeforeValidator(_url_of)] = Field(
        description='a base64 data URL ("data:image/png;base64,..."), or {"url": ...} '
        "holding one; the server fetches no remote URL"
    )


Prompt = Annotated[
    str,
    AfterValidator(_prompt),
    Field(description=f"what the clip shows and says; at most {MAX_PROMPT_CHARS} characters"),
]
Seconds = Annotated[
    str,
    BeforeValidator(_seconds_as_text),
    AfterValidator(_seconds),
    Field(description="the clip's length", json_schema_extra={"enum": list(ALLOWED_SECONDS)}),
]
Size = Annotated[
    str,
    AfterValidator(_size),
    Field(description="width x height", json_schema_extra={"enum": list(API_SIZES)}),
]
Characters = Annotated[
    list[Reference],
    BeforeValidator(_character_list),
    AfterValidator(_characters),
    Field(
        description=f"up to {MAX_CAST} of your verified characters "
        '({"id": "char_..."}), each named in the prompt',
    ),
]
SourceVideo = Annotated[
    Reference, Field(description='the completed video to start from: {"id": "video_..."}')
]


class VideoCreate(_Body):
    prompt: Prompt
    model: Annotated[str, BeforeValidator(lambda value: value or DEFAULT_MODEL)] = Field(
        default=DEFAULT_MODEL,
        max_length=64,
        description="sora-2, sora-2-pro (or a dated variant) or an engine's name",
    )
    seconds: Seconds = "4"
    size: Size = "720x1280"
    input_reference: InputReference | None = Field(
        default=None, description="an image the clip starts from, fitted to the size"
    )
    characters: Characters = []


class VideoCreateForm(VideoCreate):
    """VideoCreate as a form (the SDK's way): `input_reference` is an uploaded file and
    each character a `characters[][id]` field. For the OpenAPI document only."""

    input_reference: str | None = Field(  # type: ignore[assignment]
        default=None,
        description="an image file the clip starts from, fitted to the size",
        json_schema_extra={"format": "binary"},
    )


class VideoRemix(_Body):
    prompt: Prompt


class VideoEdit(_Body):
    prompt: Prompt
    video: SourceVideo


class VideoExtension(_Body):
    prompt: Prompt
    seconds: Seconds  # how much longer; the video's new length is the sum
    video: SourceVideo


def _uploaded(value: Any) -> Any:
    if not isinstance(value, UploadFile):
        raise _invalid("must be a file, uploaded as multipart/form-data")
    return value


Upload = Annotated[Any, AfterValidator(_uploaded)]
_BINARY: JsonDict = {"type": "string", "format": "binary"}
MAX_CHARACTER_NAME_CHARS = 80


def _name(value: str) -> str:
    if not 1 <= len(value.strip()) <= MAX_CHARACTER_NAME_CHARS:
        raise _invalid(
            f"name must be 1..{MAX_CHARACTER_NAME_CHARS} characters, got "
            f"{len(value.strip())} characters"
        )
    return value.strip()


class CharacterCreate(_Body):
    name: Annotated[str, AfterValidator(_name)] = Field(
        description="what the prompt calls the character (named there to cast it)"
    )
    video: Upload = Field(
        description="a short video of the character (at most 30 s)",
        json_schema_extra=_BINARY,
    )


class VerifyUpload(_Body):
    file: Upload = Field(
        description="the video to check: MP4, MOV, WebM, MKV, ...", json_schema_extra=_BINARY
    )


Body = TypeVar("Body", bound=BaseModel)
_REQUEST_MODELS: dict[str, type[BaseModel]] = {}


def parse_body(model: type[Body], fields: dict[str, Any]) -> Body:
    """`fields` as `model`, or an APIError 400 naming the first field that is wrong."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        first = error.errors(include_url=False, include_context=False)[0]
        param = str(first["loc"][0]) if first["loc"] else None
        kind = first["type"]
        if kind == "missing" and param is not None:
            described = model.model_fields[param].description if param in model.model_fields else ""
            message = f"{param} is required" + (f": {described}" if described else "")
        else:
            where = ".".join(str(part) for part in first["loc"])
            message = first["msg"]
            if param is None or not message.startswith(param):
                message = f"{where}: {message}"
        code = kind if kind in _CODES else "invalid_value"
        raise APIError(400, message, param=param, code=code) from None


def request_body(
    model: type[BaseModel], form: type[BaseModel] | None = None, *, uploads: bool = False
) -> dict[str, Any]:
    """A route's `openapi_extra`: its body is `model` as JSON and `form` (default the same)
    as a form; with `uploads`, `model` as multipart/form-data only. The schemas go into
    the document's components (`request_schemas`)."""
    content = {}
    media_types = (
        [("multipart/form-data", model)]
        if uploads
        else [
            ("application/json", model),
            ("multipart/form-data", form or model),
            ("application/x-www-form-urlencoded", form or model),
        ]
    )
    for media_type, each in media_types:
        _REQUEST_MODELS[each.__name__] = each
        content[media_type] = {"schema": {"$ref": f"#/components/schemas/{each.__name__}"}}
    return {"requestBody": {"required": True, "content": content}}


def request_schemas() -> dict[str, Any]:
    """The JSON schemas of every request body a route declared, and the models they use,
    for the OpenAPI document's components."""
    schemas: dict[str, Any] = {}
    for name, model in _REQUEST_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas


# -- responses -------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a field the docs do not name is a bug


class VideoError(_Out):
    code: str = Field(description="why the job failed, e.g. content_policy_violation")
    message: str


class VideoPublic(_Out):
    id: str = Field(examples=["video_3f2a9c0d1e4b5a6978c0d1e2"])
    object: Literal["video"]
    model: str = Field(description="the model asked for: sora-2, sora-2-pro or an engine name")
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(ge=0, le=100)
    created_at: int = Field(description="Unix seconds")
    completed_at: int | None
    expires_at: int | None = Field(description="when the files go: 24 h after completion")
    prompt: str | None
    size: str = Field(examples=["720x1280"])
    seconds: str = Field(examples=["4"])
    remixed_from_video_id: str | None
    error: VideoError | None = Field(description="set when status is failed")
    plan: dict[str, Any] | None = Field(
        description="reelforge's: what the planner drew, what stood in for what and what it "
        "left out; null until the plan exists"
    )


class VideoList(_Out):
    object: Literal["list"]
    data: list[VideoPublic]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(_Out):
    id: str
    object: Literal["video.deleted"]
    deleted: bool


class CharacterPublic(_Out):
    id: str = Field(examples=["char_3f2a9c0d1e4b5a6978c0d1e2"])
    name: str
    created_at: int = Field(description="Unix seconds")
    handle: str = Field(description='reelforge\'s: "@handle" in a prompt casts it too')


class CharacterList(_Out):
    object: Literal["list"]
    data: list[CharacterPublic]


class CharacterDeleted(_Out):
    id: str
    object: Literal["character.deleted"]
    deleted: bool
    receipt: dict[str, Any] = Field(
        description="what was removed: the videos that showed it, its grants and files"
    )


class CapabilitiesPublic(_Out):
    audio: bool
    image_input: bool
    cameos: bool
    max_seconds: float
    sizes: list[str]
    fps: list[int]
    cameo_images: bool


class EnginePublic(_Out):
    engine: str = Field(description="the engine the model runs on")
    installed: bool
    capabilities: CapabilitiesPublic | None = Field(description="null when not installed")
    problem: str | None = Field(description="why the engine cannot run here, if it cannot")


class ModelPublic(_Out):
    id: str = Field(examples=["sora-2"])
    object: Literal["model"]
    created: int = Field(description="Unix seconds")
    owned_by: str
    reelforge: EnginePublic


class ModelList(_Out):
    object: Literal["list"]
    data: list[ModelPublic]


class MarkPublic(_Out):
    detected: bool
    payload: str | None = Field(description="the 64-bit payload read, hex; null if none")
    p_value: float
    bit_accuracy: float


class WatermarksPublic(_Out):
    video: MarkPublic | None = Field(description="null when the file has no pictures")
    audio: MarkPublic | None = Field(description="null when the file has no sound")


class RecordPublic(_Out):
    video_id: str | None
    creator: str | None
    engine: str
    created_at: int | None = Field(description="Unix seconds")
    parent_video_id: str | None
    file_sha256: str


class VerificationPublic(_Out):
    object: Literal["provenance.verification"]
    file: str
    size_bytes: int
    container: str = Field(description="the container the bytes are, e.g. mp4, webm")
    summary: str = Field(description="the findings in one sentence")
    media_problem: str | None
    c2pa: dict[str, Any] = Field(
        description="the C2PA manifest: present, state (absent, Invalid, Valid, Trusted), "
        "reason, signer, actions, generation, consent, parents, problems"
    )
    watermark: WatermarksPublic
    payload: str | None = Field(description="the traced payload, hex")
    payload_source: Literal["video", "audio", "c2pa"] | None
    record: RecordPublic | None = Field(description="this server's record of the payload")
    cameos: list[str] = Field(description="the verified cameos a valid manifest names")
