"""Grad-mode context managers: no_grad, enable_grad, set_grad_enabled.

Each works as a context manager and as a function decorator, as in PyTorch.
The switch itself is the C++ thread-local autograd::GradMode, so a mode set
here is seen by every op and by backward closures; it is per thread.
"""
import functools
import inspect

from shanshui import _C

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


def is_grad_enabled():
    """True when operations are recorded for autograd on this thread."""
    return _C.is_grad_enabled()


class _DecoratorContextManager:
    """Context manager that can also decorate a function (or generator function)."""

    def __call__(self, func):
        if inspect.isclass(func):
            raise RuntimeError(
                f"{type(self).__name__} cannot decorate a class; decorate its methods instead")
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)

        @functools.wraps(func)
        def decorate_context(*args, **kwargs):
            # A fresh manager per call so that nested and recursive calls each
            # restore their own previous mode.
            with self.clone():
                return func(*args, **kwargs)

        return decorate_context

    def _wrap_generator(self, func):
        # The mode must hold while the generator body runs, i.e. on each resume,
        # and the caller's mode must be back in place between resumes.
        @functools.wraps(func)
        def generator_context(*args, **kwargs):
            gen = func(*args, **kwargs)
            try:
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as exc:  # forward throw() into the generator
                        with self.clone():
                            response = gen.throw(exc)
                    else:
                        with self.clone():
                            response = gen.send(request)
            except StopIteration as e:
                return e.value

        return generator_context

    def clone(self):
        return self.__class__()

    def __enter__(self):
        raise NotImplementedError

    def __exit__(self, exc_type, exc_value, traceback):
        raise NotImplementedError


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Allows ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Disable graph recording: results of ops do not require grad.

    Use as ``with shanshui.no_grad(): ...`` or as ``@shanshui.no_grad()``.
    """

    def __init__(self):
        self.prev = False

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self.prev)


class enable_grad(_NoParamDecoratorContextManager):
    """Enable graph recording inside a no_grad region."""

    def __init__(self):
        self.prev = False

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(True)

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode to ``mode``.

    As in PyTorch, ``set_grad_enabled(False)`` takes effect immediately when
    called as a function; used in a ``with`` block or as a decorator, the
    previous mode is restored afterwards.
    """

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'mode' must be bool, not {type(mode).__name__}")
        self.prev = _C.is_grad_enabled()
        self.mode = mode
        _C._set_grad_enabled(mode)

    def __call__(self, orig_func):
        # Used as a decorator: the constructor must not have changed the mode.
        _C._set_grad_enabled(self.prev)
        return super().__call__(orig_func)

    def __enter__(self):
        _C._set_grad_enabled(self.mode)

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self.prev)

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """torch.inference_mode: in shanshui the same as ``no_grad`` when ``mode`` is True
    (there are no inference tensors); ``inference_mode(False)`` leaves the grad mode alone."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = mode
        self.prev = False

    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        if self.mode:
            _C._set_grad_enabled(False)

    def __exit__(self, exc_type, exc_value, traceback):
        _C._set_grad_enabled(self.prev)
