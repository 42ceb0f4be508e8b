"""Korean on screen: every caption has both languages, a Korean frame has no English words left,
the particles after symbols are the ones they are read with, and the glossary's words are used.

The source checks read the scene code (fast); the frame checks build every scene's Korean still
(and the steps a still does not reach) without drawing, and read the text of every Text and
MarkupText the scene made.
"""

from __future__ import annotations

import ast
import doctest
import re
from functools import cache
from pathlib import Path

import pytest

from explain.glossary import GLOSSARY, with_particle
from explain.scenes import catalogue

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("scenes/*.py"), *ROOT.glob("explain/draw/*.py"), *ROOT.glob("explain/figures/*.py")])

HANGUL = re.compile(r"[가-힣]")
#: Latin words a Korean frame may show: function names, model and library names, units, authors
ALLOWED = {
    "tanh", "softmax", "ReLU", "relu", "act",
    "LSTM", "GRU", "RNN", "CNN", "VGG", "ResNet", "GoogLeNet", "AlexNet", "MNIST", "CIFAR", "MNISTCNN", "PyTorch", "torchvision",
    "B", "KB", "MB", "GB",
    "He",
}
#: words the glossary replaced; each is the wrong word for a term the glossary names
AVOIDED = {"가지": "분기", "위층": "다음 층", "뉴런": "유닛", "컨볼루션": "합성곱", "맥스": "최대", "히든": "은닉", "자기 눈금": "따로 맞춘 눈금"}
#: bilingual calls: the name and the positions of (English, Korean) among the arguments
BILINGUAL = {"say": (0, 1), "text": (0, 1), "caption": (0, 1), "fitted_caption": (1, 2), "recaption": (2, 3),
             "narrate": (0, 1), "swap_title": (0, 1), "heading": (0, 1), "Note": (0, 1)}
#: calls that draw their first string argument as it is, in both languages
AS_IS = {"Text": 0, "MarkupText": 0, "markup_text": 0, "LayerBox": 0, "ModuleBox": 0, "label_under": 1}


def english_words(text: str) -> list[str]:
    """The Latin words of ``text`` that are not symbols, code or allowed names.

    Left out: Pango markup, quoted text and code (‘h’, “Beautiful is”, `x.size()`, <tt>x.size()</tt>), single letters (symbols),
    names with digits, dots or underscores (layer.3, W_ih, Conv2d), a name called like a function
    (max(…)), indexed (out[i, j]) or assigned (out = …, dim=1), PyTorch's module classes (Linear,
    Embedding) and :data:`ALLOWED`.

    >>> english_words("t = 0: 최대 풀링 → max-pool, layer.3, W<sub>ih</sub>, ‘h’, max(x), out[i] = cat(a, dim=1), Linear, <tt>x is y</tt>")
    ['max', 'pool']
    """
    import torch.nn

    text = re.sub(r"<(sub|tt)>.*?</\1>", " ", text)  # W<sub>hn</sub>: part of a symbol; <tt>x.size()</tt>: code
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"‘[^’]*’|“[^”]*”|`[^`]*`|\"[^\"]*\"", "", text)
    words = []
    for match in re.finditer(r"[A-Za-z0-9_.@]*[A-Za-z][A-Za-z0-9_.@]*(\s*[(=]|\[)?", text):
        word = match.group(0)
        if match.group(1) or re.search(r"[\d_.@]", word) or len(word) == 1:
            continue
        if word in ALLOWED or hasattr(torch.nn, word):
            continue
        words.append(word)
    return words


def wrong_particles(text: str) -> list[str]:
    """Particles after a symbol or number that do not match how it is read ("Cₜ₋₁가" → "Cₜ₋₁이").

    >>> wrong_particles("셀 상태 Cₜ₋₁가 흐르고 hₜ는 1이면 x를 F(x)와 W·(1 − hₜ²)를 이전 글자(정답)를")
    ['Cₜ₋₁가 → Cₜ₋₁이', 'W·(1 − hₜ²)를 → W·(1 − hₜ²)을']
    """
    text = re.sub(r"<[^>]*>", "", text)
    wrong = []
    for match in re.finditer(r"(?<=[^\s가-힣(\[{‘“,.:;=→·])(이면|이나|이라|으로|이|가|을|를|은|는|과|와|로|면|나|라)(?![가-힣])", text):
        start, depth = match.start(), 0
        while start > 0:  # back to the space (outside parentheses) that begins the word
            char = text[start - 1]
            depth += {")": 1, "(": -1}.get(char, 0)
            if depth < 0 or (char.isspace() and depth == 0):
                break
            start -= 1
        word, particle = text[start : match.start()], match.group(1)
        try:
            right = with_particle(word, particle)
        except ValueError as error:
            right = str(error)
        if right != word + particle:
            wrong.append(f"{word}{particle} → {right}")
    return wrong


