"""Load the object an entrypoint names: `path/to/file.py:flow_fn` or `package.module:flow_fn`.

A file is imported under a unique module name registered in `sys.modules` (so its functions and
classes pickle by reference in this process) and marked for pickling by value with cloudpickle (so
process-pool workers, which cannot import that name, still get its code). Its folder is put on
`sys.path`, as `python file.py` would, so sibling imports work at import time and later, in
functions and in spawned workers. Every failure is an EntrypointError of one sentence.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from transom.exceptions import EntrypointError
from transom.platform.paths import parse_entrypoint, resolve_entrypoint_path
from transom.platform.system import current_platform

if TYPE_CHECKING:
    from transom.core.flows import Flow

__all__ = ["find_flow", "load_entrypoint", "load_flow", "load_module_from_path",
           "module_name_for"]


def load_entrypoint(entrypoint: str, *, cwd: str | Path | None = None,
                    platform: str | None = None) -> Any:
    """The object named by `entrypoint`; a path is read relative to `cwd` (default: the cwd)."""
    where, name = parse_entrypoint(entrypoint)
    if _is_module_reference(where):
        module = _import_module(where, entrypoint, os.getcwd() if cwd is None else str(cwd))
    else:
        path = resolve_entrypoint_path(where, platform or current_platform(),
                                       None if cwd is None else str(cwd))
        module = load_module_from_path(path, entrypoint=entrypoint)
    return _get_attribute(module, name, entrypoint)


def load_flow(entrypoint: str, *, cwd: str | Path | None = None,
              platform: str | None = None) -> Flow[..., Any]:
    """The Flow named by `entrypoint`; anything else (a plain function, a task) is an error."""
    from transom.core.flows import Flow

    obj = load_entrypoint(entrypoint, cwd=cwd, platform=platform)
    if isinstance(obj, Flow):
        return obj
    kind = _kind(obj)
    if kind == "a task":
        hint = "decorate it with @flow instead of @task, or call it from a flow"
    elif callable(obj) and kind != "a class":
        hint = "decorate it with @flow"
    else:
        hint = "point the entrypoint at an @flow function"
    raise EntrypointError(f"{entrypoint.strip()} is {kind}, not a flow; {hint}")


def find_flow(entrypoint: str, *, cwd: str | Path | None = None,
              platform: str | None = None) -> tuple[Flow[..., Any], str]:
    """The Flow of `entrypoint` and the entrypoint in full. A file given without `:flow_fn`
    (`etl.py`) is taken when it defines exactly one flow (`etl.py:etl` is returned); with none
    or several, the EntrypointError says which there are."""
    text = entrypoint.strip()
    if not text.lower().endswith(".py"):
        return load_flow(entrypoint, cwd=cwd, platform=platform), text
    path = resolve_entrypoint_path(text, platform or current_platform(),
                                   None if cwd is None else str(cwd))
    module = load_module_from_path(path, entrypoint=text)
    flows = _flows_of(module)
    if len(flows) == 1:
        name, flow = flows[0]
        return flow, f"{text}:{name}"
    if not flows:
        raise EntrypointError(f"{text} defines no flows; decorate a function with @flow, or "
                              "name one as path/to/file.py:flow_fn")
    names = ", ".join(name for name, _ in flows)
    raise EntrypointError(f"{text} defines {len(flows)} flows ({names}); name the one to run, "
                          f"as in {text}:{flows[0][0]}")


def _flows_of(module: ModuleType) -> list[tuple[str, Flow[..., Any]]]:
    """The module's flows by name, each once; those defined in it when it imports others too."""
    from transom.core.flows import Flow

    found: dict[int, tuple[str, Flow[..., Any]]] = {}
    for name in _flow_names(module):
        flow = getattr(module, name)
        if isinstance(flow, Flow):
            found.setdefault(id(flow), (name, flow))
    flows = list(found.values())
    own = [(n, f) for n, f in flows if getattr(f.fn, "__module__", None) == module.__name__]
    return own or flows


def module_name_for(path: str | Path) -> str:
    """The stable, unique `sys.modules` name of a user file: its stem plus a hash of its path."""
    full = os.path.normcase(os.path.abspath(str(path)))
    digest = hashlib.sha1(full.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in Path(path).stem) or "flow"
    return f"__transom_entry_{stem}_{digest}"


