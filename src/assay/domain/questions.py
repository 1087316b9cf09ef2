"""Question specs: what is asked about a record, and the shape of each answer's value.

A question spec is a Pydantic model, discriminated on ``type``. :meth:`BaseQuestion.checker`
compiles a function ``check(value, fields) -> value`` that validates one answer value in the
context of the record's (normalised) field values, and returns it normalised. Errors name the
path inside the value (``[0].w``); callers prefix ``values.<question>`` or ``gold.<question>``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ValidationError
from .fields import candidate_ids, check_identifier, media_info, step_count, type_name
from .numbers import MAX_INT, MIN_INT, json_int_fits

__all__ = [
    "AnswerChecker",
    "BBoxQuestion",
    "BaseQuestion",
    "DEFAULT_VERDICTS",
    "KeypointsQuestion",
    "LabelQuestion",
    "MultiLabelQuestion",
    "NumberQuestion",
    "Option",
    "PolygonQuestion",
    "PreferenceQuestion",
    "QuestionSpec",
    "RankingQuestion",
    "RatingQuestion",
    "SegmentQuestion",
    "SpanQuestion",
    "StepPickQuestion",
    "StepReviewQuestion",
    "StepSetQuestion",
    "TextQuestion",
]

AnswerChecker = Callable[[Any, Mapping[str, Any]], Any]
"""``check(value, record_fields) -> normalised value``; raises ``ValidationError``."""

DEFAULT_VERDICTS: tuple[str, ...] = ("correct", "wrong_tool", "wrong_arguments", "unnecessary", "harmful")


class Option(BaseModel):
    """One choice of a label/multi_label question (or one label of a span/bbox/... question)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str
    text: str = ""

    def __init__(self, value: str | None = None, text: str | None = None, **kw: Any) -> None:
        if value is not None:
            kw["value"] = value
        if text is not None:
            kw["text"] = text
        super().__init__(**kw)

    @model_validator(mode="after")
    def _default_text(self) -> Option:
        if not self.text:
            object.__setattr__(self, "text", self.value)
        return self

    @field_validator("value")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("an option's value must not be empty")
        return v


def _options(v: Any) -> Any:
    """Accept ``["a", "b"]`` or ``[{"value": "a", "text": "A"}]`` (or a mix)."""
    if isinstance(v, list):
        return [{"value": o} if isinstance(o, str) else o for o in v]
    return v


def _check_unique_options(v: list[Option], what: str) -> list[Option]:
    seen: set[str] = set()
    for o in v:
        if o.value in seen:
            raise ValueError(f"{what} {o.value!r} is listed twice")
        seen.add(o.value)
    return v


