"""The Prefect API a command talks to: ``PREFECT_API_URL``'s server, or a temporary one started here.

Without ``PREFECT_API_URL``, Prefect starts a temporary (ephemeral) server in a subprocess and waits
``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` for it (Prefect's default, 20 s, is too short for
a first run on a slow machine, which also creates the database). :func:`start_temporary_server` starts it up front, waiting
:data:`TEMPORARY_SERVER_TIMEOUT_S` unless the setting is set (environment or profile), and turns a
server that does not answer into one :class:`PrefectServerUnavailable` line instead of a traceback.
"""

from __future__ import annotations

TEMPORARY_SERVER_TIMEOUT_S = 180
SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


class PrefectServerUnavailable(Exception):
    """Prefect's temporary server did not start: the command ends with this one line (exit 1)."""

    exit_code = 1


def startup_timeout() -> int:
    """Seconds to wait for the temporary server: the user's setting if set, else ours."""
    from prefect.settings import get_current_settings

    ephemeral = get_current_settings().server.ephemeral
    if "startup_timeout_seconds" in ephemeral.model_fields_set:
        return ephemeral.startup_timeout_seconds
    return TEMPORARY_SERVER_TIMEOUT_S


def start_temporary_server() -> None:
    """Without ``PREFECT_API_URL``, start Prefect's temporary server now (the flow run reuses it)."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        return
    from prefect.server.api.server import SubprocessASGIServer

    timeout = startup_timeout()
    server = SubprocessASGIServer()  # one per process: Prefect's client takes this one, started
    try:
        server.start(timeout=timeout)
    except RuntimeError as error:
        process = server.server_process
        dedicated = "run `prefect server start` and set PREFECT_API_URL to its API (http://HOST:PORT/api)"
        if process is not None and process.poll() is not None:
            message = f"exited with code {process.returncode} before answering; to see why, {dedicated}"
        elif "Timed out" in str(error):
            message = f"did not answer within {timeout} s; raise {SETTING} (now {timeout}), or {dedicated}"
        else:
            message = f"could not start ({str(error).splitlines()[0]}); {dedicated}"
        raise PrefectServerUnavailable(f"Prefect's temporary server {message}") from None
