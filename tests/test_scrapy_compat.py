"""The upgrade tripwire: every private Scrapy (and scrapy-redis) name evidence relies on
still exists with the parameters it had when crawler/crawl/compat.py was last checked, the
replaced EXTENSIONS_BASE differs from Scrapy's only as documented, and no private name is
used outside the compatibility layer. A Scrapy upgrade that breaks one fails here, naming
it, instead of showing up later as lost throughput or a Public Suffix List download."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest
from scrapy.settings import default_settings

from crawler import settings as evidence_settings
from crawler.crawl import compat as scrapycompat
from crawler.crawl.compat import EXTENSIONS_REMOVED, PRIVATE_NAMES, PrivateMethod, PrivateName, plain_signature
from crawler.exceptions import ScrapyIncompatible

ROOT = Path(__file__).resolve().parent.parent
# The modules that install an override; imported so that each registers it.
OVERRIDING_MODULES = (
    "crawler.crawl.downloader",
    "crawler.crawl.throttle",
    "crawler.crawl.redirect",
    "crawler.scaleout.frontier.queue",
)


def problem(entry: PrivateName) -> str | None:
    """What is wrong with one private name in the installed Scrapy, or None."""
    where = f"{entry.module}.{entry.qualname}"
    try:
        found = entry.resolve()
    except ScrapyIncompatible as exc:
        return str(exc)
    if entry.signature is not None:
        try:
            actual = plain_signature(found)
        except (TypeError, ValueError):
            return f"{where} is no longer a function"
        if actual != entry.signature:
            return f"{where} takes {actual}, evidence expects {entry.signature}"
    return None


def problems() -> list[str]:
    return [found for entry in PRIVATE_NAMES if (found := problem(entry)) is not None]


@pytest.mark.parametrize("entry", PRIVATE_NAMES, ids=lambda entry: entry.qualname)
def test_each_private_name_exists_with_its_signature(entry: PrivateName) -> None:
    assert problem(entry) is None, problem(entry)


def test_the_tripwire_names_a_renamed_private_method(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.core.downloader import Downloader

    assert problems() == []
    monkeypatch.delattr(Downloader, "_process_queue")
    assert problems() == ["scrapy.core.downloader.Downloader._process_queue is gone: "
                          + scrapycompat.DOWNLOADER_PROCESS_QUEUE.why]


def test_the_tripwire_names_a_changed_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.extensions.throttle import AutoThrottle

    monkeypatch.setattr(AutoThrottle, "_adjust_delay", lambda self, slot, latency: None)
    assert problems() == ["scrapy.extensions.throttle.AutoThrottle._adjust_delay takes (self, slot, latency), "
                          "evidence expects (self, slot, latency, response)"]


def test_an_instance_field_that_scrapy_stops_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = PrivateName("scrapy.core.downloader", "Slot.no_such_field", "field", None, "a test")
    assert problem(entry) == "scrapy.core.downloader.Slot.no_such_field is gone: a test"


def test_every_override_is_installed_in_place_of_scrapys_method() -> None:
    for module in OVERRIDING_MODULES:
        importlib.import_module(module)
    installed = {entry for _, entry in scrapycompat.OVERRIDES}
    overrides = {entry for entry in PRIVATE_NAMES if isinstance(entry, PrivateMethod)}
    assert installed == overrides
    for cls, entry in scrapycompat.OVERRIDES:
        ours = cls.__dict__[entry.name]
        assert ours is not getattr(entry.resolve_owner(), entry.name)
        assert plain_signature(ours) == entry.signature


def test_an_override_of_a_method_scrapy_no_longer_has_is_refused() -> None:
    from scrapy.core.downloader import Downloader

    gone = PrivateMethod("scrapy.core.downloader", "Downloader._no_such_method", "override", "(self)", "a test")

    class Sub(Downloader):
        def method(self) -> None:
            pass

    with pytest.raises(ScrapyIncompatible, match="_no_such_method is gone"):
        gone.override(Sub, Sub.method)
    with pytest.raises(TypeError, match="cannot override"):
        PrivateMethod("scrapy.core.downloader", "Downloader._process_queue", "override", "(self, slot)", "a test") \
            .override(Sub, Sub.method)


def test_scrapy_uses_a_slot_queue_only_as_the_counted_queue_allows() -> None:
    """The transfer-bound downloader's queue counts appends and left pops; any other way
    in (extend, pop, clear, a new deque) would make its count of waiting requests drift."""
    from scrapy.core import downloader

    source = inspect.getsource(downloader)
    assert set(re.findall(r"\.queue\.(\w+)", source)) <= {"append", "popleft"}
    assert re.findall(r"\w+\.queue\s*=(?!=)", source) == ["self.queue ="], "Scrapy assigns a slot's queue elsewhere"


def test_extensions_base_is_scrapys_apart_from_the_documented_removals() -> None:
    scrapys: dict[str, int] = default_settings.EXTENSIONS_BASE
    assert set(EXTENSIONS_REMOVED) <= set(scrapys), f"no longer in Scrapy: {set(EXTENSIONS_REMOVED) - set(scrapys)}"
    expected = {name: order for name, order in scrapys.items() if name not in EXTENSIONS_REMOVED}
    assert evidence_settings.EXTENSIONS_BASE == expected, (
        "crawler/settings.py's EXTENSIONS_BASE must be Scrapy's less scrapycompat.EXTENSIONS_REMOVED; "
        f"Scrapy's now: {scrapys}"
    )


def test_no_other_base_setting_is_replaced() -> None:
    replaced = {name for name in dir(evidence_settings) if name.endswith("_BASE")}
    assert replaced == {"EXTENSIONS_BASE"}, "a *_BASE setting needs its check here and its entry in scrapycompat"


# --- No private name outside the compatibility layer ---

_PRIVATE_ATTRS = {entry.name for entry in PRIVATE_NAMES if entry.name.startswith("_") and not entry.name.endswith("__")}
_FIELDS: dict[str, set[str]] = {}
for _entry in PRIVATE_NAMES:
    if _entry.kind == "field":
        _owner, _, _field = _entry.qualname.rpartition(".")
        _FIELDS.setdefault(_owner, set()).add(_field)
# An attribute of these names is read off a value whose name says what it is.
_HINTS = {"Slot": "slot", "Downloader": "downloader", "ExecutionEngine": "engine", "AutoThrottle": "throttle"}
_UNIQUE = {"latercall", "lastseen", "transferring", "mindelay", "maxdelay"}


def _terminal(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _terminal(node.func)
    return ""


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    scrapy_names: dict[str, str] = {}  # local name -> the Scrapy class it was imported as

    def flag(node: ast.AST, what: str) -> None:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        found.append(f"{shown}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("scrapy", "scrapy_redis"):
            module = node.module or ""
            if any(part.startswith("_") for part in module.split(".")):
                flag(node, f"import from the private module {module}")
            for alias in node.names:
                scrapy_names[alias.asname or alias.name] = alias.name
                if alias.name.startswith("_"):
                    flag(node, f"import of the private {module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in ("scrapy", "scrapy_redis") and any(part.startswith("_") for part in parts):
                    flag(node, f"import of the private module {alias.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _PRIVATE_ATTRS:
            flag(node, f"override of {node.name} (register it with scrapycompat instead)")
        elif isinstance(node, ast.Attribute):
            owner = _terminal(node.value).lower()
            if node.attr in _PRIVATE_ATTRS or node.attr in _UNIQUE:
                flag(node, f"use of {node.attr}")
                continue
            for cls, fields in _FIELDS.items():
                if node.attr in fields and _HINTS[cls] in owner:
                    flag(node, f"use of {cls}.{node.attr}")
                    break
    for cls_node in ast.walk(tree):
        if not isinstance(cls_node, ast.ClassDef):
            continue
        bases = {scrapy_names.get(_terminal(base), "") for base in cls_node.bases}
        fields = set().union(*(_FIELDS.get(base, set()) for base in bases))
        for node in ast.walk(cls_node):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                    and node.attr in fields:
                flag(node, f"use of the inherited Scrapy field self.{node.attr}")
    return found


def test_no_private_scrapy_name_outside_the_compatibility_layer() -> None:
    files = [ROOT / "cli.py", *sorted((ROOT / "crawler").rglob("*.py"))]
    found = [line for path in files if path.name != "compat.py" for line in violations(path)]
    assert found == [], "\n".join(found)


def test_the_tree_walk_flags_each_kind_of_use(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from scrapy.utils._download_handlers import make_response\n"
        "from scrapy.utils.ssl import _make_ssl_context\n"
        "from scrapy.core.downloader import Downloader\n"
        "class D(Downloader):\n"
        "    def _get_slot(self, request):\n"
        "        return self.slots, self.active\n"
        "def f(slot, engine, cookies):\n"
        "    cookies._split_domain = None\n"
        "    return slot.queue, slot.latercall, engine.downloader.active\n",
        encoding="utf-8",
    )
    found = sorted(line.split(": ", 1)[1] for line in violations(sample))
    assert found == sorted([
        "import from the private module scrapy.utils._download_handlers",
        "import of the private scrapy.utils.ssl._make_ssl_context",
        "override of _get_slot (register it with scrapycompat instead)",
        "use of _split_domain",
        "use of Slot.queue",
        "use of latercall",
        "use of Downloader.active",
        "use of ExecutionEngine.downloader",
        "use of the inherited Scrapy field self.slots",
        "use of the inherited Scrapy field self.active",
    ])