def plain_register(text: str) -> list[str]:
    """Sentences that end in the plain register (한다체: "줄인다", "없다") instead of 합니다체.

    >>> plain_register("채널을 줄인다. 두 배가 됩니다; 계산량이 크다 (He 외, 2015). 배치 정규화 없음")
    ['줄인다', '크다']
    """
    return re.findall(r"[가-힣]*(?<!니)다(?=\s*(?:[.!?;:]|\(|$))", re.sub(r"<[^>]*>", "", text))


def test_this_files_examples_hold():
    import test_korean

    result = doctest.testmod(test_korean)
    assert result.attempted > 0 and result.failed == 0


def test_every_glossary_term_is_korean_and_none_is_a_replaced_word():
    assert all(HANGUL.search(korean) for korean in GLOSSARY.values())
    assert not [korean for korean in GLOSSARY.values() if any(word in korean for word in AVOIDED)]


# -- the source: every caption in both languages --------------------------------------------------


def _literal(node: ast.AST) -> str | None:
    """The text of a string literal, else None: an f-string's constant parts, its glossary terms asked for
    in Korean (``{term('stride', 'ko')}`` → 스트라이드) and "{}" for its other fields."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else _korean_term(part.value) or "{}" for part in node.values)
    return None


def _korean_term(node: ast.AST) -> str | None:
    """The Korean term of ``term("…", "ko")``, else None."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "term" and len(node.args) == 2:
        english, lang = (arg.value if isinstance(arg, ast.Constant) else None for arg in node.args)
        return GLOSSARY.get(english) if lang == "ko" else None
    return None


def _calls():
    """(path, node, name) for every call, every pair of strings and every Korean string of the sources."""
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
        for node in ast.walk(tree):
            text = None if id(node) in parts else _literal(node)
            if text is not None and HANGUL.search(text):
                yield path.relative_to(ROOT), node, "(korean)"
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                yield path.relative_to(ROOT), node, name
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                yield path.relative_to(ROOT), node, "(pair)"


def test_every_caption_call_has_a_korean_string():
    missing = []
    for path, node, name in _calls():
        if name in BILINGUAL:
            english_at, korean_at = BILINGUAL[name]
            args = node.args
            if len(args) <= english_at or (english := _literal(args[english_at])) is None:
                continue
            korean = _literal(args[korean_at]) if len(args) > korean_at else None
            if korean is None and len(args) > korean_at:
                continue  # a Korean string computed elsewhere (a glossary term, a helper)
            if english_words(english) and (korean is None or not HANGUL.search(korean)):
                missing.append(f"{path}:{node.lineno} {name}({english!r}) has no Korean")
            if korean is not None and english_words(korean):
                missing.append(f"{path}:{node.lineno} {name}: Korean {korean!r} keeps {english_words(korean)}")
        elif name in AS_IS and len(node.args) > AS_IS[name]:
            text = _literal(node.args[AS_IS[name]])
            if text is not None and english_words(text):
                missing.append(f"{path}:{node.lineno} {name}({text!r}) shows {english_words(text)} in both languages")
        elif name == "(pair)":
            english, korean = (_literal(e) for e in node.elts)
            if english and korean is not None and len(english_words(english)) >= 2 and not HANGUL.search(korean):
                missing.append(f"{path}:{node.lineno} pair ({english!r}, {korean!r}) has no Korean")
    assert not missing, "\n".join(missing)


def glossary_terms_missing(english: str, korean: str) -> list[str]:
    """The glossary terms ``english`` uses whose Korean ``korean`` does not (longest terms first; code such as
    Linear(…) is not a term).

    >>> glossary_terms_missing("Input gate and a 2×2 max-pool", "입력 게이트와 2×2 풀링")
    ['max-pool']
    """
    rest, missing = re.sub(r"<[^>]*>", " ", english), []
    for term in sorted(GLOSSARY, key=len, reverse=True):
        found = re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-]|\s*\()", re.IGNORECASE)
        if found.search(rest):
            rest = found.sub(" ", rest)
            if GLOSSARY[term] not in korean:
                missing.append(term)
    return missing


