"""template.yaml as data: the single source of truth the local engine deploys from."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml


def _project_root() -> Path:
    """The clone this runs from, else the copy an installed wheel keeps in ``<prefix>/share/cutover``
    (pyproject.toml's data-files: template, functions, state machine, example alarms)."""
    here = Path(__file__).resolve().parents[2]
    if (here / "template.yaml").is_file():
        return here
    shared = Path(sys.prefix) / "share" / "cutover"
    return shared if (shared / "template.yaml").is_file() else here


PROJECT_ROOT = _project_root()
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, !GetAtt, ...) as their long form."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


_parsed: dict[tuple[str, int, int], dict[str, Any]] = {}


def load(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as data: parsed once per version of the file (every engine deploys it, and
    parsing it is a good part of a deploy), a fresh copy for every caller."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _parsed:
        _parsed[key] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return copy.deepcopy(_parsed[key])


class Unresolvable(ValueError):
    """The template uses an intrinsic the local engine does not evaluate."""


_NO_VALUE = object()


def resolve(value: Any, refs: dict[str, Any], attrs: dict[tuple[str, str], Any]) -> Any:
    """Evaluate the intrinsics the engine needs (Ref, GetAtt, Sub, Join, Split, If not)."""
    if isinstance(value, list):  # AWS::NoValue leaves a list, as in CloudFormation
        return [item for item in (resolve(v, refs, attrs) for v in value) if item is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {k: resolve(v, refs, attrs) for k, v in value.items()}
    (key, arg), = value.items()
    if key == "Ref":
        if arg == "AWS::NoValue":
            return _NO_VALUE
        if arg not in refs:
            raise Unresolvable(f"Ref {arg}")
        return refs[arg]
    if key == "Fn::GetAtt":
        logical, attr = arg
        if (logical, attr) not in attrs:
            raise Unresolvable(f"GetAtt {logical}.{attr}")
        return attrs[(logical, attr)]
    if key == "Fn::Sub":
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], refs, attrs))
        scope = {**refs, **{f"{k}.{a}": v for (k, a), v in attrs.items()}, **local}

        def sub(match: re.Match[str]) -> str:
            if match.group(1) not in scope:
                raise Unresolvable(f"Sub ${{{match.group(1)}}}")
            return str(scope[match.group(1)])

        return re.sub(r"\$\{([\w:.]+)\}", sub, text)
    if key == "Fn::Join":
        return arg[0].join(str(v) for v in resolve(arg[1], refs, attrs))
    if key == "Fn::Split":
        return str(resolve(arg[1], refs, attrs)).split(arg[0])
    if key == "Fn::If" and f"Condition:{arg[0]}" in refs:  # a condition the caller evaluated
        return resolve(arg[1] if refs[f"Condition:{arg[0]}"] else arg[2], refs, attrs)
    if key.startswith("Fn::"):
        raise Unresolvable(key)
    return {key: resolve(arg, refs, attrs)}
