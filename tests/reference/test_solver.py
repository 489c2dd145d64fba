"""reference.solver.Solver on tiny problems."""

import pickle
import re

import numpy as np
import pytest

from reference import optim
from reference.fc_net import FullyConnectedNet
from reference.solver import Solver

ITERATION_LINE = re.compile(r'^\(Iteration (\d+) / (\d+)\) loss: \d+\.\d{6}$')
EPOCH_LINE = re.compile(r'^\(Epoch (\d+) / (\d+)\) train acc: \d\.\d{6}; val_acc: \d\.\d{6}$')


def tiny_data(seed: int = 0, n_train: int = 50, n_val: int = 20, d: int = 6, c: int = 3) -> dict:
    """Separable-ish blobs: class k is centred on 2 * e_k."""
    rng = np.random.default_rng(seed)
    centres = 2 * np.eye(c, d)
    y_train, y_val = rng.integers(c, size=n_train), rng.integers(c, size=n_val)
    return {
        'X_train': centres[y_train] + rng.standard_normal((n_train, d)),
        'y_train': y_train,
        'X_val': centres[y_val] + rng.standard_normal((n_val, d)),
        'y_val': y_val,
    }


def tiny_model(**kwargs) -> FullyConnectedNet:
    return FullyConnectedNet([8], input_dim=6, num_classes=3, **kwargs)


def test_verbose_lines_are_exactly_the_course_format(capsys):
    np.random.seed(0)
    solver = Solver(tiny_model(), tiny_data(), update_rule='sgd', batch_size=10, num_epochs=2,
                    print_every=3, optim_config={'learning_rate': 1e-1})
    solver.train()
    lines = capsys.readouterr().out.splitlines()

    iterations = [ITERATION_LINE.match(line) for line in lines if line.startswith('(Iteration')]
    epochs = [EPOCH_LINE.match(line) for line in lines if line.startswith('(Epoch')]
    assert len(iterations) + len(epochs) == len(lines)
    assert [int(m.group(1)) for m in iterations] == [1, 4, 7, 10]
    assert all(m.group(2) == '10' for m in iterations)
    assert [(int(m.group(1)), int(m.group(2))) for m in epochs] == [(0, 2), (1, 2), (2, 2)]
    assert lines[0] == f'(Iteration 1 / 10) loss: {solver.loss_history[0]:f}'
    assert lines[1] == (f'(Epoch 0 / 2) train acc: {solver.train_acc_history[0]:f}; '
                        f'val_acc: {solver.val_acc_history[0]:f}')


def test_quiet_solver_prints_nothing(capsys):
    Solver(tiny_model(), tiny_data(), num_epochs=1, batch_size=25, verbose=False).train()
    assert capsys.readouterr().out == ''


def test_defaults_as_in_api():
    solver = Solver(tiny_model(), tiny_data())
    assert solver.update_rule is optim.sgd
    assert (solver.optim_config, solver.lr_decay, solver.batch_size, solver.num_epochs) == (
        {}, 1.0, 100, 10)
    assert (solver.num_train_samples, solver.num_val_samples, solver.checkpoint_name) == (
        1000, None, None)
    assert (solver.print_every, solver.verbose) == (10, True)


def test_unknown_keyword_raises():
    with pytest.raises(ValueError, match='learning_rate'):
        Solver(tiny_model(), tiny_data(), learning_rate=1e-3)


@pytest.mark.parametrize('name', ['adagrad', 'np'])
def test_unknown_update_rule_raises(name):
    with pytest.raises(ValueError, match=name):
        Solver(tiny_model(), tiny_data(), update_rule=name)


def test_each_parameter_gets_its_own_copy_of_optim_config():
    config = {'learning_rate': 1e-2}
    solver = Solver(tiny_model(), tiny_data(), update_rule='sgd_momentum', optim_config=config,
                    num_epochs=1, batch_size=25, verbose=False)
    solver.train()
    configs = list(solver.optim_configs.values())
    assert len({id(c) for c in configs}) == len(configs) == len(solver.model.params)
    assert config == {'learning_rate': 1e-2}
    shapes = {k: c['velocity'].shape for k, c in solver.optim_configs.items()}
    assert shapes == {k: v.shape for k, v in solver.model.params.items()}


def test_lr_decays_once_per_epoch_for_every_parameter():
    solver = Solver(tiny_model(), tiny_data(), update_rule='adam', lr_decay=0.5, num_epochs=3,
                    batch_size=20, optim_config={'learning_rate': 1e-2}, verbose=False)
    solver.train()
    assert all(c['learning_rate'] == pytest.approx(1e-2 * 0.5**3)
               for c in solver.optim_configs.values())
    assert all(c['t'] == 3 * 2 for c in solver.optim_configs.values())


@pytest.mark.parametrize('n_train, batch_size, epochs, iterations, checks', [
    (50, 10, 3, 15, 4),   # 5 iterations per epoch: first + 3 epoch ends
    (50, 100, 3, 3, 3),   # max(N // batch_size, 1) = 1: the first iteration is an epoch end
    (50, 7, 2, 14, 3),
])
def test_history_lengths(n_train, batch_size, epochs, iterations, checks):
    solver = Solver(tiny_model(), tiny_data(n_train=n_train), batch_size=batch_size,
                    num_epochs=epochs, verbose=False)
    solver.train()
    assert len(solver.loss_history) == iterations
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == checks
    assert solver.epoch == epochs
    assert solver.best_val_acc == max(solver.val_acc_history)