def test_a_glossary_term_is_always_translated_the_glossary_s_way():
    different = []
    for path, node, name in _calls():
        if name in BILINGUAL or name == "(pair)":
            english_at, korean_at = BILINGUAL.get(name, (0, 1))
            strings = node.elts if name == "(pair)" else node.args
            english, korean = (_literal(strings[i]) if len(strings) > i else None for i in (english_at, korean_at))
            if english and korean and HANGUL.search(korean):
                different += [f"{path}:{node.lineno} {korean!r} lacks {GLOSSARY[term]!r} for {term!r}"
                              for term in glossary_terms_missing(english, korean)]
    assert not different, "\n".join(different)


def test_korean_literals_are_polite_with_the_right_particles_and_words():
    problems = []
    for path, node, name in _calls():
        if name == "(korean)":
            text = _literal(node).replace("{}", " ")  # a field's reading is checked on screen
            problems += [f"{path}:{node.lineno} {wrong}" for wrong in wrong_particles(text)]
            problems += [f"{path}:{node.lineno} {ending!r} is 한다체: say 합니다" for ending in plain_register(text)]
            problems += [f"{path}:{node.lineno} {word!r}: say {right!r}" for word, right in AVOIDED.items() if word in text]
    assert not problems, "\n".join(sorted(set(problems)))


# -- the frames: what a Korean still shows ---------------------------------------------------------

#: every scene's still, and steps whose words a still of the last step does not show (scene, options)
FRAMES = [
    *[(name, {}) for name in catalogue()],
    ("convolution", {"step": 4}), ("convolution", {"step": 5}), ("inception", {"step": 2}), ("resnet", {"step": 2}), ("parameters", {"step": 4}),
    ("vanishing-gradient", {"step": 3}), ("rnn-to-lstm", {"step": 2}), ("resnet", {"step": 5}), ("vgg", {"step": 4}),
]


@cache
def _trace(name: str):
    """The trace ``explain render NAME`` draws: the scene's recipe run on its default model."""
    from explain.render import resolve_trace

    return resolve_trace(catalogue()[name], None)


def korean_frame_texts(name: str, options: dict, tmp_path: Path, monkeypatch) -> list[str]:
    """The text of every Text and MarkupText that scene ``name`` builds for its Korean still (nothing is drawn)."""
    import manim
    from manim import tempconfig

    shown: list[str] = []

    def recording(original):
        def init(self, text, *args, **kwargs):
            shown.append(text)
            original(self, text, *args, **kwargs)

        return init

    for cls in (manim.Text, manim.MarkupText):
        monkeypatch.setattr(cls, "__init__", recording(cls.__init__))
    settings = {"dry_run": True, "write_to_movie": False, "save_last_frame": True, "disable_caching": True,
                "media_dir": str(tmp_path / "media"), "progress_bar": "none"}
    with tempconfig(settings):
        catalogue()[name].load()(trace=_trace(name), lang="ko", options=options).render()
    return shown


@pytest.mark.render
@pytest.mark.slow
@pytest.mark.parametrize(("name", "options"), FRAMES, ids=[f"{n}-{'-'.join(map(str, o.values())) or 'still'}" for n, o in FRAMES])
def test_a_korean_frame_is_korean(name, options, tmp_path, monkeypatch):
    texts = korean_frame_texts(name, options, tmp_path, monkeypatch)
    assert any(HANGUL.search(text) for text in texts)
    meta = _trace(name).meta  # module and model names are code, shown as the trace spells them
    names = [*meta.get("modules", {}), str(meta.get("model")), str(meta.get("example"))]
    modules = {part for module in names for part in re.split(r"[.\-_]", module)}
    problems = []
    for text in dict.fromkeys(texts):
        english = [word for word in english_words(text) if word not in modules]
        if english:
            problems.append(f"{text!r}: English {english}")
        problems += [f"{text!r}: {wrong}" for wrong in wrong_particles(text)]
        problems += [f"{text!r}: {ending!r} is 한다체" for ending in plain_register(text)]
        problems += [f"{text!r}: {word!r}, say {right!r}" for word, right in AVOIDED.items() if word in text]
    assert not problems, "\n".join(problems)
