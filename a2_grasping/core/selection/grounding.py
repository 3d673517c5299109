"""Grounding without weights: which objects on the table an instruction names.

`parse_instruction` reads the words grounding understands (robot's point of view, base frame
+x away from the robot, +y to its left):
- colours (`colors.COLOR_WORDS`: base names, synonyms, finer names mapped to the nearest base);
- shape nouns: block/cube/box/brick -> box, cylinder/can/... -> cylinder, ball/sphere -> sphere;
  object/thing/item/one name any shape;
- size words, superlative in effect (the referring-expression reading): big, small, tall, short;
- spatial words: left, right, front, back, nearest, farthest, middle;
- one relation to another object: next to / near / beside, left of, right of, in front of,
  behind ("the cube next to the blue ball");
- generic requests: "anything", "an object", "pick something up".
Articles decide what several matches mean: "the red cube" (definite, or no article) names one
object, so two red cubes are AMBIGUOUS_TARGET; "a red cube", "any red cube", "one of the red
cubes" accept any of them.

`ground` matches the parsed description against the segmented objects and returns the targets
or refuses: TARGET_NOT_FOUND lists what the scene shows, AMBIGUOUS_TARGET lists the candidates and
a word that would decide, contradictory words are INVALID_REQUEST. Nothing is ever guessed.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from a2_grasping.core.errors import SelectErrorCode, SelectionError
from a2_grasping.core.selection.colors import COLOR_WORDS
from a2_grasping.core.selection.objects import SceneObject, ShapeClass

# A superlative decides only when the winner beats the runner-up by this much; otherwise the
# choice would hang on measurement noise, and the instruction is ambiguous.
SIZE_RATIO_MARGIN = 1.2
POSITION_MARGIN_M = 0.03
# A relation's side ("left of") needs the object this far past the reference's centre.
RELATION_SIDE_MARGIN_M = 0.02
# "next to": the nearest candidate must be this much nearer than the second.
NEXT_TO_MARGIN_M = 0.03


class Selector(enum.StrEnum):
    LARGEST = "largest"
    SMALLEST = "smallest"
    TALLEST = "tallest"
    SHORTEST = "shortest"
    LEFTMOST = "leftmost"
    RIGHTMOST = "rightmost"
    FRONTMOST = "frontmost"
    BACKMOST = "backmost"
    NEAREST = "nearest"
    FARTHEST = "farthest"
    MIDDLE = "middle"


class Relation(enum.StrEnum):
    NEXT_TO = "next to"
    LEFT_OF = "left of"
    RIGHT_OF = "right of"
    IN_FRONT_OF = "in front of"
    BEHIND = "behind"


SHAPE_WORDS: dict[str, ShapeClass] = {
    **dict.fromkeys(
        ("block", "cube", "box", "brick", "cuboid", "blocks", "cubes", "boxes", "bricks"),
        ShapeClass.BOX,
    ),
    **dict.fromkeys(
        ("cylinder", "can", "tin", "tube", "jar", "cylinders", "cans", "tins", "tubes", "jars"),
        ShapeClass.CYLINDER,
    ),
    **dict.fromkeys(("ball", "sphere", "orb", "balls", "spheres"), ShapeClass.SPHERE),
}
# Receptacles: flat objects things are placed on or in (SceneObject.is_flat).
RECEPTACLE_WORDS: dict[str, ShapeClass | None] = {
    **dict.fromkeys(("plate", "dish", "saucer", "plates", "dishes"), ShapeClass.CYLINDER),
    **dict.fromkeys(("tray", "board", "platter", "trays", "boards"), ShapeClass.BOX),
    **dict.fromkeys(("mat", "coaster", "receptacle", "container"), None),
}
ANY_SHAPE_WORDS = frozenset(("object", "objects", "thing", "things", "item", "items", "one"))
PLURAL_WORDS = frozenset(
    w
    for w in (*SHAPE_WORDS, *ANY_SHAPE_WORDS, *RECEPTACLE_WORDS)
    if w.endswith("s") and w not in ("box", "glass")
)
SELECTOR_WORDS: dict[str, Selector] = {
    **dict.fromkeys(
        ("big", "bigger", "biggest", "large", "larger", "largest", "huge", "giant"),
        Selector.LARGEST,
    ),
    **dict.fromkeys(
        ("small", "smaller", "smallest", "little", "tiny", "tiniest", "mini"), Selector.SMALLEST
    ),
    **dict.fromkeys(("tall", "taller", "tallest", "high", "higher", "highest"), Selector.TALLEST),
    **dict.fromkeys(
        ("short", "shorter", "shortest", "low", "lower", "lowest", "flat", "flattest"),
        Selector.SHORTEST,
    ),
    **dict.fromkeys(("left", "leftmost"), Selector.LEFTMOST),
    **dict.fromkeys(("right", "rightmost"), Selector.RIGHTMOST),
    **dict.fromkeys(("front", "frontmost", "first"), Selector.FRONTMOST),
    **dict.fromkeys(("back", "rear", "backmost", "last"), Selector.BACKMOST),
    **dict.fromkeys(("nearest", "closest", "near", "close"), Selector.NEAREST),
    **dict.fromkeys(("farthest", "furthest", "far", "distant"), Selector.FARTHEST),
    **dict.fromkeys(("middle", "center", "centre", "central"), Selector.MIDDLE),
}
_OPPOSITE = {
    Selector.LARGEST: Selector.SMALLEST,
    Selector.TALLEST: Selector.SHORTEST,
    Selector.LEFTMOST: Selector.RIGHTMOST,
    Selector.FRONTMOST: Selector.BACKMOST,
    Selector.NEAREST: Selector.FARTHEST,
}
DEFINITE_WORDS = frozenset(("the", "that", "this"))
INDEFINITE_WORDS = frozenset(("a", "an", "any", "some", "either", "whichever"))
GENERIC_WORDS = frozenset(("anything", "something", "whatever", "everything"))
FILLER_WORDS = frozenset(
    (
        "pick", "picks", "up", "grasp", "grab", "take", "get", "lift", "give", "hand", "fetch",
        "bring", "hold", "collect", "retrieve", "me", "please", "could", "can", "would", "you",
        "i", "want", "need", "like", "to", "and", "of", "on", "in", "at", "from", "with",
        "is", "that's", "which", "it", "its", "now", "there", "here", "table", "colored",
        "coloured", "shaped", "most", "one's", "piece", "sitting", "lying", "standing", "placed",
        "located", "object's", "just", "kindly", "let's", "go", "robot", "over", "put", "place",
        "move", "set", "bring",
    )
)  # fmt: skip
# Multi-word relation phrases, longest first; their words are consumed.
_RELATION_PHRASES: tuple[tuple[tuple[str, ...], Relation], ...] = (
    (("to", "the", "left", "of"), Relation.LEFT_OF),
    (("to", "the", "right", "of"), Relation.RIGHT_OF),
    (("on", "the", "left", "of"), Relation.LEFT_OF),
    (("on", "the", "right", "of"), Relation.RIGHT_OF),
    (("in", "front", "of"), Relation.IN_FRONT_OF),
    (("in", "back", "of"), Relation.BEHIND),
    (("next", "to"), Relation.NEXT_TO),
    (("close", "to"), Relation.NEXT_TO),
    (("closest", "to"), Relation.NEXT_TO),
    (("nearest", "to"), Relation.NEXT_TO),
    (("near", "to"), Relation.NEXT_TO),
    (("adjacent", "to"), Relation.NEXT_TO),
    (("left", "of"), Relation.LEFT_OF),
    (("right", "of"), Relation.RIGHT_OF),
    (("beside",), Relation.NEXT_TO),
    (("besides",), Relation.NEXT_TO),
    (("near",), Relation.NEXT_TO),
    (("by",), Relation.NEXT_TO),
    (("behind",), Relation.BEHIND),
)


@dataclass(frozen=True)
class ObjectPhrase:
    """What one noun phrase says about an object."""

    color: str | None = None  # base colour name
    shape: ShapeClass | None = None
    flat: bool | None = None  # True: a receptacle noun; False: a solid's noun; None: any
    selectors: tuple[Selector, ...] = ()
    definite: bool = True
    words: tuple[str, ...] = ()  # the words that set the fields above
    # A head noun grounding does not know ("banana"), kept where a learned policy reads it.
    open_noun: str = ""

    @property
    def has_content(self) -> bool:
        return (
            self.color is not None
            or self.shape is not None
            or self.flat is not None
            or bool(self.selectors)
        )

    def summary(self) -> str:
        """ "red cube"-style text of what the phrase asks for."""
        parts = [str(s) for s in self.selectors]
        parts += [self.color] if self.color else []
        if self.flat:
            parts += ["plate" if self.shape is ShapeClass.CYLINDER else "tray"]
        else:
            parts += [_NOUNS[self.shape] if self.shape else "object"]
        return " ".join(parts)


@dataclass(frozen=True)
class ParsedInstruction:
    text: str
    target: ObjectPhrase
    relation: Relation | None
    reference: ObjectPhrase | None
    unknown_words: tuple[str, ...]

    @property
    def generic(self) -> bool:
        """Names no particular object: any graspable one will do."""
        return not self.target.has_content and self.relation is None

    @property
    def matched_words(self) -> tuple[str, ...]:
        words = self.target.words + ((str(self.relation),) if self.relation else ())
        return words + (self.reference.words if self.reference else ())


@dataclass(frozen=True)
class Grounding:
    """The objects an instruction names (any one of `targets` is a correct pick)."""

    instruction: ParsedInstruction
    targets: tuple[SceneObject, ...]
    reference: SceneObject | None

    @property
    def generic(self) -> bool:
        return self.instruction.generic


_NOUNS = {ShapeClass.BOX: "box", ShapeClass.CYLINDER: "cylinder", ShapeClass.SPHERE: "ball"}


def parse_instruction(text: str, *, open_nouns: bool = False) -> ParsedInstruction:
    """The description in an instruction.

    `open_nouns`: an object noun grounding does not know ("the red banana") is kept in the
    phrase's `open_noun` instead of refused, and the phrase then names any of the objects its
    other words fit (the noun, which a learned policy reads, decides among them).

    A relation word counts only when an object phrase follows it ("the cube near the ball");
    otherwise it describes the target ("the near cube").

    Raises:
        SelectionError: INVALID_REQUEST for contradictory words ("the red blue cube");
            TARGET_NOT_FOUND for an object noun grounding does not know ("the banana"), since no
            object could be found for it.
    """
    tokens = re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("-", ""))
    for start in range(1, len(tokens)):
        for phrase, relation in _RELATION_PHRASES:
            end = start + len(phrase)
            if tuple(tokens[start:end]) != phrase:
                continue
            scratch: list[str] = []
            try:
                reference = phrase_of(tokens[end:], scratch, f"'{relation}'", open_nouns=open_nouns)
            except SelectionError:
                reference = None  # not a relation after all ("the cube near ..." with no object)
            if reference is None or not reference.has_content:
                continue  # e.g. "the near cube": 'near' describes the target
            unknown: list[str] = []
            target = phrase_of(tokens[:start], unknown, "the object to pick", open_nouns=open_nouns)
            introduced = end < len(tokens) and tokens[end] in DEFINITE_WORDS | INDEFINITE_WORDS
            if not target.has_content and not introduced:
                continue  # "the near cube" again; "the one near the cube" has its article
            reference = phrase_of(tokens[end:], unknown, f"'{relation}'", open_nouns=open_nouns)
            return ParsedInstruction(text, target, relation, reference, tuple(unknown))
    unknown = []
    target = phrase_of(tokens, unknown, "the object to pick", open_nouns=open_nouns)
    return ParsedInstruction(text, target, None, None, tuple(unknown))


def phrase_of(
    tokens: Sequence[str], unknown: list[str], role: str, *, open_nouns: bool = False
) -> ObjectPhrase:
    """What the words of one noun phrase say about an object; words it does not know are
    appended to `unknown`. `role` names the phrase in error messages; `open_nouns`: see
    parse_instruction."""
    colors: list[tuple[str, str]] = []
    shapes: list[tuple[str, ShapeClass]] = []
    selectors: list[tuple[str, Selector]] = []
    words: list[str] = []
    indefinite, generic_noun, plural = False, False, False
    flat: bool | None = None
    last_unknown_is_head = False
    for token in tokens:
        last_unknown_is_head = False
        if token in COLOR_WORDS:
            colors.append((token, COLOR_WORDS[token]))
        elif token in SHAPE_WORDS:
            shapes.append((token, SHAPE_WORDS[token]))
            plural = plural or token in PLURAL_WORDS
            flat = False
        elif token in RECEPTACLE_WORDS:
            receptacle_shape = RECEPTACLE_WORDS[token]
            if receptacle_shape is not None:
                shapes.append((token, receptacle_shape))
            plural = plural or token in PLURAL_WORDS
            generic_noun, flat = True, True
        elif token in SELECTOR_WORDS:
            selectors.append((token, SELECTOR_WORDS[token]))
        elif token in ANY_SHAPE_WORDS or token in GENERIC_WORDS:
            generic_noun = True
            plural = plural or token in PLURAL_WORDS
            indefinite = indefinite or token in GENERIC_WORDS
            continue
        elif token in DEFINITE_WORDS:
            continue  # the default reading: one object is meant
        elif token in INDEFINITE_WORDS:
            indefinite = True
            continue
        elif token in FILLER_WORDS:
            continue
        else:
            unknown.append(token)
            last_unknown_is_head = True
            continue
        words.append(token)
    head_unknown = last_unknown_is_head and not shapes and not generic_noun
    open_noun = _unknown_head_noun(unknown, role, open_nouns) if head_unknown else ""
    indefinite = indefinite or bool(open_noun)  # the noun tells the fitting objects apart
    _refuse_contradictions(role, colors, shapes, selectors)
    return ObjectPhrase(
        color=colors[0][1] if colors else None,
        shape=shapes[0][1] if shapes else None,
        flat=flat,
        selectors=tuple(dict.fromkeys(s for _, s in selectors)),
        definite=not (indefinite or plural),
        words=tuple(words),
        open_noun=open_noun,
    )


def _unknown_head_noun(unknown: list[str], role: str, open_nouns: bool) -> str:
    """The phrase's head noun grounding does not know: kept (`open_nouns`) or refused."""
    noun = unknown[-1]
    if open_nouns:
        return noun
    raise SelectionError(
        SelectErrorCode.TARGET_NOT_FOUND,
        f"'{noun}' ({role}) is not an object grounding knows: it recognises blocks, cubes, "
        "boxes, cylinders, cans, balls, spheres, plates and trays by shape, and any object "
        "by colour, size and position",
    )


