"""Text that is safe to print to a terminal.

Questions, model output, dataset fields and trace files can hold terminal control
sequences: ``ESC [2J`` clears the screen, ``ESC ]0;...`` sets the window title,
``ESC ]52;...`` writes the clipboard, a carriage return overwrites what is already
on the line. Everything ttc-graph prints to a terminal goes through
:func:`terminal_safe`, which writes each such character as a visible escape
(``\\x1b``) instead; JSON and trace files keep the raw text.
"""

from __future__ import annotations

import re

# C0 controls except newline and tab, DEL, C1 controls (0x9b alone starts a CSI
# sequence on some terminals), and the bidirectional overrides and isolates that
# reorder how the rest of a line is displayed.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: object, *, newlines: bool = True) -> str:
    """``str(text)`` with every terminal control character written as a visible escape.

    ``ESC`` becomes the four characters ``\\x1b``, so an escape sequence prints as
    harmless text and can still be read. Newlines and tabs are kept unless
    ``newlines=False`` (then they are escaped too, for one-line output).
    """
    out = _UNSAFE.sub(_visible, str(text))
    if not newlines:
        out = out.replace("\n", "\\n").replace("\t", "\\t")
    return out


def rich_safe(text: object, *, newlines: bool = True) -> str:
    """:func:`terminal_safe`, with ``rich`` markup escaped too (for strings rich parses)."""
    from rich.markup import escape

    return escape(terminal_safe(text, newlines=newlines))
