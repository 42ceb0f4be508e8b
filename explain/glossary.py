"""The course's technical words in English and Korean, and Korean particles that fit what they follow.

    >>> from explain.glossary import term, with_particle
    >>> term("max-pool", "ko"), term("max-pool", "en")
    ('최대 풀링', 'max-pool')
    >>> with_particle("Cₜ₋₁", "를")        # read "씨 티 마이너스 일": the last syllable has a final consonant
    'Cₜ₋₁을'
    >>> with_particle("fₜ", "이")          # read "에프 티"
    'fₜ가'

Every scene takes its words from :data:`GLOSSARY`, so a term reads the same in every figure (분기,
never 가지, for a branch). A particle after a symbol or a number is chosen from how the symbol is
read aloud (C = 씨, 1 = 일, L = 엘, 10 = 십), never from how it looks.
"""

from __future__ import annotations

import re

__all__ = ["GLOSSARY", "term", "with_particle"]

#: English term → Korean term, one translation per concept, shared by every scene
GLOSSARY: dict[str, str] = {
    # layers and operations
    "conv": "합성곱",
    "convolution": "합성곱",
    "convolutions": "합성곱",
    "kernel": "커널",
    "filter": "필터",
    "filters": "필터",
    "max-pool": "최대 풀링",
    "max-pooling": "최대 풀링",
    "avg-pool": "평균 풀링",
    "pooling": "풀링",
    "linear": "선형",
    "fully connected layer": "완전연결층",
    "activation": "활성화 함수",
    "embedding": "임베딩",
    "decoder": "디코더",
    "concatenate": "연결",
    "batch-norm": "배치 정규화",
    "stride": "스트라이드",
    "projection": "투영",
    "identity": "항등",
    "max": "최댓값",
    # structure
    "layer": "층",
    "block": "블록",
    "stage": "단계",
    "branch": "분기",
    "shortcut": "지름길",
    "residual block": "잔차 블록",
    "bottleneck": "병목",
    "module": "모듈",
    "channel": "채널",
    "channels": "채널",
    "feature map": "특징 맵",
    "unit": "유닛",
    "units": "유닛",
    "pixel": "픽셀",
    "input": "입력",
    "output": "출력",
    # recurrent networks
    "gate": "게이트",
    "forget gate": "망각 게이트",
    "input gate": "입력 게이트",
    "output gate": "출력 게이트",
    "update gate": "업데이트 게이트",
    "reset gate": "리셋 게이트",
    "cell": "셀",
    "cell state": "셀 상태",
    "hidden state": "은닉 상태",
    "hidden": "은닉",
    "state": "상태",
    "candidate": "후보",
    "time step": "시간 단계",
    "fwd": "정방향",
    "bwd": "역방향",
    "one-hot": "원-핫",
    "teacher forcing": "교사 강요",
    "generation": "생성",
    "prime": "시작 문자열",
    "target": "목표",
    # learning
    "parameters": "파라미터",
    "weights": "가중치",
    "bias": "편향",
    "multiply-adds": "곱셈-덧셈",
    "scores": "점수",
    "prediction": "예측",
    "cross-entropy": "교차 엔트로피",
    "backpropagation through time": "시간 역전파",
    "vanishing gradient": "기울기 소실",
    "gradient": "기울기",
    "scale": "눈금",
    "log scale": "로그 눈금",
}


def term(english: str, lang: str) -> str:
    """``english`` in ``lang`` ("en" or "ko"), from :data:`GLOSSARY`.

    >>> term("branch", "ko")
    '분기'
    >>> term("brnach", "ko")
    Traceback (most recent call last):
    ValueError: 'brnach' is not in the glossary (explain/glossary.py); add it with its Korean term
    """
    if english not in GLOSSARY:
        raise ValueError(f"{english!r} is not in the glossary (explain/glossary.py); add it with its Korean term")
    if lang not in ("en", "ko"):
        raise ValueError(f"lang must be 'en' or 'ko', got {lang!r}")
    return GLOSSARY[english] if lang == "ko" else english


# -- how a word ends when it is read aloud -------------------------------------------------------

#: the final consonant (받침) of each reading below: "" none, "ㄹ" (which takes 로, not 으로), or "+" another
_DIGITS = {"0": "+", "1": "ㄹ", "2": "", "3": "+", "4": "", "5": "", "6": "+", "7": "ㄹ", "8": "ㄹ", "9": ""}
#: Latin letters read by name: L 엘, M 엠, N 엔, R 알 end in a consonant; the others do not
_LETTERS = {"l": "ㄹ", "m": "+", "n": "+", "r": "ㄹ"}
#: words read as words rather than letter by letter (lower case) → their final consonant
_WORDS = {
    "resnet": "+", "linear": "", "embedding": "+", "inception": "+", "conv": "", "relu": "", "tanh": "", "softmax": "",
    "pytorch": "", "torchvision": "+", "max": "", "mean": "+", "sum": "+", "he": "",
}
#: symbols read by name
_SYMBOLS = {"σ": "", "%": "", "θ": "", "π": "", "ε": "+", "λ": "", "+": "", "−": "", "×": ""}
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉₋₊ₐₑₒₓₕₖₗₘₙₚₛₜᵢᵣᵤᵥⱼᵀ¹", "0123456789-+aeoxhklmnpstiruvjT1")
#: closing marks read with the word inside them (a particle agrees with ‘h’ as with h)
_CLOSING = "]}’”'\"`|‖ \u0303"


