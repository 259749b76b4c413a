"""The ``%%lambda`` cell as a handler module: IPython's syntax transforms, line for line, and friendly checks.

Real Lambda reports a broken module at init (``Runtime.UserCodeSyntaxError``,
``Runtime.HandlerNotFound``), so the function is registered anyway; these checks
only warn early.
"""

from __future__ import annotations

import ast
from typing import Any

from IPython.core.inputtransformer2 import TRANSFORM_LOOP_LIMIT, TransformerManager, leading_empty_lines


def transform_cell(manager: TransformerManager, cell: str) -> str:
    """``manager``'s transforms (``%magic``, ``!cmd``, prompts, common indent), keeping every line number.

    ``TransformerManager.transform_cell`` drops leading blank lines and joins
    continued magic lines; both would shift the lines a traceback points at.
    Here the blank lines stay, and a joined command is followed by blank lines.
    """
    lines = cell.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lead = 0
    while lead < len(lines) and lines[lead].strip() == "":
        lead += 1
    body = lines[lead:]
    for transform in manager.cleanup_transforms + manager.line_transforms:
        if transform is not leading_empty_lines:
            body = transform(body)
    for _ in range(TRANSFORM_LOOP_LIMIT):
        changed, new = manager.do_one_token_transform(body)
        if not changed:
            break
        lost = len(body) - len(new)
        if lost > 0:
            at = next((i for i, (a, b) in enumerate(zip(body, new, strict=False)) if a != b), len(new))
            new = new[: at + 1] + ["\n"] * lost + new[at + 1:]
        body = new
    return "\n" * lead + "".join(body)


def check_source(original: str, source: str, handler: str = "lambda_handler") -> list[str]:
    """Warnings a learner should see before the first invoke fails at init."""
    warnings: list[str] = []
    before = original.splitlines()
    for number, line in enumerate(source.splitlines(), start=1):
        was = before[number - 1] if number <= len(before) else ""
        if "get_ipython()" in line and "get_ipython()" not in was:
            warnings.append(f"line {number}: {was.strip()!r} is IPython syntax. A Lambda environment has "
                            f"no IPython, so this line raises NameError when it runs.")
    try:
        tree = ast.parse(source, filename="lambda_function.py")
    except SyntaxError as exc:
        warnings.append(f"line {exc.lineno}: SyntaxError: {exc.msg}. Lambda reports this when the "
                        f"environment initialises (Runtime.UserCodeSyntaxError); the function is "
                        f"registered anyway.")
        return warnings
    name = handler.rsplit(".", 1)[-1]
    if name not in _top_level_names(tree) and not _has_star_import(tree):
        warnings.append(f"no top-level {name!r} in this cell: init will fail with Runtime.HandlerNotFound "
                        f"(choose the function with --handler).")
    return warnings


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets: list[Any] = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:  # if/try/with blocks at module level may define it too
            names.update(n.name for n in ast.walk(node)
                         if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
            names.update(n.id for n in ast.walk(node)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def _has_star_import(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in tree.body)
