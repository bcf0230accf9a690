"""The action board: every action of the grammar, decoded, with its words."""

from __future__ import annotations

from labels import pdf
from labels.codes import ACTION_HINTS, ACTION_WORDS, Action
from tests.labels.support import crop_mm, decode, pages, texts


def test_every_action_of_the_grammar_is_on_the_board_and_decodes() -> None:
    data = pdf.action_board("École de Production de Belfort", "ST-SOUD-03")
    for dpi in (300, 150):
        (image,) = pages(data, dpi)
        assert sorted(decode(image)) == sorted(action.value for action in Action)
        # Row by row, in the grammar's order: each row holds exactly its own code.
        top, row_h = 12 + 21, (297 - 12 - 33) / len(Action)
        for index, action in enumerate(Action):
            row = crop_mm(image, dpi, 0, top + index * row_h, 210, row_h)
            assert decode(row) == [action.value]


def test_the_board_says_each_actions_word_and_hint_in_french() -> None:
    (text,) = texts(pdf.action_board("École de Production de Belfort", "ST-SOUD-03"))
    lines = text.splitlines()
    assert lines[:2] == ["Codes d'action", "École de Production de Belfort · Poste ST-SOUD-03"]
    for action in Action:
        assert ACTION_WORDS[action] in lines
        assert ACTION_HINTS[action] in lines
        assert action.value in lines
    assert "Annuler le dernier scan (60 s)" in lines and "Appeler" in lines


def test_the_board_needs_no_school_nor_station() -> None:
    (text,) = texts(pdf.action_board())
    assert text.splitlines()[0] == "Codes d'action"
    assert "Poste" not in text
