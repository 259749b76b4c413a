"""Multiple-choice quizzes: authored in Python or JSON, or generated from a recorded invocation."""

from lambda_widget.quizzes.generate import KINDS, quiz_for_last, quiz_from
from lambda_widget.quizzes.model import Question, Quiz, QuizError

__all__ = ["KINDS", "Question", "Quiz", "QuizError", "quiz_for_last", "quiz_from"]
