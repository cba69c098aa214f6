"""What a container needs from its image: the executables its command calls, and the images a chart runs.

`executables(argv)` lists the programs a container command runs: argv[0], and for `sh -c SCRIPT`
(sh, bash, /bin/sh, ...) every command word of the script. The script reader is small and
deliberately strict about what it understands (the scripts the program writes): separators
`;` `&&` `||` `|` `&` newlines and parentheses, keywords (if/then/else/fi, for/do/done, while,
until, case), leading `VAR=value` assignments, redirections (the word after `<`, `>`, `<<`, ...
is a file or a here-document delimiter) and here-document bodies, which are skipped. Shell
builtins are not executables and are left out.

`value_images(values)` lists the images a chart's merged values configure for the components
they enable: maps with a `repository` (and `registry`, `tag`) or an `image` string, skipping
every subtree whose `enabled` is false.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

SHELLS = frozenset({"sh", "bash", "dash", "ash"})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac"})
_LOOP_HEADERS = frozenset({"for", "case", "select"})
BUILTINS = frozenset(
    {
        ".",
        ":",
        "[",
        "break",
        "cd",
        "command",
        "continue",
        "echo",
        "eval",
        "exec",
        "exit",
        "export",
        "false",
        "local",
        "printf",
        "read",
        "return",
        "set",
        "shift",
        "source",
        "test",
        "trap",
        "true",
        "type",
        "unset",
        "wait",
    }
)
_SEPARATORS = frozenset(";&|()\n")
_REDIRECT = re.compile(r"^\d*[<>]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def _without_heredocs(script: str) -> str:
    lines = script.splitlines()
    kept: list[str] = []
    i = 0
    while i < len(lines):
        kept.append(lines[i])
        delimiters = [m.group(2) for m in _HEREDOC.finditer(lines[i])]
        i += 1
        for delimiter in delimiters:
            while i < len(lines) and lines[i].strip() != delimiter:
                i += 1
            i += 1
    return "\n".join(kept)


def _tokens(script: str) -> Iterator[str]:
    lexer = shlex.shlex(_without_heredocs(script), posix=True, punctuation_chars=";&|()<>\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    yield from lexer


def script_executables(script: str) -> set[str]:
    """The programs a shell script runs (module docstring: what it understands)."""
    found: set[str] = set()
    at_start, skip_words, skip_next = True, False, False
    for token in _tokens(script):
        if token and set(token) <= _SEPARATORS:
            # `)` closes a subshell: what follows are its redirections, not a command.
            at_start, skip_words = not token.startswith(")"), False
            continue
        if skip_next:
            skip_next = False
            continue
        if _REDIRECT.match(token) and set(token.lstrip("0123456789")) <= set("<>&"):
            skip_next = True
            continue
        if skip_words or not at_start:
            continue
        if token in _KEYWORDS:
            continue
        if token in _LOOP_HEADERS:
            skip_words = True
            continue
        if _ASSIGNMENT.match(token):
            continue
        at_start = False
        if token == "exec":
            skip_words = True
            continue
        if token not in BUILTINS:
            found.add(token)
    return found


def executables(argv: list[str]) -> set[str]:
    """The programs a container command runs: the command itself and, for `<shell> -c SCRIPT`, the script's."""
    if not argv:
        return set()
    found = {argv[0]}
    if argv[0].rsplit("/", 1)[-1] in SHELLS and len(argv) >= 3 and argv[1] == "-c":
        found |= script_executables(argv[2])
    return found


def value_images(values: Any, *, chart_default_tag: str = "<chart default>") -> list[str]:
    """Images configured in `values` for the components it enables (module docstring)."""
    found: list[str] = []

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            if node.get("enabled") is False:
                return
            repository = node.get("repository")
            if isinstance(repository, str) and repository and "image" in key.lower():
                registry = node.get("registry")
                tag = node.get("tag") or chart_default_tag
                found.append(f"{registry}/{repository}:{tag}" if registry else f"{repository}:{tag}")
                return
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key == "image" and node and "{{" not in node:
            found.append(node)

    walk(values, "")
    return found
