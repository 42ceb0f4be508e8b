"""The book's models, with weights trained here and a ready example input.

    >>> from explain import models
    >>> list(models.catalogue())[:3]
    ['hello-rnn', 'hello-lstm', 'char-rnn']
    >>> ex = models.load("hello-lstm")
    >>> ex.model.hidden_size, len(ex.tokens), ex.trained
    (35, 69, True)
    >>> tr = ex.record()
    >>> tr["l0.fwd.f"].shape
    torch.Size([69, 1, 35])

An :class:`Example` holds the model (eval mode), its inputs, the labels of its time steps, how the
book runs it (``run``) and the book's loss; :meth:`Example.record` records that run (with
``grads=True``, the gradients of that loss). Names in a trace follow DESIGN.md with the model as
root:

- ``hello-lstm`` is a bare ``nn.LSTM(35, 35, 3)`` called 69 times, one step per call, so its
  names are ``l0.fwd.x`` … ``l2.fwd.h``, each [69, 1, 35]; tokens ``["<s>", "h", "e", …]``.
- ``hello-rnn``: ``i2h``, ``act_fn`` (the new h) and ``i2o``, [69, 35] (one row per call).
- ``char-rnn|gru|lstm``: ``encoder`` [T, 1, 70], ``rnn.l{0,1}.fwd.*`` [T, 1, 100], ``decoder``
  [T, 100]; the default text is the Zen's first line (``text=`` replaces it).
- CNNs: module outputs by qualified name, e.g. ``layer.0`` (MNIST), ``feature.2.4`` (VGG),
  ``layer_3.0@branch1`` (inception), ``layer_2.2@fx`` (residual body); the default input is the
  shipped digit 0 (MNIST) or the shipped held-out circle of the ten-shape set (``image=`` replaces it).

Every model is trained (``python -m explain.models.train NAME``): the chapter-5 CNNs on ten classes
of generated shapes (:mod:`explain.models.shapes`) at reduced input sizes (cifar-cnn and vgg16 at
32×32, googlenet and resnet50 at 64×64). Options such as ``base_dim=64`` or ``image_size=224``
build the large, untrained variants for architecture figures.
"""

from __future__ import annotations

from explain.models.catalogue import MODELS, Example, catalogue, load

__all__ = ["MODELS", "Example", "catalogue", "load"]
