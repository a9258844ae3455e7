"""Prompt → text embeddings: a T5-family encoder (umT5 for Ovi, a tiny one for Toybox) and its tokenizer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from transformers import PreTrainedTokenizerBase, UMT5Config, UMT5EncoderModel

# Characters a Toybox tokenizer must always be able to spell, so that a word it never saw in training
# still becomes known pieces instead of <unk>.
_BASE_ALPHABET = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()<>[]/&")


class PromptTooLongError(ValueError):
    """A prompt has more tokens than the text encoder accepts."""


class PromptEncoder:
    """Tokenizes prompts and runs the encoder, returning one embedding per real token (as Ovi does).

    Ovi pads every prompt to the encoder's maximum length, runs the encoder, then trims each output to the
    prompt's real token count; the transformer zero-pads again to its own `text_len`. We do the same but
    refuse prompts over the limit instead of silently truncating them.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, text_encoder: UMT5EncoderModel, max_length: int):
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.max_length = max_length

    def count_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def check(self, prompt: str, what: str = "prompt") -> None:
        n = self.count_tokens(prompt)
        if n > self.max_length:
            raise PromptTooLongError(
                f"the {what} is {n} tokens long; this model's text encoder accepts at most {self.max_length}"
                " — shorten it"
            )

    @torch.no_grad()
    def encode(self, prompts: Sequence[str], *, device: torch.device | str | None = None) -> list[torch.Tensor]:
        """Encodes each prompt to a (n_tokens, d_model) tensor on `device`."""
        for prompt in prompts:
            self.check(prompt)
        encoder_device = next(self.text_encoder.parameters()).device
        batch = self.tokenizer(
            list(prompts), padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
        )
        ids = batch["input_ids"].to(encoder_device)
        mask = batch["attention_mask"].to(encoder_device)
        hidden = self.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        lengths = mask.sum(dim=1).tolist()
        return [h[:n].to(device or encoder_device) for h, n in zip(hidden, lengths, strict=True)]


def pad_contexts(contexts: Sequence[torch.Tensor], length: int | None = None) -> torch.Tensor:
    """Stacks per-prompt embeddings (n_i, d) into a zero-padded batch (B, max n_i or `length`, d)."""
    length = length or max(c.shape[0] for c in contexts)
    out = contexts[0].new_zeros(len(contexts), length, contexts[0].shape[1])
    for i, c in enumerate(contexts):
        out[i, : c.shape[0]] = c
    return out


def train_tokenizer(
    corpus: Iterable[str], *, vocab_size: int = 512, kind: str = "unigram"
) -> PreTrainedTokenizerBase:
    """Trains a small tokenizer for a T5-family encoder from `corpus`.

    `unigram`: SentencePiece-style pieces over Metaspace word boundaries, as T5. `bpe`: punctuation and the
    speech marks `<S>` / `<E>` split off first, then byte-pair merges within words, so on Toybox captions
    (a few hundred words) every word is one token and only spoken syllables are split. Both are
    lower-cased, append `</s>` to every sequence and pad with `<pad>` (id 0).
    """
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>"]
    if kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>",
                                          initial_alphabet=_BASE_ALPHABET)
    elif kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Punctuation("isolated"),
                                                     pre_tokenizers.Metaspace()])
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      initial_alphabet=_BASE_ALPHABET)
    else:
        raise ValueError(f"tokenizer kind must be 'unigram' or 'bpe', got {kind!r}")
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(corpus, trainer=trainer)
    if kind == "bpe":  # the speech marks, matched after lower-casing and before any split, one token each
        tok.add_tokens([AddedToken(mark, normalized=True) for mark in ("<s>", "<e>")])
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def small_umt5(vocab_size: int, *, d_model: int = 64, num_layers: int = 2, num_heads: int = 4,
               d_ff: int = 128) -> UMT5EncoderModel:
    """A randomly initialised umT5 encoder of any size (the Toybox models use a small one)."""
    config = UMT5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_model // num_heads,
        d_ff=d_ff,
        num_layers=num_layers,
        num_heads=num_heads,
        relative_attention_num_buckets=32,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
        pad_token_id=0,
        eos_token_id=1,
    )
    return UMT5EncoderModel(config)
