"""Finding tagged blocks (``<answer>...</answer>``) in model text, in linear time.

Rule shared by every format: the **last complete** block wins. Several opening tags give
a repair ("2 <answer> blocks: the last complete one was used"); an opening tag with no
closing tag after it, and no complete block before it, is an error ("unterminated
<answer> block"). Only ``str.rfind``/``str.count`` are used: no regular expression runs
over the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """A tagged block found in a text.

    Attributes:
        content: the text between the tags.
        end: index just after the closing tag.
        count: how many opening tags the whole text holds.
    """

    content: str
    end: int
    count: int


def last_block(text: str, tag: str, repairs: list[str], max_chars: int) -> Block | str:
    """The last complete ``<tag>...</tag>`` block of ``text``, or an error reason.

    Args:
        text: the model output.
        tag: the tag name without brackets, e.g. ``"answer"``.
        repairs: receives the "several blocks" repair when there are several.
        max_chars: the longest content accepted (longer is an error).
    """
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    close = text.rfind(close_tag)
    if close < 0:
        if open_tag in text:
            return f"unterminated {open_tag} block (no {close_tag})"
        return f"no {open_tag} block"
    start = text.rfind(open_tag, 0, close)
    if start < 0:
        return f"{close_tag} without {open_tag}"
    content = text[start + len(open_tag) : close]
    if len(content) > max_chars:
        return f"{open_tag} block too long: {len(content)} chars > {max_chars}"
    count = text.count(open_tag)
    if count > 1:
        repairs.append(f"{count} {open_tag} blocks: the last complete one was used")
    return Block(content=content, end=close + len(close_tag), count=count)


def check_trailing(text: str, end: int, tag: str, repairs: list[str]) -> None:
    """Add the repair "text after </tag> ignored" when non-space text follows ``end``."""
    if text[end:].strip():
        repairs.append(f"text after </{tag}> ignored")


__all__ = ["Block", "check_trailing", "last_block"]
