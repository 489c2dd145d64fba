"""Update rules: rule(w, dw, config=None) -> (next_w, config).

None becomes {}; hyperparameter defaults are filled in with config.setdefault. These
readable rules never mutate w, dw or a state array: they return new arrays and store the
new state in config (the same dict, updated and returned).
"""

import numpy as np


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """w <- w - lr * dw.

    config: learning_rate (1e-2).
    """
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-2)

    next_w = w - config['learning_rate'] * dw
    return next_w, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple[np.ndarray, dict]:
    """v <- mu * v - lr * dw;  w <- w + v.

    config: learning_rate (1e-2), momentum mu (0.9), velocity v (zeros_like(w)).
    """
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config.get('velocity', np.zeros_like(w))

    v = config['momentum'] * v - config['learning_rate'] * dw
    next_w = w + v
    config['velocity'] = v
    return next_w, config


def sgd_nesterov_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple[np.ndarray, dict]:
    """v <- mu * v_old - lr * dw;  w <- w - mu * v_old + (1 + mu) * v.

    config: learning_rate (1e-2), momentum mu (0.9), velocity v (zeros_like(w)).
    """
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v_old = config.get('velocity', np.zeros_like(w))
    mu = config['momentum']

    v = mu * v_old - config['learning_rate'] * dw
    next_w = w - mu * v_old + (1 + mu) * v
    config['velocity'] = v
    return next_w, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """a <- rho * a + (1 - rho) * dw^2;  w <- w - lr * dw / (sqrt(a) + eps).

    config: learning_rate (1e-2), decay_rate rho (0.99), epsilon (1e-8),
    a, the running mean of dw^2 (zeros_like(w)).
    """
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('decay_rate', 0.99)
    config.setdefault('epsilon', 1e-8)
    a = config.get('a', np.zeros_like(w))
    rho = config['decay_rate']

    a = rho * a + (1 - rho) * dw**2
    next_w = w - config['learning_rate'] * dw / (np.sqrt(a) + config['epsilon'])
    config['a'] = a
    return next_w, config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """t <- t + 1;  v <- b1 * v + (1 - b1) * dw;  a <- b2 * a + (1 - b2) * dw^2;
    w <- w - lr * v_hat / (sqrt(a_hat) + eps), v_hat = v / (1 - b1^t), a_hat = a / (1 - b2^t).

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    v = FIRST moment (zeros_like(w)), a = SECOND moment (zeros_like(w)), t (0).
    """
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-3)
    config.setdefault('beta1', 0.9)
    config.setdefault('beta2', 0.999)
    config.setdefault('epsilon', 1e-8)
    v = config.get('v', np.zeros_like(w))
    a = config.get('a', np.zeros_like(w))
    b1, b2 = config['beta1'], config['beta2']

    t = config.get('t', 0) + 1
    v = b1 * v + (1 - b1) * dw
    a = b2 * a + (1 - b2) * dw**2
    v_hat = v / (1 - b1**t)
    a_hat = a / (1 - b2**t)
    next_w = w - config['learning_rate'] * v_hat / (np.sqrt(a_hat) + config['epsilon'])
    config['v'], config['a'], config['t'] = v, a, t
    return next_w, config