def test_training_reduces_the_loss():
    np.random.seed(1)
    solver = Solver(tiny_model(dtype=np.float64), tiny_data(n_train=200), update_rule='adam',
                    optim_config={'learning_rate': 1e-2}, num_epochs=5, batch_size=20,
                    verbose=False)
    solver.train()
    assert np.mean(solver.loss_history[-10:]) < 0.5 * solver.loss_history[0]
    assert solver.best_val_acc > 0.8


class ScriptedValSolver(Solver):
    """Validation accuracy follows a script; snapshots the model at each validation check."""

    def __init__(self, *args, val_script, **kwargs):
        super().__init__(*args, **kwargs)
        self.val_script, self.snapshots = list(val_script), []

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        if X is not self.X_val:
            return super().check_accuracy(X, y, num_samples, batch_size)
        self.snapshots.append((
            {k: v.copy() for k, v in self.model.params.items()},
            [{k: bn[k].copy() for k in ('running_mean', 'running_var')}
             for bn in self.model.bn_params],
        ))
        return self.val_script.pop(0)


def test_best_params_and_batchnorm_statistics_are_restored():
    np.random.seed(2)
    model = tiny_model(use_batchnorm=True, dtype=np.float64)
    solver = ScriptedValSolver(model, tiny_data(), update_rule='adam', batch_size=10,
                               num_epochs=3, optim_config={'learning_rate': 5e-2},
                               val_script=[0.2, 0.3, 0.9, 0.5], verbose=False)
    solver.train()

    best_params, best_stats = solver.snapshots[2]
    final_params, final_stats = solver.snapshots[3]
    assert solver.best_val_acc == 0.9
    for k, v in best_params.items():
        np.testing.assert_array_equal(model.params[k], v)
        assert not np.array_equal(final_params[k], v)
    for bn, stats, final in zip(model.bn_params, best_stats, final_stats):
        for k in ('running_mean', 'running_var'):
            np.testing.assert_array_equal(bn[k], stats[k])
            assert not np.array_equal(final[k], stats[k])


def test_restored_model_reproduces_its_best_validation_accuracy():
    """With all of X_val scored, restored weights + restored statistics give best_val_acc."""
    np.random.seed(3)
    model = FullyConnectedNet([16, 16], input_dim=6, num_classes=3, use_batchnorm=True)
    solver = Solver(model, tiny_data(n_train=100, n_val=60), update_rule='adam', batch_size=10,
                    num_epochs=6, lr_decay=0.9, optim_config={'learning_rate': 1e-2},
                    verbose=False)
    solver.train()
    assert solver.check_accuracy(solver.X_val, solver.y_val) == solver.best_val_acc


def test_best_params_stay_the_best_after_more_steps():
    solver = Solver(tiny_model(), tiny_data(), num_epochs=2, batch_size=25, verbose=False)
    solver.train()
    assert all(not np.shares_memory(v, solver.model.params[k])
               for k, v in solver.best_params.items())
    saved = {k: v.copy() for k, v in solver.best_params.items()}
    solver._step()
    for k, v in saved.items():
        np.testing.assert_array_equal(solver.best_params[k], v)


def test_checkpoint_written_each_check(tmp_path, capsys):
    name = str(tmp_path / 'run')
    solver = Solver(tiny_model(), tiny_data(), update_rule='rmsprop', num_epochs=2, batch_size=25,
                    checkpoint_name=name, lr_decay=0.95)
    solver.train()
    assert f'Saving checkpoint to "{name}_epoch_2.pkl"' in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'run_epoch_0.pkl', 'run_epoch_1.pkl', 'run_epoch_2.pkl']

    with open(f'{name}_epoch_2.pkl', 'rb') as f:
        checkpoint = pickle.load(f)
    assert set(checkpoint) == {
        'model', 'update_rule', 'lr_decay', 'optim_config', 'batch_size', 'num_train_samples',
        'num_val_samples', 'epoch', 'loss_history', 'train_acc_history', 'val_acc_history'}
    assert checkpoint['epoch'] == 2 and checkpoint['update_rule'] is optim.rmsprop
    assert checkpoint['lr_decay'] == 0.95 and checkpoint['batch_size'] == 25
    assert checkpoint['loss_history'] == solver.loss_history
    assert isinstance(checkpoint['model'], FullyConnectedNet)


def test_determinism_under_np_random_seed():
    def run():
        np.random.seed(4)
        model = tiny_model(use_batchnorm=True, dropout=0.3)
        solver = Solver(model, tiny_data(), update_rule='sgd_nesterov_momentum', num_epochs=2,
                        batch_size=10, num_train_samples=20, verbose=False)
        solver.train()
        return solver.loss_history, solver.val_acc_history, model.params

    (loss1, val1, params1), (loss2, val2, params2) = run(), run()
    assert loss1 == loss2 and val1 == val2
    for k in params1:
        np.testing.assert_array_equal(params1[k], params2[k])


def test_check_accuracy_batches_and_subsamples():
    np.random.seed(5)
    data = tiny_data(n_val=37)
    solver = Solver(tiny_model(), data, verbose=False)
    full = solver.check_accuracy(data['X_val'], data['y_val'], batch_size=10)
    scores = solver.model.loss(data['X_val'])
    assert full == np.mean(np.argmax(scores, axis=1) == data['y_val'])
    sub = solver.check_accuracy(data['X_val'], data['y_val'], num_samples=8)
    assert sub in {k / 8 for k in range(9)}


def test_float32_model_keeps_float32_parameters():
    np.random.seed(6)
    model = tiny_model()
    Solver(model, tiny_data(), update_rule='adam', num_epochs=2, batch_size=10,
           verbose=False).train()
    assert all(v.dtype == np.float32 for v in model.params.values())