def _refuse_contradictions(
    role: str,
    colors: list[tuple[str, str]],
    shapes: list[tuple[str, ShapeClass]],
    selectors: list[tuple[str, Selector]],
) -> None:
    for kind, values in (("colour", colors), ("shape", shapes)):
        distinct = {value for _, value in values}
        if len(distinct) > 1:
            raise _invalid(
                f"contradictory {kind} for {role}: "
                f"{' and '.join(repr(word) for word, _ in values)} cannot all describe one object"
            )
    chosen = {s for _, s in selectors}
    for first, second in _OPPOSITE.items():
        if first in chosen and second in chosen:
            clash = [word for word, s in selectors if s in (first, second)]
            raise _invalid(
                f"contradictory words for {role}: {' and '.join(map(repr, clash))} "
                "cannot both hold for one object"
            )


def _invalid(message: str) -> SelectionError:
    return SelectionError(SelectErrorCode.INVALID_REQUEST, message)


# ---- matching ----


def ground(parsed: ParsedInstruction, objects: Sequence[SceneObject]) -> Grounding:
    """The objects `parsed` names among `objects` (at least one), or a refusal.

    Where a shape word decides and some object's shape is in doubt (`SceneObject.shape_doubt`),
    the answer must not depend on it: grounded again with every doubtful object read both ways,
    a different answer is AMBIGUOUS_TARGET rather than a guess (a small ball read as a cylinder
    was otherwise picked as "the shortest yellow cylinder", and the lift check, which verifies
    the grounded object, reported it as done). A reading in which nothing fits does not count
    against the others: an instruction names something that is there, so where only one reading
    finds it ("the yellow cube", and the one yellow object is a cube read as a cylinder that
    might be a box) that answer stands, with no sure object competing.

    Raises:
        SelectionError: TARGET_NOT_FOUND or AMBIGUOUS_TARGET (messages list the objects).
    """
    uses_shape = parsed.target.shape is not None or (
        parsed.reference is not None and parsed.reference.shape is not None
    )
    doubtful = [o for o in objects if o.shape_doubt is not None]
    if not uses_shape or not doubtful:
        return _ground(parsed, objects, "fitted")
    if not parsed.target.definite:
        # "any box", "a cylinder": any object surely of that shape will do; pick among those.
        try:
            return _ground(parsed, objects, "strict")
        except SelectionError:
            pass  # none is sure: the answer depends on the doubt, decided below
    answers: list[Grounding] = []
    not_found: SelectionError | None = None
    for reading in ("fitted", "strict", "loose"):
        try:
            answers.append(_ground(parsed, objects, reading))
        except SelectionError as error:
            if error.code is not SelectErrorCode.TARGET_NOT_FOUND:
                if reading == "fitted":
                    raise  # ambiguous as seen, whatever the doubt
                raise _depends_on_doubt(doubtful) from error
            not_found = not_found or error
    if not answers:
        assert not_found is not None
        raise not_found
    first = answers[0]
    for other in answers[1:]:
        if {id(t) for t in other.targets} != {id(t) for t in first.targets} or (
            other.reference is not first.reference
        ):
            raise _depends_on_doubt(doubtful)
    return first


