"""State-dict key maps from official checkpoint layouts to Duetto's component classes, kept as data.

A map is a sequence of (source template, target template) rules. In a template, `{name}` stands for one
dotted segment of a key (`[^.]+`); the first rule whose source template matches the whole key renames it.
A placeholder that appears only in the source template is a wildcard that the target drops (Wan numbers a
resampler after the residual blocks of its stage; diffusers names it `downsampler`). Inverting such a map
(what the tests do to write checkpoints in the official layout) needs a value for it: `KeyMap.inverted`
takes those values by name.

The Ovi fusion checkpoint needs no map: `TwinDiT` uses Ovi's own parameter names. The MMAudio VAE and the
BigVGAN vocoder keep their names too; their classes' loaders fold the weight normalisation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

Rule = tuple[str, str]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

# -- Wan2.2 VAE (`Wan2.2_VAE.pth`, Wan's own module names) → diffusers `AutoencoderKLWan` ------------------

# Where Wan keeps a ResidualBlock → where diffusers keeps it. Wan's middle is Sequential(res, attn, res).
_WAN_RESIDUAL_BLOCKS: tuple[Rule, ...] = (
    ("encoder.downsamples.{stage}.downsamples.{block}", "encoder.down_blocks.{stage}.resnets.{block}"),
    ("decoder.upsamples.{stage}.upsamples.{block}", "decoder.up_blocks.{stage}.resnets.{block}"),
    ("{side}.middle.0", "{side}.mid_block.resnets.0"),
    ("{side}.middle.2", "{side}.mid_block.resnets.1"),
)

# Inside one ResidualBlock: Wan's Sequential(RMS_norm, SiLU, conv, RMS_norm, SiLU, Dropout, conv) + shortcut.
_WAN_RESIDUAL_LAYERS: tuple[Rule, ...] = (
    ("residual.0.gamma", "norm1.gamma"),
    ("residual.2.{param}", "conv1.{param}"),
    ("residual.3.gamma", "norm2.gamma"),
    ("residual.6.{param}", "conv2.{param}"),
    ("shortcut.{param}", "conv_shortcut.{param}"),
)

WAN22_VAE_TO_DIFFUSERS: tuple[Rule, ...] = (
    ("conv1.{param}", "quant_conv.{param}"),
    ("conv2.{param}", "post_quant_conv.{param}"),
    ("{side}.conv1.{param}", "{side}.conv_in.{param}"),
    ("{side}.head.0.gamma", "{side}.norm_out.gamma"),
    ("{side}.head.2.{param}", "{side}.conv_out.{param}"),
    ("{side}.middle.1.{layer}.{param}", "{side}.mid_block.attentions.0.{layer}.{param}"),
    # The resampler closes a stage's Sequential, after its residual blocks (index = their count).
    ("encoder.downsamples.{stage}.downsamples.{down_index}.resample.1.{param}",
     "encoder.down_blocks.{stage}.downsampler.resample.1.{param}"),
    ("encoder.downsamples.{stage}.downsamples.{down_index}.time_conv.{param}",
     "encoder.down_blocks.{stage}.downsampler.time_conv.{param}"),
    ("decoder.upsamples.{stage}.upsamples.{up_index}.resample.1.{param}",
     "decoder.up_blocks.{stage}.upsampler.resample.1.{param}"),
    ("decoder.upsamples.{stage}.upsamples.{up_index}.time_conv.{param}",
     "decoder.up_blocks.{stage}.upsampler.time_conv.{param}"),
) + tuple(
    (f"{wan_block}.{wan_layer}", f"{diffusers_block}.{diffusers_layer}")
    for wan_block, diffusers_block in _WAN_RESIDUAL_BLOCKS
    for wan_layer, diffusers_layer in _WAN_RESIDUAL_LAYERS
)

# -- Wan's umT5 encoder (`models_t5_umt5-xxl-enc-bf16.pth`) → transformers `UMT5EncoderModel` --------------

WAN_T5_TO_UMT5: tuple[Rule, ...] = (
    ("token_embedding.weight", "shared.weight"),
    ("norm.weight", "encoder.final_layer_norm.weight"),
    ("blocks.{i}.norm1.weight", "encoder.block.{i}.layer.0.layer_norm.weight"),
    ("blocks.{i}.attn.{proj}.weight", "encoder.block.{i}.layer.0.SelfAttention.{proj}.weight"),
    # umT5 has one relative-position table per layer (Wan: shared_pos=False).
    ("blocks.{i}.pos_embedding.embedding.weight",
     "encoder.block.{i}.layer.0.SelfAttention.relative_attention_bias.weight"),
    ("blocks.{i}.norm2.weight", "encoder.block.{i}.layer.1.layer_norm.weight"),
    # Wan computes fc1(x) * gelu(gate(x)); T5's gated-gelu computes gelu(wi_0(x)) * wi_1(x).
    ("blocks.{i}.ffn.gate.0.weight", "encoder.block.{i}.layer.1.DenseReluDense.wi_0.weight"),
    ("blocks.{i}.ffn.fc1.weight", "encoder.block.{i}.layer.1.DenseReluDense.wi_1.weight"),
    ("blocks.{i}.ffn.fc2.weight", "encoder.block.{i}.layer.1.DenseReluDense.wo.weight"),
)

# transformers ties the encoder's token embedding to `shared`; its state dict lists both names.
UMT5_TIED_KEYS: Mapping[str, str] = {"encoder.embed_tokens.weight": "shared.weight"}



def wan22_vae_resampler_indices(num_res_blocks: int) -> dict[str, str]:
    """Where Wan puts each stage's resampler: after the encoder's n and the decoder's n + 1 residual blocks.

    These fill the one-sided placeholders when a diffusers VAE state dict is written back in Wan's layout.
    """
    return {"down_index": str(num_res_blocks), "up_index": str(num_res_blocks + 1)}


# -- the machinery -------------------------------------------------------------------------------------------


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    regex = "".join(f"(?P<{p[1:-1]}>[^.]+)" if _PLACEHOLDER.fullmatch(p) else re.escape(p) for p in parts)
    return re.compile(regex)


@dataclass(frozen=True)
class KeyMap:
    """Renames state-dict keys with template rules (see the module docstring)."""

    rules: Sequence[Rule]
    fixed: Mapping[str, str] = field(default_factory=dict)

    def rename(self, key: str) -> str | None:
        """The target name of `key`, or None when no rule matches it."""
        for source, target in self.rules:
            match = _pattern(source).fullmatch(key)
            if match is not None:
                return target.format_map({**self.fixed, **match.groupdict()})
        return None

    def inverted(self, **fixed: object) -> KeyMap:
        """The map from target names back to source names; `fixed` fills the placeholders targets lack."""
        needed = {name for source, target in self.rules
                  for name in set(_PLACEHOLDER.findall(source)) - set(_PLACEHOLDER.findall(target))}
        missing = needed - set(fixed)
        if missing:
            raise ValueError(f"inverting this key map needs values for {sorted(missing)}")
        return KeyMap(tuple((target, source) for source, target in self.rules),
                      {name: str(value) for name, value in fixed.items()})
