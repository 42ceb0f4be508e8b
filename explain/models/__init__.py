"""The book's models, with weights trained here and a ready example input.

    >>> from explain import models
    >>> list(models.catalogue())[:3]
    ['hello-rnn', 'hello-lstm', 'char-rnn']
    >>> ex = models.load("hello-lstm")
    >>> ex.model.hidden_size, len(ex.tokens)
    (35, 69)
    >>> tr = ex.record()                       # doctest: +SKIP
    >>> tr["l0.fwd.f"].shape                   # doctest: +SKIP
    torch.Size([69, 1, 35])

An :class:`Example` holds the model (eval mode), its inputs, the labels of its time steps and how
the book runs it; :meth:`Example.record` records that run. Names in its trace follow DESIGN.md
with the model as root: the hello LSTM is a bare ``nn.LSTM``, so its names are ``l0.fwd.f`` …
``l2.fwd.h``; the char models' recurrent module is ``rnn`` (``rnn.l1.fwd.h``), the CNNs' layers
are e.g. ``layer.0`` (MNIST) or ``feature.2.4`` (VGG).
"""

from __future__ import annotations

from explain.models.catalogue import MODELS, Example, catalogue, load

__all__ = ["MODELS", "Example", "catalogue", "load"]