def _depends_on_doubt(doubtful: Sequence[SceneObject]) -> SelectionError:
    unclear = ", ".join(
        f"{o.description} might be a {_NOUNS[o.shape_doubt]}"
        for o in doubtful
        if o.shape_doubt is not None
    )
    return SelectionError(
        SelectErrorCode.AMBIGUOUS_TARGET,
        f"which object is meant depends on shapes that are unclear from here ({unclear}); "
        "name it by colour, size or position instead",
    )


def _ground(parsed: ParsedInstruction, objects: Sequence[SceneObject], reading: str) -> Grounding:
    if parsed.generic:
        return Grounding(parsed, tuple(objects), None)
    reference = None
    candidates = _matching(parsed.target, objects, reading)
    if parsed.relation is not None and parsed.reference is not None:
        references = _resolve(
            parsed.reference, _matching(parsed.reference, objects, reading), objects
        )
        if len(references) > 1:
            raise _ambiguous(parsed.reference, references, "the object to relate to")
        reference = references[0]
        candidates = _related(
            parsed.relation, reference, [c for c in candidates if c is not reference]
        )
        if not candidates:
            raise SelectionError(
                SelectErrorCode.TARGET_NOT_FOUND,
                f"no {parsed.target.summary()} {parsed.relation} the {reference.color_name} "
                f"{reference.noun}; seen: {_seen(objects)}",
            )
    targets = _resolve(parsed.target, candidates, objects)
    if reference is not None and parsed.target.definite:
        targets = _nearest_to(reference, targets)
    if len(targets) > 1 and parsed.target.definite:
        raise _ambiguous(parsed.target, targets, "the object to pick")
    return Grounding(parsed, tuple(targets), reference)


