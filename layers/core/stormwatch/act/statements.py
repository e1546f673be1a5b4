"""Statement kinds, their variables, and the rendering of one statement for every channel.

A kind is a folder (see ``statements/README.md``)::

    statements/holding/
      kind.yaml            title, description, variables, languages
      de/base.j2           the channel-agnostic text
      de/x.j2 ... de/instagram.j2
      en/...

`load_kind` reads and checks one, `list_kinds` all of them, `render` fills a kind with the
facts of the case. Rendering runs in Jinja2's sandbox with `StrictUndefined`: a variable
the template needs and nobody gave is an error naming it, never an empty gap. Variable
values (which may quote mention text, ``{{ }}`` or ``{% %}``) are inserted as values and
never parsed as templates.

The approval is bound to `Rendering.sha256`, the hash of every channel's text and the base
text in a canonical order (`statement_hash`): any change of any channel voids it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

from stormwatch.config.act import PUBLISHING_CHANNELS
from stormwatch.text import clean_text

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

KIND_FILE: Final = "kind.yaml"
BASE_VARIANT: Final = "base"
VARIANTS: Final = (BASE_VARIANT, *PUBLISHING_CHANNELS)
"""Every template a language folder holds: ``<variant>.j2``."""

VariableType = Literal["text", "datetime", "date", "url", "handle", "integer"]
VARIABLE_TYPES: Final = get_args(VariableType)
MAX_TEXT_VALUE: Final = 500
"""Longest text value: a fact, not a statement of its own."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KIND_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
# Any http(s) URL with a host, an IP address or ``localhost`` included: whether the host
# may be linked is the link check's to say (its address guard refuses private and
# loopback ones unless the deployment allows a network), not the variable's.
_URL = re.compile(
    r"^https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
    r"(?::\d{1,5})?(?:[/?#]\S*)?$"
)
_HANDLE = re.compile(r"^@?[A-Za-z0-9_](?:[A-Za-z0-9_.@-]{0,98}[A-Za-z0-9_])?$")
_INTEGER = re.compile(r"^[+-]?\d{1,12}$")


class StatementError(ValueError):
    """A statement cannot be loaded or rendered; the message says what to fix."""


class KindError(StatementError):
    """A kind's folder is malformed: the message names the file and the key."""


class VariableError(StatementError):
    """A variable is missing, unknown or of the wrong type: the message names it."""


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    type: VariableType
    required: bool
    description: str


@dataclass(frozen=True)
class Kind:
    """A loaded statement kind: what it is for, what it needs, and its templates."""

    name: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    languages: Mapping[str, str]
    """Language code -> the kind's title in that language."""
    folder: Path
    _templates: Mapping[tuple[str, str], Template] = field(repr=False, compare=False)

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)


@dataclass(frozen=True)
class Rendering:
    """One statement rendered for every channel; the approval is bound to `sha256`."""

    kind: str
    language: str
    variables: Mapping[str, str]
    """Every given variable in its canonical text form (what the audit log keeps)."""
    base: str
    texts: Mapping[str, str]
    """Channel -> its text, NFC-normalised, in `PUBLISHING_CHANNELS` order."""
    sha256: str


def statement_hash(texts: Mapping[str, str], base: str) -> str:
    """SHA-256 (hex) that approvals are bound to.

    Canonical form: the UTF-8 bytes of the JSON object ``{"base": <base text>, "texts":
    {<channel>: <text>, ...}}`` with keys sorted, no whitespace between tokens and
    non-ASCII characters written as themselves (``json.dumps(..., sort_keys=True,
    ensure_ascii=False, separators=(",", ":"))``). Texts are hashed as rendered (NFC).
    """
    document = {"base": base, "texts": dict(texts)}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- loading ------------------------------------------------------------------------------