class BaseQuestion(BaseModel):
    """Attributes every question spec has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str | None = None
    description: str | None = None
    required: bool = True
    # Its answers may be disturbing (a written attack): review and the dashboard show them behind
    # a content warning, as a sensitive field.
    sensitive: bool = False

    empty_is_unanswered: ClassVar[bool] = False
    """An empty list answers nothing: a required question of this type refuses ``[]``."""

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        return check_identifier(v)

    @property
    def target(self) -> str | None:
        """The name of the field this question is about, if any."""
        f = getattr(self, "field", None)
        return f if isinstance(f, str) else None

    @abstractmethod
    def checker(self) -> AnswerChecker:
        """A function that validates and normalises an answer to this question on a record."""


# --------------------------------------------------------------------------- helpers


def _err(msg: str, path: str | None = None) -> ValidationError:
    return ValidationError(msg, field=path or None)


def _is_int(v: Any) -> bool:
    """An integer that an answer can hold (JSON keeps any size, a stored answer 64 bits)."""
    return isinstance(v, int) and not isinstance(v, bool) and json_int_fits(v)


def _is_num(v: Any) -> bool:
    return _is_int(v) or (isinstance(v, float) and math.isfinite(v))


def _as_int(v: Any, path: str | None = None, what: str = "an integer") -> int:
    if _is_int(v):
        return int(v)
    if isinstance(v, float) and v.is_integer() and json_int_fits(int(v)):
        return int(v)
    if (isinstance(v, int) and not isinstance(v, bool)) or _is_num(v):  # (a number, but not this one)
        raise _err(f"must be {what}, got {v!r}", path)
    raise _err(f"must be {what}, got {type_name(v)}", path)


def _listing(values: Any, limit: int = 12) -> str:
    vals = [str(v) for v in values]
    if len(vals) > limit:
        return ", ".join(vals[:limit]) + f", … ({len(vals)} in all)"
    return ", ".join(vals)


def _field_value(fields: Mapping[str, Any], name: str) -> Any:
    v = fields.get(name)
    if v is None:
        raise _err(f"the record has no value for field {name!r}, which this question is about")
    return v


def _check_label(value: Any, labels: frozenset[str], path: str, names: list[str]) -> str:
    if not isinstance(value, str):
        raise _err(f"must be a string label, got {type_name(value)}", path)
    if value not in labels:
        raise _err(f"{value!r} is not one of the labels: {_listing(names)}", path)
    return value


def _check_keys(d: dict[str, Any], allowed: frozenset[str], path: str) -> None:
    for k in d:
        if k not in allowed:
            raise _err(
                f"unknown key {k!r}; expected: {', '.join(sorted(allowed))}",
                f"{path}.{k}" if path else str(k),
            )


def _check_list_of_dicts(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _err(f"must be a list of {what}, got {type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _err(f"must be an object, got {type_name(item)}", f"[{i}]")
    return value


def _check_step_index(v: Any, n: int, path: str | None) -> int:
    if isinstance(v, str):
        try:
            v = int(v)
        except ValueError:
            raise _err(f"must be a step index, got {v!r}", path) from None
    i = _as_int(v, path, "a step index (an integer)")
    if not 0 <= i < n:
        raise _err(
            f"step {i} does not exist; the trajectory has steps 0..{n - 1}"
            if n
            else "the trajectory has no steps",
            path,
        )
    return i


# --------------------------------------------------------------------------- choice questions


class _WithOptions(BaseQuestion):
    options: list[Option] = Field(min_length=1)

    @field_validator("options", mode="before")
    @classmethod
    def _norm_options(cls, v: Any) -> Any:
        return _options(v)

    @field_validator("options")
    @classmethod
    def _unique_options(cls, v: list[Option]) -> list[Option]:
        return _check_unique_options(v, "option")

    @property
    def option_values(self) -> list[str]:
        return [o.value for o in self.options]


class LabelQuestion(_WithOptions):
    """Pick one option. Value: ``"positive"``."""

    type: Literal["label"] = "label"

    def checker(self) -> AnswerChecker:
        names = self.option_values
        allowed = frozenset(names)

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if value.__class__ is str and value in allowed:
                return value
            return _check_label(value, allowed, "", names)

        return check


class MultiLabelQuestion(_WithOptions):
    """Pick any number of options. Value: ``["a", "b"]`` (distinct)."""

    type: Literal["multi_label"] = "multi_label"

    def checker(self) -> AnswerChecker:
        names = self.option_values
        allowed = frozenset(names)

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if not isinstance(value, list):
                raise _err(f"must be a list of options, got {type_name(value)}")
            seen: set[str] = set()
            for i, v in enumerate(value):
                _check_label(v, allowed, f"[{i}]", names)
                if v in seen:
                    raise _err(f"{v!r} is chosen twice", f"[{i}]")
                seen.add(v)
            return value

        return check


# --------------------------------------------------------------------------- scalar questions


class RatingQuestion(BaseQuestion):
    """An integer on a scale: ``scale: 5`` means 1..5; or give ``min``/``max``. Value: ``4``."""

    type: Literal["rating"] = "rating"
    scale: int | None = Field(default=None, ge=2, le=MAX_INT)
    min: int | None = Field(default=None, ge=MIN_INT, le=MAX_INT)
    max: int | None = Field(default=None, ge=MIN_INT, le=MAX_INT)
    anchors: dict[int, str] | None = None

    @model_validator(mode="after")
    def _normalise_scale(self) -> RatingQuestion:
        scale, lo, hi = self.scale, self.min, self.max
        if lo is None and hi is None:
            lo, hi = 1, scale or 5
        elif lo is None:
            assert hi is not None
            lo = hi - scale + 1 if scale else 1
        elif hi is None:
            hi = lo + (scale or 5) - 1
        if hi <= lo:
            raise ValueError(f"max ({hi}) must be greater than min ({lo})")
        if scale is not None and scale != hi - lo + 1:
            raise ValueError(f"scale {scale} does not match min {lo} and max {hi}")
        object.__setattr__(self, "min", lo)
        object.__setattr__(self, "max", hi)
        object.__setattr__(self, "scale", hi - lo + 1 if lo == 1 else None)
        if self.anchors:
            for k in self.anchors:
                if not lo <= k <= hi:
                    raise ValueError(f"anchor {k} lies outside the scale {lo}..{hi}")
        return self

    @property
    def lo(self) -> int:
        assert self.min is not None
        return self.min

    @property
    def hi(self) -> int:
        assert self.max is not None
        return self.max

    def checker(self) -> AnswerChecker:
        lo, hi = self.lo, self.hi

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            v = _as_int(value, None, f"an integer from {lo} to {hi}")
            if not lo <= v <= hi:
                raise _err(f"must be an integer from {lo} to {hi}, got {v}")
            return v

        return check


class NumberQuestion(BaseQuestion):
    """A number, optionally bounded and/or integer. Value: ``3.2``."""

    type: Literal["number"] = "number"
    min: float | None = None
    max: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> NumberQuestion:
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def checker(self) -> AnswerChecker:
        lo, hi, integer = self.min, self.max, self.integer

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if integer:
                value = _as_int(value)
            elif not _is_num(value):
                raise _err(f"must be a finite number, got {type_name(value)}")
            if lo is not None and value < lo:
                raise _err(f"must be at least {lo:g}, got {value}")
            if hi is not None and value > hi:
                raise _err(f"must be at most {hi:g}, got {value}")
            return value

        return check


class TextQuestion(BaseQuestion):
    """Free text, or a rewrite of ``field``'s content. Value: ``"rewritten answer"``."""

    type: Literal["text"] = "text"
    field: str | None = None
    max_length: int | None = Field(default=None, ge=1)

    def checker(self) -> AnswerChecker:
        limit = self.max_length

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if not isinstance(value, str):
                raise _err(f"must be a string, got {type_name(value)}")
            if limit is not None and len(value) > limit:
                raise _err(f"is {len(value)} characters long; the limit is {limit}")
            return value

        return check


