"""Counting a prompt's tokens as a model's text encoder will, from the tokenizer file in its folder alone.

The engine refuses a prompt over the text encoder's limit only once a worker has loaded the model, which
left a failed job behind. The API and the create page count here instead, without torch or any weights:
`tokenizer/tokenizer.json` is what `transformers` itself loads for these tokenizers (with the same
normalizer and the same closing `</s>`), so the counts agree with `PromptEncoder.count_tokens`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_loaded: dict[Path, tuple[float, Any]] = {}


def tokenizer_file(model_path: Path) -> Path | None:
    path = model_path / "tokenizer" / "tokenizer.json"
    return path if path.is_file() else None


def _tokenizer(model_path: Path) -> Any | None:
    """The model's tokenizer, loaded once (again when its file changes); None when it has no tokenizer.json
    (a SentencePiece-only folder): the worker then remains the only check."""
    path = tokenizer_file(model_path)
    if path is None:
        return None
    stamp = path.stat().st_mtime
    with _lock:
        cached = _loaded.get(path)
        if cached is None or cached[0] != stamp:
            from tokenizers import Tokenizer

            try:
                cached = (stamp, Tokenizer.from_file(str(path)))
            except Exception:  # a damaged file: no count, the worker still checks
                return None
            _loaded[path] = cached
        return cached[1]


def count_tokens(model_path: Path, text: str) -> int | None:
    """How many tokens the model's text encoder reads for `text`, or None when that cannot be told here."""
    tokenizer = _tokenizer(model_path)
    if tokenizer is None:
        return None
    return len(tokenizer.encode(text, add_special_tokens=True).ids)


def longest_piece(model_path: Path) -> int | None:
    """The most characters one token spells (the word-start mark `▁` counts for the space it stands for)."""
    tokenizer = _tokenizer(model_path)
    if tokenizer is None:
        return None
    return max((len(piece) for piece in tokenizer.get_vocab()), default=1)
