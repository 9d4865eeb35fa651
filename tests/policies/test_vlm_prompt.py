"""Prompt templates of the VLM policy."""

from __future__ import annotations

import pytest

from stvg.config import ConfigError
from stvg.policies.vlm.prompt import (
    PromptTemplate,
    chat_messages,
    load_template,
    prompt_values,
)


def values(**overrides):
    base = prompt_values(
        query="the dog {jumps}",
        fps=0.5,
        timestamps_s=[0.0, 2.002, 4.5],
        width=320,
        height=180,
        format_instructions="FORMAT",
    )
    return {**base, **overrides}


def test_prompt_values_format_times_compactly():
    got = values()
    assert got["fps"] == "0.5"
    assert got["timestamps"] == "0, 2.002, 4.5"
    assert got["duration"] == "4.5"
    assert (got["num_frames"], got["width"], got["height"]) == (3, 320, 180)


def test_default_template_renders_every_fact():
    template = load_template("default")
    assert template.video_first is True and template.system
    system, user = template.render(values())
    assert "sampled at 0.5 frames per second" in user
    assert "3 frames of 320x180 pixels" in user
    assert "0, 2.002, 4.5" in user
    # Braces inside the query are data, not placeholders.
    assert '"the dog {jumps}"' in user
    assert user.endswith("FORMAT")
    assert system and "{" not in system


def test_custom_template_file_and_literal_braces(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(
        'user: "Q={query} at {fps} fps, JSON like {{\\"a\\": 1}}"\nvideo_first: false\n'
    )
    template = load_template(str(path))
    assert template.system is None and template.source == str(path)
    assert template.render(values())[1] == 'Q=the dog {jumps} at 0.5 fps, JSON like {"a": 1}'
    messages = chat_messages(template, values())
    assert messages == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": 'Q=the dog {jumps} at 0.5 fps, JSON like {"a": 1}'},
                {"type": "video"},
            ],
        }
    ]


def test_system_message_and_video_first():
    template = PromptTemplate(user="{query}", system="be brief")
    messages = chat_messages(template, values())
    assert messages[0] == {"role": "system", "content": "be brief"}
    assert messages[1]["content"][0] == {"type": "video"}


def test_unknown_placeholder_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("user: 'find {query} in {frames}'\n")
    with pytest.raises(
        ConfigError, match=r"bad\.yaml key user: unknown placeholder\(s\) \['frames'\]"
    ):
        load_template(str(path))
    with pytest.raises(ConfigError, match="malformed placeholder"):
        PromptTemplate(user="find {query")


def test_unknown_key_and_missing_templates(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("user: '{query}'\nvideo_frist: true\n")
    with pytest.raises(ConfigError, match="unknown config key video_frist"):
        load_template(str(path))
    with pytest.raises(
        ConfigError, match=r"unknown prompt template 'nope': shipped templates are \[.*'default'"
    ):
        load_template("nope")
    with pytest.raises(ConfigError, match="template file not found"):
        load_template(str(tmp_path / "missing.yaml"))
