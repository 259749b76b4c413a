"""Showing results: widgets in a kernel with a widget frontend, text from ``views.text`` in a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from IPython.display import display

from lambda_widget import api


class Output:
    """Displays one magic's results as widgets (``widgets=True``) or terminal text."""

    def __init__(self, widgets: bool) -> None:
        self.widgets = widgets

    def function(self, fn: Any, mgr: Any, card: Any = None) -> None:
        """A function version's card (``card``: one already made, e.g. an alias's)."""
        if self.widgets:
            display(card if card is not None else api.function_card(fn, mgr))
        elif card is not None:
            print(card.plain_text())
        else:
            from lambda_widget.views.text import render_function

            print(render_function(fn, mgr.version_rows(fn.name)))

    def warnings(self, messages: list[str]) -> None:
        for message in messages:
            print(f"Warning: {message}", file=sys.stderr)

    def invocation(self, future: Future, mgr: Any) -> None:
        """Show the invocation and wait for it: the widget first, so it fills in live."""
        inv = future.invocation
        if self.widgets:
            view = api.invocation_view(inv, mgr)
            handle = display(view, display_id=True)
            api.wait_for([future])
            _settle(view, handle)
        else:
            from lambda_widget.views.text import render_invocation

            api.wait_for([future])
            print(render_invocation(inv, history=list(mgr.history), function=inv.function))

    def burst(self, futures: list[Future], mgr: Any, live: bool = False) -> None:
        """Show the burst while it runs, then wait for all of it (``live``: keep following the pool)."""
        invocations = [f.invocation for f in futures]
        if self.widgets:
            view = api.burst_view(invocations, mgr, live=live)
            handle = display(view, display_id=True)
            api.wait_for(futures)
            _settle(view, handle)
            return
        from lambda_widget.views.snapshot import invocation_row
        from lambda_widget.views.text import burst_text, render_pool

        tty = sys.stdout.isatty()

        def progress(_future: Future) -> None:
            if tty:  # one line, rewritten in place
                done = sum(f.done() for f in futures)
                print(f"\rBurst: {done} of {len(futures)} done, {len(mgr.containers)} environments",
                      end="", flush=True)

        api.wait_for(futures, progress)
        if tty:
            print()
        print(burst_text([invocation_row(inv) for inv in invocations]))
        print(render_pool(mgr))

    def pool(self, mgr: Any, live: bool = False) -> None:
        if self.widgets:
            display(api.pool_view(mgr, live=live))
        else:
            from lambda_widget.views.text import render_pool

            print(render_pool(mgr))

    def history(self, mgr: Any, live: bool = False) -> None:
        if self.widgets:
            display(api.history_view(mgr, live=live))
        else:
            from lambda_widget.views.text import render_history

            print(render_history(mgr))

    def waited(self, result: api.WaitResult) -> None:
        if self.widgets:
            display(result)
        else:
            print(result)


    def tuning(self, run: Callable[[Callable[[int, int], None]], Any]) -> None:
        """Run a power tuning (``run(on_progress)``), showing how far it got, then show its result."""
        if self.widgets:
            handle = display(_Note("Power tuning: starting"), display_id=True)

            def show(obj: Any) -> None:  # in place of the progress line (no handle outside IPython)
                if handle is not None:
                    handle.update(obj)
                elif not isinstance(obj, _Note):
                    display(obj)

            try:
                result = run(lambda done, total: show(_Note(f"Power tuning: {done} of {total} runs")))
            except BaseException:
                show(_Note("Power tuning stopped."))
                raise
            show(api.tuning_view(result))
            return
        from lambda_widget.views.tuning import tuning_text

        tty = sys.stdout.isatty()

        def line(done: int, total: int) -> None:
            if tty:
                print(f"\rPower tuning: {done} of {total} runs", end="", flush=True)

        try:
            result = run(line)
        finally:
            if tty:
                print()
        print(tuning_text(result.to_dict()))

    def quiz(self, quiz: Any) -> None:
        if self.widgets:
            from lambda_widget.views.quiz import quiz_view

            display(quiz_view(quiz))
        else:
            print(quiz_text(quiz))


class _Note:
    """A one-line message shown in place while something runs."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html

        return f'<div class="lw-progress">{html.escape(self.text)}</div>'


def _settle(view: Any, handle: Any) -> None:
    """Render the finished state now and put it in the output too.

    The output was recorded when the view was first shown (still running); replacing it
    replaces its static HTML and text, so a saved notebook, nbconvert and nbval see the
    outcome rather than "0 of N done".

    Replace, not update: a display update that keeps the widget's mime type makes the
    front end render a second view of the same widget into the same output, and the first
    view is never disposed (JupyterLab 4 / Notebook 7 reuse the renderer; compare
    ipywidgets issue 3967). Two views of one ``Play`` model stop each other: the second
    view's ``change:playing`` handler sees ``previous('playing')`` already true after the
    first view's step and pauses, so Play moved one step and stuck. Going through a bundle
    without the widget mime type first makes the front end dispose that renderer, with its
    view, and render the widget afresh: one view per output.
    """
    api.settle(view)
    if handle is None:
        return
    handle.update({"text/html": view.static_html(), "text/plain": view.plain_text()}, raw=True)
    handle.update(view)


def quiz_text(quiz: Any) -> str:
    """A quiz for a terminal: the questions, then an answer key to check yourself against."""
    lines = [quiz.title, ""]
    for number, question in enumerate(quiz, start=1):
        lines.append(f"{number}. {question.prompt}")
        lines += [f"   {chr(ord('A') + i)}. {option}" for i, option in enumerate(question.options)]
        if question.hint:
            lines.append(f"   Hint: {question.hint}")
        lines.append("")
    key = ", ".join(f"{n} {chr(ord('A') + q.answer)}" for n, q in enumerate(quiz, start=1))
    lines.append(f"Answers: {key}")
    return "\n".join(lines)
