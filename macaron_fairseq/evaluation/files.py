"""Text and JSON files for evaluation: lines split only at "\n", and writes that a reader never sees half done."""

import json
import os


def read_lines(path):
    """The lines of a UTF-8 text file without their newlines; other line breaks (\\r, U+2028) stay text."""
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def write_atomically(path, text):
    """Writes ``text`` to a temporary file beside ``path``, then renames it to ``path``."""
    temporary = f"{path}.tmp{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_lines(path, lines):
    write_atomically(path, "".join(line + "\n" for line in lines))


def write_json(path, value):
    write_atomically(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")