def _shape_fits(obj: SceneObject, shape: ShapeClass, reading: str) -> bool:
    """'fitted': the shape the fits chose; 'strict': only objects whose shape is not in doubt;
    'loose': the fitted shape or the doubted one."""
    if reading == "strict":
        return obj.shape is shape and obj.shape_doubt is None
    if reading == "loose":
        return obj.shape is shape or obj.shape_doubt is shape
    return obj.shape is shape


def _matching(
    phrase: ObjectPhrase, objects: Sequence[SceneObject], reading: str = "fitted"
) -> list[SceneObject]:
    return [
        o
        for o in objects
        if (phrase.color is None or o.color_name == phrase.color)
        and (phrase.shape is None or _shape_fits(o, phrase.shape, reading))
        and (phrase.flat is None or o.is_flat == phrase.flat)
    ]


def _resolve(
    phrase: ObjectPhrase, candidates: list[SceneObject], objects: Sequence[SceneObject]
) -> list[SceneObject]:
    """Apply the phrase's selectors; refuse when nothing matches or a selector cannot decide."""
    if not candidates:
        raise SelectionError(
            SelectErrorCode.TARGET_NOT_FOUND,
            f"no {phrase.summary()} on the table; seen: {_seen(objects)}",
        )
    for selector in phrase.selectors:
        if len(candidates) == 1:
            break
        candidates = _select_extreme(selector, candidates, phrase)
    return candidates