def _spoken_end(word: str) -> str:
    """``word`` as far as it is read before a particle: markup, closing marks and glosses dropped.

    A parenthesis after a Korean word, or with Korean inside, is a gloss: the particle agrees with
    the word before it ("글자(정답)를"); otherwise it is read ("F(x)를", "(1 − hₜ²)을").
    """
    plain = re.sub(r"<[^>]*>", "", word).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    plain = plain.rstrip(_CLOSING)
    while plain.endswith(")"):
        depth, opening = 0, -1
        for index in range(len(plain) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(plain[index], 0)
            if depth == 0:
                opening = index
                break
        before, inside = plain[:max(opening, 0)], plain[opening + 1 : -1]
        gloss = opening > 0 and (_is_syllable(before.rstrip()[-1:]) or any(_is_syllable(c) for c in inside))
        plain = (before if gloss or not inside.strip() else plain[:-1]).rstrip(_CLOSING)  # size() is read "size"
    return plain


def _is_syllable(char: str) -> bool:
    return bool(char) and "가" <= char <= "힣"


def _final(word: str) -> str:
    """The final consonant of ``word`` as read aloud: "" (none), "ㄹ", or "+" (another)."""
    plain = _spoken_end(word)
    if plain.endswith(("²", "³")):
        return "+"  # hₜ² is read "…제곱", hₜ³ "…세제곱"
    plain = plain.translate(_SUBSCRIPTS)
    if not plain:
        raise ValueError(f"cannot tell how {word!r} is read: it has no letter, digit or syllable")
    last = plain[-1]
    if _is_syllable(last):
        final = (ord(last) - ord("가")) % 28
        return "" if final == 0 else ("ㄹ" if final == 8 else "+")
    if last.isdigit():
        number = re.search(r"[\d,]*(\.\d+)?$", plain).group(0)
        if "." in number:
            return _DIGITS[number[-1]]
        digits = number.replace(",", "").lstrip("0") or "0"
        zeros = len(digits) - len(digits.rstrip("0"))
        if zeros == 0:
            return _DIGITS[digits[-1]]
        return "+" if zeros < 12 else ""  # …십, 백, 천, 만, 억 end in a consonant; 조 (10¹²) does not
    if last.isascii() and last.isalpha():
        letters = re.search(r"[A-Za-z]+$", plain).group(0)
        if letters.lower() in _WORDS:
            return _WORDS[letters.lower()]
        return _LETTERS.get(last.lower(), "")
    if last in _SYMBOLS:
        return _SYMBOLS[last]
    raise ValueError(f"cannot tell how {word!r} is read (it ends in {last!r}); add its reading to explain/glossary.py")


#: particle pairs: (after a final consonant, after a vowel); 으로/로 also takes 로 after ㄹ
_PARTICLES = [("이", "가"), ("을", "를"), ("은", "는"), ("과", "와"), ("으로", "로"), ("이나", "나"), ("이면", "면"), ("이라", "라")]


def with_particle(word: str, particle: str) -> str:
    """``word`` followed by ``particle`` in the form its reading asks for (either form may be given).

    >>> with_particle("hₜ₋₁", "를"), with_particle("zₜ", "을"), with_particle("1", "이면"), with_particle("Wₕₙ", "가")
    ('hₜ₋₁을', 'zₜ를', '1이면', 'Wₕₙ이')
    >>> with_particle("L", "으로"), with_particle("86%", "을"), with_particle("x", "은"), with_particle("10", "이")
    ('L로', '86%를', 'x는', '10이')
    >>> with_particle("64×28×28", "가"), with_particle("(1 − hₜ²)", "를"), with_particle("모듈", "를")
    ('64×28×28이', '(1 − hₜ²)을', '모듈을')
    >>> with_particle("F(x)", "을"), with_particle("글자(정답)", "을"), with_particle("W·(1 − hₜ²)", "를")
    ('F(x)를', '글자(정답)를', 'W·(1 − hₜ²)을')
    >>> with_particle("`x.size() is not out.size()`", "이")
    '`x.size() is not out.size()`가'
    """
    for consonant, vowel in _PARTICLES:
        if particle in (consonant, vowel):
            final = _final(word)
            if consonant == "으로" and final == "ㄹ":
                return word + vowel
            return word + (consonant if final else vowel)
    known = ", ".join("/".join(pair) for pair in _PARTICLES)
    raise ValueError(f"{particle!r} is not a particle this helper knows; choose one of {known}")

