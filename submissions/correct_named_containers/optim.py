"""
Update rules returning a small named tuple (next_w, config), so that
`res.next_w` and `next_w, config = rule(...)` both work. Each builds a fresh
OrderedDict config and never touches the caller's.

Internally I use the names from the Adam paper (m = first moment,
s = second moment, k = step counter) and map them onto the course's keys
(v = first moment, a = second moment, t) when reading and writing config.
"""
from collections import OrderedDict, namedtuple

import numpy as np

Update = namedtuple('Update', ['next_w', 'config'])

# course key  <-  my name
_ADAM_KEYS = {'m': 'v', 's': 'a', 'k': 't'}
_RMS_KEYS = {'s': 'a'}


def sgd(w, dw, config=None):
    config = OrderedDict(config or {})
    lr = config.setdefault('learning_rate', 1e-2)
    return Update(w - lr * dw, config)


def sgd_momentum(w, dw, config=None):
    config = OrderedDict(config or {})
    lr = config.setdefault('learning_rate', 1e-2)
    mu = config.setdefault('momentum', 0.9)
    vel = config.get('velocity', np.zeros_like(w))
    vel = mu * vel - lr * dw
    config['velocity'] = vel
    return Update(w + vel, config)


def sgd_nesterov_momentum(w, dw, config=None):
    config = OrderedDict(config or {})
    lr = config.setdefault('learning_rate', 1e-2)
    mu = config.setdefault('momentum', 0.9)
    vel_old = config.get('velocity', np.zeros_like(w))
    vel = mu * vel_old - lr * dw
    config['velocity'] = vel
    return Update(w - mu * vel_old + (1 + mu) * vel, config)


def rmsprop(w, dw, config=None):
    config = OrderedDict(config or {})
    lr = config.setdefault('learning_rate', 1e-2)
    rho = config.setdefault('decay_rate', 0.99)
    eps = config.setdefault('epsilon', 1e-8)
    s = config.get(_RMS_KEYS['s'], np.zeros_like(w))
    s = rho * s + (1 - rho) * np.square(dw)
    config[_RMS_KEYS['s']] = s
    return Update(w - lr * dw / (np.sqrt(s) + eps), config)


def adam(w, dw, config=None):
    config = OrderedDict(config or {})
    lr = config.setdefault('learning_rate', 1e-3)
    beta1 = config.setdefault('beta1', 0.9)
    beta2 = config.setdefault('beta2', 0.999)
    eps = config.setdefault('epsilon', 1e-8)
    state = {mine: config.get(theirs) for mine, theirs in _ADAM_KEYS.items()}
    m = np.zeros_like(w) if state['m'] is None else state['m']
    s = np.zeros_like(w) if state['s'] is None else state['s']
    k = (0 if state['k'] is None else state['k']) + 1

    m = beta1 * m + (1 - beta1) * dw
    s = beta2 * s + (1 - beta2) * np.square(dw)
    m_hat = m / (1 - beta1 ** k)
    s_hat = s / (1 - beta2 ** k)
    next_w = w - lr * m_hat / (np.sqrt(s_hat) + eps)

    for mine, value in (('m', m), ('s', s), ('k', k)):
        config[_ADAM_KEYS[mine]] = value
    return Update(next_w, config)