def _select_extreme(
    selector: Selector, candidates: list[SceneObject], phrase: ObjectPhrase
) -> list[SceneObject]:
    key, margin, relative = _SELECTOR_KEYS[selector]
    values = np.array([key(o, candidates) for o in candidates])
    order = np.argsort(-values, kind="stable")
    best, runner_up = values[order[0]], values[order[1]]
    decided = best >= runner_up * margin if relative else best - runner_up >= margin
    if not decided:
        tied = [candidates[i] for i in order[:2]]
        raise SelectionError(
            SelectErrorCode.AMBIGUOUS_TARGET,
            f"'{selector}' does not decide between {_listing(tied)}: they differ by less than "
            f"{_margin_text(selector)}; {_deciding_hint(tied)}",
        )
    return [candidates[order[0]]]


def _horizontal_distance(o: SceneObject) -> float:
    return math.hypot(float(o.centroid_m[0]), float(o.centroid_m[1]))


def _middle_score(o: SceneObject, group: Sequence[SceneObject]) -> float:
    center = np.mean([c.centroid_m[:2] for c in group], axis=0)
    return -float(np.linalg.norm(o.centroid_m[:2] - center))


_SelectorKey = Callable[[SceneObject, Sequence[SceneObject]], float]
# selector -> (key to maximise, margin, margin is a ratio)
_SELECTOR_KEYS: dict[Selector, tuple[_SelectorKey, float, bool]] = {
    Selector.LARGEST: (lambda o, _g: o.volume_m3, SIZE_RATIO_MARGIN, True),
    Selector.SMALLEST: (lambda o, _g: 1.0 / o.volume_m3, SIZE_RATIO_MARGIN, True),
    Selector.TALLEST: (lambda o, _g: o.height_m, SIZE_RATIO_MARGIN, True),
    Selector.SHORTEST: (lambda o, _g: 1.0 / o.height_m, SIZE_RATIO_MARGIN, True),
    Selector.LEFTMOST: (lambda o, _g: float(o.centroid_m[1]), POSITION_MARGIN_M, False),
    Selector.RIGHTMOST: (lambda o, _g: -float(o.centroid_m[1]), POSITION_MARGIN_M, False),
    Selector.FRONTMOST: (lambda o, _g: -float(o.centroid_m[0]), POSITION_MARGIN_M, False),
    Selector.BACKMOST: (lambda o, _g: float(o.centroid_m[0]), POSITION_MARGIN_M, False),
    Selector.NEAREST: (lambda o, _g: -_horizontal_distance(o), POSITION_MARGIN_M, False),
    Selector.FARTHEST: (lambda o, _g: _horizontal_distance(o), POSITION_MARGIN_M, False),
    Selector.MIDDLE: (_middle_score, POSITION_MARGIN_M, False),
}