def load_module_from_path(path: str | Path, *, entrypoint: str | None = None) -> ModuleType:
    """Import a Python file by path (fresh each time) and register it in `sys.modules`."""
    file = Path(path)
    label = entrypoint.strip() if entrypoint else str(file)
    if not file.exists():
        raise EntrypointError(f"no file at {file} (entrypoint {label}); check the path and the working folder")
    if file.is_dir():
        raise EntrypointError(f"{file} is a folder, not a Python file; write the entrypoint as folder/file.py:flow_fn")
    name = module_name_for(file)
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise EntrypointError(f"{file} cannot be imported as Python; give the entrypoint a .py file")
    module = importlib.util.module_from_spec(spec)
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:  # a syntax error, a failed import, sys.exit(), any raise in the file
        sys.modules.pop(name, None)
        raise _import_failure(exc, file) from exc
    _pickle_by_value(module)
    return module


def _pickle_by_value(module: ModuleType) -> None:
    try:
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    except (ImportError, ValueError):
        pass  # not importable by name or already registered: pickling by reference still works here


def _is_module_reference(where: str) -> bool:
    if where.endswith(".py") or "/" in where or "\\" in where or ":" in where:
        return False
    return all(part.isidentifier() for part in where.split("."))


def _import_module(module_name: str, entrypoint: str, cwd: str) -> ModuleType:
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # `python -m` semantics: modules of the working folder import
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise EntrypointError(
                f"no module named {module_name!r} (entrypoint {entrypoint.strip()}); install it, "
                f"run from its folder, or give a file path like path/to/file.py:flow_fn"
            ) from None
        raise _import_failure(exc, Path(module_name)) from exc
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _import_failure(exc, Path(module_name)) from exc


def _import_failure(exc: BaseException, file: Path) -> EntrypointError:
    if isinstance(exc, SyntaxError):
        where = exc.filename or str(file)
        line = f", line {exc.lineno}" if exc.lineno else ""
        return EntrypointError(f"syntax error in {where}{line}: {exc.msg}; fix the file and try again")
    if isinstance(exc, ModuleNotFoundError):
        missing = exc.name or str(exc)
        return EntrypointError(
            f"{file} imports {missing!r}, which is not installed or not on the path; "
            f"install it in this Python ({sys.executable}) or fix the import"
        )
    if isinstance(exc, ImportError):
        return EntrypointError(f"{file} failed to import: {exc}; fix the import and try again")
    line = _user_line(exc, file)
    if isinstance(exc, SystemExit):
        return EntrypointError(
            f"{file} called sys.exit({exc.code!r}) while being imported{line}; "
            f"move that code under `if __name__ == \"__main__\":`"
        )
    return EntrypointError(
        f"{file} raised {type(exc).__name__}: {exc} while being imported{line}; "
        f"fix it or run with --debug for the traceback"
    )


def _user_line(exc: BaseException, file: Path) -> str:
    target = file.resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == target]
    return f" (line {frames[-1].lineno})" if frames else ""


def _get_attribute(module: ModuleType, name: str, entrypoint: str) -> Any:
    obj: Any = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise EntrypointError(_missing_message(module, name, entrypoint)) from None
    return obj


def _missing_message(module: ModuleType, name: str, entrypoint: str) -> str:
    where = entrypoint.strip().rsplit(":", 1)[0]
    flows = _flow_names(module)
    close = difflib.get_close_matches(name, flows or [n for n in vars(module) if not n.startswith("_")], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if flows:
        return f"{where} has no {name!r}{hint}; the flows it defines are: {', '.join(flows)}"
    return f"{where} has no {name!r}{hint} and defines no flows; decorate a function with @flow"


def _flow_names(module: ModuleType) -> list[str]:
    from transom.core.flows import Flow

    return sorted(n for n, v in vars(module).items() if isinstance(v, Flow) and not n.startswith("_"))


def _kind(obj: Any) -> str:
    from transom.core.tasks import Task

    if isinstance(obj, Task):
        return "a task"
    if isinstance(obj, type):
        return "a class"
    if isinstance(obj, ModuleType):
        return "a module"
    if callable(obj) and hasattr(obj, "__code__"):
        return "a function"
    article = "an" if type(obj).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(obj).__name__}"