# --------------------------------------------------------------------------- labels over a field


class _WithLabels(BaseQuestion):
    field: str
    labels: list[Option] = Field(min_length=1)

    @field_validator("labels", mode="before")
    @classmethod
    def _norm_labels(cls, v: Any) -> Any:
        return _options(v)

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, v: list[Option]) -> list[Option]:
        return _check_unique_options(v, "label")

    @property
    def label_values(self) -> list[str]:
        return [o.value for o in self.labels]


class SpanQuestion(_WithLabels):
    """Labelled character ranges of a text field. Value: ``[{"start", "end", "label"}]``."""

    type: Literal["span"] = "span"
    empty_is_unanswered: ClassVar[bool] = True

    def checker(self) -> AnswerChecker:
        names = self.label_values
        allowed = frozenset(names)
        target = self.field
        keys = frozenset({"start", "end", "label"})

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            spans = _check_list_of_dicts(value, "spans")
            if not spans:
                return spans
            text = _field_value(fields, target)
            n = len(text) if isinstance(text, str) else 0
            for i, s in enumerate(spans):
                p = f"[{i}]"
                _check_keys(s, keys, p)
                for k in ("start", "end"):
                    if k not in s:
                        raise _err("is missing", f"{p}.{k}")
                start = _as_int(s["start"], f"{p}.start", "a character offset (an integer)")
                end = _as_int(s["end"], f"{p}.end", "a character offset (an integer)")
                if start < 0:
                    raise _err(f"must be ≥ 0, got {start}", f"{p}.start")
                if end <= start:
                    raise _err(f"must be greater than start ({start}), got {end}", f"{p}.end")
                if end > n:
                    raise _err(f"is past the end of the text ({n} characters), got {end}", f"{p}.end")
                if "label" not in s:
                    raise _err("is missing", f"{p}.label")
                _check_label(s["label"], allowed, f"{p}.label", names)
            return spans

        return check


