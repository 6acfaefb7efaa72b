"""Whether an HTML page looks built by script (``EVIDENCE_BROWSER=auto``).

A page is worth a browser when its HTML alone shows a person little or nothing of what
the browser would: an application shell. Three marks, any of which is enough when the
page also loads scripts and shows little text of its own:

- an empty application root: ``<div id="root">``, ``<app-root>``, ``<div id="__next">``...
  with nothing inside (a server-rendered Next.js or Nuxt page fills its root, and is not
  rendered);
- a ``<noscript>`` asking for JavaScript ("enable JavaScript", "habilitar JavaScript");
- little visible text beside script bundles.

A page with real text of its own (a government page with a few analytics scripts) is
never rendered under ``auto``: its HTML is what a person reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from crawler.verdicts.decoding import inflate

#: ids (and custom element names) frameworks mount their application into
ROOT_IDS = frozenset({
    "root", "app", "__next", "__nuxt", "___gatsby", "svelte", "application", "main-app", "react-root",
    "app-root", "ember-app", "q-app", "vue-app", "spa-root",
})
ROOT_ELEMENTS = frozenset({"app-root", "my-app", "ng-app", "app-shell"})
# "enable/activate/habilitar/activar ... JavaScript", or "JavaScript ... required/necesario".
_ASKS_FOR_JS = re.compile(
    r"(enable|activate|turn on|habilit|activ|requiere|require|necesit|need|ativ|aktivier|activez)[^.]{0,80}javascript"
    r"|javascript[^.]{0,60}(required|disabled|necesari|requerid|obligatori|nécessaire|erforderlich|deshabilitad|desactivad)",
    re.IGNORECASE,
)
#: below this many characters of visible text a page with script bundles shows nothing of its own
LITTLE_TEXT = 200
#: a page with this much text of its own is read as it is, whatever its markup says
ENOUGH_TEXT = 600
#: bytes of HTML read: a shell is small, and a page past this is no shell
_READ = 2 << 20
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title", "svg"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


@dataclass
class Shell:
    """What the HTML showed (for the log and the tests)."""

    text_chars: int
    scripts: int
    script_bytes: int
    empty_root: bool
    noscript_asks: bool

    @property
    def script_built(self) -> bool:
        if self.text_chars >= ENOUGH_TEXT or not (self.scripts or self.script_bytes):
            return False
        if self.empty_root:
            return True
        # A page of its own text may still ask for JavaScript for a map or a form.
        if self.noscript_asks:
            return self.text_chars < 2 * LITTLE_TEXT
        return self.text_chars < LITTLE_TEXT


def looks_script_built(body: bytes, content_encoding: str | None = None) -> bool:
    return examine(body, content_encoding).script_built


def examine(body: bytes, content_encoding: str | None = None) -> Shell:
    inflated = inflate(body, content_encoding, _READ)
    data = inflated.data[:_READ] if not inflated.over_limit else b""
    parser = _ShellParser()
    try:
        parser.feed(data.decode("utf-8", "replace"))
        parser.close()
    except AssertionError:  # html.parser on markup it gives up on: judge what was read
        pass
    return Shell(
        text_chars=parser.text_chars,
        scripts=parser.scripts,
        script_bytes=parser.script_bytes,
        empty_root=parser.empty_root,
        noscript_asks=bool(_ASKS_FOR_JS.search(" ".join(parser.noscript))),
    )


class _ShellParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text_chars = 0
        self.scripts = 0
        self.script_bytes = 0
        self.noscript: list[str] = []
        self.empty_root = False
        self._stack: list[str] = []
        # Open application roots: (depth, content seen inside)
        self._roots: list[list[int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for root in self._roots:
            root[1] = 1
        if tag == "script":
            kind = (dict(attrs).get("type") or "").lower()
            # JSON islands (ld+json, __NEXT_DATA__) carry data, not a bundle to run.
            if "json" not in kind and dict(attrs).get("src"):
                self.scripts += 1
        values = dict(attrs)
        if tag in ROOT_ELEMENTS or (values.get("id") or "").lower() in ROOT_IDS:
            if tag not in _VOID:
                self._roots.append([len(self._stack), 0])
        if tag not in _VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for root in self._roots:
            root[1] = 1

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._stack:
            return
        while self._stack:
            top = self._stack.pop()
            if self._roots and self._roots[-1][0] == len(self._stack):
                _, filled = self._roots.pop()
                if not filled:
                    self.empty_root = True
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        inside = set(self._stack)
        if "script" in inside:
            self.script_bytes += len(data)
            return
        if "noscript" in inside:
            self.noscript.append(data)
            return
        if inside & _INVISIBLE:
            return
        text = data.strip()
        if text:
            for root in self._roots:
                root[1] = 1
            self.text_chars += len(" ".join(text.split()))