def _margin_text(selector: Selector) -> str:
    _, margin, relative = _SELECTOR_KEYS[selector]
    return f"{100 * (margin - 1):.0f} %" if relative else f"{100 * margin:.0f} cm"


def _related(
    relation: Relation, reference: SceneObject, candidates: list[SceneObject]
) -> list[SceneObject]:
    def side(candidate: SceneObject) -> bool:
        dx = float(candidate.centroid_m[0] - reference.centroid_m[0])
        dy = float(candidate.centroid_m[1] - reference.centroid_m[1])
        return {
            Relation.NEXT_TO: True,
            Relation.LEFT_OF: dy > RELATION_SIDE_MARGIN_M,
            Relation.RIGHT_OF: dy < -RELATION_SIDE_MARGIN_M,
            Relation.IN_FRONT_OF: dx < -RELATION_SIDE_MARGIN_M,
            Relation.BEHIND: dx > RELATION_SIDE_MARGIN_M,
        }[relation]

    return sorted((c for c in candidates if side(c)), key=lambda c: _gap_m(c, reference))


def _gap_m(a: SceneObject, b: SceneObject) -> float:
    return float(np.linalg.norm(a.centroid_m[:2] - b.centroid_m[:2]))


def _nearest_to(reference: SceneObject, candidates: list[SceneObject]) -> list[SceneObject]:
    """Of the Xs in "the X next to Y" (or "left of Y", ...), the one nearest to Y, when it is
    clearly the nearest."""
    if len(candidates) < 2:
        return candidates
    ordered = sorted(candidates, key=lambda c: _gap_m(c, reference))
    if _gap_m(ordered[1], reference) - _gap_m(ordered[0], reference) < NEXT_TO_MARGIN_M:
        return ordered[:2]
    return ordered[:1]


