"""Feature-map recording: every non-recurrent module's output under its qualified name.

    >>> import torch, explain
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
    >>> explain.record(net, torch.randn(1, 1, 5, 5)).names()
    ['0', '1']
"""

from __future__ import annotations

import torch


def install(recording, skip: set[torch.nn.Module]) -> list:
    """Hook every module except the root and those in ``skip``; return the hook handles."""
    handles = []
    for qualified_name, module in recording.model.named_modules():
        if not qualified_name or module in skip:
            continue

        def hook(module, inputs, output, name=qualified_name):
            if isinstance(output, torch.Tensor):
                recording.add(name, output)

        handles.append(module.register_forward_hook(hook))
    return handles