def load_kind(folder: Path) -> Kind:
    """The kind in `folder`, checked: every key, every template, every variable it uses."""
    import yaml  # only where kinds are read (the command line, tests), not at import

    path = folder / KIND_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise KindError(f"{path}: cannot be read ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        raise KindError(f"{path}: not valid YAML ({error})") from None
    name = folder.name
    if not _KIND_NAME.match(name):
        raise KindError(f"{folder}: a kind's folder name is lowercase letters, digits and '-'")
    if not isinstance(document, dict):
        raise KindError(f"{path}: must be a mapping with title, description, variables, languages")
    _no_unknown_keys(path, "", document, {"title", "description", "variables", "languages"})
    title = _required_text(path, document, "title")
    description = _required_text(path, document, "description")
    variables = _variables(path, document.get("variables"))
    languages = _languages(path, document.get("languages"))
    templates = _templates(folder, languages, variables)
    return Kind(
        name=name,
        title=title,
        description=description,
        variables=variables,
        languages=MappingProxyType(languages),
        folder=folder,
        _templates=MappingProxyType(templates),
    )


def list_kinds(root: Path) -> list[Kind]:
    """Every kind under `root` (one folder each, with a ``kind.yaml``), by name."""
    return [
        load_kind(folder) for folder in sorted(root.iterdir()) if (folder / KIND_FILE).is_file()
    ]


def _no_unknown_keys(path: Path, where: str, mapping: Mapping[Any, Any], known: set[str]) -> None:
    unknown = sorted(str(key) for key in mapping if key not in known)
    if unknown:
        expected = ", ".join(sorted(known))
        raise KindError(f"{path}: {where}unknown key {unknown[0]!r} (expected: {expected})")


def _required_text(path: Path, mapping: Mapping[str, Any], key: str, where: str = "") -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KindError(f"{path}: {where}{key} must be a non-empty text")
    return value.strip()


def _variables(path: Path, raw: object) -> tuple[Variable, ...]:
    if not isinstance(raw, dict) or not raw:
        raise KindError(f"{path}: variables must map each variable's name to its declaration")
    variables = []
    for name, declaration in raw.items():
        where = f"variables.{name}: "
        if not isinstance(name, str) or not _NAME.match(name):
            raise KindError(f"{path}: variables: {name!r} is not a name (a-z, 0-9, _)")
        if not isinstance(declaration, dict):
            raise KindError(f"{path}: {where}must be a mapping with type, required, description")
        _no_unknown_keys(path, where, declaration, {"type", "required", "description"})
        kind = declaration.get("type")
        if kind not in VARIABLE_TYPES:
            raise KindError(f"{path}: {where}type must be one of {', '.join(VARIABLE_TYPES)}")
        required = declaration.get("required", True)
        if not isinstance(required, bool):
            raise KindError(f"{path}: {where}required must be true or false")
        text = _required_text(path, declaration, "description", where)
        variables.append(Variable(name, cast(VariableType, kind), required, text))
    if not any(variable.required for variable in variables):
        # The facts of the case are what make a statement more than boilerplate.
        raise KindError(f"{path}: variables: at least one must be required (the facts of the case)")
    return tuple(variables)


def _languages(path: Path, raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise KindError(f"{path}: languages must map each language code to its title")
    languages = {}
    for code, declaration in raw.items():
        if not isinstance(code, str) or not _LANGUAGE.match(code):
            raise KindError(f"{path}: languages: {code!r} is not a two-letter language code")
        if not isinstance(declaration, dict):
            raise KindError(f"{path}: languages.{code}: must be a mapping with a title")
        _no_unknown_keys(path, f"languages.{code}: ", declaration, {"title"})
        languages[code] = _required_text(path, declaration, "title", f"languages.{code}.")
    return languages


def _templates(
    folder: Path, languages: Mapping[str, str], variables: tuple[Variable, ...]
) -> dict[tuple[str, str], Template]:
    from jinja2 import TemplateSyntaxError, meta

    declared = {variable.name for variable in variables}
    required = {variable.name for variable in variables if variable.required}
    templates = {}
    for language in languages:
        environment = _environment(folder / language, language)
        for variant in VARIANTS:
            path = folder / language / f"{variant}.j2"
            try:
                source = path.read_text(encoding="utf-8")
                parsed = environment.parse(source)
            except OSError as error:
                raise KindError(f"{path}: cannot be read ({error.strerror or error})") from None
            except TemplateSyntaxError as error:
                raise KindError(f"{path}: line {error.lineno}: {error.message}") from None
            used = meta.find_undeclared_variables(parsed)
            unknown = sorted(used - declared)
            if unknown:
                raise KindError(f"{path}: uses {unknown[0]!r}, which kind.yaml does not declare")
            if not used & required and "include" not in source:
                raise KindError(
                    f"{path}: uses none of the required variables: it would be boilerplate"
                )
            templates[language, variant] = environment.get_template(f"{variant}.j2")
    return templates


# --- values -------------------------------------------------------------------------------


def _canonical(variable: Variable, value: object) -> tuple[str, object]:
    """(canonical text, the value templates see) for `value`, or a `VariableError`."""
    name, kind = variable.name, variable.type
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise VariableError(f"variable {name!r}: expected an integer, got {value!r}")
        if isinstance(value, str) and not _INTEGER.match(value.strip()):
            raise VariableError(f"variable {name!r}: expected an integer, got {value!r}")
        number = int(value)
        return str(number), number
    if kind == "datetime":
        moment = _datetime(name, value)
        return moment.isoformat(), moment
    if kind == "date":
        day = _date(name, value)
        return day.isoformat(), day
    if not isinstance(value, str):
        raise VariableError(f"variable {name!r}: expected text, got {type(value).__name__}")
    text = clean_text(value, limit=MAX_TEXT_VALUE + 1)
    if not text:
        raise VariableError(f"variable {name!r}: is empty")
    if len(text) > MAX_TEXT_VALUE:
        raise VariableError(f"variable {name!r}: longer than {MAX_TEXT_VALUE} characters")
    if kind == "url" and not _URL.match(text):
        raise VariableError(f"variable {name!r}: expected an http(s) URL, got {text!r}")
    if kind == "handle":
        if not _HANDLE.match(text):
            raise VariableError(f"variable {name!r}: expected an account handle, got {text!r}")
        text = text.removeprefix("@")
    return text, text


def _datetime(name: str, value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise VariableError(
                f"variable {name!r}: expected an ISO 8601 date and time with its offset "
                f"(2026-03-14T16:00+01:00), got {value!r}"
            ) from None
    else:
        raise VariableError(f"variable {name!r}: expected a date and time, got {value!r}")
    if moment.utcoffset() is None:
        # "16:00" without a zone means different hours to readers and to the team.
        raise VariableError(f"variable {name!r}: needs its UTC offset, e.g. 16:00+01:00")
    return moment


def _date(name: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise VariableError(f"variable {name!r}: expected a date (2026-03-14), got {value!r}")


def validate_variables(kind: Kind, given: Mapping[str, object]) -> dict[str, tuple[str, object]]:
    """Canonical text and template value of every given variable of `kind`.

    Raises `VariableError` naming the first unknown, missing or ill-typed variable.
    """
    unknown = sorted(set(given) - {variable.name for variable in kind.variables})
    if unknown:
        raise VariableError(
            f"statement {kind.name!r} has no variable {unknown[0]!r} "
            f"(it has: {', '.join(v.name for v in kind.variables)})"
        )
    values = {}
    for variable in kind.variables:
        value = given.get(variable.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if variable.required:
                raise VariableError(
                    f"statement {kind.name!r} needs variable {variable.name!r}: "
                    f"{variable.description}"
                )
            continue
        values[variable.name] = _canonical(variable, value)
    return values


# --- rendering ------------------------------------------------------------------------------

_MONTHS: Final = {
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "en": "January February March April May June July August September October November December",
}


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _format_date(value: date, language: str) -> str:
    month = _MONTHS.get(language, _MONTHS["en"]).split()[value.month - 1]
    if language == "de":
        return f"{value.day}. {month} {value.year}"
    return f"{value.day} {month} {value.year}"


def _format_time(moment: datetime, language: str) -> str:
    if language == "de":
        return f"{moment:%H:%M} Uhr ({_offset(moment)})"
    return f"{moment:%H:%M} ({_offset(moment)})"


def _format_datetime(moment: datetime, language: str) -> str:
    if language == "de":
        return f"{_format_date(moment, language)}, {_format_time(moment, language)}"
    return f"{_format_date(moment, language)}, {_format_time(moment, language)}"


def _environment(folder: Path, language: str) -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_printable,
    )
    environment.filters["date"] = lambda value: _format_date(_as_date(value), language)
    environment.filters["time"] = lambda value: _format_time(_as_datetime(value), language)
    environment.filters["datetime"] = lambda value: _format_datetime(_as_datetime(value), language)
    return environment


def _as_datetime(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise StatementError(f"time/datetime filter applied to {type(value).__name__}")
    return value


def _as_date(value: object) -> date:
    if not isinstance(value, date):
        raise StatementError(f"date filter applied to {type(value).__name__}")
    return value


def _printable(value: object) -> object:
    if value is None:
        # An optional variable printed without `{% if %}` would leave a gap or "None".
        raise StatementError("a template prints an optional variable that was not given")
    return value


_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return unicodedata.normalize("NFC", _BLANK_LINES.sub("\n\n", "\n".join(lines)))


def render(
    kind: Kind,
    language: str,
    variables: Mapping[str, object],
    channels: Iterable[str] = PUBLISHING_CHANNELS,
) -> Rendering:
    """`kind` in `language` for every channel of `channels`, filled with `variables`."""
    from jinja2 import TemplateError, UndefinedError

    if language not in kind.languages:
        raise StatementError(
            f"statement {kind.name!r} is not written in {language!r} "
            f"(it is in: {', '.join(kind.languages)})"
        )
    wanted = [channel for channel in PUBLISHING_CHANNELS if channel in set(channels)]
    strange = sorted(set(channels) - set(PUBLISHING_CHANNELS))
    if strange:
        raise StatementError(f"no statement can be posted on {strange[0]!r}")
    values = validate_variables(kind, variables)
    context: dict[str, object] = {variable.name: None for variable in kind.variables}
    context.update({name: value for name, (_, value) in values.items()})
    rendered = {}
    for variant in (BASE_VARIANT, *wanted):
        template = kind._templates[language, variant]
        try:
            rendered[variant] = _tidy(template.render(context))
        except UndefinedError as error:
            raise StatementError(
                f"{kind.folder / language / f'{variant}.j2'}: {error.message}"
            ) from None
        except (TemplateError, StatementError) as error:
            raise StatementError(f"{kind.folder / language / f'{variant}.j2'}: {error}") from None
        if not rendered[variant]:
            raise StatementError(f"{kind.folder / language / f'{variant}.j2'}: renders empty")
    base = rendered.pop(BASE_VARIANT)
    texts = MappingProxyType(rendered)
    return Rendering(
        kind=kind.name,
        language=language,
        variables=MappingProxyType({name: text for name, (text, _) in values.items()}),
        base=base,
        texts=texts,
        sha256=statement_hash(texts, base),
    )
