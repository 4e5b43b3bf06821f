"""Upload an exported model directory to the Hugging Face Hub (``huggingface_hub.HfApi.upload_folder``).

The token is the usual one (``HF_TOKEN``, or what ``hf auth login`` stored). :func:`check_can_push`
runs before anything is exported: offline (``HF_HUB_OFFLINE``) or without a token is one clear
:class:`UserInputError` and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from pretrainlab.errors import UserInputError


def check_can_push(repo: str) -> None:
    """Refuse early: a repo id that is not ``owner/name``, offline mode, or no token."""
    from huggingface_hub import constants, get_token

    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise UserInputError(f"--push {repo!r}: a Hub repo id is <owner>/<name>")
    if constants.HF_HUB_OFFLINE:
        raise UserInputError(
            f"--push {repo}: offline (HF_HUB_OFFLINE is set); export without --push, then push when online"
        )
    if get_token() is None:
        raise UserInputError(
            f"--push {repo}: no Hugging Face token; set HF_TOKEN or run `hf auth login`, then rerun"
        )


def push_model(folder: Path, repo: str, *, private: bool = False) -> str:
    """Create ``repo`` if needed and upload ``folder`` to it in one commit; returns the commit URL."""
    import httpx2  # huggingface_hub's HTTP client: a failed connection raises its errors
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    try:
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo,
            repo_type="model",
            commit_message=f"Upload {Path(folder).name} exported by pretrainlab",
        )
    except HfHubHTTPError as err:
        raise UserInputError(f"--push {repo}: the Hub refused the upload ({err})") from err
    except (OSError, httpx2.HTTPError) as err:  # no network: a refused or failed connection
        raise UserInputError(f"--push {repo}: cannot reach the Hub ({err}); {folder} is exported") from err
    return str(getattr(commit, "commit_url", commit))
