"""What a stored text may hold, and what a name is (users, workspaces, projects, tokens).

* No text holds NUL (U+0000): PostgreSQL cannot store it in a text column nor read it out of a
  JSON value, so it is refused on both databases alike, naming the field (:func:`check_text`).
* A name is compared and stored in its NFKC form with runs of spaces made one (``"ａnn"`` is
  ``"ann"``, a no-break space is a space), and refused when it holds a character that shows as
  nothing or is not text: controls, format characters (zero-width space and joiners, bidi
  overrides), private-use, unassigned or surrogate code points, line and paragraph separators,
  and the fillers that render blank (:func:`clean_name`). Two names that differ only by such
  characters are thus the same name or a refused one. (Look-alike letters of different scripts,
  such as Latin ``a`` and Cyrillic ``а``, are different text and stay different names.)
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ValidationError

__all__ = ["MAX_NAME", "NAME_PATTERN", "check_text", "clean_name", "name_key"]

MAX_NAME = 200
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters and symbols that render as blank space although their category says otherwise.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SPACES = re.compile(" {2,}")
# The characters of the Basic Multilingual Plane that clean_name refuses wherever they stand
# (the categories and blanks above, Unicode 14), as a regular expression's class.
_REFUSED = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u115f-\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164"
    r"\ue000-\uf8ff\ufeff\uffa0\ufff9-\ufffb"
)
# What the OpenAPI says a name is: one character at least that is not a space, and none of the
# refused ones. It is clean_name's rule for every assigned character of that plane (a test checks
# each); unassigned and surrogate code points, and those of the other planes, are left to
# clean_name, which refuses them too. (Escapes that JSON Schema, Python and Rust regexes all read.)
NAME_PATTERN = rf"^[^{_REFUSED}]*[^\s{_REFUSED}][^{_REFUSED}]*$"


def check_text(value: str, field: str | None = None) -> str:
    """``value``, if it can be stored (no NUL character)."""
    if "\x00" in value:
        raise ValidationError("holds a NUL character (U+0000), which cannot be stored", field=field)
    return value


def name_key(value: str) -> str:
    """The form a name is stored and looked up in: NFKC, stripped, inner runs of spaces made one."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip(" ")


def clean_name(value: object, field: str = "name", *, what: str = "name") -> str:
    """A name as it is stored (:func:`name_key`), or the error that names ``field``."""
    if not isinstance(value, str):
        raise ValidationError(f"a {what} is text", field=field)
    name = name_key(value)
    for ch in name:
        if ch in _BLANK or unicodedata.category(ch) in _INVISIBLE:
            raise ValidationError(
                f"a {what} may not hold invisible or control characters (found U+{ord(ch):04X})", field=field
            )
    if not name or len(name) > MAX_NAME:
        raise ValidationError(f"a {what} is 1 to {MAX_NAME} characters", field=field)
    return name