def _check_point(pt: Any, path: str, dims: int, w: int | None, h: int | None) -> None:
    if not isinstance(pt, list | tuple) or len(pt) != dims:
        want = "[x, y]" if dims == 2 else "[x, y, visible]"
        raise _err(f"must be a point {want}, got {pt!r}", path)
    x, y = pt[0], pt[1]
    if not _is_num(x) or not _is_num(y):
        raise _err(f"coordinates must be numbers, got {pt!r}", path)
    if x < 0 or y < 0 or (w is not None and x > w) or (h is not None and y > h):
        size = f" ({w}×{h})" if w is not None and h is not None else ""
        raise _err(f"point ({x}, {y}) lies outside the image{size}", path)
    if dims == 3:
        vis = pt[2]
        if not (isinstance(vis, bool) or (_is_int(vis) and 0 <= vis <= 2)):
            raise _err(f"visible must be 0, 1, 2 or a boolean, got {vis!r}", path)


class _Geometry(_WithLabels):
    def _dims(self, fields: Mapping[str, Any]) -> tuple[int | None, int | None, bool]:
        v = fields.get(self.field)
        if v is None:
            raise _err(f"the record has no value for field {self.field!r}, which this question is about")
        info = media_info(v)
        return info.width, info.height, False


_REGION_EXTRA = frozenset({"id", "frame", "time"})


def _check_region_extra(r: dict[str, Any], p: str) -> None:
    if "id" in r and not isinstance(r["id"], str | int):
        raise _err("must be a string", f"{p}.id")
    if "frame" in r and (not _is_int(r["frame"]) or r["frame"] < 0):
        raise _err("must be a frame number ≥ 0", f"{p}.frame")
    if "time" in r and (not _is_num(r["time"]) or r["time"] < 0):
        raise _err("must be a time in seconds ≥ 0", f"{p}.time")


