import numpy as np

"""
Update rules as pure functions: none of them touches w, dw or the caller's
config; each returns the new weights and a new config dict built from the
old one.

    next_w, next_config = rule(w, dw, config)
"""

SGD_DEFAULTS = {'learning_rate': 1e-2}
MOMENTUM_DEFAULTS = {'learning_rate': 1e-2, 'momentum': 0.9}
RMSPROP_DEFAULTS = {'learning_rate': 1e-2, 'decay_rate': 0.99, 'epsilon': 1e-8}
ADAM_DEFAULTS = {'learning_rate': 1e-3, 'beta1': 0.9, 'beta2': 0.999,
                 'epsilon': 1e-8, 't': 0}


def with_defaults(config, defaults):
    """New dict: the defaults, overridden by whatever config already holds."""
    return {**defaults, **(config or {})}


def ema(old, new, decay):
    """Exponential moving average step."""
    return decay * old + (1 - decay) * new


def sgd(w, dw, config=None):
    """
    Vanilla SGD. config: learning_rate.
    """
    config = with_defaults(config, SGD_DEFAULTS)
    return w - config['learning_rate'] * dw, config


def sgd_momentum(w, dw, config=None):
    """
    Momentum. config: learning_rate, momentum, velocity (zeros if missing).
    """
    config = with_defaults(config, MOMENTUM_DEFAULTS)
    v_prev = config.get('velocity', np.zeros_like(w))
    v = config['momentum'] * v_prev - config['learning_rate'] * dw
    return w + v, {**config, 'velocity': v}


def sgd_nesterov_momentum(w, dw, config=None):
    """
    Nesterov momentum. config: learning_rate, momentum, velocity.
    """
    config = with_defaults(config, MOMENTUM_DEFAULTS)
    mu = config['momentum']
    v_prev = config.get('velocity', np.zeros_like(w))
    v = mu * v_prev - config['learning_rate'] * dw
    next_w = w - mu * v_prev + (1 + mu) * v
    return next_w, {**config, 'velocity': v}


def rmsprop(w, dw, config=None):
    """
    RMSProp. config: learning_rate, decay_rate, epsilon, a.
    """
    config = with_defaults(config, RMSPROP_DEFAULTS)
    config.setdefault('lr', config['learning_rate'])
    a = ema(config.get('a', np.zeros_like(w)), dw ** 2, config['decay_rate'])
    next_w = w - config['lr'] * dw / (np.sqrt(a) + config['epsilon'])
    return next_w, {**config, 'a': a}


def adam(w, dw, config=None):
    """
    Adam. config: learning_rate, beta1, beta2, epsilon, v (first moment),
    a (second moment), t.
    """
    config = with_defaults(config, ADAM_DEFAULTS)
    t = config['t'] + 1
    v = ema(config.get('v', np.zeros_like(w)), dw, config['beta1'])
    a = ema(config.get('a', np.zeros_like(w)), dw ** 2, config['beta2'])
    v_hat = v / (1 - config['beta1'] ** t)
    a_hat = a / (1 - config['beta2'] ** t)
    next_w = w - config['learning_rate'] * v_hat / (np.sqrt(a_hat) + config['epsilon'])
    return next_w, {**config, 'v': v, 'a': a, 't': t}
