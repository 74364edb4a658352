"""Functions the worker processes of tests/test_side_by_side.py call: in a module of their own, light to
import, since every spawned worker imports the module of the function it runs."""

import os
import time

import torch

from deep.errors import ConfigError


def fail_on_two(x, log):
    if x == 2:
        raise ConfigError("task 2 is wrong")
    time.sleep(0.2 * x)
    return x


def exit_3(x, log):
    os._exit(3)


def threads(x, log):
    return torch.get_num_threads()