class BBoxQuestion(_Geometry):
    """Labelled boxes in pixels. Value: ``[{"x", "y", "w", "h", "label", "rotation"?}]``."""

    type: Literal["bbox"] = "bbox"

    def checker(self) -> AnswerChecker:
        names = self.label_values
        allowed = frozenset(names)
        keys = frozenset({"x", "y", "w", "h", "label", "rotation"}) | _REGION_EXTRA

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            boxes = _check_list_of_dicts(value, "boxes")
            if not boxes:
                return boxes
            w_img, h_img, _ = self._dims(fields)
            for i, b in enumerate(boxes):
                p = f"[{i}]"
                _check_keys(b, keys, p)
                for k in ("x", "y", "w", "h"):
                    if k not in b:
                        raise _err("is missing", f"{p}.{k}")
                    if not _is_num(b[k]):
                        raise _err(f"must be a number (pixels), got {type_name(b[k])}", f"{p}.{k}")
                x, y, w, h = b["x"], b["y"], b["w"], b["h"]
                if w <= 0:
                    raise _err(f"must be > 0, got {w}", f"{p}.w")
                if h <= 0:
                    raise _err(f"must be > 0, got {h}", f"{p}.h")
                if x < 0:
                    raise _err(f"must be ≥ 0, got {x}", f"{p}.x")
                if y < 0:
                    raise _err(f"must be ≥ 0, got {y}", f"{p}.y")
                rot = b.get("rotation", 0)
                if rot is None:
                    rot = 0
                if not _is_num(rot):
                    raise _err(f"must be a number (degrees), got {type_name(rot)}", f"{p}.rotation")
                if w_img is not None or h_img is not None:
                    a = math.radians(rot)
                    ca, sa = math.cos(a), math.sin(a)
                    xs = [x + dx * ca - dy * sa for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
                    ys = [y + dx * sa + dy * ca for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
                    eps = 1e-6
                    if w_img is not None and (min(xs) < -eps or max(xs) > w_img + eps):
                        raise _err(f"the box reaches outside the image width ({w_img}px)", p)
                    if h_img is not None and (min(ys) < -eps or max(ys) > h_img + eps):
                        raise _err(f"the box reaches outside the image height ({h_img}px)", p)
                if "label" not in b:
                    raise _err("is missing", f"{p}.label")
                _check_label(b["label"], allowed, f"{p}.label", names)
                _check_region_extra(b, p)
            return boxes

        return check


class PolygonQuestion(_Geometry):
    """Labelled polygons. Value: ``[{"points": [[x, y], ...≥3], "label"}]``."""

    type: Literal["polygon"] = "polygon"

    def checker(self) -> AnswerChecker:
        names = self.label_values
        allowed = frozenset(names)
        keys = frozenset({"points", "label"}) | _REGION_EXTRA

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            polys = _check_list_of_dicts(value, "polygons")
            if not polys:
                return polys
            w_img, h_img, _ = self._dims(fields)
            for i, poly in enumerate(polys):
                p = f"[{i}]"
                _check_keys(poly, keys, p)
                pts = poly.get("points")
                if not isinstance(pts, list) or len(pts) < 3:
                    raise _err("must be a list of at least 3 points [x, y]", f"{p}.points")
                for j, pt in enumerate(pts):
                    _check_point(pt, f"{p}.points[{j}]", 2, w_img, h_img)
                if "label" not in poly:
                    raise _err("is missing", f"{p}.label")
                _check_label(poly["label"], allowed, f"{p}.label", names)
                _check_region_extra(poly, p)
            return polys

        return check


class KeypointsQuestion(_Geometry):
    """Labelled keypoint sets. Value: ``[{"points": [[x, y, visible], ...], "label"}]``."""

    type: Literal["keypoints"] = "keypoints"
    keypoint_names: list[str] | None = None

    def checker(self) -> AnswerChecker:
        names = self.label_values
        allowed = frozenset(names)
        kp_names = self.keypoint_names
        keys = frozenset({"points", "label"}) | _REGION_EXTRA

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            sets = _check_list_of_dicts(value, "keypoint sets")
            if not sets:
                return sets
            w_img, h_img, _ = self._dims(fields)
            for i, kp in enumerate(sets):
                p = f"[{i}]"
                _check_keys(kp, keys, p)
                pts = kp.get("points")
                if not isinstance(pts, list) or not pts:
                    raise _err("must be a non-empty list of points [x, y, visible]", f"{p}.points")
                if kp_names is not None and len(pts) != len(kp_names):
                    raise _err(
                        f"must hold {len(kp_names)} points ({', '.join(kp_names)}), got {len(pts)}",
                        f"{p}.points",
                    )
                for j, pt in enumerate(pts):
                    _check_point(pt, f"{p}.points[{j}]", 3, w_img, h_img)
                if "label" not in kp:
                    raise _err("is missing", f"{p}.label")
                _check_label(kp["label"], allowed, f"{p}.label", names)
                _check_region_extra(kp, p)
            return sets

        return check


class SegmentQuestion(_WithLabels):
    """Labelled time ranges (seconds) of audio/video, with an optional transcript.

    Value: ``[{"start", "end", "label", "text"?}]``.
    """

    type: Literal["segment"] = "segment"
    empty_is_unanswered: ClassVar[bool] = True
    transcript: bool = False

    def checker(self) -> AnswerChecker:
        names = self.label_values
        allowed = frozenset(names)
        target = self.field
        keys = frozenset({"start", "end", "label", "text", "id"})

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            segs = _check_list_of_dicts(value, "segments")
            if not segs:
                return segs
            duration = media_info(_field_value(fields, target)).duration
            for i, s in enumerate(segs):
                p = f"[{i}]"
                _check_keys(s, keys, p)
                for k in ("start", "end"):
                    if k not in s:
                        raise _err("is missing", f"{p}.{k}")
                    if not _is_num(s[k]):
                        raise _err(f"must be a number (seconds), got {type_name(s[k])}", f"{p}.{k}")
                start, end = s["start"], s["end"]
                if start < 0:
                    raise _err(f"must be ≥ 0, got {start}", f"{p}.start")
                if end <= start:
                    raise _err(f"must be greater than start ({start}), got {end}", f"{p}.end")
                if duration is not None and end > duration + 1e-6:
                    raise _err(f"is past the end of the media ({duration:g} s), got {end}", f"{p}.end")
                if "label" not in s:
                    raise _err("is missing", f"{p}.label")
                _check_label(s["label"], allowed, f"{p}.label", names)
                if "text" in s and s["text"] is not None and not isinstance(s["text"], str):
                    raise _err(f"must be a string, got {type_name(s['text'])}", f"{p}.text")
            return segs

        return check


# --------------------------------------------------------------------------- comparisons


class PreferenceQuestion(BaseQuestion):
    """Which candidate is best. Value: ``{"choice": "<candidate id>" | "tie", "strength"?: 1..3}``."""

    type: Literal["preference"] = "preference"
    field: str
    ties: bool = True
    strength: bool = False

    def checker(self) -> AnswerChecker:
        target, ties, strength = self.field, self.ties, self.strength
        keys = frozenset({"choice", "strength"} if strength else {"choice"})

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if not isinstance(value, dict):
                raise _err(f'must be an object {{"choice": ...}}, got {type_name(value)}')
            _check_keys(value, keys, "")
            if "choice" not in value:
                raise _err("is missing", "choice")
            choice = value["choice"]
            ids = candidate_ids(_field_value(fields, target))
            if choice == "tie" and "tie" not in ids:
                if not ties:
                    raise _err("ties are not allowed for this question", "choice")
            else:
                if _is_int(choice):
                    choice = str(choice)
                if not isinstance(choice, str) or choice not in ids:
                    allowed = ids + (["tie"] if ties else [])
                    raise _err(f"{choice!r} is not a candidate; choose one of: {_listing(allowed)}", "choice")
            out: dict[str, Any] = {"choice": choice}
            if "strength" in value and value["strength"] is not None:
                s = _as_int(value["strength"], "strength", "1, 2 or 3")
                if not 1 <= s <= 3:
                    raise _err(f"must be 1, 2 or 3, got {s}", "strength")
                out["strength"] = s
            return out

        return check


class RankingQuestion(BaseQuestion):
    """Order all candidates, best first. Value: ``["<candidate id>", ...]``."""

    type: Literal["ranking"] = "ranking"
    field: str

    def checker(self) -> AnswerChecker:
        target = self.field

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if not isinstance(value, list):
                raise _err(f"must be a list of candidate ids, best first, got {type_name(value)}")
            ids = candidate_ids(_field_value(fields, target))
            known = set(ids)
            seen: set[str] = set()
            out = []
            for i, v in enumerate(value):
                if _is_int(v):
                    v = str(v)
                if not isinstance(v, str) or v not in known:
                    raise _err(f"{v!r} is not a candidate; candidates are: {_listing(ids)}", f"[{i}]")
                if v in seen:
                    raise _err(f"{v!r} is ranked twice", f"[{i}]")
                seen.add(v)
                out.append(v)
            missing = [c for c in ids if c not in seen]
            if missing:
                raise _err(f"must rank every candidate; missing: {_listing(missing)}")
            return out

        return check


# --------------------------------------------------------------------------- trajectories


class StepReviewQuestion(BaseQuestion):
    """A verdict per trajectory step. Value: ``{"3": {"verdict": "correct", "comment"?: "..."}}``.

    ``require_all``: an answer must judge every agent (``assistant``) step. ``unjudged``: what a
    step nobody judged means in the training exports: ``unlabelled`` (the default: it gets no
    label) or ``correct`` (reviewers mark only the faults)."""

    type: Literal["step_review"] = "step_review"
    field: str
    verdicts: list[Option] = Field(
        default_factory=lambda: [Option(v) for v in DEFAULT_VERDICTS], min_length=1
    )
    require_all: bool = False
    unjudged: Literal["unlabelled", "correct"] = "unlabelled"

    def unjudged_agent_steps(self, value: Any, fields: Mapping[str, Any]) -> list[int]:
        """The agent steps of the trajectory that ``value`` gives no verdict."""
        traj = _field_value(fields, self.field)
        steps = traj.get("steps") if isinstance(traj, dict) else traj
        judged = set(value) if isinstance(value, dict) else set()
        return [
            i
            for i, s in enumerate(steps if isinstance(steps, list) else [])
            if isinstance(s, dict) and s.get("role") == "assistant" and str(i) not in judged
        ]

    @field_validator("verdicts", mode="before")
    @classmethod
    def _norm_verdicts(cls, v: Any) -> Any:
        return _options(v)

    @field_validator("verdicts")
    @classmethod
    def _unique_verdicts(cls, v: list[Option]) -> list[Option]:
        return _check_unique_options(v, "verdict")

    def checker(self) -> AnswerChecker:
        target = self.field
        names = [o.value for o in self.verdicts]
        allowed = frozenset(names)
        keys = frozenset({"verdict", "comment"})

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if not isinstance(value, dict):
                raise _err(
                    f'must be an object {{"<step index>": {{"verdict": ...}}}}, got {type_name(value)}'
                )
            n = step_count(_field_value(fields, target))
            out: dict[str, Any] = {}
            for k, v in value.items():
                p = str(k)
                idx = _check_step_index(k, n, p)
                key = str(idx)
                if key in out:
                    raise _err(f"step {idx} is reviewed twice", p)
                if not isinstance(v, dict):
                    raise _err(f'must be an object {{"verdict": ...}}, got {type_name(v)}', p)
                _check_keys(v, keys, p)
                if "verdict" not in v:
                    raise _err("is missing", f"{p}.verdict")
                _check_label(v["verdict"], allowed, f"{p}.verdict", names)
                if "comment" in v and v["comment"] is not None and not isinstance(v["comment"], str):
                    raise _err(f"must be a string, got {type_name(v['comment'])}", f"{p}.comment")
                out[key] = v
            return out

        return check


class StepSetQuestion(BaseQuestion):
    """A set of trajectory steps (e.g. "which steps could be skipped"). Value: ``[2, 5]``."""

    type: Literal["step_set"] = "step_set"
    field: str

    def checker(self) -> AnswerChecker:
        target = self.field

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if not isinstance(value, list):
                raise _err(f"must be a list of step indices, got {type_name(value)}")
            if not value:
                return value
            n = step_count(_field_value(fields, target))
            seen: set[int] = set()
            out = []
            for i, v in enumerate(value):
                if isinstance(v, str):
                    raise _err(f"must be a step index (an integer), got {v!r}", f"[{i}]")
                idx = _check_step_index(v, n, f"[{i}]")
                if idx in seen:
                    raise _err(f"step {idx} is listed twice", f"[{i}]")
                seen.add(idx)
                out.append(idx)
            return out

        return check


class StepPickQuestion(BaseQuestion):
    """One trajectory step or none (e.g. "which step first went wrong"). Value: ``3`` or ``null``."""

    type: Literal["step_pick"] = "step_pick"
    field: str

    def checker(self) -> AnswerChecker:
        target = self.field

        def check(value: Any, fields: Mapping[str, Any]) -> Any:
            if value is None:
                return None
            if isinstance(value, str):
                raise _err(f"must be a step index (an integer) or null, got {value!r}")
            n = step_count(_field_value(fields, target))
            return _check_step_index(value, n, None)

        return check


QuestionSpec = Annotated[
    LabelQuestion
    | MultiLabelQuestion
    | RatingQuestion
    | NumberQuestion
    | TextQuestion
    | SpanQuestion
    | PreferenceQuestion
    | RankingQuestion
    | BBoxQuestion
    | PolygonQuestion
    | KeypointsQuestion
    | SegmentQuestion
    | StepReviewQuestion
    | StepSetQuestion
    | StepPickQuestion,
    Field(discriminator="type"),
]
"""Any question spec; Pydantic picks the class by ``type``."""
