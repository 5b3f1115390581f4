"""The training loop: one loop, two engines, any number of devices.

Every step of training is the same four moves, whatever the library::

    for epoch in range(epochs):
        for X_batch, y_batch in shuffled mini-batches:
            y_hat = model(X_batch)              # 1. predict
            loss = loss_fn(y_hat, y_batch)      # 2. measure the loss
            gradients of loss w.r.t. params     # 3. compute gradients
            optimizer.step()                    # 4. nudge the parameters

``fit`` runs that loop (``loop.py``) over an engine (``engines.py``):

- **numpy**: the model is an ``mlcourse.nn.Module``; gradients come from
  ``loss_fn.grad`` and ``model.backward``; the optimizer is ``mlcourse.optim``'s.
- **torch** (``torch_engine.py``): the model is a ``torch.nn.Module``; gradients
  come from autograd; the optimizer is a ``torch.optim`` one; data and model
  live on a device -- or on several, data-parallel (``distributed.py``).

Both engines see the same mini-batches as ``mlcourse.data.iterate_minibatches``
with ``seed=seed + epoch``, so a numpy model and its ``to_torch`` twin trained
with the same optimizer follow the same trajectory.

Epoch numbers stored in ``History`` (``best_epoch``, ``stopped_epoch``) are
0-based indices into its lists; messages meant for people count from 1
("epoch 3/10").

torch is imported only when a torch model is trained, so importing this
package stays light.
"""

from mlcourse.losses import accuracy  # re-exported: the usual metric for fit
from mlcourse.train.engines import Engine
from mlcourse.train.history import DivergenceError, History
from mlcourse.train.loop import fit
from mlcourse.train.stopping import EarlyStopping

__all__ = ["fit", "History", "EarlyStopping", "DivergenceError", "accuracy", "Engine"]
