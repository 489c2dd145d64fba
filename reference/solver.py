"""Solver: minibatch training of a model with an update rule from reference.optim."""

import pickle
from typing import Any

import numpy as np

from reference import optim

try:  # relative: in the course layout (grader/notebook.py) fast.py is there only for the reference
    from . import fast
except ImportError:
    fast = None

BN_STATS = ('running_mean', 'running_var')


class Solver:
    """Trains model on data = {X_train, y_train, X_val, y_val}.

    model: .params (dict of arrays), .loss(X, y) -> (loss, grads), .loss(X) -> scores;
    optionally .bn_params (list of dicts with running statistics).
    kwargs (default): update_rule ('sgd'), optim_config ({}), lr_decay (1.0), batch_size (100),
    num_epochs (10), num_train_samples (1000), num_val_samples (None), checkpoint_name (None),
    print_every (10), verbose (True).

    Unlike the course Solver, the batchnorm running statistics are kept and restored together
    with the best validation parameters, so the restored weights are evaluated with their own
    statistics.

    With update_rule 'adam' and a model with flat buffers (FullyConnectedNet with
    reference.fast), each step updates all parameters at once (fast.FlatAdam) whenever that
    is exactly the per-parameter step; otherwise the per-parameter step runs.
    """

    def __init__(self, model: Any, data: dict[str, np.ndarray], **kwargs: Any):
        self.model = model
        self.X_train, self.y_train = data['X_train'], data['y_train']
        self.X_val, self.y_val = data['X_val'], data['y_val']

        self.update_rule = kwargs.pop('update_rule', 'sgd')
        self.optim_config = kwargs.pop('optim_config', {})
        self.lr_decay = kwargs.pop('lr_decay', 1.0)
        self.batch_size = kwargs.pop('batch_size', 100)
        self.num_epochs = kwargs.pop('num_epochs', 10)
        self.num_train_samples = kwargs.pop('num_train_samples', 1000)
        self.num_val_samples = kwargs.pop('num_val_samples', None)
        self.checkpoint_name = kwargs.pop('checkpoint_name', None)
        self.print_every = kwargs.pop('print_every', 10)
        self.verbose = kwargs.pop('verbose', True)
        if kwargs:
            extra = ', '.join(f'"{k}"' for k in kwargs)
            raise ValueError(f'Unrecognized arguments {extra}')
        rule = getattr(optim, self.update_rule, None)
        if not callable(rule):
            raise ValueError(f'Invalid update_rule "{self.update_rule}"')
        self.update_rule = rule

        self._reset()

    def _reset(self) -> None:
        """Fresh bookkeeping and one copy of optim_config per parameter."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.best_bn_stats = []
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}
        flat_params = getattr(self.model, 'flat_params', None)
        self.flat_adam = None
        if fast and self.update_rule is optim.adam and flat_params is not None:
            self.flat_adam = fast.FlatAdam(flat_params)

    def _step(self) -> None:
        """One update on a minibatch of batch_size rows drawn with replacement."""
        num_train = self.X_train.shape[0]
        batch_mask = np.random.choice(num_train, self.batch_size)
        X_batch, y_batch = self.X_train[batch_mask], self.y_train[batch_mask]

        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)
        if self.flat_adam is not None and self.flat_adam.step(self.model, grads, self.optim_configs):
            return

        for p, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _save_checkpoint(self) -> None:
        """Pickles the model and the history to '{checkpoint_name}_epoch_{epoch}.pkl'."""
        if self.checkpoint_name is None:
            return
        checkpoint = {
            'model': self.model,
            'update_rule': self.update_rule,
            'lr_decay': self.lr_decay,
            'optim_config': self.optim_config,
            'batch_size': self.batch_size,
            'num_train_samples': self.num_train_samples,
            'num_val_samples': self.num_val_samples,
            'epoch': self.epoch,
            'loss_history': self.loss_history,
            'train_acc_history': self.train_acc_history,
            'val_acc_history': self.val_acc_history,
        }
        filename = f'{self.checkpoint_name}_epoch_{self.epoch}.pkl'
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        with open(filename, 'wb') as f:
            pickle.dump(checkpoint, f)

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Fraction of argmax(scores) == y, on num_samples rows drawn with replacement
        when X has more; scored in batches of batch_size.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = np.random.choice(N, num_samples)
            N, X, y = num_samples, X[mask], y[mask]

        y_pred = [
            np.argmax(self.model.loss(X[start:start + batch_size]), axis=1)
            for start in range(0, N, batch_size)
        ]
        return float(np.mean(np.hstack(y_pred) == y))

    def train(self) -> None:
        """num_epochs * max(N_train // batch_size, 1) steps; accuracy at the first step,
        each epoch end and the last step; lr *= lr_decay at each epoch end. At the end the
        model gets the best validation parameters and their batchnorm statistics back (kept
        as they are if no check ever beat best_val_acc = 0).
        """
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print(f'(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}')

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config['learning_rate'] *= self.lr_decay

            if t == 0 or t == num_iterations - 1 or epoch_end:
                self._check_and_keep_best()

        if self.best_params:
            self._restore_best()

    def _check_and_keep_best(self) -> None:
        """Appends train/val accuracy, saves a checkpoint, keeps the best parameters."""
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, num_samples=self.num_train_samples
        )
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._save_checkpoint()
        if self.verbose:
            print(
                f'(Epoch {self.epoch} / {self.num_epochs}) '
                f'train acc: {train_acc:f}; val_acc: {val_acc:f}'
            )

        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
            self.best_bn_stats = [
                {k: bn_param[k].copy() for k in BN_STATS if k in bn_param}
                for bn_param in getattr(self.model, 'bn_params', [])
            ]

    def _restore_best(self) -> None:
        """model.params <- copies of best_params (into its flat buffer when params are its views);
        each bn_param's running stats <- the kept ones."""
        flat_params = getattr(self.model, 'flat_params', None)
        if flat_params is not None and flat_params.holds(self.model.params):
            for k, v in self.best_params.items():
                self.model.params[k][...] = v
        else:
            self.model.params = {k: v.copy() for k, v in self.best_params.items()}
        for bn_param, stats in zip(getattr(self.model, 'bn_params', []), self.best_bn_stats):
            bn_param.update({k: v.copy() for k, v in stats.items()})
