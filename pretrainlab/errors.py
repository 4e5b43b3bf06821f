"""The one exception type users see: bad input, reported with the key or file at fault (exit code 2)."""

from __future__ import annotations

USER_ERROR_EXIT_CODE = 2
FAILED_STAGE_EXIT_CODE = 1


class UserInputError(Exception):
    """Bad params, corpus files, tokenizers, checkpoints or CLI arguments.

    The message must name the culprit (a params key path such as ``pretrain.cells.cd-flm.model``
    or a file path). The CLI prints it and exits with code 2; nothing is written before it is raised.
    """

    exit_code = USER_ERROR_EXIT_CODE


class NonFiniteResultError(UserInputError):
    """A result that is NaN or infinite (a diverged run, an undefined metric), refused before it is
    written. Not bad input, so exit code 1 (the stage failed), but reported the same way: one line
    naming the file and the key path, no traceback, the previous version of the file intact."""

    exit_code = FAILED_STAGE_EXIT_CODE