def _ambiguous(
    phrase: ObjectPhrase, candidates: Sequence[SceneObject], role: str
) -> SelectionError:
    return SelectionError(
        SelectErrorCode.AMBIGUOUS_TARGET,
        f"'{phrase.summary()}' ({role}) fits {len(candidates)} objects: {_listing(candidates)}; "
        f"{_deciding_hint(candidates)}",
    )


def _deciding_hint(candidates: Sequence[SceneObject]) -> str:
    """A word that would tell the candidates apart, for the error message."""
    nouns = list(dict.fromkeys(o.noun for o in candidates))
    if len(nouns) > 1:
        return f"say which shape, e.g. {' or '.join(repr(n) for n in nouns)}"
    colors = list(dict.fromkeys(o.color_name for o in candidates))
    if len(colors) > 1:
        return f"say which colour, e.g. {' or '.join(repr(c) for c in colors)}"
    centres = np.array([o.centroid_m[:2] for o in candidates])
    spread_x, spread_y = np.ptp(centres, axis=0)
    if spread_y >= POSITION_MARGIN_M and spread_y >= spread_x:
        return "say 'left' or 'right' to decide"
    if spread_x >= POSITION_MARGIN_M:
        return "say 'front' or 'back' to decide"
    volumes = [o.volume_m3 for o in candidates]
    if max(volumes) >= SIZE_RATIO_MARGIN * min(volumes):
        return "say 'big' or 'small' to decide"
    return "say 'a' or 'any' if either will do"


def _listing(objects: Sequence[SceneObject]) -> str:
    return "; ".join(o.description for o in objects)


def _seen(objects: Sequence[SceneObject]) -> str:
    if not objects:
        return "nothing"
    return ", ".join(f"{o.color_name} {o.noun}" for o in objects)
